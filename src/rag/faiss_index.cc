#include "rag/faiss_index.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <immintrin.h>
#include <omp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cmath>
#include <condition_variable>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <exception>
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
#include <faiss/impl/io.h>
#include <faiss/index_io.h>
#include <faiss/utils/distances.h>
#include <spdlog/spdlog.h>

namespace jrvs::rag {
namespace {

using idx_t = faiss::Index::idx_t;

static_assert(std::endian::native == std::endian::little, "index files are little-endian");

constexpr size_t kHnswInsertBatch = 16;    // vectors inserted into a live graph per exclusive hold
constexpr size_t kFlatInsertBatch = 4096;  // vectors appended to flat storage per exclusive hold
constexpr size_t kCopyBatch = 1024;        // vectors a rebuild copies per shared hold
constexpr size_t kFinalCatchUp = 256;      // a rebuild finishes (blocking writers) below this gap
constexpr size_t kQueryBlock = 8;          // queries sharing one pass over flat storage
constexpr size_t kMaxOverfetch = 1024;     // cap on extra HNSW results asked for on a short answer
constexpr size_t kMapNodeBytes = 32;       // one unordered_map<int64, int64> node, malloc-rounded

// ---- Inner-product kernels -------------------------------------------------------------------

using DotFn = float (*)(const float*, const float*, size_t);
// Inner products of `q` with the 4 consecutive rows starting at `x`.
using Dot4Fn = void (*)(const float* q, const float* x, size_t d, float* out);

float DotGeneric(const float* a, const float* b, size_t d) {
  return faiss::fvec_inner_product(a, b, d);
}

void Dot4Generic(const float* q, const float* x, size_t d, float* out) {
  for (size_t r = 0; r < 4; ++r) out[r] = faiss::fvec_inner_product(q, x + r * d, d);
}

__attribute__((target("avx2,fma"))) float HorizontalSum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}

__attribute__((target("avx2,fma"))) float DotAvx2(const float* a, const float* b, size_t d) {
  __m256 s0 = _mm256_setzero_ps();
  __m256 s1 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= d; i += 16) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
  }
  for (; i + 8 <= d; i += 8) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
  }
  float sum = HorizontalSum(_mm256_add_ps(s0, s1));
  for (; i < d; ++i) sum += a[i] * b[i];
  return sum;
}

__attribute__((target("avx2,fma"))) void Dot4Avx2(const float* q, const float* x, size_t d,
                                                  float* out) {
  const float* x0 = x;
  const float* x1 = x + d;
  const float* x2 = x + 2 * d;
  const float* x3 = x + 3 * d;
  __m256 s0 = _mm256_setzero_ps();
  __m256 s1 = _mm256_setzero_ps();
  __m256 s2 = _mm256_setzero_ps();
  __m256 s3 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 8 <= d; i += 8) {
    const __m256 qv = _mm256_loadu_ps(q + i);
    s0 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(x0 + i), s0);
    s1 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(x1 + i), s1);
    s2 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(x2 + i), s2);
    s3 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(x3 + i), s3);
  }
  out[0] = HorizontalSum(s0);
  out[1] = HorizontalSum(s1);
  out[2] = HorizontalSum(s2);
  out[3] = HorizontalSum(s3);
  for (; i < d; ++i) {
    out[0] += q[i] * x0[i];
    out[1] += q[i] * x1[i];
    out[2] += q[i] * x2[i];
    out[3] += q[i] * x3[i];
  }
}

struct Kernels {
  DotFn dot;
  Dot4Fn dot4;
};

const Kernels& GetKernels() {
  static const Kernels kernels = [] {
    __builtin_cpu_init();
    const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return avx2 ? Kernels{DotAvx2, Dot4Avx2} : Kernels{DotGeneric, Dot4Generic};
  }();
  return kernels;
}

// ---- FAISS pieces ----------------------------------------------------------------------------

// Inner product against flat storage with the fast kernel; HNSW negates it for its min-heap.
class FastIpDistance final : public faiss::FlatCodesDistanceComputer {
 public:
  FastIpDistance(const float* xb, size_t d)
      : faiss::FlatCodesDistanceComputer(reinterpret_cast<const uint8_t*>(xb), d * sizeof(float)),
        xb_(xb),
        d_(d),
        dot_(GetKernels().dot) {}

  void set_query(const float* x) override { q_ = x; }
  float distance_to_code(const uint8_t* code) override {
    return dot_(q_, reinterpret_cast<const float*>(code), d_);
  }
  float symmetric_dis(idx_t i, idx_t j) override { return dot_(xb_ + i * d_, xb_ + j * d_, d_); }

 private:
  const float* xb_;
  size_t d_;
  DotFn dot_;
  const float* q_ = nullptr;
};

// IndexFlatIP whose distance computer (used by HNSW) runs the fast kernel. Serialised by FAISS as
// a plain IndexFlatIP.
struct FastFlatIP final : faiss::IndexFlatIP {
  explicit FastFlatIP(idx_t dim) : faiss::IndexFlatIP(dim) {}
  faiss::FlatCodesDistanceComputer* get_FlatCodesDistanceComputer() const override {
    return new FastIpDistance(get_xb(), static_cast<size_t>(d));
  }
};

// Admits positions that are not tombstoned.
struct LiveSelector final : faiss::IDSelector {
  explicit LiveSelector(const std::vector<uint8_t>& dead_flags) : dead(dead_flags) {}
  bool is_member(idx_t position) const override { return dead[position] == 0; }
  const std::vector<uint8_t>& dead;
};

// Takes over a loaded IndexFlat's vectors without copying them.
std::unique_ptr<FastFlatIP> AdoptFlat(faiss::IndexFlat& loaded) {
  auto fast = std::make_unique<FastFlatIP>(loaded.d);
  fast->codes.swap(loaded.codes);
  fast->ntotal = loaded.ntotal;
  loaded.ntotal = 0;
  return fast;
}

// OpenMP's thread count is a per-thread setting: pin it on every thread that calls into FAISS.
void UseOmpThreads(int n) {
  if (omp_get_max_threads() != n) omp_set_num_threads(n);
}

// OpenBLAS keeps its own pool; FAISS only uses BLAS for batched flat search and training (not
// called here) but a stray call must not spawn a core's worth of spinning threads. Process-wide.
void LimitBlasThreads() {
  static std::once_flag once;
  std::call_once(once, [] {
    using SetThreadsFn = void (*)(int);
    if (void* sym = dlsym(RTLD_DEFAULT, "openblas_set_num_threads")) {
      reinterpret_cast<SetThreadsFn>(sym)(1);
    }
  });
}

bool AllFinite(std::span<const float> values) {
  return std::all_of(values.begin(), values.end(), [](float v) { return std::isfinite(v); });
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

// ---- CRC-32 (IEEE 802.3, as zlib), slicing by 8 ------------------------------------------------

constexpr std::array<std::array<uint32_t, 256>, 8> MakeCrcTables() {
  std::array<std::array<uint32_t, 256>, 8> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int bit = 0; bit < 8; ++bit) c = (c & 1u) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    t[0][i] = c;
  }
  for (size_t s = 1; s < 8; ++s) {
    for (size_t i = 0; i < 256; ++i) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xFFu];
  }
  return t;
}

constexpr auto kCrcTables = MakeCrcTables();

// Crc32(a + b) == Crc32Update(Crc32Update(0, a), b).
uint32_t Crc32Update(uint32_t crc, const void* data, size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
  const auto& t = kCrcTables;
  crc = ~crc;
  while (n >= 8) {
    uint32_t lo;
    uint32_t hi;
    std::memcpy(&lo, p, 4);
    std::memcpy(&hi, p + 4, 4);
    lo ^= crc;
    crc = t[7][lo & 0xFF] ^ t[6][(lo >> 8) & 0xFF] ^ t[5][(lo >> 16) & 0xFF] ^ t[4][lo >> 24] ^
          t[3][hi & 0xFF] ^ t[2][(hi >> 8) & 0xFF] ^ t[1][(hi >> 16) & 0xFF] ^ t[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n-- > 0) crc = t[0][(crc ^ *p++) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

// ---- File format -------------------------------------------------------------------------------
//
// body   = magic "JRVSVIDX" | u32 version | u32 type (0 flat, 1 hnsw) | u64 dimension
//          | i64 watermark | u32 model length | model bytes | u64 stored count | i64 id per
//          position | u64 tombstone count | u64 tombstoned position... | FAISS index
//          (faiss::write_index)
// footer = u64 body length | u32 CRC-32 of body | "JVX1"
// All integers little-endian. The FAISS index runs to the end of the body.

constexpr char kMagic[8] = {'J', 'R', 'V', 'S', 'V', 'I', 'D', 'X'};
constexpr char kFooterMagic[4] = {'J', 'V', 'X', '1'};
constexpr uint32_t kFormatVersion = 1;
constexpr size_t kFooterSize = 16;
constexpr size_t kMaxModelName = 4096;

// Appends to a FILE* and checksums what it writes; faiss::write_index writes through it.
class ChecksumWriter final : public faiss::IOWriter {
 public:
  explicit ChecksumWriter(FILE* f) : f_(f) { name = "jrvs index file"; }

  size_t operator()(const void* ptr, size_t size, size_t nitems) override {
    const size_t n = size * nitems;
    if (n == 0) return nitems;
    if (std::fwrite(ptr, 1, n, f_) != n) return 0;  // FAISS throws on a short write
    crc_ = Crc32Update(crc_, ptr, n);
    bytes_ += n;
    return nitems;
  }

  bool Write(const void* ptr, size_t n) { return (*this)(ptr, 1, n) == n; }
  template <typename T>
  bool Put(const T& value) {
    return Write(&value, sizeof(T));
  }

  uint32_t crc() const { return crc_; }
  uint64_t bytes() const { return bytes_; }

 private:
  FILE* f_;
  uint32_t crc_ = 0;
  uint64_t bytes_ = 0;
};

// Reads exactly n bytes or fails.
bool ReadExact(FILE* f, void* out, size_t n) { return n == 0 || std::fread(out, 1, n, f) == n; }
template <typename T>
bool Get(FILE* f, T* value) {
  return ReadExact(f, value, sizeof(T));
}

struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<FILE, FileCloser>;

Status SyncDirectory(const std::filesystem::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status(StatusCode::kInternal, "open directory " + dir.string() + " failed");
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Status(StatusCode::kInternal, "fsync directory " + dir.string() + " failed");
  return Status::Ok();
}

Status Corrupt(const std::filesystem::path& path, std::string_view why) {
  return Status(StatusCode::kInternal,
                "vector index file " + path.string() + " is corrupt: " + std::string(why));
}

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
  if (hnsw_ef_search < 1 || hnsw_ef_search > 4096) {
    return bad("hnsw_ef_search", "[1, 4096]", hnsw_ef_search);
  }
  if (!(compact_fraction > 0.0 && compact_fraction <= 1.0)) {
    return bad("compact_fraction", "(0, 1]", compact_fraction);
  }
  if (compact_min_tombstones < 1) {
    return bad("compact_min_tombstones", "[1, inf)", compact_min_tombstones);
  }
  if (build_threads < 1 || build_threads > 256)
    return bad("build_threads", "[1, 256]", build_threads);
  return Status::Ok();
}

// ---- State
// ---------------------------------------------------------------------------------------

namespace {

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

State MakeState(bool use_hnsw, const FaissIndexOptions& o) {
  State s;
  const auto d = static_cast<idx_t>(o.dimension);
  auto storage = std::make_unique<FastFlatIP>(d);
  s.storage = storage.get();
  if (use_hnsw) {
    auto hnsw = std::make_unique<faiss::IndexHNSWFlat>(static_cast<int>(d), o.hnsw_m,
                                                       faiss::METRIC_INNER_PRODUCT);
    std::unique_ptr<faiss::Index> replaced(hnsw->storage);  // owned by the HNSW until now
    hnsw->storage = storage.release();
    hnsw->own_fields = true;
    hnsw->hnsw.efConstruction = o.hnsw_ef_construction;
    hnsw->hnsw.efSearch = o.hnsw_ef_search;
    s.hnsw = hnsw.get();
    s.index = std::move(hnsw);
  } else {
    s.index = std::move(storage);
  }
  return s;
}

// Sizes a structure about to receive `n` vectors so that it does not grow by doubling (which would
// leave up to half its capacity unused for the life of the index).
void Reserve(State& s, size_t n, const FaissIndexOptions& o) {
  s.storage->codes.reserve(n * o.dimension * sizeof(float));
  if (s.hnsw != nullptr) {
    // Level 0 keeps 2*M links; the upper levels add M/(M-1) per node on average.
    s.hnsw->hnsw.neighbors.reserve(n * (2 * static_cast<size_t>(o.hnsw_m) + 2));
    s.hnsw->hnsw.levels.reserve(n);
    s.hnsw->hnsw.offsets.reserve(n + 1);
  }
  s.ids.reserve(n);
  s.dead.reserve(n);
}

// After a failed FAISS add, positions FAISS kept but we did not record become tombstones, so the
// id table always covers exactly the stored vectors.
void Reconcile(State& s) {
  const auto stored = static_cast<size_t>(s.storage->ntotal);
  while (s.ids.size() < stored) {
    s.ids.push_back(-1);
    s.dead.push_back(1);
    ++s.dead_count;
  }
}

// Records that `id` now lives at the next position; an older copy becomes a tombstone.
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

// Appends the live vectors among positions [begin, end) to `buf` and their positions to `source`.
void CopyLive(const State& s, size_t begin, size_t end, size_t d, std::vector<float>* buf,
              std::vector<idx_t>* source) {
  buf->clear();
  const float* xb = s.storage->get_xb();
  for (size_t p = begin; p < end; ++p) {
    if (s.dead[p] != 0) continue;
    buf->insert(buf->end(), xb + p * d, xb + (p + 1) * d);
    source->push_back(static_cast<idx_t>(p));
  }
}

std::vector<VectorHit> ToHits(const State& s, const std::vector<Scored>& scored) {
  std::vector<VectorHit> hits;
  hits.reserve(scored.size());
  for (const Scored& r : scored) hits.push_back({s.ids[r.position], r.score});
  return hits;
}

// Exact top-`want` over all stored vectors for `nq` queries (row-major), sharing each pass over
// the storage between the queries.
std::vector<std::vector<VectorHit>> ExactScan(const State& s, const float* queries, size_t nq,
                                              size_t d, size_t want) {
  const Kernels& kernels = GetKernels();
  std::vector<TopK> tops(nq, TopK(want));
  const float* xb = s.storage->get_xb();
  const size_t n = s.stored();
  const uint8_t* dead = s.dead.data();
  size_t p = 0;
  float scores[4];
  for (; p + 4 <= n; p += 4) {
    for (size_t q = 0; q < nq; ++q) {
      kernels.dot4(queries + q * d, xb + p * d, d, scores);
      for (size_t r = 0; r < 4; ++r) {
        if (dead[p + r] == 0) tops[q].Push(scores[r], static_cast<idx_t>(p + r));
      }
    }
  }
  for (; p < n; ++p) {
    if (dead[p] != 0) continue;
    for (size_t q = 0; q < nq; ++q) {
      tops[q].Push(kernels.dot(queries + q * d, xb + p * d, d), static_cast<idx_t>(p));
    }
  }
  std::vector<std::vector<VectorHit>> out;
  out.reserve(nq);
  for (TopK& top : tops) out.push_back(ToHits(s, top.Take()));
  return out;
}

// Approximate top-`want` through the graph, tombstones filtered inside the search. When the graph
// walk comes back short (tombstones crowding the query's neighbourhood), it is asked again for
// more results (over-fetch: want + tombstones, capped), then answered exactly.
// Concurrent calls are safe: FAISS's HNSW search is const and allocates its own visited table. (It
// also bumps the global faiss::hnsw_stats counters without synchronisation: a benign race inside
// FAISS on statistics nothing here reads.)
std::vector<VectorHit> HnswSearch(const State& s, const float* query, size_t d, size_t want) {
  LiveSelector selector(s.dead);
  faiss::SearchParametersHNSW params;
  // FAISS 1.7.3 sizes the candidate queue from hnsw.efSearch; keep the two equal.
  params.efSearch = s.hnsw->hnsw.efSearch;
  params.sel = s.dead_count > 0 ? &selector : nullptr;
  const size_t fetches[2] = {want,
                             std::min(s.stored(), want + std::min(s.dead_count, kMaxOverfetch))};
  std::vector<float> dist;
  std::vector<idx_t> pos;
  std::vector<VectorHit> hits;
  for (size_t attempt = 0; attempt < 2; ++attempt) {
    const size_t fetch = fetches[attempt];
    if (attempt == 1 && fetch <= fetches[0]) break;
    dist.assign(fetch, 0.f);
    pos.assign(fetch, -1);
    s.hnsw->search(1, query, static_cast<idx_t>(fetch), dist.data(), pos.data(), &params);
    hits.clear();
    for (size_t j = 0; j < fetch && hits.size() < want; ++j) {
      if (pos[j] < 0 || s.dead[pos[j]] != 0) continue;
      hits.push_back({s.ids[pos[j]], dist[j]});
    }
    if (hits.size() >= want) return hits;
  }
  return std::move(ExactScan(s, query, 1, d, want).front());
}

}  // namespace

// ---- Impl --------------------------------------------------------------------------------------

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
  State state;
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

  // Requires write_mu.
  void MaybeRequestRebuild() {
    const State& s = state;
    const bool is_hnsw = s.hnsw != nullptr;
    const bool switch_type = WantHnsw(s.live.size(), is_hnsw) != is_hnsw;
    const bool compact = s.dead_count >= options.compact_min_tombstones &&
                         static_cast<double>(s.dead_count) >
                             options.compact_fraction * static_cast<double>(s.stored());
    if (!switch_type && !compact) return;
    std::lock_guard<std::mutex> l(worker_mu);
    if (stopping) return;
    rebuild_requested = true;
    if (!worker.joinable()) worker = std::thread([this] { WorkerLoop(); });
    worker_cv.notify_all();
  }

  void WorkerLoop() {
    std::unique_lock<std::mutex> l(worker_mu);
    while (true) {
      worker_cv.wait(l, [&] { return stopping || rebuild_requested; });
      if (stopping) break;
      rebuild_requested = false;
      rebuild_running = true;
      l.unlock();
      const Status st = Rebuild();
      if (!st.ok() && st.code() != StatusCode::kCancelled) {
        spdlog::error("vector index rebuild failed: {}", st.ToString());
      }
      l.lock();
      rebuild_running = false;
      worker_cv.notify_all();
    }
  }

  Status Rebuild() {
    UseOmpThreads(options.build_threads);
    const size_t d = options.dimension;
    try {
      bool to_hnsw;
      size_t stored_at_start;
      size_t live_at_start;
      {
        auto r = ReadLock();
        to_hnsw = WantHnsw(state.live.size(), state.hnsw != nullptr);
        stored_at_start = state.stored();
        live_at_start = state.live.size();
      }
      State fresh = MakeState(to_hnsw, options);
      Reserve(fresh, live_at_start + live_at_start / 16 + kCopyBatch, options);
      std::vector<idx_t> source;  // fresh position -> current position
      std::vector<float> buf;
      size_t next = 0;
      // Phase 1: copy live vectors batch by batch under the shared lock, build with no lock.
      // Positions in the current state are stable: only a rebuild renumbers them.
      while (true) {
        if (stopping) return Status(StatusCode::kCancelled, "index is shutting down");
        {
          auto r = ReadLock();
          const size_t stored = state.stored();
          if (stored - next <= kFinalCatchUp || next >= 2 * stored_at_start + kCopyBatch) break;
          const size_t end = std::min(next + kCopyBatch, stored);
          CopyLive(state, next, end, d, &buf, &source);
          next = end;
        }
        if (!buf.empty()) fresh.index->add(static_cast<idx_t>(buf.size() / d), buf.data());
      }
      // Phase 2: writers wait; searches keep using the current state until the swap.
      std::unique_lock<std::mutex> w(write_mu);
      CopyLive(state, next, state.stored(), d, &buf, &source);
      if (!buf.empty()) fresh.index->add(static_cast<idx_t>(buf.size() / d), buf.data());
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
      spdlog::info("vector index rebuilt as {}: {} live vectors, {} tombstones dropped",
                   state.hnsw ? "hnsw" : "flat", state.live.size(),
                   fresh.stored() - state.stored());
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

  size_t MemoryBytes() const {
    const State& s = state;
    size_t bytes = s.storage->codes.capacity();
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
};

// ---- FaissIndex --------------------------------------------------------------------------------

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
  UseOmpThreads(1);
  std::lock_guard<std::mutex> w(impl_->write_mu);
  State& s = impl_->state;
  Status result;
  {
    // Grow the storage once per call and by half, not by doubling per batch.
    auto x = impl_->WriteLock();
    try {
      const size_t needed = (s.stored() + ids.size()) * d * sizeof(float);
      std::vector<uint8_t>& codes = s.storage->codes;
      if (codes.capacity() < needed) codes.reserve(std::max(needed, codes.capacity() * 3 / 2));
    } catch (const std::exception& e) {
      return FaissError("add to vector index", e);
    }
  }
  size_t begin = 0;
  while (begin < ids.size()) {
    const size_t batch = std::min(ids.size() - begin, s.hnsw ? kHnswInsertBatch : kFlatInsertBatch);
    auto x = impl_->WriteLock();
    try {
      s.index->add(static_cast<idx_t>(batch), vectors.data() + begin * d);
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
  std::lock_guard<std::mutex> w(impl_->write_mu);
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
  if (queries.size() != n * d) {
    return Error(StatusCode::kInvalidArgument,
                 "expected " + std::to_string(n) + " queries of dimension " + std::to_string(d) +
                     ", got " + std::to_string(queries.size()) + " floats");
  }
  if (!AllFinite(queries)) {
    return Error(StatusCode::kInvalidArgument, "query must not contain NaN or infinity");
  }
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
        auto hits = ExactScan(s, block, nq, d, want);
        std::move(hits.begin(), hits.end(), out.begin() + static_cast<std::ptrdiff_t>(first));
      } else {
        for (size_t q = 0; q < nq; ++q) out[first + q] = HnswSearch(s, block + q * d, d, want);
      }
    }
  } catch (const std::exception& e) {
    return Error(FaissError("vector search", e));
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

const FaissIndexOptions& FaissIndex::options() const { return impl_->options; }

void FaissIndex::WaitForRebuild() const {
  std::unique_lock<std::mutex> l(impl_->worker_mu);
  impl_->worker_cv.wait(
      l, [&] { return impl_->stopping || (!impl_->rebuild_requested && !impl_->rebuild_running); });
}

// ---- Persistence -------------------------------------------------------------------------------

Status FaissIndex::Save(const std::filesystem::path& path, std::string_view embedding_model,
                        int64_t watermark) const {
  if (embedding_model.size() > kMaxModelName) {
    return Status(StatusCode::kInvalidArgument, "embedding model name too long");
  }
  static std::atomic<uint64_t> counter{0};
  std::filesystem::path tmp = path;
  tmp += ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1));
  std::filesystem::path dir = path.parent_path();
  if (dir.empty()) dir = ".";

  auto fail = [&](std::string why) {
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
    return Status(StatusCode::kInternal, "save vector index to " + path.string() + ": " + why);
  };

  File f(std::fopen(tmp.c_str(), "wb"));
  if (!f) return fail(std::string("cannot create temporary file: ") + std::strerror(errno));
  ChecksumWriter out(f.get());
  {
    // Writers wait while the index streams out; searches do not (they never take write_mu).
    std::lock_guard<std::mutex> w(impl_->write_mu);
    const State& s = impl_->state;
    const uint32_t type = s.hnsw != nullptr ? 1 : 0;
    const uint64_t dimension = impl_->options.dimension;
    const auto model_len = static_cast<uint32_t>(embedding_model.size());
    const uint64_t stored = s.stored();
    std::vector<uint64_t> dead_positions;
    dead_positions.reserve(s.dead_count);
    for (size_t p = 0; p < s.dead.size(); ++p) {
      if (s.dead[p] != 0) dead_positions.push_back(p);
    }
    const uint64_t dead_count = dead_positions.size();
    bool ok = out.Write(kMagic, sizeof(kMagic)) && out.Put(kFormatVersion) && out.Put(type) &&
              out.Put(dimension) && out.Put(watermark) && out.Put(model_len) &&
              out.Write(embedding_model.data(), embedding_model.size()) && out.Put(stored) &&
              out.Write(s.ids.data(), s.ids.size() * sizeof(int64_t)) && out.Put(dead_count) &&
              out.Write(dead_positions.data(), dead_positions.size() * sizeof(uint64_t));
    if (!ok) return fail(std::string("write failed: ") + std::strerror(errno));
    try {
      faiss::write_index(s.index.get(), &out);
    } catch (const std::exception& e) {
      return fail(std::string("write failed: ") + e.what());
    }
  }
  const uint64_t body = out.bytes();
  const uint32_t crc = out.crc();
  const bool ok = std::fwrite(&body, sizeof(body), 1, f.get()) == 1 &&
                  std::fwrite(&crc, sizeof(crc), 1, f.get()) == 1 &&
                  std::fwrite(kFooterMagic, sizeof(kFooterMagic), 1, f.get()) == 1 &&
                  std::fflush(f.get()) == 0 && ::fsync(::fileno(f.get())) == 0;
  if (!ok) return fail(std::string("write failed: ") + std::strerror(errno));
  if (std::fclose(f.release()) != 0)
    return fail(std::string("close failed: ") + std::strerror(errno));
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return fail("rename failed: " + ec.message());
  return SyncDirectory(dir);
}

Result<LoadedIndex> FaissIndex::Load(const std::filesystem::path& path,
                                     const FaissIndexOptions& options) {
  if (Status st = options.Validate(); !st.ok()) return Error(std::move(st));
  LimitBlasThreads();
  File f(std::fopen(path.c_str(), "rb"));
  if (!f) {
    if (errno == ENOENT) return Error(StatusCode::kNotFound, "no vector index at " + path.string());
    return Error(StatusCode::kInternal,
                 "cannot open vector index " + path.string() + ": " + std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(::fileno(f.get()), &st) != 0) {
    return Error(StatusCode::kInternal, "cannot stat vector index " + path.string());
  }
  const auto file_size = static_cast<uint64_t>(st.st_size);
  if (file_size < sizeof(kMagic) + kFooterSize) return Error(Corrupt(path, "truncated"));

  // Footer, then the checksum over the whole body before parsing any of it.
  uint64_t body = 0;
  uint32_t crc = 0;
  char footer_magic[4];
  if (std::fseek(f.get(), static_cast<long>(file_size - kFooterSize), SEEK_SET) != 0 ||
      !Get(f.get(), &body) || !Get(f.get(), &crc) || !ReadExact(f.get(), footer_magic, 4)) {
    return Error(Corrupt(path, "unreadable footer"));
  }
  if (std::memcmp(footer_magic, kFooterMagic, 4) != 0 || body != file_size - kFooterSize) {
    return Error(Corrupt(path, "truncated or bad footer"));
  }
  std::rewind(f.get());
  {
    std::vector<char> chunk(1 << 20);
    uint32_t actual = 0;
    for (uint64_t left = body; left > 0;) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(left, chunk.size()));
      if (!ReadExact(f.get(), chunk.data(), n)) return Error(Corrupt(path, "short read"));
      actual = Crc32Update(actual, chunk.data(), n);
      left -= n;
    }
    if (actual != crc) return Error(Corrupt(path, "checksum mismatch"));
  }
  std::rewind(f.get());

  char magic[sizeof(kMagic)];
  uint32_t version = 0;
  uint32_t type = 0;
  uint64_t dimension = 0;
  int64_t watermark = 0;
  uint32_t model_len = 0;
  if (!ReadExact(f.get(), magic, sizeof(magic)) ||
      std::memcmp(magic, kMagic, sizeof(kMagic)) != 0) {
    return Error(Corrupt(path, "bad magic"));
  }
  if (!Get(f.get(), &version) || version != kFormatVersion) {
    return Error(Corrupt(path, "unsupported format version " + std::to_string(version)));
  }
  if (!Get(f.get(), &type) || type > 1 || !Get(f.get(), &dimension) || !Get(f.get(), &watermark) ||
      !Get(f.get(), &model_len) || model_len > kMaxModelName) {
    return Error(Corrupt(path, "bad header"));
  }
  if (dimension != options.dimension) {
    return Error(StatusCode::kFailedPrecondition,
                 "vector index " + path.string() + " has dimension " + std::to_string(dimension) +
                     ", expected " + std::to_string(options.dimension));
  }
  LoadedIndex loaded;
  loaded.watermark = watermark;
  loaded.embedding_model.resize(model_len);
  uint64_t stored = 0;
  if (!ReadExact(f.get(), loaded.embedding_model.data(), model_len) || !Get(f.get(), &stored) ||
      stored > body / sizeof(int64_t)) {
    return Error(Corrupt(path, "bad header"));
  }
  State s;
  s.ids.resize(stored);
  s.dead.assign(stored, 0);
  uint64_t dead_count = 0;
  if (!ReadExact(f.get(), s.ids.data(), stored * sizeof(int64_t)) || !Get(f.get(), &dead_count) ||
      dead_count > stored) {
    return Error(Corrupt(path, "bad id table"));
  }
  for (uint64_t i = 0; i < dead_count; ++i) {
    uint64_t p = 0;
    if (!Get(f.get(), &p) || p >= stored || s.dead[p] != 0)
      return Error(Corrupt(path, "bad tombstones"));
    s.dead[p] = 1;
  }
  s.dead_count = dead_count;
  s.live.reserve(stored - dead_count);
  for (uint64_t p = 0; p < stored; ++p) {
    if (s.dead[p] != 0) continue;
    if (s.ids[p] < 0 || !s.live.emplace(s.ids[p], static_cast<idx_t>(p)).second) {
      return Error(Corrupt(path, "duplicate or negative id"));
    }
  }

  try {
    faiss::FileIOReader reader(f.get());
    std::unique_ptr<faiss::Index> index(faiss::read_index(&reader));
    if (std::ftell(f.get()) != static_cast<long>(body))
      return Error(Corrupt(path, "trailing data"));
    if (index->d != static_cast<int>(dimension) || index->ntotal != static_cast<idx_t>(stored) ||
        index->metric_type != faiss::METRIC_INNER_PRODUCT) {
      return Error(Corrupt(path, "index does not match its header"));
    }
    if (type == 0) {
      auto* flat = dynamic_cast<faiss::IndexFlat*>(index.get());
      if (flat == nullptr) return Error(Corrupt(path, "expected a flat index"));
      auto fast = AdoptFlat(*flat);
      s.storage = fast.get();
      s.index = std::move(fast);
    } else {
      auto* hnsw = dynamic_cast<faiss::IndexHNSWFlat*>(index.get());
      auto* flat = hnsw != nullptr ? dynamic_cast<faiss::IndexFlat*>(hnsw->storage) : nullptr;
      if (flat == nullptr) return Error(Corrupt(path, "expected an HNSW index"));
      auto fast = AdoptFlat(*flat);
      std::unique_ptr<faiss::Index> replaced(hnsw->storage);
      s.storage = fast.get();
      hnsw->storage = fast.release();
      hnsw->own_fields = true;
      hnsw->hnsw.efSearch = options.hnsw_ef_search;
      hnsw->hnsw.efConstruction = options.hnsw_ef_construction;
      s.hnsw = hnsw;
      s.index = std::move(index);
    }
  } catch (const std::exception& e) {
    return Error(Corrupt(path, std::string("FAISS could not read it: ") + e.what()));
  }

  auto impl = std::make_unique<Impl>(options);
  impl->state = std::move(s);
  impl->max_id = watermark;
  loaded.index = std::unique_ptr<FaissIndex>(new FaissIndex(std::move(impl)));
  {
    std::lock_guard<std::mutex> w(loaded.index->impl_->write_mu);
    loaded.index->impl_->MaybeRequestRebuild();
  }
  return loaded;
}

}  // namespace jrvs::rag
