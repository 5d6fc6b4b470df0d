#include "rag/hnsw_walk.h"

#include <algorithm>
#include <queue>

namespace jrvs::rag::faiss_internal {
namespace {

// Visited marks for one walk: open addressing over (stamp << 32 | node) words, where a slot
// whose stamp is not the current walk's is empty, so starting a walk clears nothing.
class VisitedSet {
 public:
  void Start() {
    if (++stamp_ == 0) {  // wrapped: clear once every 2^32 walks
      std::fill(slots_.begin(), slots_.end(), 0);
      stamp_ = 1;
    }
    count_ = 0;
    if (slots_.empty()) Resize(1 << 14);
  }

  // True if `node` was not visited yet (and marks it).
  bool Insert(uint32_t node) {
    if ((count_ + 1) * 2 > slots_.size()) Resize(slots_.size() * 2);
    const uint64_t word = (static_cast<uint64_t>(stamp_) << 32) | node;
    for (size_t i = Hash(node);; i = (i + 1) & mask_) {
      uint64_t& slot = slots_[i];
      if ((slot >> 32) != stamp_) {
        slot = word;
        ++count_;
        return true;
      }
      if (slot == word) return false;
    }
  }

 private:
  size_t Hash(uint32_t node) const { return (node * 0x9E3779B1u) & mask_; }

  void Resize(size_t capacity) {
    std::vector<uint64_t> old = std::move(slots_);
    slots_.assign(capacity, 0);
    mask_ = capacity - 1;
    for (uint64_t word : old) {
      if ((word >> 32) != stamp_) continue;
      for (size_t i = Hash(static_cast<uint32_t>(word));; i = (i + 1) & mask_) {
        if ((slots_[i] >> 32) != stamp_) {
          slots_[i] = word;
          break;
        }
      }
    }
  }

  std::vector<uint64_t> slots_;
  size_t mask_ = 0;
  size_t count_ = 0;
  uint32_t stamp_ = 0;
};

// Asks for a vector's cache lines ahead of its use.
inline void Prefetch(const float* v, size_t d) {
  const char* p = reinterpret_cast<const char*>(v);
  for (size_t off = 0; off < d * sizeof(float); off += 64) __builtin_prefetch(p + off);
}

constexpr size_t kPrefetchAhead = 4;  // vectors prefetched ahead of the one being scored

struct Node {
  float score;
  uint32_t node;
};

// Scores `nodes` against the query, prefetching a few ahead; calls fn(node, score) for each.
template <typename Fn>
void ScoreAll(const std::vector<uint32_t>& nodes, const float* xb, size_t d, const float* query,
              simd::DotFn dot, Fn&& fn) {
  const size_t n = nodes.size();
  for (size_t j = 0; j < std::min(n, kPrefetchAhead); ++j) Prefetch(xb + size_t{nodes[j]} * d, d);
  for (size_t j = 0; j < n; ++j) {
    if (j + kPrefetchAhead < n) Prefetch(xb + size_t{nodes[j + kPrefetchAhead]} * d, d);
    fn(nodes[j], dot(query, xb + size_t{nodes[j]} * d, d));
  }
}

}  // namespace

std::vector<WalkHit> HnswWalk(const faiss::HNSW& graph, const float* xb, size_t d,
                              const float* query, size_t k, size_t ef, const uint8_t* dead,
                              simd::DotFn dot) {
  std::vector<WalkHit> out;
  if (k == 0 || graph.entry_point < 0) return out;
  ef = std::max(ef, k);
  thread_local VisitedSet visited;
  thread_local std::vector<uint32_t> batch;

  // Neighbours of `node` on `layer` (the list ends at the first -1).
  auto gather = [&](uint32_t node, int layer, bool unvisited_only) {
    batch.clear();
    size_t begin = 0, end = 0;
    graph.neighbor_range(node, layer, &begin, &end);
    for (size_t i = begin; i < end; ++i) {
      const int v = graph.neighbors[i];
      if (v < 0) break;
      if (!unvisited_only || visited.Insert(static_cast<uint32_t>(v))) {
        batch.push_back(static_cast<uint32_t>(v));
      }
    }
  };

  // Upper layers: greedy descent to the nearest node.
  auto entry = static_cast<uint32_t>(graph.entry_point);
  float entry_score = dot(query, xb + size_t{entry} * d, d);
  for (int layer = graph.max_level; layer >= 1; --layer) {
    for (bool moved = true; moved;) {
      moved = false;
      gather(entry, layer, false);
      ScoreAll(batch, xb, d, query, dot, [&](uint32_t v, float s) {
        if (s > entry_score) {
          entry_score = s;
          entry = v;
          moved = true;
        }
      });
    }
  }

  // Layer 0: a beam of width ef. `candidates` pops the best; `results` keeps the ef best live
  // nodes with the worst on top.
  auto best_first = [](const Node& a, const Node& b) { return a.score < b.score; };
  auto worst_first = [](const Node& a, const Node& b) {
    return a.score != b.score ? a.score > b.score : a.node < b.node;
  };
  std::priority_queue<Node, std::vector<Node>, decltype(best_first)> candidates(best_first);
  std::priority_queue<Node, std::vector<Node>, decltype(worst_first)> results(worst_first);
  auto live = [dead](uint32_t v) { return dead == nullptr || dead[v] == 0; };
  visited.Start();
  visited.Insert(entry);
  candidates.push({entry_score, entry});
  if (live(entry)) results.push({entry_score, entry});
  while (!candidates.empty()) {
    const Node c = candidates.top();
    if (results.size() >= ef && c.score < results.top().score) break;
    candidates.pop();
    gather(c.node, 0, true);
    ScoreAll(batch, xb, d, query, dot, [&](uint32_t v, float s) {
      if (results.size() < ef || s > results.top().score) {
        candidates.push({s, v});
        if (live(v)) {
          results.push({s, v});
          if (results.size() > ef) results.pop();
        }
      }
    });
  }

  out.resize(results.size());
  for (size_t i = out.size(); i-- > 0;) {
    out[i] = {results.top().score, static_cast<int64_t>(results.top().node)};
    results.pop();
  }
  if (out.size() > k) out.resize(k);
  return out;
}

}  // namespace jrvs::rag::faiss_internal
