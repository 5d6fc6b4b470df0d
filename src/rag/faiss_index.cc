// FaissIndex (rag/faiss_index.h) except persistence: options, creation, Add/Remove, exact and HNSW
// search with tombstone filtering, and the background rebuilds. Save/Load and the file format are
// in faiss_index_io.cc; the inner-product kernels in simd_kernels.cc.
#include "rag/faiss_index.h"

#include <dlfcn.h>
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <iterator>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <unordered_map>
#include <utility>

#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/impl/DistanceComputer.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/HNSW.h>
#include <faiss/impl/IDSelector.h>
#include <spdlog/spdlog.h>

#include "rag/faiss_index_impl.h"
#include "rag/hnsw_walk.h"
#include "rag/simd_kernels.h"

namespace jrvs::rag {
namespace faiss_internal {
namespace {

using simd::GetKernels;
using simd::Kernels;

// ---- FAISS pieces ----------------------------------------------------------------------------

// Inner product against the stored vectors with the fast kernels; HNSW negates it for its
// min-heap.
class FastIpDistance final : public faiss::FlatCodesDistanceComputer {
 public:
  explicit FastIpDistance(const FastFlatIP& storage)
      : faiss::FlatCodesDistanceComputer(storage.codes.data(), storage.code_size),
        storage_(storage),
        xb_(storage.vectors()),
        kernels_(GetKernels()),
        row_(xb_.d) {}

  void set_query(const float* x) override { q_ = x; }
  // FAISS calls this with `codes + i * code_size` (operator()(i)), so the position is known.
  float distance_to_code(const uint8_t* code) override {
    return xb_.Dot(kernels_, q_, static_cast<size_t>(code - codes) / code_size);
  }
  float symmetric_dis(idx_t i, idx_t j) override {
    storage_.Decode(static_cast<size_t>(i), 1, row_.data());
    return xb_.Dot(kernels_, row_.data(), static_cast<size_t>(j));
  }

 private:
  const FastFlatIP& storage_;
  StoredVectors xb_;
  const Kernels& kernels_;
  std::vector<float> row_;
  const float* q_ = nullptr;
};

// The same on the int8 copy (the query quantized like a stored vector): what graph builds and
// merges use while the storage keeps one. Four times fewer bytes per neighbour visited and 32
// products per instruction; the graph's links are chosen by these approximate inner products,
// searches rescore their results exactly (docs/PERFORMANCE.md, "Vector index").
class QuantizedIpDistance final : public faiss::FlatCodesDistanceComputer {
 public:
  explicit QuantizedIpDistance(const FastFlatIP& storage)
      : faiss::FlatCodesDistanceComputer(storage.codes.data(), storage.code_size),
        codes8_(storage.codes8.data()),
        scales8_(storage.scales8.data()),
        d_(static_cast<size_t>(storage.d)),
        dot_i8_(GetKernels().dot_i8),
        q8_(d_) {}

  void set_query(const float* x) override { q_scale_ = QuantizeInt8(x, d_, q8_.data()); }
  // FAISS calls this with `codes + i * code_size` (operator()(i)), so the position is known.
  float distance_to_code(const uint8_t* code) override {
    return Score(q8_.data(), q_scale_, static_cast<size_t>(code - codes) / code_size);
  }
  float symmetric_dis(idx_t i, idx_t j) override {
    return Score(codes8_ + static_cast<size_t>(i) * d_, scales8_[i], static_cast<size_t>(j));
  }

 private:
  float Score(const int8_t* a, float a_scale, size_t j) const {
    return a_scale * scales8_[j] * static_cast<float>(dot_i8_(a, codes8_ + j * d_, d_));
  }
  const int8_t* codes8_;
  const float* scales8_;
  size_t d_;
  simd::DotI8Fn dot_i8_;
  std::vector<int8_t> q8_;
  float q_scale_ = 0;
};

}  // namespace

FastFlatIP::FastFlatIP(idx_t dim, bool half_precision)
    : faiss::IndexFlatIP(dim), half(half_precision) {
  if (half) code_size = static_cast<size_t>(dim) * sizeof(uint16_t);
}

faiss::FlatCodesDistanceComputer* FastFlatIP::get_FlatCodesDistanceComputer() const {
  if (quantized) return new QuantizedIpDistance(*this);
  return new FastIpDistance(*this);
}

StoredVectors FastFlatIP::vectors() const {
  StoredVectors v;
  v.d = static_cast<size_t>(d);
  if (half) {
    v.f16 = reinterpret_cast<const uint16_t*>(codes.data());
  } else {
    v.f32 = reinterpret_cast<const float*>(codes.data());
  }
  return v;
}

void FastFlatIP::Decode(size_t first, size_t n, float* out) const {
  const size_t dim = static_cast<size_t>(d);
  if (half) {
    GetKernels().from_f16(reinterpret_cast<const uint16_t*>(codes.data()) + first * dim, n * dim,
                          out);
  } else {
    std::copy_n(reinterpret_cast<const float*>(codes.data()) + first * dim, n * dim, out);
  }
}

namespace {

// Appends the int8 codes and scales of the stored vectors [first, first + n).
void Quantize(const FastFlatIP& storage, size_t first, size_t n, Int8Codes& codes,
              std::vector<float>& scales) {
  const auto d = static_cast<size_t>(storage.d);
  const size_t at = codes.size();
  codes.resize(at + n * d);
  std::vector<float> row(d);
  for (size_t v = 0; v < n; ++v) {
    storage.Decode(first + v, 1, row.data());
    scales.push_back(QuantizeInt8(row.data(), d, codes.data() + at + v * d));
  }
}

}  // namespace

void FastFlatIP::add(idx_t n, const float* x) {
  const auto first = static_cast<size_t>(ntotal);
  if (half) {
    const auto count = static_cast<size_t>(n);
    codes.resize((first + count) * code_size);
    GetKernels().to_f16(x, count * static_cast<size_t>(d),
                        reinterpret_cast<uint16_t*>(codes.data() + first * code_size));
    ntotal += n;
  } else {
    faiss::IndexFlatIP::add(n, x);
  }
  if (quantized) Quantize(*this, first, static_cast<size_t>(n), codes8, scales8);
}

void FastFlatIP::reset() {
  faiss::IndexFlatIP::reset();
  codes8.clear();
  scales8.clear();
}

void FastFlatIP::EnableQuantized() {
  if (quantized) return;
  quantized = true;
  codes8.clear();
  scales8.clear();
  codes8.reserve(static_cast<size_t>(ntotal) * static_cast<size_t>(d));
  scales8.reserve(static_cast<size_t>(ntotal));
  Quantize(*this, 0, static_cast<size_t>(ntotal), codes8, scales8);
}

QuantizedView QuantizedOf(const State& s) {
  if (s.storage == nullptr || !s.storage->quantized) return {};
  return {s.storage->codes8.data(), s.storage->scales8.data()};
}

void LimitBlasThreads() {
  static std::once_flag once;
  std::call_once(once, [] {
    using SetThreadsFn = void (*)(int);
    if (void* sym = dlsym(RTLD_DEFAULT, "openblas_set_num_threads")) {
      reinterpret_cast<SetThreadsFn>(sym)(1);
    }
  });
}

void UseOmpThreads(int n) {
  if (omp_get_max_threads() != n) omp_set_num_threads(n);
}

State MakeState(bool use_hnsw, const FaissIndexOptions& o) {
  State s;
  const auto d = static_cast<idx_t>(o.dimension);
  auto storage = std::make_unique<FastFlatIP>(d, o.float16);
  s.storage = storage.get();
  if (use_hnsw) {
    auto hnsw = std::make_unique<faiss::IndexHNSWFlat>(static_cast<int>(d), o.hnsw_m,
                                                       faiss::METRIC_INNER_PRODUCT);
    std::unique_ptr<faiss::Index> replaced(hnsw->storage);  // owned by the HNSW until now
    hnsw->storage = storage.release();
    hnsw->own_fields = true;
    hnsw->hnsw.efConstruction = o.hnsw_ef_construction;
    hnsw->hnsw.efSearch = o.hnsw_ef_search;
    if (o.quantized_walk) s.storage->EnableQuantized();
    s.hnsw = hnsw.get();
    s.index = std::move(hnsw);
  } else {
    s.index = std::move(storage);
  }
  return s;
}

// Reserve: exact sizes, so the structure does not grow by doubling (which would leave up to half
// its capacity unused for the life of the index).
void Reserve(State& s, size_t n, const FaissIndexOptions& o) {
  s.storage->codes.reserve(n * s.storage->code_size);
  if (s.storage->quantized) {
    s.storage->codes8.reserve(n * o.dimension);
    s.storage->scales8.reserve(n);
  }
  if (s.hnsw != nullptr) {
    // Level 0 keeps 2*M links; the upper levels add M/(M-1) per node on average.
    s.hnsw->hnsw.neighbors.reserve(n * (2 * static_cast<size_t>(o.hnsw_m) + 2));
    s.hnsw->hnsw.levels.reserve(n);
    s.hnsw->hnsw.offsets.reserve(n + 1);
  }
  s.ids.reserve(n);
  s.dead.reserve(n);
}

// Reconcile: so the id table always covers exactly the stored vectors.
void Reconcile(State& s) {
  const auto stored = static_cast<size_t>(s.storage->ntotal);
  while (s.ids.size() < stored) {
    s.ids.push_back(-1);
    s.dead.push_back(1);
    ++s.dead_count;
  }
}

void Record(State& s, int64_t id) {
  const auto position = static_cast<idx_t>(s.ids.size());
  s.ids.push_back(id);
  s.dead.push_back(0);
  auto [it, inserted] = s.live.try_emplace(id, position);
  if (!inserted) {
    s.dead[it->second] = 1;
    ++s.dead_count;
    it->second = position;
  }
}

void CopyLive(const State& s, size_t begin, size_t end, size_t d, std::vector<float>* buf,
              std::vector<idx_t>* source) {
  buf->clear();
  for (size_t p = begin; p < end; ++p) {
    if (s.dead[p] != 0) continue;
    buf->resize(buf->size() + d);
    s.storage->Decode(p, 1, buf->data() + buf->size() - d);
    source->push_back(static_cast<idx_t>(p));
  }
}

}  // namespace faiss_internal

namespace {

using faiss_internal::FastFlatIP;
using faiss_internal::HnswWalk;
using faiss_internal::idx_t;
using faiss_internal::LimitBlasThreads;
using faiss_internal::MakeState;
using faiss_internal::QuantizedOf;
using faiss_internal::Reconcile;
using faiss_internal::Record;
using faiss_internal::State;
using faiss_internal::StoredVectors;
using faiss_internal::UseOmpThreads;
using faiss_internal::WalkHit;
using simd::GetKernels;
using simd::Kernels;

constexpr size_t kFlatInsertBatch = 4096;  // vectors appended to flat storage per exclusive hold
constexpr size_t kQueryBlock = 8;          // queries sharing one pass over flat storage
constexpr size_t kMaxOverfetch = 1024;     // cap on extra HNSW results asked for on a short answer
constexpr size_t kMapNodeBytes = 32;       // one unordered_map<int64, int64> node, malloc-rounded

bool AllFinite(std::span<const float> values) {
  return std::all_of(values.begin(), values.end(), [](float v) { return std::isfinite(v); });
}

// InvalidArgument unless `queries` holds n finite queries of dimension d.
Status CheckQueries(std::span<const float> queries, size_t n, size_t d) {
  if (queries.size() != n * d) {
    return Status(StatusCode::kInvalidArgument,
                  "expected " + std::to_string(n) + " queries of dimension " + std::to_string(d) +
                      ", got " + std::to_string(queries.size()) + " floats");
  }
  if (!AllFinite(queries)) {
    return Status(StatusCode::kInvalidArgument, "query must not contain NaN or infinity");
  }
  return Status::Ok();
}

Status FaissError(std::string_view what, const std::exception& e) {
  return Status(StatusCode::kInternal, std::string(what) + ": " + e.what());
}

// ---- Top-k selection -------------------------------------------------------------------------

struct Scored {
  float score;
  idx_t position;
};

// Keeps the k best scores; the heap's front is the worst kept.
class TopK {
 public:
  explicit TopK(size_t k) : k_(k) { heap_.reserve(k); }

  void Push(float score, idx_t position) {
    if (heap_.size() < k_) {
      heap_.push_back({score, position});
      std::push_heap(heap_.begin(), heap_.end(), Better);
    } else if (score > heap_.front().score) {
      std::pop_heap(heap_.begin(), heap_.end(), Better);
      heap_.back() = {score, position};
      std::push_heap(heap_.begin(), heap_.end(), Better);
    }
  }

  // Best first; equal scores by position.
  std::vector<Scored> Take() {
    std::sort(heap_.begin(), heap_.end(), [](const Scored& a, const Scored& b) {
      return a.score != b.score ? a.score > b.score : a.position < b.position;
    });
    return std::move(heap_);
  }

 private:
  static bool Better(const Scored& a, const Scored& b) { return a.score > b.score; }
  size_t k_;
  std::vector<Scored> heap_;
};

}  // namespace

// ---- Options -----------------------------------------------------------------------------------

Status FaissIndexOptions::Validate() const {
  auto bad = [](std::string_view field, std::string_view range, auto value) {
    return Status(StatusCode::kInvalidArgument, "FaissIndexOptions." + std::string(field) +
                                                    " must be in " + std::string(range) + ", got " +
                                                    std::to_string(value));
  };
  if (dimension < 1 || dimension > 65536) return bad("dimension", "[1, 65536]", dimension);
  if (hnsw_m < 4 || hnsw_m > 256) return bad("hnsw_m", "[4, 256]", hnsw_m);
  if (hnsw_ef_construction < 8 || hnsw_ef_construction > 4096) {
    return bad("hnsw_ef_construction", "[8, 4096]", hnsw_ef_construction);
  }
  if (hnsw_ef_search < 0 || hnsw_ef_search > 4096) {
    return bad("hnsw_ef_search", "[0, 4096]", hnsw_ef_search);
  }
  if (!(compact_fraction > 0.0 && compact_fraction <= 1.0)) {
    return bad("compact_fraction", "(0, 1]", compact_fraction);
  }
  if (compact_min_tombstones < 1) {
    return bad("compact_min_tombstones", "[1, inf)", compact_min_tombstones);
  }
  if (build_threads < 1 || build_threads > 256)
    return bad("build_threads", "[1, 256]", build_threads);
  if (delta_merge_min < 1) return bad("delta_merge_min", "[1, inf)", delta_merge_min);
  return Status::Ok();
}

// ---- Search ------------------------------------------------------------------------------------

namespace {

std::vector<VectorHit> ToHits(const State& s, const std::vector<Scored>& scored) {
  std::vector<VectorHit> hits;
  hits.reserve(scored.size());
  for (const Scored& r : scored) hits.push_back({s.ids[r.position], r.score});
  return hits;
}

// Exact top-`want` over the stored positions [begin, end) for `nq` queries (row-major), sharing
// each pass over the storage between the queries.
std::vector<std::vector<VectorHit>> ExactScan(const State& s, const float* queries, size_t nq,
                                              size_t d, size_t want, size_t begin, size_t end) {
  const Kernels& kernels = GetKernels();
  std::vector<TopK> tops(nq, TopK(want));
  const StoredVectors xb = s.storage->vectors();
  const size_t n = end;
  const uint8_t* dead = s.dead.data();
  size_t p = begin;
  float scores[4];
  for (; p + 4 <= n; p += 4) {
    for (size_t q = 0; q < nq; ++q) {
      xb.Dot4(kernels, queries + q * d, p, scores);
      for (size_t r = 0; r < 4; ++r) {
        if (dead[p + r] == 0) tops[q].Push(scores[r], static_cast<idx_t>(p + r));
      }
    }
  }
  for (; p < n; ++p) {
    if (dead[p] != 0) continue;
    for (size_t q = 0; q < nq; ++q) {
      tops[q].Push(xb.Dot(kernels, queries + q * d, p), static_cast<idx_t>(p));
    }
  }
  std::vector<std::vector<VectorHit>> out;
  out.reserve(nq);
  for (TopK& top : tops) out.push_back(ToHits(s, top.Take()));
  return out;
}

// Approximate top-`want` among the graph's nodes (positions [0, graph_n)), tombstones walked
// through but not returned (rag/hnsw_walk.h). When the walk comes back short (tombstones crowding
// the query's neighbourhood), it is asked again with a wider beam (want + tombstones, capped),
// then answered by an exact scan of the graph's positions.
// Concurrent calls are safe: the walk only reads the graph and the storage.
std::vector<VectorHit> HnswSearch(const State& s, const float* query, size_t d, size_t want) {
  if (s.graph_n == 0) return {};
  const size_t ef = s.hnsw->hnsw.efSearch > 0 ? static_cast<size_t>(s.hnsw->hnsw.efSearch)
                                              : AutoEfSearch(s.graph_n);
  const size_t fetches[2] = {want,
                             std::min(s.graph_n, want + std::min(s.dead_count, kMaxOverfetch))};
  const uint8_t* dead = s.dead_count > 0 ? s.dead.data() : nullptr;
  for (size_t attempt = 0; attempt < 2; ++attempt) {
    const size_t fetch = fetches[attempt];
    if (attempt == 1 && fetch <= fetches[0]) break;
    std::vector<WalkHit> walk = HnswWalk(s.hnsw->hnsw, s.storage->vectors(), query, want,
                                         std::max(ef, fetch), dead, QuantizedOf(s));
    if (walk.size() >= want) {
      std::vector<VectorHit> hits;
      hits.reserve(walk.size());
      for (const WalkHit& w : walk) hits.push_back({s.ids[w.position], w.score});
      return hits;
    }
  }
  return std::move(ExactScan(s, query, 1, d, want, 0, s.graph_n).front());
}

// The best `want` of two lists, each sorted best first; equal scores keep graph hits first.
std::vector<VectorHit> MergeTop(std::vector<VectorHit> graph, const std::vector<VectorHit>& delta,
                                size_t want) {
  if (delta.empty()) return graph;
  std::vector<VectorHit> out;
  out.reserve(std::min(want, graph.size() + delta.size()));
  std::merge(graph.begin(), graph.end(), delta.begin(), delta.end(), std::back_inserter(out),
             [](const VectorHit& a, const VectorHit& b) { return a.score > b.score; });
  if (out.size() > want) out.resize(want);
  return out;
}

}  // namespace

// ---- Impl --------------------------------------------------------------------------------------

size_t FaissIndex::Impl::MemoryBytes() const {
  const State& s = state;
  size_t bytes = s.storage->codes.capacity() + s.storage->codes8.capacity() +
                 s.storage->scales8.capacity() * sizeof(float);
  if (s.hnsw != nullptr) {
    const faiss::HNSW& g = s.hnsw->hnsw;
    bytes += g.neighbors.capacity() * sizeof(g.neighbors[0]) +
             g.offsets.capacity() * sizeof(g.offsets[0]) +
             g.levels.capacity() * sizeof(g.levels[0]);
  }
  bytes += s.ids.capacity() * sizeof(int64_t) + s.dead.capacity();
  bytes += s.live.bucket_count() * sizeof(void*) + s.live.size() * kMapNodeBytes;
  return bytes;
}

// ---- FaissIndex --------------------------------------------------------------------------------

size_t AutoEfSearch(size_t graph_vectors) {
  constexpr size_t kBase = 128;
  constexpr double kFrom = 32768;
  if (double(graph_vectors) <= kFrom) return kBase;
  // One base beam per doubling was not enough past ~500k vectors (recall@10 0.933-0.946 at 1M
  // real-text chunks with 763); the quadratic term adds 1/8 of a base beam per doubling squared.
  const double doublings = std::log2(double(graph_vectors) / kFrom);
  const double ef = double(kBase) * (1.0 + doublings + doublings * doublings / 8);
  return std::min<size_t>(4096, static_cast<size_t>(ef));
}

FaissIndex::FaissIndex(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

FaissIndex::~FaissIndex() {
  {
    std::lock_guard<std::mutex> l(impl_->worker_mu);
    impl_->stopping = true;
  }
  impl_->worker_cv.notify_all();
  if (impl_->worker.joinable()) impl_->worker.join();
}

Result<std::unique_ptr<FaissIndex>> FaissIndex::Create(const FaissIndexOptions& options) {
  if (Status st = options.Validate(); !st.ok()) return Error(std::move(st));
  LimitBlasThreads();
  auto impl = std::make_unique<Impl>(options);
  try {
    impl->state = MakeState(options.ann_threshold == 0, options);
  } catch (const std::exception& e) {
    return Error(FaissError("create index", e));
  }
  return std::unique_ptr<FaissIndex>(new FaissIndex(std::move(impl)));
}

Status FaissIndex::Add(std::span<const int64_t> ids, std::span<const float> vectors) {
  const size_t d = impl_->options.dimension;
  if (vectors.size() != ids.size() * d) {
    return Status(StatusCode::kInvalidArgument,
                  "expected " + std::to_string(ids.size()) + " vectors of dimension " +
                      std::to_string(d) + ", got " + std::to_string(vectors.size()) + " floats");
  }
  if (std::any_of(ids.begin(), ids.end(), [](int64_t id) { return id < 0; })) {
    return Status(StatusCode::kInvalidArgument, "vector ids must be non-negative");
  }
  if (!AllFinite(vectors)) {
    return Status(StatusCode::kInvalidArgument, "vectors must not contain NaN or infinity");
  }
  if (ids.empty()) return Status::Ok();
  impl_->added_total.fetch_add(ids.size(), std::memory_order_relaxed);
  impl_->last_add_ns.store(std::chrono::steady_clock::now().time_since_epoch().count(),
                           std::memory_order_relaxed);
  UseOmpThreads(1);
  std::unique_lock<std::mutex> w = impl_->LockForWriter();
  State& s = impl_->state;
  Status result;
  {
    // Grow the storage once per call and by half, not by doubling per batch.
    auto x = impl_->WriteLock();
    try {
      const size_t needed = (s.stored() + ids.size()) * s.storage->code_size;
      std::vector<uint8_t>& codes = s.storage->codes;
      if (codes.capacity() < needed) codes.reserve(std::max(needed, codes.capacity() * 3 / 2));
      if (s.storage->quantized) {
        const size_t n = s.stored() + ids.size();
        auto& codes8 = s.storage->codes8;
        if (codes8.capacity() < n * d) codes8.reserve(std::max(n * d, codes8.capacity() * 3 / 2));
        std::vector<float>& scales8 = s.storage->scales8;
        if (scales8.capacity() < n) scales8.reserve(std::max(n, scales8.capacity() * 3 / 2));
      }
    } catch (const std::exception& e) {
      return FaissError("add to vector index", e);
    }
  }
  // Into the flat storage only: while HNSW, these positions are the delta (see faiss_index.h).
  size_t begin = 0;
  while (begin < ids.size()) {
    const size_t batch = std::min(ids.size() - begin, kFlatInsertBatch);
    auto x = impl_->WriteLock();
    try {
      s.storage->add(static_cast<idx_t>(batch), vectors.data() + begin * d);
      for (size_t i = begin; i < begin + batch; ++i) {
        Record(s, ids[i]);
        impl_->max_id = std::max(impl_->max_id, ids[i]);
      }
    } catch (const std::exception& e) {
      Reconcile(s);
      result = FaissError("add to vector index", e);
      break;
    }
    begin += batch;
  }
  impl_->MaybeRequestRebuild();
  return result;
}

Status FaissIndex::Remove(std::span<const int64_t> ids) {
  if (ids.empty()) return Status::Ok();
  std::unique_lock<std::mutex> w = impl_->LockForWriter();
  {
    auto x = impl_->WriteLock();
    State& s = impl_->state;
    for (int64_t id : ids) {
      auto it = s.live.find(id);
      if (it == s.live.end()) continue;
      s.dead[it->second] = 1;
      ++s.dead_count;
      s.live.erase(it);
    }
  }
  impl_->MaybeRequestRebuild();
  return Status::Ok();
}

Result<std::vector<VectorHit>> FaissIndex::Search(std::span<const float> query, size_t k) const {
  auto batch = SearchBatch(query, 1, k);
  if (!batch) return Error(std::move(batch.error()));
  return std::move(batch->front());
}

Result<std::vector<std::vector<VectorHit>>> FaissIndex::SearchBatch(std::span<const float> queries,
                                                                    size_t n, size_t k) const {
  const size_t d = impl_->options.dimension;
  if (Status s = CheckQueries(queries, n, d); !s.ok()) return Error(std::move(s));
  std::vector<std::vector<VectorHit>> out(n);
  if (k == 0 || n == 0) return out;
  UseOmpThreads(1);
  try {
    for (size_t first = 0; first < n; first += kQueryBlock) {
      const size_t nq = std::min(kQueryBlock, n - first);
      const float* block = queries.data() + first * d;
      auto r = impl_->ReadLock();
      const State& s = impl_->state;
      const size_t want = std::min(k, s.live.size());
      if (want == 0) continue;
      if (s.hnsw == nullptr) {
        auto hits = ExactScan(s, block, nq, d, want, 0, s.stored());
        std::move(hits.begin(), hits.end(), out.begin() + static_cast<std::ptrdiff_t>(first));
      } else {
        std::vector<std::vector<VectorHit>> delta(nq);
        if (s.delta() > 0) delta = ExactScan(s, block, nq, d, want, s.graph_n, s.stored());
        for (size_t q = 0; q < nq; ++q) {
          out[first + q] = MergeTop(HnswSearch(s, block + q * d, d, want), delta[q], want);
        }
      }
    }
  } catch (const std::exception& e) {
    return Error(FaissError("vector search", e));
  }
  return out;
}

Result<std::vector<VectorHit>> FaissIndex::Score(std::span<const float> query,
                                                 std::span<const int64_t> ids) const {
  if (Status s = CheckQueries(query, 1, impl_->options.dimension); !s.ok()) {
    return Error(std::move(s));
  }
  std::vector<VectorHit> out;
  out.reserve(ids.size());
  const simd::Kernels& kernels = simd::GetKernels();
  auto r = impl_->ReadLock();
  const State& s = impl_->state;
  const StoredVectors xb = s.storage->vectors();
  for (int64_t id : ids) {
    auto it = s.live.find(id);
    if (it == s.live.end()) continue;
    out.push_back({id, xb.Dot(kernels, query.data(), static_cast<size_t>(it->second))});
  }
  return out;
}

size_t FaissIndex::size() const {
  auto r = impl_->ReadLock();
  return impl_->state.live.size();
}

size_t FaissIndex::dimension() const { return impl_->options.dimension; }

std::string FaissIndex::type() const {
  auto r = impl_->ReadLock();
  return impl_->state.hnsw != nullptr ? "hnsw" : "flat";
}

int64_t FaissIndex::max_id() const {
  auto r = impl_->ReadLock();
  return impl_->max_id;
}

size_t FaissIndex::memory_bytes() const {
  auto r = impl_->ReadLock();
  return impl_->MemoryBytes();
}

size_t FaissIndex::tombstones() const {
  auto r = impl_->ReadLock();
  return impl_->state.dead_count;
}

size_t FaissIndex::delta_size() const {
  auto r = impl_->ReadLock();
  return impl_->state.delta();
}

const FaissIndexOptions& FaissIndex::options() const { return impl_->options; }

void FaissIndex::WaitForRebuild() const {
  std::unique_lock<std::mutex> l(impl_->worker_mu);
  impl_->worker_cv.wait(l, [&] {
    return impl_->stopping || (!impl_->rebuild_requested && !impl_->rebuild_running &&
                               !impl_->merge_requested && !impl_->merge_running);
  });
}

}  // namespace jrvs::rag
