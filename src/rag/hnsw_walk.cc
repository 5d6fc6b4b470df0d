#include "rag/hnsw_walk.h"

#include <algorithm>
#include <cmath>
#include <queue>

namespace jrvs::rag::faiss_internal {
namespace {

// Visited marks for one walk: one bit per graph node, cleared at the start of each walk (a
// 1M-node graph clears 125 KB, a few microseconds; 30k nodes fit in L1).
class VisitedSet {
 public:
  void Start(size_t nodes) { words_.assign((nodes + 63) / 64, 0); }

  // True if `node` was not visited yet (and marks it).
  bool Insert(uint32_t node) {
    uint64_t& word = words_[node >> 6];
    const uint64_t bit = uint64_t{1} << (node & 63);
    if ((word & bit) != 0) return false;
    word |= bit;
    return true;
  }

 private:
  std::vector<uint64_t> words_;
};

// Asks for `bytes` from `p` ahead of their use.
inline void Prefetch(const void* p, size_t bytes) {
  const char* c = static_cast<const char*>(p);
  for (size_t off = 0; off < bytes; off += 64) __builtin_prefetch(c + off);
}

constexpr size_t kPrefetchAhead = 4;  // vectors prefetched ahead of the one being scored

struct Node {
  float score;
  uint32_t node;
};

// Scores nodes against the query, on the stored vectors or on the int8 copy, prefetching a few
// ahead.
class Scorer {
 public:
  Scorer(StoredVectors xb, const float* query, QuantizedView q)
      : xb_(xb), d_(xb.d), query_(query), q_(q), kernels_(simd::GetKernels()) {
    if (q_.codes == nullptr) return;
    // The query in int8 too, with its own scale: integer dot products, four times the width.
    query8_.resize(d_);
    query_scale_ = QuantizeInt8(query, d_, query8_.data());
  }

  // Calls fn(node, score) for each of `nodes`.
  template <typename Fn>
  void ScoreAll(const std::vector<uint32_t>& nodes, Fn&& fn) const {
    const size_t n = nodes.size();
    for (size_t j = 0; j < std::min(n, kPrefetchAhead); ++j) Ask(nodes[j]);
    for (size_t j = 0; j < n; ++j) {
      if (j + kPrefetchAhead < n) Ask(nodes[j + kPrefetchAhead]);
      fn(nodes[j], Score(nodes[j]));
    }
  }
  float Score(uint32_t v) const {
    if (q_.codes != nullptr) {
      return query_scale_ * q_.scales[v] *
             static_cast<float>(kernels_.dot_i8(query8_.data(), q_.codes + size_t{v} * d_, d_));
    }
    return Exact(v);
  }
  float Exact(uint32_t v) const { return xb_.Dot(kernels_, query_, v); }
  bool quantized() const { return q_.codes != nullptr; }

 private:
  void Ask(uint32_t v) const {
    if (q_.codes != nullptr) {
      Prefetch(q_.codes + size_t{v} * d_, d_);
      __builtin_prefetch(q_.scales + v);
    } else {
      Prefetch(xb_.Row(v), xb_.row_bytes());
    }
  }
  StoredVectors xb_;
  size_t d_;
  const float* query_;
  QuantizedView q_;
  const simd::Kernels& kernels_;
  std::vector<int8_t> query8_;  // the query in int8 (quantized walks)
  float query_scale_ = 0;
};

}  // namespace

float QuantizeInt8(const float* x, size_t d, int8_t* out) {
  float max_abs = 0;
  for (size_t i = 0; i < d; ++i) max_abs = std::max(max_abs, std::fabs(x[i]));
  const float scale = max_abs / 127.f;
  const float inverse = scale > 0 ? 1.f / scale : 0.f;
  for (size_t i = 0; i < d; ++i) {
    out[i] = static_cast<int8_t>(std::lrintf(std::clamp(x[i] * inverse, -127.f, 127.f)));
  }
  return scale;
}

std::vector<WalkHit> HnswWalk(const faiss::HNSW& graph, StoredVectors xb, const float* query,
                              size_t k, size_t ef, const uint8_t* dead, QuantizedView quantized) {
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
  const Scorer scorer(xb, query, quantized);
  auto entry = static_cast<uint32_t>(graph.entry_point);
  float entry_score = scorer.Score(entry);
  for (int layer = graph.max_level; layer >= 1; --layer) {
    for (bool moved = true; moved;) {
      moved = false;
      gather(entry, layer, false);
      scorer.ScoreAll(batch, [&](uint32_t v, float s) {
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
  visited.Start(graph.levels.size());
  visited.Insert(entry);
  candidates.push({entry_score, entry});
  if (live(entry)) results.push({entry_score, entry});
  while (!candidates.empty()) {
    const Node c = candidates.top();
    if (results.size() >= ef && c.score < results.top().score) break;
    candidates.pop();
    // The next best candidate is likely expanded next: ask for its neighbour list now.
    if (!candidates.empty()) {
      const uint32_t next = candidates.top().node;
      __builtin_prefetch(graph.neighbors.data() + graph.offsets[next]);
    }
    gather(c.node, 0, true);
    scorer.ScoreAll(batch, [&](uint32_t v, float s) {
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
  if (scorer.quantized()) {  // the beam was ranked on approximations: rank it on the vectors
    for (WalkHit& h : out) h.score = scorer.Exact(static_cast<uint32_t>(h.position));
    std::sort(out.begin(), out.end(), [](const WalkHit& a, const WalkHit& b) {
      return a.score != b.score ? a.score > b.score : a.position < b.position;
    });
  }
  if (out.size() > k) out.resize(k);
  return out;
}

}  // namespace jrvs::rag::faiss_internal
