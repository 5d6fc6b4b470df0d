// HnswWalk: the search of a FAISS HNSW graph (the arrays of faiss::HNSW), written for the vector
// index's inner-product storage (rag/faiss_index.h; float or half-precision vectors).
//
// Why not FAISS's own search: above ~10k vectors the walk is bound by memory latency, not
// arithmetic. Each visited node costs a 1.5 KB vector (384 dims) from DRAM, and FAISS 1.7.3
// (Debian's) fetches them one at a time, then clears a visited table sized by the whole index on
// every query. This walk gathers a node's unvisited neighbours first and prefetches their vectors
// a few ahead of the distance it is computing, and keeps visited marks in a per-thread bitmap
// (one bit per node: 4 KB at 30k nodes, where FAISS clears a byte per node per query). With an int8
// copy of the vectors it reads a quarter (of a float vector's) bytes per node and rescores only
// the final beam on the stored vectors. The algorithm is FAISS's: greedy descent through the upper
// layers, then a beam of width `ef` on layer 0; tombstoned positions are walked through but never
// returned.
//
// Thread safety: reentrant; the graph and storage must not change during the call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include <faiss/impl/HNSW.h>

#include "rag/simd_kernels.h"

namespace jrvs::rag::faiss_internal {

struct WalkHit {
  float score;       // inner product, higher is better
  int64_t position;  // FAISS label (position in the storage)
};

// The stored vectors (FastFlatIP's codes): d floats per position, or d IEEE half-precision
// values (uint16_t bits) per position. Exactly one pointer is set.
struct StoredVectors {
  const float* f32 = nullptr;
  const uint16_t* f16 = nullptr;
  size_t d = 0;

  // Inner product of `query` (d floats) with the vector at `position`.
  float Dot(const simd::Kernels& k, const float* query, size_t position) const {
    return f16 != nullptr ? k.dot_f16(query, f16 + position * d, d)
                          : k.dot(query, f32 + position * d, d);
  }
  // The same for the 4 vectors from `position` on.
  void Dot4(const simd::Kernels& k, const float* query, size_t position, float* out) const {
    if (f16 != nullptr) {
      k.dot4_f16(query, f16 + position * d, d, out);
    } else {
      k.dot4(query, f32 + position * d, d, out);
    }
  }
  const void* Row(size_t position) const {
    return f16 != nullptr ? static_cast<const void*>(f16 + position * d)
                          : static_cast<const void*>(f32 + position * d);
  }
  size_t row_bytes() const { return d * (f16 != nullptr ? sizeof(uint16_t) : sizeof(float)); }
};

// The int8 copy of the storage (FastFlatIP), or nulls to walk on the stored vectors.
struct QuantizedView {
  const int8_t* codes = nullptr;  // d per position
  const float* scales = nullptr;  // per position
};

// Writes `x` (d floats) as int8 to `out` (d bytes): round(x_i / scale), scale = max_i |x_i| / 127
// (0 for a zero vector); returns the scale. The one quantizer of the int8 copy, its queries and
// the graph builds that score on it.
float QuantizeInt8(const float* x, size_t d, int8_t* out);

// The best `k` live positions among the graph's nodes, best first (equal scores by position).
// `xb`: the storage (its `d` is the query's length); `dead`: position -> 1 when tombstoned
// (nullable). `ef` < k is raised to k. With `quantized` codes the walk scores on them and the
// beam's results are rescored with the stored vectors before the best k are taken (the scores
// returned are the stored vectors' inner products).
std::vector<WalkHit> HnswWalk(const faiss::HNSW& graph, StoredVectors xb, const float* query,
                              size_t k, size_t ef, const uint8_t* dead,
                              QuantizedView quantized = {});

}  // namespace jrvs::rag::faiss_internal
