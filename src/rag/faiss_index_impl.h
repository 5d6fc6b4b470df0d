// Internals of FaissIndex (rag/faiss_index.h) shared by the files that implement it:
// faiss_index.cc (create, add, remove, search, background rebuilds) and faiss_index_io.cc (Save,
// Load and the file format). Holds the searchable State, the FAISS storage subclass it uses, and
// FaissIndex::Impl with its locks.
//
// Include it only from those rag .cc files: it exposes FAISS types, which stay out of every
// public header. Thread safety is FaissIndex::Impl's, documented on its mutexes below.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include <omp.h>

#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>

#include "core/aligned_allocator.h"
#include "core/status.h"
#include "rag/faiss_index.h"
#include "rag/hnsw_walk.h"

namespace jrvs::rag {
namespace faiss_internal {

using idx_t = faiss::Index::idx_t;
// The int8 copy's codes (FastFlatIP::codes8).
using Int8Codes = std::vector<int8_t, AlignedAllocator<int8_t>>;

// IndexFlatIP whose distance computer (used by HNSW) runs the fast kernels (rag/simd_kernels.h).
// Its `codes` hold each vector as d floats, or with `half` as d IEEE half-precision values
// (code_size 2*d): FaissIndexOptions::float16. FAISS only ever calls add(), reset() and the
// distance computer on it (our searches read the codes themselves), so the half layout stays
// private; get_xb() is valid only when !half. The file format writes the codes itself
// (faiss_index_io.cc).
struct FastFlatIP final : faiss::IndexFlatIP {
  FastFlatIP(idx_t dim, bool half_precision);
  faiss::FlatCodesDistanceComputer* get_FlatCodesDistanceComputer() const override;
  // Appends to the stored vectors (rounded to half precision with `half`) and, while quantized,
  // to the int8 copy (quantized from the stored values, so a loaded index equals a built one).
  void add(idx_t n, const float* x) override;
  void reset() override;
  // Starts keeping the int8 copy (rag/hnsw_walk.h), quantizing the vectors already stored.
  void EnableQuantized();
  // Writes the stored vectors [first, first + n) as floats to `out` (n * d floats).
  void Decode(size_t first, size_t n, float* out) const;
  // The stored vectors, for the walk and the exact scans.
  StoredVectors vectors() const;
  // Bytes per stored vector.
  size_t vector_bytes() const { return code_size; }

  bool half = false;
  bool quantized = false;
  // d per vector: round(x_i / scale), |.| <= 127. Cache-line aligned: with d a multiple of 64
  // (384) a row is d/64 lines, where an unaligned row touches one more (and the walk's prefetch
  // of d bytes misses it).
  Int8Codes codes8;
  std::vector<float> scales8;  // per vector: max_i |x_i| / 127 (0 for a zero vector)
};

// OpenBLAS keeps its own pool; FAISS only uses BLAS for batched flat search and training (not
// called here) but a stray call must not spawn a core's worth of spinning threads. Process-wide.
void LimitBlasThreads();

// One searchable structure and its id bookkeeping. Positions are FAISS's dense labels. While the
// structure is an HNSW, positions [0, graph_n) are in the graph and [graph_n, stored()) form the
// delta: stored in the same flat storage (one copy of every vector) but searched exactly until
// the background merger links them into the graph.
struct State {
  std::unique_ptr<faiss::Index> index;      // a FastFlatIP, or an IndexHNSWFlat over one
  FastFlatIP* storage = nullptr;            // the vectors (index itself, or the HNSW storage)
  faiss::IndexHNSWFlat* hnsw = nullptr;     // null while flat
  std::vector<int64_t> ids;                 // position -> external id
  std::vector<uint8_t> dead;                // position -> 1 when tombstoned
  size_t dead_count = 0;                    // number of 1s in `dead`
  std::unordered_map<int64_t, idx_t> live;  // external id -> position, live entries only
  size_t graph_n = 0;                       // positions linked into `hnsw`; 0 while flat

  size_t stored() const { return ids.size(); }
  // Vectors stored but not yet in the graph (0 while flat: a flat structure has no graph).
  size_t delta() const { return hnsw != nullptr ? stored() - graph_n : 0; }
};

// Helpers shared by faiss_index.cc and faiss_index_merge.cc.
// An empty structure: an HNSW over fast flat storage, or the flat storage alone.
State MakeState(bool use_hnsw, const FaissIndexOptions& o);
// The int8 view of a state's storage for the graph walk, or nulls when it keeps none.
QuantizedView QuantizedOf(const State& s);
// Sizes a structure about to receive `n` vectors so it does not grow by doubling.
void Reserve(State& s, size_t n, const FaissIndexOptions& o);
// After a failed FAISS add, positions FAISS kept but we did not record become tombstones.
void Reconcile(State& s);
// Records that `id` now lives at the next position; an older copy becomes a tombstone.
void Record(State& s, int64_t id);
// Appends the live vectors among positions [begin, end) to `buf` and their positions to `source`.
void CopyLive(const State& s, size_t begin, size_t end, size_t d, std::vector<float>* buf,
              std::vector<idx_t>* source);
// OpenMP's thread count is a per-thread setting: pin it on every thread that calls into FAISS.
void UseOmpThreads(int n);

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
  bool merge_requested = false;  // the delta reached options.delta_merge_min
  bool merge_running = false;
  bool merge_broken = false;  // a merge failed midway: no merging until a rebuild
  // Add/Remove calls waiting for write_mu. std::mutex is not fair: without this the merger,
  // re-locking right after each hold, could starve writers (it waits while this is non-zero).
  mutable std::atomic<int> writers_waiting{0};
  // Vectors ever added and the steady-clock time of the last Add (nanoseconds since its epoch),
  // for the worker's ingestion-rate sample (IngestionBusy()).
  std::atomic<uint64_t> added_total{0};
  std::atomic<int64_t> last_add_ns{0};
  // The worker's last sample of `added_total` and its verdict. Worker thread only.
  std::chrono::steady_clock::time_point busy_sample_time{};
  uint64_t busy_sample_added = 0;
  bool busy = false;
  std::atomic<bool> stopping{false};
  std::thread worker;
  // One OpenMP lock per graph node, as faiss::HNSW::add_with_locks wants; grown and used only by
  // the worker thread (kept across merges so a merge does not initialise one per node each time).
  std::vector<omp_lock_t> merge_locks;

  std::shared_lock<std::shared_mutex> ReadLock() const {
    std::lock_guard<std::mutex> g(gate);
    return std::shared_lock<std::shared_mutex>(mu);
  }
  std::unique_lock<std::shared_mutex> WriteLock() const {
    std::lock_guard<std::mutex> g(gate);
    return std::unique_lock<std::shared_mutex>(mu);
  }
  // write_mu for Add/Remove, announced in `writers_waiting` so the merger lets them in first.
  std::unique_lock<std::mutex> LockForWriter() const {
    writers_waiting.fetch_add(1);
    std::unique_lock<std::mutex> w(write_mu);
    writers_waiting.fetch_sub(1);
    return w;
  }

  // Whether a structure holding `live` vectors should be an HNSW (hysteresis: back to flat only
  // below half the threshold).
  bool WantHnsw(size_t live, bool is_hnsw) const {
    const size_t t = options.ann_threshold;
    return t == 0 || live >= t || (is_hnsw && live >= t / 2);
  }

  // Whether the structure should be rebuilt: switch type, shed tombstones, or fold in a delta
  // larger than its graph. Requires `mu` (shared) or write_mu.
  bool NeedsRebuild() const;
  // Requests a background rebuild when NeedsRebuild(), and a merge when the delta has reached
  // options.delta_merge_min. Requires write_mu.
  void MaybeRequestRebuild();
  // Starts the worker thread if needed and wakes it. Requires worker_mu.
  void WakeWorker();
  // The background thread: runs Rebuild() or MergeDelta() whenever one is requested, until
  // `stopping` (a rebuild first: it makes a pending merge moot).
  void WorkerLoop();
  // Builds a fresh structure from the live vectors and swaps it in (see faiss_index.h).
  Status Rebuild();
  // Links the delta into the graph a few vectors per exclusive hold (faiss_index_merge.cc) until
  // it is empty, a rebuild is requested or the index stops. Worker thread only.
  Status MergeDelta();
  // Whether the worker should stop what it is doing (shutdown or a rebuild waiting).
  bool ShouldYieldWork() const;
  // Whether vectors arrived faster than ~256/s over the last sample window (~250 ms). Worker
  // thread only.
  bool IngestionBusy();
  // Vectors a search currently scans exactly: the delta, or a flat structure past the threshold.
  // Takes `mu` (shared).
  size_t ExactScanBacklog() const;
  // Graph work waits here while IngestionBusy() and the backlog is under options.defer_max.
  // Returns false when the index is stopping. Worker thread only; takes no lock on return.
  bool WaitWhileIngesting();
  ~Impl();
  // See FaissIndex::memory_bytes(). Requires `mu` (shared) or write_mu.
  size_t MemoryBytes() const;
};

}  // namespace jrvs::rag
