#include "rag/index_manager.h"

#include <algorithm>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace jrvs::rag {

IndexManager::IndexManager(IndexManagerOptions options, store::Store& store)
    : options_(std::move(options)), store_(store) {}

IndexManager::~IndexManager() = default;

std::shared_ptr<FaissIndex> IndexManager::current() const {
  std::lock_guard lock(index_mu_);
  return index_;
}

std::shared_ptr<const VectorIndex> IndexManager::index() const { return current(); }

Result<std::unique_ptr<IndexManager>> IndexManager::Open(IndexManagerOptions options,
                                                         store::Store& store,
                                                         MetricsRegistry* metrics) {
  std::unique_ptr<IndexManager> m(new IndexManager(std::move(options), store));
  if (metrics != nullptr) {
    m->vectors_gauge_ = &metrics->AddGauge("index_vectors", "Vectors in the vector index.").Get();
    m->saves_counter_ =
        &metrics->AddCounter("index_saves_total", "Times the vector index was persisted.").Get();
  }
  std::error_code ec;
  std::filesystem::create_directories(m->options_.path.parent_path(), ec);

  auto loaded = FaissIndex::Load(m->options_.path, m->options_.faiss);
  if (loaded && loaded->embedding_model == m->options_.embedding_model) {
    m->index_ = std::shared_ptr<FaissIndex>(std::move(loaded->index));
    m->report_.loaded = true;
    m->watermark_ = loaded->watermark;
  } else {
    if (!loaded) {
      m->report_.rebuild_reason = loaded.error().code() == StatusCode::kNotFound
                                      ? "missing"
                                      : "unusable: " + loaded.error().message();
    } else {
      m->report_.rebuild_reason = fmt::format("built with model '{}', now '{}'",
                                              loaded->embedding_model, m->options_.embedding_model);
    }
    auto fresh = FaissIndex::Create(m->options_.faiss);
    if (!fresh) return Error(fresh.error());
    m->index_ = std::move(*fresh);
    m->report_.rebuilt = true;
    m->watermark_ = 0;
  }
  auto replayed = m->Replay(*m->index_, m->watermark_.load(), &m->report_.stale);
  if (!replayed) return Error(replayed.error());
  m->report_.replayed = *replayed;
  // A crash between a delete's commit and its index update leaves orphan vectors in the saved
  // index (never returned: hits are joined with the database, but they waste search slots).
  // More vectors than chunks means orphans: rebuild from the database.
  if (m->report_.loaded) {
    auto stats = store.Stats();
    if (!stats) return Error(stats.error());
    if (static_cast<int64_t>(m->index_->size()) > stats->chunks) {
      m->report_.rebuild_reason =
          fmt::format("{} vectors for {} chunks", m->index_->size(), stats->chunks);
      if (Status s = m->Rebuild(); !s.ok()) return Error(s);
      m->report_.rebuilt = true;
      m->report_.replayed = static_cast<int64_t>(m->index_->size());
    }
  }
  if (m->report_.rebuilt || *replayed > 0) m->dirty_ = true;
  if (m->report_.stale > 0) {
    spdlog::warn("{} chunks have no embedding from model '{}': run `jrvs reindex`",
                 m->report_.stale, m->options_.embedding_model);
  }
  m->UpdateGauges();
  return m;
}

Result<int64_t> IndexManager::Replay(FaissIndex& index, int64_t after_id, int64_t* stale) {
  constexpr size_t kBatch = 4096;
  const size_t dim = index.dimension();
  std::vector<int64_t> ids;
  std::vector<float> vectors;
  ids.reserve(kBatch);
  vectors.reserve(kBatch * dim);
  int64_t added = 0;
  int64_t highest = after_id;
  Status add_status;
  auto flush = [&] {
    if (ids.empty()) return true;
    add_status = index.Add(ids, vectors);
    added += static_cast<int64_t>(ids.size());
    ids.clear();
    vectors.clear();
    return add_status.ok();
  };
  Status scan = store_.ForEachChunkEmbedding(
      after_id, [&](int64_t id, std::string_view model, const std::vector<float>& embedding) {
        highest = std::max(highest, id);
        if (model != options_.embedding_model || embedding.size() != dim) {
          ++*stale;
          return true;
        }
        ids.push_back(id);
        vectors.insert(vectors.end(), embedding.begin(), embedding.end());
        return ids.size() < kBatch || flush();
      });
  if (!scan.ok()) return Error(scan);
  if (!add_status.ok()) return Error(add_status);
  if (!flush()) return Error(add_status);
  // Everything up to `highest` has been seen: stale chunks are not replayed again.
  watermark_ = std::max(watermark_.load(), highest);
  return added;
}

Status IndexManager::AddChunks(const WriteTicket& /*ticket*/, std::span<const int64_t> ids,
                               std::span<const float> vectors) {
  if (ids.empty()) return Status::Ok();
  Status s = current()->Add(ids, vectors);
  if (s.ok()) {
    dirty_ = true;
    int64_t top = *std::max_element(ids.begin(), ids.end());
    int64_t current = watermark_.load();
    while (top > current && !watermark_.compare_exchange_weak(current, top)) {
    }
  }
  UpdateGauges();
  return s;
}

Status IndexManager::RemoveChunks(const WriteTicket& /*ticket*/, std::span<const int64_t> ids) {
  if (ids.empty()) return Status::Ok();
  Status s = current()->Remove(ids);
  if (s.ok()) dirty_ = true;
  UpdateGauges();
  return s;
}

Status IndexManager::Save() {
  int64_t watermark = 0;
  std::shared_ptr<FaissIndex> index;
  {
    // Exclusive: no writer is between its commit and its index update, so every committed chunk
    // id up to the watermark is in the index. Vectors added after this moment may be in the file
    // too; replaying them at Open is harmless (Add replaces).
    std::unique_lock gate(gate_);
    if (!dirty_.exchange(false)) return Status::Ok();
    watermark = watermark_.load();
    index = current();
  }
  Status s = index->Save(options_.path, options_.embedding_model, watermark);
  if (!s.ok()) {
    dirty_ = true;
    return s;
  }
  if (saves_counter_ != nullptr) saves_counter_->Inc();
  return s;
}

Status IndexManager::Rebuild() {
  auto fresh = FaissIndex::Create(options_.faiss);
  if (!fresh) return fresh.error();
  std::unique_lock gate(gate_);
  int64_t previous_watermark = watermark_.exchange(0);
  int64_t stale = 0;
  auto replayed = Replay(**fresh, 0, &stale);
  if (!replayed) {
    watermark_ = previous_watermark;
    return replayed.error();
  }
  {
    std::lock_guard lock(index_mu_);
    index_ = std::move(*fresh);
  }
  report_.stale = stale;
  dirty_ = true;
  gate.unlock();
  UpdateGauges();
  return Status::Ok();
}

void IndexManager::UpdateGauges() {
  if (vectors_gauge_ != nullptr) vectors_gauge_->Set(static_cast<double>(current()->size()));
}

}  // namespace jrvs::rag
