#include "rag/embedding_cache.h"

#include <algorithm>
#include <utility>

#include "core/text.h"

namespace jrvs::rag {
namespace {

constexpr uint64_t kHiSeed = 0x6a72'7673'6361'6368ULL;  // "jrvscach"
constexpr uint64_t kLoSeed = 0x6a72'7673'6b65'7931ULL;  // "jrvskey1"

}  // namespace

Status EmbeddingCacheOptions::Validate() const {
  if (capacity < 1) {
    return Status(StatusCode::kInvalidArgument, "embedding.cache_capacity must be >= 1, got 0");
  }
  return Status::Ok();
}

CachingEmbedder::CachingEmbedder(std::unique_ptr<Embedder> inner, EmbeddingCacheOptions options,
                                 MetricsRegistry* metrics)
    : inner_(std::move(inner)),
      capacity_(std::max<size_t>(options.capacity, 1)),
      hi_seed_(text::Hash64(inner_->model(), kHiSeed)),
      lo_seed_(text::Hash64(inner_->model(), kLoSeed)) {
  if (metrics != nullptr) {
    hits_total_ = &metrics
                       ->AddCounter("embedding_cache_hits_total",
                                    "Texts embedded without calling the embedder.")
                       .Get();
    misses_total_ = &metrics
                         ->AddCounter("embedding_cache_misses_total",
                                      "Texts sent to the embedder because they were not cached.")
                         .Get();
    entries_ =
        &metrics->AddGauge("embedding_cache_entries", "Vectors in the embedding cache.").Get();
    auto& ratio = metrics
                      ->AddGauge("embedding_cache_hit_ratio",
                                 "Cache hits / (hits + misses) since start; 0 before any lookup.")
                      .Get();
    // The collector captures only registry-owned series, so it stays valid if this cache is
    // destroyed before the registry.
    metrics->AddCollector([&ratio, hits = hits_total_, misses = misses_total_] {
      const double total = hits->Value() + misses->Value();
      ratio.Set(total > 0 ? hits->Value() / total : 0.0);
    });
  }
}

CachingEmbedder::Key CachingEmbedder::MakeKey(std::string_view text) const {
  return Key{text::Hash64(text, hi_seed_), text::Hash64(text, lo_seed_)};
}

Result<std::vector<std::vector<float>>> CachingEmbedder::Embed(
    const std::vector<std::string>& texts) {
  const size_t n = texts.size();
  std::vector<std::vector<float>> out(n);
  if (n == 0) return out;

  std::vector<Key> keys(n);
  for (size_t i = 0; i < n; ++i) keys[i] = MakeKey(texts[i]);

  std::vector<size_t> missed;  // indices of the texts not found in the cache
  {
    std::lock_guard lock(mu_);
    for (size_t i = 0; i < n; ++i) {
      auto it = index_.find(keys[i]);
      if (it == index_.end()) {
        missed.push_back(i);
        continue;
      }
      lru_.splice(lru_.begin(), lru_, it->second);
      out[i] = it->second->vector;
    }
  }
  uint64_t hit_count = n - missed.size();

  if (!missed.empty()) {
    // One inner call with each distinct missing text once.
    std::unordered_map<Key, size_t, KeyHash> batch_slot;  // key -> index in `batch`
    std::vector<std::string> batch;
    std::vector<size_t> batch_text;  // index in `texts` of each batch entry
    std::vector<size_t> slot_of(missed.size());
    for (size_t m = 0; m < missed.size(); ++m) {
      const size_t i = missed[m];
      auto [it, inserted] = batch_slot.try_emplace(keys[i], batch.size());
      if (inserted) {
        batch.push_back(texts[i]);
        batch_text.push_back(i);
      } else {
        ++hit_count;  // a repeat of a text already being embedded
      }
      slot_of[m] = it->second;
    }

    auto vectors = inner_->Embed(batch);
    if (!vectors) return Error(std::move(vectors.error()));
    if (vectors->size() != batch.size()) {
      return Error(StatusCode::kInternal, "embedder returned " + std::to_string(vectors->size()) +
                                              " vectors for " + std::to_string(batch.size()) +
                                              " texts");
    }
    const size_t dim = inner_->dimension();
    for (const auto& v : *vectors) {
      if (v.size() != dim) {
        return Error(StatusCode::kInternal, "embedder returned a vector of dimension " +
                                                std::to_string(v.size()) + ", expected " +
                                                std::to_string(dim));
      }
    }
    {
      std::lock_guard lock(mu_);
      for (size_t b = 0; b < batch.size(); ++b) InsertLocked(keys[batch_text[b]], (*vectors)[b]);
      UpdateGaugeLocked();
    }
    for (size_t m = 0; m < missed.size(); ++m) out[missed[m]] = (*vectors)[slot_of[m]];
    misses_.fetch_add(batch.size(), std::memory_order_relaxed);
    if (misses_total_ != nullptr) misses_total_->Inc(double(batch.size()));
  }

  hits_.fetch_add(hit_count, std::memory_order_relaxed);
  if (hits_total_ != nullptr) hits_total_->Inc(double(hit_count));
  return out;
}

void CachingEmbedder::InsertLocked(const Key& key, const std::vector<float>& vector) {
  auto it = index_.find(key);
  if (it != index_.end()) {
    it->second->vector = vector;
    lru_.splice(lru_.begin(), lru_, it->second);
    return;
  }
  lru_.push_front(Entry{key, vector});
  index_.emplace(key, lru_.begin());
  while (lru_.size() > capacity_) {
    index_.erase(lru_.back().key);
    lru_.pop_back();
  }
}

void CachingEmbedder::UpdateGaugeLocked() {
  if (entries_ != nullptr) entries_->Set(double(lru_.size()));
}

size_t CachingEmbedder::size() const {
  std::lock_guard lock(mu_);
  return lru_.size();
}

void CachingEmbedder::Clear() {
  std::lock_guard lock(mu_);
  lru_.clear();
  index_.clear();
  UpdateGaugeLocked();
}

}  // namespace jrvs::rag
