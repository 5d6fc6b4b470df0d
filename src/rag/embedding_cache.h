// CachingEmbedder: an LRU cache of embeddings in front of another Embedder (DESIGN.md §5).
//
// Entries are keyed by (model, text): a 128-bit key made of two text::Hash64 hashes of the text,
// seeded with two different hashes of model() (a collision needs both 64-bit halves to collide).
// Embed looks every text up, sends only the misses to the inner embedder — in one batched call,
// each distinct text once even if it repeats in the batch — then stores the new vectors and
// evicts least-recently-used entries beyond the capacity.
//
// Counters: misses() counts texts sent to the inner embedder; hits() counts texts answered
// without it (from the cache, or as a repeat of a miss in the same batch); so hits + misses is
// the number of texts asked for in successful calls. With a MetricsRegistry, the same numbers are
// exported as embedding_cache_hits_total, embedding_cache_misses_total and the gauges
// embedding_cache_entries and embedding_cache_hit_ratio (refreshed at each Render()).
//
// Thread safety: all methods are thread-safe. One mutex guards the LRU list and map; it is held
// only to look up, copy and insert vectors, never during the inner Embed call. Two threads that
// miss on the same text at once may both embed it (no in-flight de-duplication across calls).
// Ownership: owns the inner embedder; the registry, if any, must outlive this object.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/metrics.h"
#include "core/status.h"
#include "rag/embedder.h"

namespace jrvs::rag {

struct EmbeddingCacheOptions {
  // Most vectors kept, in entries (each is dimension() floats plus ~100 bytes of bookkeeping:
  // about 1.6 KB at 384 dimensions). Must be >= 1.
  size_t capacity = 10000;

  // kInvalidArgument naming the field when a value is out of range.
  Status Validate() const;
};

class CachingEmbedder final : public Embedder {
 public:
  // `inner` must not be null. `metrics` may be null. An invalid capacity is clamped to 1.
  CachingEmbedder(std::unique_ptr<Embedder> inner, EmbeddingCacheOptions options,
                  MetricsRegistry* metrics = nullptr);

  std::string_view model() const override { return inner_->model(); }
  size_t dimension() const override { return inner_->dimension(); }
  // Fails only when the inner embedder fails (nothing is cached then) or returns a malformed
  // answer (kInternal).
  Result<std::vector<std::vector<float>>> Embed(const std::vector<std::string>& texts) override;

  uint64_t hits() const { return hits_.load(std::memory_order_relaxed); }
  uint64_t misses() const { return misses_.load(std::memory_order_relaxed); }
  size_t size() const;
  size_t capacity() const { return capacity_; }
  // Drops every entry (counters are kept).
  void Clear();

  Embedder& inner() { return *inner_; }

 private:
  struct Key {
    uint64_t hi = 0;
    uint64_t lo = 0;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const { return static_cast<size_t>(k.lo); }
  };
  struct Entry {
    Key key;
    std::vector<float> vector;
  };
  using List = std::list<Entry>;

  Key MakeKey(std::string_view text) const;
  // Inserts or refreshes an entry and evicts beyond capacity. Requires mu_.
  void InsertLocked(const Key& key, const std::vector<float>& vector);
  void UpdateGaugeLocked();

  const std::unique_ptr<Embedder> inner_;
  const size_t capacity_;
  const uint64_t hi_seed_;  // seeds of the two key halves, derived from the model name
  const uint64_t lo_seed_;

  mutable std::mutex mu_;  // guards lru_ and index_
  List lru_;               // most recently used first
  std::unordered_map<Key, List::iterator, KeyHash> index_;

  std::atomic<uint64_t> hits_{0};
  std::atomic<uint64_t> misses_{0};
  Counter* hits_total_ = nullptr;
  Counter* misses_total_ = nullptr;
  Gauge* entries_ = nullptr;
};

}  // namespace jrvs::rag
