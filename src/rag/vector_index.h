// VectorIndex: the seam between retrieval and a nearest-neighbour index over chunk embeddings
// (DESIGN.md §2, §4, §5). The database is the source of truth; an index is a cache of it that can
// always be rebuilt by re-adding every chunk's embedding.
//
// Contract:
// - Ids are non-negative int64 (chunk ids). Vectors are row-major float32, `dimension()` per row.
// - Scores are inner products, higher is better: cosine similarity on L2-normalised vectors.
// - Add() of an id already present replaces its vector; Remove() ignores unknown ids. A removed or
//   replaced vector is never returned by a search that starts after the call returned.
// - Search returns at most k hits, best first, and fewer only when the index holds fewer vectors.
// - Thread safety: every method may be called concurrently from any thread. Concurrent searches
//   are safe with each other and with Add/Remove; an implementation serialises mutations itself.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"

namespace jrvs::rag {

struct VectorHit {
  int64_t id = 0;     // the id given to Add()
  float score = 0.f;  // inner product with the query; higher is more similar
};

class VectorIndex {
 public:
  virtual ~VectorIndex() = default;

  // Adds `ids.size()` vectors (`vectors.size()` must be ids.size() * dimension()). An id already
  // present is replaced; within one call the last occurrence of an id wins. InvalidArgument on a
  // size mismatch, a negative id or a non-finite value (nothing is added then).
  virtual Status Add(std::span<const int64_t> ids, std::span<const float> vectors) = 0;

  // Removes the given ids; unknown ids are ignored.
  virtual Status Remove(std::span<const int64_t> ids) = 0;

  // The k best hits for one query of dimension() floats, best first. k == 0 gives no hits.
  virtual Result<std::vector<VectorHit>> Search(std::span<const float> query, size_t k) const = 0;

  // `n` queries, row-major (queries.size() == n * dimension()); one hit list per query, in order.
  // The default runs Search() per query; implementations may share work across the batch.
  virtual Result<std::vector<std::vector<VectorHit>>> SearchBatch(std::span<const float> queries,
                                                                  size_t n, size_t k) const {
    const size_t dim = dimension();
    if (queries.size() != n * dim) {
      return Error(StatusCode::kInvalidArgument, "query batch size does not match n * dimension");
    }
    std::vector<std::vector<VectorHit>> out;
    out.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      auto hits = Search(queries.subspan(i * dim, dim), k);
      if (!hits) return Error(hits.error());
      out.push_back(std::move(*hits));
    }
    return out;
  }

  // The exact score of the query (dimension() floats) against each of `ids` that the index
  // holds, in the order of `ids`; ids it does not hold (never added, removed) are left out.
  virtual Result<std::vector<VectorHit>> Score(std::span<const float> query,
                                               std::span<const int64_t> ids) const = 0;

  // Number of live (searchable) vectors.
  virtual size_t size() const = 0;
  // Floats per vector; fixed for the life of the index.
  virtual size_t dimension() const = 0;
  // Current structure: "flat" (exact) or "hnsw" (approximate).
  virtual std::string type() const = 0;
  // Highest id ever added (or the watermark loaded with a saved index), 0 when none: chunks with a
  // larger id need replaying into the index.
  virtual int64_t max_id() const = 0;
  // Estimated heap bytes held by the index (vectors, graph, id maps).
  virtual size_t memory_bytes() const = 0;
  // Blocks until background work on the structure (a rebuild, a merge) is over; batch commands
  // call it before their final save. An index without background work returns at once.
  virtual void WaitForBackgroundWork() const {}
};

}  // namespace jrvs::rag
