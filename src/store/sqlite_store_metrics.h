// Metrics of SqliteStore (internal to the store layer): one label value per public operation,
// series looked up once at Open so the hot path only touches atomics.
// Thread safety: immutable after Create(); Record() is safe from any thread.
#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <string_view>

#include "core/clock.h"
#include "core/metrics.h"
#include "core/status.h"

namespace jrvs::store {

enum class DbOp : size_t {
  kAppendConversation,
  kListConversations,
  kDeleteSession,
  kDeleteConversationsBefore,
  kPutDocument,
  kFindDocumentByHash,
  kGetDocument,
  kListDocuments,
  kDeleteDocument,
  kGetChunks,
  kSearchText,
  kSearchDocumentsText,
  kGetDocumentPreviews,
  kChunkDocumentIds,
  kDocumentChunkIds,
  kForEachChunkEmbedding,
  kForEachStaleChunk,
  kUpdateChunkEmbeddings,
  kMaxChunkId,
  kStats,
  kPing,
  kRecordModelUsage,
  kListModelUsage,
  kGetSetting,
  kPutSetting,
  kCheckpoint,
  kBackup,
  kCount,
};

// The `op` label of each DbOp.
std::string_view DbOpName(DbOp op);

struct SqliteStoreMetrics {
  static constexpr size_t kOps = static_cast<size_t>(DbOp::kCount);

  // Registers the families in `registry` (not null) and resolves the per-op series.
  static std::unique_ptr<SqliteStoreMetrics> Create(MetricsRegistry& registry);

  void Record(DbOp op, StatusCode code, double seconds) const;

  MetricFamily<Counter>* operations = nullptr;   // db_operations_total{op,status}
  std::array<Counter*, kOps> ok_operations{};    // the status="ok" series of each op
  std::array<Histogram*, kOps> durations{};      // db_operation_duration_seconds{op}
  Gauge* write_queue_depth = nullptr;            // db_write_queue_depth
  Histogram* group_commit_batch_size = nullptr;  // db_group_commit_batch_size
};

// Times one operation and records it on Finish (nothing when metrics is null).
class DbOpTimer {
 public:
  DbOpTimer(const SqliteStoreMetrics* metrics, const Clock* clock, DbOp op)
      : metrics_(metrics), clock_(clock), op_(op), start_ns_(metrics ? clock->MonotonicNs() : 0) {}

  Status Finish(Status status) const {
    Record(status.code());
    return status;
  }
  template <typename T>
  Result<T> Finish(Result<T> result) const {
    Record(result ? StatusCode::kOk : result.error().code());
    return result;
  }

 private:
  void Record(StatusCode code) const {
    if (metrics_ == nullptr) return;
    metrics_->Record(op_, code, static_cast<double>(clock_->MonotonicNs() - start_ns_) * 1e-9);
  }

  const SqliteStoreMetrics* metrics_;
  const Clock* clock_;
  DbOp op_;
  int64_t start_ns_;
};

}  // namespace jrvs::store
