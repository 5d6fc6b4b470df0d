// FaissIndex (rag/faiss_index.h) background work: the worker thread, rebuilds (type switch and
// compaction), and the delta merger that links vectors added since the last rebuild into the HNSW
// graph a few at a time off the write path. Search and Add are in faiss_index.cc.
#include "rag/faiss_index.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <faiss/IndexHNSW.h>
#include <faiss/impl/AuxIndexStructures.h>
#include <faiss/impl/DistanceComputer.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/HNSW.h>
#include <spdlog/spdlog.h>

#include "rag/faiss_index_impl.h"
#include "rag/simd_kernels.h"

namespace jrvs::rag {
namespace {

using faiss_internal::CopyLive;
using faiss_internal::idx_t;
using faiss_internal::MakeState;
using faiss_internal::Reserve;
using faiss_internal::State;
using faiss_internal::UseOmpThreads;

constexpr size_t kCopyBatch = 1024;  // vectors a rebuild copies per shared hold
// Ingestion counts as busy (graph work waits, see FaissIndexOptions::defer_max) while more than
// kBusyVectors arrive per kBusyWindow: a burst, not a trickle of single documents.
constexpr auto kBusyWindow = std::chrono::milliseconds(250);
constexpr uint64_t kBusyVectors = 64;
// How long the merger holds the locks for one run of graph inserts. Every search and writer may
// wait this long once per hold; one insert costs ~0.1-0.5 ms (M 32, ef_construction 200).
constexpr std::chrono::microseconds kMergeHold{2000};

// The storage's inner product, negated: what FAISS's HNSW minimises for an inner-product index
// (IndexHNSW wraps its storage's distance computer the same way, in a FAISS-private helper). The
// storage's computer is the one a graph build uses: on the int8 copy while it keeps one.
class NegatedIp final : public faiss::DistanceComputer {
 public:
  explicit NegatedIp(const faiss::IndexFlatCodes& storage)
      : inner_(storage.get_FlatCodesDistanceComputer()) {}
  void set_query(const float* x) override { inner_->set_query(x); }
  float operator()(idx_t i) override { return -(*inner_)(i); }
  float symmetric_dis(idx_t i, idx_t j) override { return -inner_->symmetric_dis(i, j); }

 private:
  std::unique_ptr<faiss::FlatCodesDistanceComputer> inner_;
};

Status FaissError(std::string_view what, const std::exception& e) {
  return Status(StatusCode::kInternal, std::string(what) + ": " + e.what());
}

}  // namespace

FaissIndex::Impl::~Impl() {
  for (omp_lock_t& lock : merge_locks) omp_destroy_lock(&lock);
}

bool FaissIndex::Impl::NeedsRebuild() const {
  const State& s = state;
  const bool is_hnsw = s.hnsw != nullptr;
  const bool switch_type = WantHnsw(s.live.size(), is_hnsw) != is_hnsw;
  const bool compact = s.dead_count >= options.compact_min_tombstones &&
                       static_cast<double>(s.dead_count) >
                           options.compact_fraction * static_cast<double>(s.stored());
  // A delta larger than the graph (e.g. ingestion outran the merger, or right after the switch
  // to HNSW) is cheaper to fold in by building a new graph: no exclusive holds, and with
  // build_threads > 1 the build runs in parallel, where the merger inserts one vector at a time.
  const bool outgrown = s.delta() >= options.delta_merge_min && s.delta() > s.graph_n;
  return switch_type || compact || outgrown;
}

void FaissIndex::Impl::MaybeRequestRebuild() {
  const bool rebuild = NeedsRebuild();
  const bool merge = state.delta() >= options.delta_merge_min;
  if (!rebuild && !merge) return;
  std::lock_guard<std::mutex> l(worker_mu);
  if (stopping) return;
  if (rebuild) rebuild_requested = true;
  if (merge && !merge_broken) merge_requested = true;
  WakeWorker();
}

void FaissIndex::Impl::WakeWorker() {
  if (!worker.joinable()) worker = std::thread([this] { WorkerLoop(); });
  worker_cv.notify_all();
}

bool FaissIndex::Impl::IngestionBusy() {
  const auto now = std::chrono::steady_clock::now();
  const uint64_t added = added_total.load(std::memory_order_relaxed);
  const std::chrono::steady_clock::time_point last_add{
      std::chrono::steady_clock::duration(last_add_ns.load(std::memory_order_relaxed))};
  const auto elapsed = now - busy_sample_time;
  if (now - last_add > kBusyWindow) {
    busy = false;  // nothing arrived for a whole window
  } else if (elapsed > 2 * kBusyWindow) {
    busy = true;  // an add just now, after a long gap: measure the rate over the next window
  } else if (elapsed >= kBusyWindow) {
    busy = double(added - busy_sample_added) >=
           double(kBusyVectors) * (std::chrono::duration<double>(elapsed) / kBusyWindow);
  } else {
    return busy;  // keep the verdict until the window is over
  }
  busy_sample_time = now;
  busy_sample_added = added;
  return busy;
}

size_t FaissIndex::Impl::ExactScanBacklog() const {
  auto r = ReadLock();
  const State& s = state;
  if (s.hnsw != nullptr) return s.delta();
  return WantHnsw(s.live.size(), false) ? s.stored() : 0;
}

bool FaissIndex::Impl::WaitWhileIngesting() {
  if (options.defer_max == 0) return !stopping;
  while (!stopping) {
    if (!IngestionBusy() || ExactScanBacklog() >= options.defer_max) return true;
    std::unique_lock<std::mutex> l(worker_mu);
    worker_cv.wait_for(l, kBusyWindow / 4, [&] { return stopping.load(); });
  }
  return false;
}

bool FaissIndex::Impl::ShouldYieldWork() const {
  std::lock_guard<std::mutex> l(worker_mu);
  return stopping || rebuild_requested;
}

void FaissIndex::Impl::WorkerLoop() {
  std::unique_lock<std::mutex> l(worker_mu);
  while (true) {
    worker_cv.wait(l, [&] { return stopping || rebuild_requested || merge_requested; });
    if (stopping) break;
    const bool rebuild = rebuild_requested;
    bool& running = rebuild ? rebuild_running : merge_running;
    (rebuild ? rebuild_requested : merge_requested) = false;
    running = true;
    l.unlock();
    const Status st = !WaitWhileIngesting()
                          ? Status(StatusCode::kCancelled, "index is shutting down")
                          : (rebuild ? Rebuild() : MergeDelta());
    if (!st.ok() && st.code() != StatusCode::kCancelled) {
      spdlog::error("vector index {} failed: {}", rebuild ? "rebuild" : "merge", st.ToString());
    }
    l.lock();
    running = false;
    worker_cv.notify_all();
  }
}

Status FaissIndex::Impl::Rebuild() {
  UseOmpThreads(options.build_threads);
  const size_t d = options.dimension;
  try {
    bool to_hnsw;
    size_t stored_at_start;
    size_t live_at_start;
    bool needed;
    {
      auto r = ReadLock();
      needed = NeedsRebuild();
      to_hnsw = WantHnsw(state.live.size(), state.hnsw != nullptr);
      stored_at_start = state.stored();
      live_at_start = state.live.size();
    }
    if (!needed) {
      // Requested for a state an earlier rebuild has replaced. A merge this request interrupted
      // may still be due.
      std::lock_guard<std::mutex> w(write_mu);
      MaybeRequestRebuild();
      return Status::Ok();
    }
    State fresh = MakeState(to_hnsw, options);
    Reserve(fresh, live_at_start + live_at_start / 16 + kCopyBatch, options);
    std::vector<idx_t> source;  // fresh position -> current position
    std::vector<float> buf;
    size_t next = 0;
    // Phase 1: copy the live vectors stored at the start batch by batch under the shared lock,
    // build with no lock. Positions in the current state are stable: only a rebuild renumbers
    // them, and only this thread rebuilds or merges.
    while (next < stored_at_start) {
      if (!WaitWhileIngesting()) return Status(StatusCode::kCancelled, "index is shutting down");
      {
        auto r = ReadLock();
        const size_t end = std::min(next + kCopyBatch, stored_at_start);
        CopyLive(state, next, end, d, &buf, &source);
        next = end;
      }
      if (!buf.empty()) fresh.index->add(static_cast<idx_t>(buf.size() / d), buf.data());
    }
    // Phase 2: writers wait for a copy of what they added meanwhile, which becomes the fresh
    // structure's delta (no graph insert here); searches keep using the current state until the
    // swap.
    std::unique_lock<std::mutex> w(write_mu);
    CopyLive(state, next, state.stored(), d, &buf, &source);
    if (!buf.empty()) fresh.storage->add(static_cast<idx_t>(buf.size() / d), buf.data());
    fresh.graph_n = fresh.hnsw != nullptr ? static_cast<size_t>(fresh.hnsw->ntotal) : 0;
    fresh.ids.resize(source.size());
    fresh.dead.assign(source.size(), 0);
    fresh.live.reserve(state.live.size());
    for (size_t j = 0; j < source.size(); ++j) {
      const auto src = static_cast<size_t>(source[j]);
      fresh.ids[j] = state.ids[src];
      if (state.dead[src] != 0) {
        fresh.dead[j] = 1;
        ++fresh.dead_count;
      } else {
        fresh.live.emplace(state.ids[src], static_cast<idx_t>(j));
      }
    }
    if (fresh.live.size() != state.live.size() ||
        static_cast<size_t>(fresh.storage->ntotal) != fresh.stored()) {
      return Status(StatusCode::kInternal, "rebuild lost vectors; keeping the current index");
    }
    {
      auto x = WriteLock();
      std::swap(state, fresh);
    }
    {
      std::lock_guard<std::mutex> l(worker_mu);
      merge_broken = false;  // the graph a failed merge left behind is gone
    }
    spdlog::info("vector index rebuilt as {}: {} live vectors, {} tombstones dropped",
                 state.hnsw ? "hnsw" : "flat", state.live.size(), fresh.stored() - state.stored());
    MaybeRequestRebuild();
    w.unlock();
    // `fresh` (the old structure) is freed here, outside every lock.
    return Status::Ok();
  } catch (const faiss::FaissException& e) {
    return FaissError("rebuild", e);
  } catch (const std::exception& e) {
    return FaissError("rebuild", e);
  }
}

Status FaissIndex::Impl::MergeDelta() {
  UseOmpThreads(1);
  const size_t d = options.dimension;
  while (!ShouldYieldWork()) {
    if (!WaitWhileIngesting()) break;
    {
      // Both locks, like a writer: a holder of write_mu (Save, a rebuild's phase 2) may read the
      // state without `mu`, and searches must not walk the graph while it changes.
      std::lock_guard<std::mutex> w(write_mu);
      auto x = WriteLock();
      State& s = state;
      if (s.hnsw == nullptr || s.delta() == 0) return Status::Ok();
      faiss::HNSW& graph = s.hnsw->hnsw;
      try {
        if (merge_locks.size() < s.stored()) {
          // add_with_locks wants one lock per node; re-made (not moved) when they run out.
          for (omp_lock_t& lock : merge_locks) omp_destroy_lock(&lock);
          merge_locks = std::vector<omp_lock_t>(s.stored() + s.stored() / 2 + 1024);
          for (omp_lock_t& lock : merge_locks) omp_init_lock(&lock);
        }
        faiss::VisitedTable visited(static_cast<int>(s.stored()));
        NegatedIp dis(*s.storage);  // the storage cannot move while we hold `mu`
        const auto start = std::chrono::steady_clock::now();
        std::vector<float> query(d);
        do {
          const size_t pt = s.graph_n;
          graph.prepare_level_tab(1, false);
          s.storage->Decode(pt, 1, query.data());
          dis.set_query(query.data());
          graph.add_with_locks(dis, graph.levels[pt] - 1, static_cast<int>(pt), merge_locks,
                               visited);
          s.graph_n = pt + 1;
          s.hnsw->ntotal = static_cast<idx_t>(s.graph_n);
        } while (s.delta() > 0 && std::chrono::steady_clock::now() - start < kMergeHold);
      } catch (const std::exception& e) {
        // The node being linked may be half in the graph, so the graph may link to a position
        // FAISS's search does not expect. Stop using it: every stored vector becomes delta
        // (exact, correct, slower) until the rebuild requested here swaps in a fresh graph.
        s.graph_n = 0;
        s.hnsw->ntotal = 0;
        std::lock_guard<std::mutex> l(worker_mu);
        merge_broken = true;
        rebuild_requested = true;
        return FaissError("merge into the vector graph", e);
      }
    }
    // Writers first: wait (bounded) until none is queued for write_mu. Under sustained
    // ingestion the merger then falls behind, and a delta that outgrows the graph is folded in
    // by a rebuild, which needs no exclusive holds (NeedsRebuild()).
    for (int i = 0; i < 100 && writers_waiting.load() > 0; ++i) {
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    std::this_thread::yield();
  }
  return Status(StatusCode::kCancelled, "merge interrupted by a rebuild or shutdown");
}

}  // namespace jrvs::rag
