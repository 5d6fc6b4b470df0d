#include "store/sqlite_store_metrics.h"

#include <string>
#include <vector>

#include <sqlite3.h>

namespace jrvs::store {

std::string_view DbOpName(DbOp op) {
  static constexpr std::array<std::string_view, SqliteStoreMetrics::kOps> kNames = {
      "append_conversation",
      "list_conversations",
      "delete_session",
      "delete_conversations_before",
      "put_document",
      "find_document_by_hash",
      "get_document",
      "list_documents",
      "delete_document",
      "get_chunks",
      "search_text",
      "search_documents_text",
      "get_document_previews",
      "chunk_document_ids",
      "document_chunk_ids",
      "for_each_chunk_embedding",
      "for_each_stale_chunk",
      "update_chunk_embeddings",
      "max_chunk_id",
      "stats",
      "ping",
      "record_model_usage",
      "list_model_usage",
      "get_setting",
      "put_setting",
      "checkpoint",
      "backup",
  };
  return kNames[static_cast<size_t>(op)];
}

std::unique_ptr<SqliteStoreMetrics> SqliteStoreMetrics::Create(MetricsRegistry& registry) {
  auto m = std::make_unique<SqliteStoreMetrics>();
  m->operations =
      &registry.AddCounter("db_operations_total",
                           "Database operations by operation and result status.", {"op", "status"});
  auto& durations = registry.AddHistogram("db_operation_duration_seconds",
                                          "Duration of database operations, including the wait "
                                          "for the group commit of writes.",
                                          {"op"});
  for (size_t i = 0; i < kOps; ++i) {
    std::string_view name = DbOpName(static_cast<DbOp>(i));
    m->ok_operations[i] = &m->operations->WithLabels({name, StatusCodeName(StatusCode::kOk)});
    m->durations[i] = &durations.WithLabels({name});
  }
  m->write_queue_depth =
      &registry.AddGauge("db_write_queue_depth", "Writes waiting for the SQLite writer thread.")
           .Get();
  m->group_commit_batch_size =
      &registry
           .AddHistogram("db_group_commit_batch_size", "Writes committed per SQLite transaction.",
                         {}, {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024})
           .Get();
  // SQLite's own heap (page caches, statements), process-wide. Bounded by cache_size_kib per
  // connection, so the soak test (tests/load/soak.py) can tell cache fill-up from a leak.
  auto& sqlite_memory =
      registry.AddGauge("db_sqlite_memory_bytes", "Heap memory held by SQLite (all connections).")
          .Get();
  registry.AddCollector(
      [&sqlite_memory] { sqlite_memory.Set(static_cast<double>(sqlite3_memory_used())); });
  return m;
}

void SqliteStoreMetrics::Record(DbOp op, StatusCode code, double seconds) const {
  const size_t i = static_cast<size_t>(op);
  durations[i]->Observe(seconds);
  if (code == StatusCode::kOk) {
    ok_operations[i]->Inc();
  } else {
    operations->WithLabels({DbOpName(op), StatusCodeName(code)}).Inc();
  }
}

}  // namespace jrvs::store
