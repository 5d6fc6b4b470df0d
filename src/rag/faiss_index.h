// FaissIndex: the VectorIndex on FAISS 1.7.3 (DESIGN.md §4, §5).
//
// Structure. Exact inner-product search (a FAISS IndexFlatIP holding the vectors) while the index
// holds fewer than `ann_threshold` live vectors; above it an HNSW graph (IndexHNSWFlat, inner
// product metric) over the same kind of flat storage. Vectors are stored once: the flat storage is
// the only copy (HNSW's graph refers to it by position). External ids map to dense positions in a
// table owned here rather than through IndexIDMap2, because HNSW cannot delete: a removed or
// replaced vector becomes a tombstone, filtered out inside the search (a FAISS IDSelector, so k
// live hits still come back) and, if a search still comes back short, answered again by an exact
// scan of the storage (the adaptive fallback). Tombstones are compacted away by a rebuild once they
// exceed `compact_fraction` of the stored vectors.
//
// Delta. Inserting into an HNSW graph is slow (~2.6k vectors/s per core at M 32, ef_construction
// 200, while ingestion produces ~7.5k/s) and FAISS's graph is not safe for an insert concurrent
// with a search. So an Add never touches the graph: its vectors are appended to the flat storage
// past the graph's last node, the "delta", which searches scan exactly (the AVX2 kernel) beside the
// graph walk, merging the two top-k lists by score; tombstones are honoured in both. Once the
// delta holds `delta_merge_min` vectors, the background thread links it into the graph a few
// vectors per exclusive hold (kMergeHold, ~2 ms), so a writer or a search waits at most one such
// hold, never for a whole batch of inserts. The delta is a suffix of the one flat storage: no
// vector is stored twice, and positions never move until a rebuild.
//
// Rebuilds (switching to HNSW at the threshold, back to flat below half of it, compaction) run on
// the same background thread: it copies the live vectors present when it starts in batches under
// the shared lock (searches run meanwhile; adds wait only for one batch copy), builds the new
// structure with no lock held, then, blocking only writers, appends the vectors added meanwhile as
// the new structure's delta (a copy, no graph insert) and swaps under a brief exclusive lock.
// Until the swap, the old structure serves every request.
//
// Distances. Debian's FAISS is built for baseline x86-64 (SSE2), so its inner product is slow; the
// storage used here is an IndexFlatIP subclass whose distance computer (used by HNSW to build and
// search) and the exact scan use an AVX2/FMA kernel chosen at run time (FAISS's own kernel when the
// CPU lacks AVX2). It keeps the vectors in IEEE half precision by default (`float16`; widened
// with F16C inside the kernels), so scores are the inner products of the stored half-precision
// vectors with the float query: within ~1e-5 of the float ones at d = 384.
//
// Threads. FAISS is told to use one OpenMP thread on every thread that calls into it (OpenMP's
// thread count is a per-thread setting), so a search never fans out: the server parallelises
// across requests, not inside one. Background rebuilds use `build_threads`. OpenBLAS (used by
// FAISS only for batched flat search, which this class does not call) is set to one thread.
//
// Memory per vector, dimension d, M = hnsw_m: flat 2*d (half precision, `float16`) or 4*d
// (float) + ~50 bytes (id table, tombstone byte, hash map entry), i.e. ~0.8 KB or ~1.6 KB at
// d = 384; HNSW adds ~8*M + 16 bytes (~270 B at M = 32) and, with `quantized_walk`, d + 4. Storage
// built by a rebuild is sized to fit; between rebuilds it grows like a std::vector (memory_bytes()
// counts capacity). A rebuild holds both structures until the swap; Save() streams and needs no
// extra copy.
//
// Thread safety: every method is safe to call concurrently (see VectorIndex). Searches share a
// reader lock; Add/Remove take it exclusively for their bookkeeping (a copy into the storage) and
// the merger for one short hold at a time. Waiting writers block new readers, so a stream of
// searches cannot starve them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "rag/vector_index.h"

namespace jrvs::rag {

// The beam width used when FaissIndexOptions::hnsw_ef_search is 0: 128 up to 32,768 vectors, then
// 128 * (1 + L + L^2/8) for L doublings past it (272 at 65,536, 448 at 131,072, 1,168 at 1M,
// capped at 4096). Measured on hash-embedded real text (docs/PERFORMANCE.md, "Vector index"):
// recall@10 0.9605 at 106k chunks with 344, and at 1M chunks 0.933 with 763, 0.9515 with 1,024,
// 0.957 with 1,158.
size_t AutoEfSearch(size_t graph_vectors);

struct FaissIndexOptions {
  // Floats per vector; must equal the embedder's dimension. Range 1..65536.
  size_t dimension = 384;
  // Live vectors at which exact search switches to HNSW (and back to exact below half of it, at
  // the next rebuild). 0 = HNSW from the start; SIZE_MAX = always exact. Measured with
  // bench/vector_index_bench.cc (d = 384, one core): exact search takes ~190 us at 10k vectors
  // and ~900 us at 20k (the vectors outgrow the L3 cache), while HNSW with the defaults below
  // takes ~150 us at 10k with recall@10 0.98 on hash-embedded text. Re-measured for issue 6
  // (docs/PERFORMANCE.md, "Vector index"): exact 204 / 1,212 / 3,253 us at 10k / 20k / 50k
  // against HNSW 312 / 587 / 814 us, so the crossover is 10-15k, not the suggested 50k.
  size_t ann_threshold = 10000;
  // HNSW links per node (level 0 keeps 2*M). Range 4..256. Memory ~8*M bytes per vector. 32 beat
  // 16 at equal latency from 100k vectors up.
  int hnsw_m = 32;
  // HNSW beam width while inserting. Range 8..4096; higher builds a better graph, more slowly.
  // 200 (vs 80) costs ~2x the build time and buys ~30% less search time at equal recall on
  // hash-embedded text.
  int hnsw_ef_construction = 200;
  // HNSW beam width while searching (the candidate queue holds max(ef_search, k)). Range 0..4096;
  // higher means better recall and slower searches. 0 = AutoEfSearch(vectors in the graph): a
  // fixed beam loses recall as the graph grows (hash-embedded text, recall@10 against exact:
  // ef 128 gives >= 0.95 up to ~30k vectors but 0.887 at 106k, where 384 gives 0.965).
  int hnsw_ef_search = 0;
  // Compact (rebuild without tombstones) once tombstones exceed this fraction of stored vectors.
  // Range (0, 1].
  double compact_fraction = 0.2;
  // ...and at least this many tombstones exist (avoids rebuild churn on tiny indexes). >= 1.
  size_t compact_min_tombstones = 64;
  // OpenMP threads FAISS may use to build an HNSW graph on the background thread. Range 1..256.
  // Searches and foreground adds always use one thread.
  int build_threads = 1;
  // Vectors the delta (see above) gathers before the background merger links them into the graph.
  // >= 1. Larger means fewer, longer merges and a longer exact scan beside every graph search
  // (~19 us per 1k vectors at d = 384); 1024 keeps that scan under ~5% of a graph search.
  size_t delta_merge_min = 1024;
  // Graph work (switching to HNSW, merging the delta, compaction) waits while vectors arrive
  // faster than ~256/s, until this many vectors would be searched exactly (a flat structure past
  // ann_threshold, or the delta); it then runs, and it runs at once when ingestion pauses. On 2
  // cores a graph build beside a burst of ingestion slowed the ingestion by ~20% (docs/
  // PERFORMANCE.md, "Ingestion"); the exact scan costs ~4 ms per search at 65,536 vectors.
  // 0 = never wait.
  size_t defer_max = 65536;
  // While the index is an HNSW, keep an int8 copy of every vector (d bytes + a 4-byte scale, a
  // quarter of the float vector) and walk the graph on it, then rescore the walk's results with
  // the float vectors: the walk is memory-bound, so four times fewer bytes per visited node
  // (docs/PERFORMANCE.md, "Vector search"). Scores returned stay exact.
  bool quantized_walk = true;
  // Store each vector in IEEE half precision (2 bytes per dimension) instead of float: half the
  // memory of the largest structure, and half the bytes per exact scan and rescoring. Queries stay
  // float; a returned score differs from the float vectors' inner product by ~1e-5 at d = 384
  // (half keeps 11 significant bits per value), below the gap between neighbouring results of
  // hash-embedded text (docs/PERFORMANCE.md, "Half-precision vectors").
  bool float16 = true;

  // OK, or InvalidArgument naming the first field out of range.
  Status Validate() const;
};

class FaissIndex;

// What Load() returns: the index plus the metadata it was saved with.
struct LoadedIndex {
  std::unique_ptr<FaissIndex> index;
  std::string embedding_model;  // as given to Save()
  int64_t watermark = 0;        // as given to Save(): chunks with a larger id need replaying
};

class FaissIndex final : public VectorIndex {
 public:
  // InvalidArgument if the options do not validate.
  static Result<std::unique_ptr<FaissIndex>> Create(const FaissIndexOptions& options);

  // Reads a file written by Save(). NotFound if it does not exist; FailedPrecondition if it was
  // built for another dimension than options.dimension; Internal if it is truncated, corrupt (bad
  // magic, version or checksum) or unreadable. HNSW parameters other than the stored graph (e.g.
  // ef_search) come from `options`. max_id() of the result is the saved watermark.
  static Result<LoadedIndex> Load(const std::filesystem::path& path,
                                  const FaissIndexOptions& options);

  ~FaissIndex() override;  // stops and joins a running rebuild
  FaissIndex(const FaissIndex&) = delete;
  FaissIndex& operator=(const FaissIndex&) = delete;

  Status Add(std::span<const int64_t> ids, std::span<const float> vectors) override;
  Status Remove(std::span<const int64_t> ids) override;
  Result<std::vector<VectorHit>> Search(std::span<const float> query, size_t k) const override;
  Result<std::vector<std::vector<VectorHit>>> SearchBatch(std::span<const float> queries, size_t n,
                                                          size_t k) const override;
  Result<std::vector<VectorHit>> Score(std::span<const float> query,
                                       std::span<const int64_t> ids) const override;
  size_t size() const override;
  size_t dimension() const override;
  std::string type() const override;
  int64_t max_id() const override;
  size_t memory_bytes() const override;

  // Stored vectors that are removed or replaced but not yet compacted away.
  size_t tombstones() const;
  // Vectors (live or tombstoned) stored but not yet linked into the HNSW graph; 0 while flat.
  size_t delta_size() const;
  const FaissIndexOptions& options() const;

  // Writes the index atomically: a temporary file in the same directory (header with magic,
  // format version, model name, dimension, type, watermark, id table and tombstones; the FAISS
  // index; a CRC-32 of all of it), fsync, rename over `path`, fsync of the directory. The index
  // streams into the file while Add/Remove wait (searches do not; no second copy is made in
  // memory); the fsync runs after writers are let go. Internal on an I/O failure, which leaves
  // any previous file intact.
  Status Save(const std::filesystem::path& path, std::string_view embedding_model,
              int64_t watermark) const;

  // Blocks until no rebuild or merge is requested or running (tests, benchmarks). A delta smaller
  // than delta_merge_min stays unmerged.
  void WaitForRebuild() const;
  void WaitForBackgroundWork() const override { WaitForRebuild(); }

 private:
  struct Impl;
  explicit FaissIndex(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace jrvs::rag
