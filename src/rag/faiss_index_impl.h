// Internals of FaissIndex (rag/faiss_index.h) shared by the files that implement it:
// faiss_index.cc (create, add, remove, search, background rebuilds) and faiss_index_io.cc (Save,
// Load and the file format). Holds the searchable State, the FAISS storage subclass it uses, and
// FaissIndex::Impl with its locks.
//
// Include it only from those rag .cc files: it exposes FAISS types, which stay out of every
// public header. Thread safety is FaissIndex::Impl's, documented on its mutexes below.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>

#include "core/status.h"
#include "rag/faiss_index.h"

namespace jrvs::rag {
namespace faiss_internal {

using idx_t = faiss::Index::idx_t;

// IndexFlatIP whose distance computer (used by HNSW) runs the fast kernel (rag/simd_kernels.h).
// Serialised by FAISS as a plain IndexFlatIP.
struct FastFlatIP final : faiss::IndexFlatIP {
  explicit FastFlatIP(idx_t dim) : faiss::IndexFlatIP(dim) {}
  faiss::FlatCodesDistanceComputer* get_FlatCodesDistanceComputer() const override;
};

// OpenBLAS keeps its own pool; FAISS only uses BLAS for batched flat search and training (not
// called here) but a stray call must not spawn a core's worth of spinning threads. Process-wide.
void LimitBlasThreads();

// One searchable structure and its id bookkeeping. Positions are FAISS's dense labels.
struct State {
  std::unique_ptr<faiss::Index> index;      // a FastFlatIP, or an IndexHNSWFlat over one
  FastFlatIP* storage = nullptr;            // the vectors (index itself, or the HNSW storage)
  faiss::IndexHNSWFlat* hnsw = nullptr;     // null while flat
  std::vector<int64_t> ids;                 // position -> external id
  std::vector<uint8_t> dead;                // position -> 1 when tombstoned
  size_t dead_count = 0;                    // number of 1s in `dead`
  std::unordered_map<int64_t, idx_t> live;  // external id -> position, live entries only

  size_t stored() const { return ids.size(); }
};

}  // namespace faiss_internal

struct FaissIndex::Impl {
  explicit Impl(const FaissIndexOptions& o) : options(o) {}

  const FaissIndexOptions options;

  // Lock order: write_mu, then gate, then mu. worker_mu is taken alone or after write_mu.
  // Serialises mutations of `state` (Add, Remove, a rebuild's catch-up and swap) and Save: a
  // holder may read `state` without `mu`.
  mutable std::mutex write_mu;
  // Held only while acquiring `mu`, so a writer waiting for `mu` stops new readers from
  // overtaking it (std::shared_mutex prefers readers on glibc and could starve writers).
  mutable std::mutex gate;
  // Guards `state` and `max_id`: readers are searches and getters, writers hold `write_mu` too.
  mutable std::shared_mutex mu;
  faiss_internal::State state;
  int64_t max_id = 0;

  // Guards the rebuild flags; `stopping` is also read lock-free between rebuild batches.
  mutable std::mutex worker_mu;
  mutable std::condition_variable worker_cv;
  bool rebuild_requested = false;
  bool rebuild_running = false;
  std::atomic<bool> stopping{false};
  std::thread worker;

  std::shared_lock<std::shared_mutex> ReadLock() const {
    std::lock_guard<std::mutex> g(gate);
    return std::shared_lock<std::shared_mutex>(mu);
  }
  std::unique_lock<std::shared_mutex> WriteLock() const {
    std::lock_guard<std::mutex> g(gate);
    return std::unique_lock<std::shared_mutex>(mu);
  }

  // Whether a structure holding `live` vectors should be an HNSW (hysteresis: back to flat only
  // below half the threshold).
  bool WantHnsw(size_t live, bool is_hnsw) const {
    const size_t t = options.ann_threshold;
    return t == 0 || live >= t || (is_hnsw && live >= t / 2);
  }

  // Requests a background rebuild when the structure should switch type or shed tombstones.
  // Requires write_mu.
  void MaybeRequestRebuild();
  // The background thread: runs Rebuild() whenever one is requested, until `stopping`.
  void WorkerLoop();
  // Builds a fresh structure from the live vectors and swaps it in (see faiss_index.h).
  Status Rebuild();
  // See FaissIndex::memory_bytes(). Requires `mu` (shared) or write_mu.
  size_t MemoryBytes() const;
};

}  // namespace jrvs::rag
