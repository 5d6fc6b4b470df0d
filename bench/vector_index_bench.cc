// Vector index benchmarks (DESIGN.md §5; results in docs/PERFORMANCE.md).
//
// Single-query search latency (k = 10, dimension 384, fixed seeds) of the exact index and of HNSW
// at several sizes and parameters, with recall@10 against exact search reported as a counter;
// raw FAISS IndexFlatIP (and IndexHNSWFlat) on the same data as the reference; add throughput;
// multi-threaded search throughput. Two data sets:
//   emb  "embedding-like": a random 32-dimensional latent space mapped to 384 dimensions plus
//        noise, L2-normalised (text embeddings have a low intrinsic dimension);
//   uni  uniformly random unit vectors (no structure at all: the worst case for a graph index).
// Queries are 200 fresh vectors from the same distribution, visited round-robin.
// Optionally a third, real one (data 2 below), when JRVS_BENCH_TEXT names a UTF-8 file with one
// text chunk per line: the first 100,000 lines embedded by the built-in HashEmbedder, and as
// queries 200 spans of 4 to 8 words cut from lines picked with a fixed seed.
//
//   ./build/release/bench/vector_index_bench --benchmark_out=vector_index.json
//       --benchmark_out_format=json   (one command line)
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <span>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include <benchmark/benchmark.h>
#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>

#include "rag/faiss_index.h"
#include "rag/hash_embedder.h"

namespace jrvs::rag {
namespace {

constexpr size_t kDim = 384;
constexpr size_t kMaxN = 100000;
constexpr size_t kQueries = 200;
constexpr size_t kK = 10;

enum class Data { kEmbeddingLike = 0, kUniform = 1, kHashText = 2 };

const char* TextFile() { return std::getenv("JRVS_BENCH_TEXT"); }

const std::vector<std::string>& TextLines() {
  static const std::vector<std::string> lines = [] {
    std::vector<std::string> out;
    if (TextFile() == nullptr) return out;
    std::ifstream in(TextFile());
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) out.push_back(std::move(line));
    }
    return out;
  }();
  return lines;
}

std::vector<float> EmbedTexts(const std::vector<std::string>& texts) {
  HashEmbedder embedder;
  std::vector<float> out(texts.size() * kDim);
  for (size_t i = 0; i < texts.size(); ++i) embedder.EmbedInto(texts[i], &out[i * kDim]);
  return out;
}

std::vector<std::string> TextQueries() {
  const auto& lines = TextLines();
  std::mt19937 rng(7);
  std::vector<std::string> queries;
  while (queries.size() < kQueries && !lines.empty()) {
    std::istringstream words(lines[rng() % lines.size()]);
    std::vector<std::string> w{std::istream_iterator<std::string>(words), {}};
    if (w.size() < 12) continue;
    const size_t start = rng() % (w.size() - 8);
    const size_t len = 4 + rng() % 5;
    std::string q;
    for (size_t j = start; j < start + len; ++j) q += (j > start ? " " : "") + w[j];
    queries.push_back(std::move(q));
  }
  return queries;
}

// Rows available for `kind` (the text file may hold fewer than kMaxN lines).
size_t Available(Data kind) {
  return kind == Data::kHashText ? std::min(kMaxN, TextLines().size()) : kMaxN;
}

void Normalize(float* v) {
  double norm = 0;
  for (size_t j = 0; j < kDim; ++j) norm += double{v[j]} * v[j];
  const auto inv = static_cast<float>(1.0 / std::sqrt(norm));
  for (size_t j = 0; j < kDim; ++j) v[j] *= inv;
}

std::vector<float> Generate(Data kind, size_t n, uint32_t seed) {
  constexpr size_t kLatent = 32;
  std::normal_distribution<float> gauss;
  std::mt19937 basis_rng(1234);
  std::vector<float> basis(kDim * kLatent);
  for (float& x : basis) x = gauss(basis_rng);
  std::mt19937 rng(seed);
  std::vector<float> v(n * kDim);
  std::vector<float> z(kLatent);
  for (size_t i = 0; i < n; ++i) {
    float* row = &v[i * kDim];
    if (kind == Data::kUniform) {
      for (size_t j = 0; j < kDim; ++j) row[j] = gauss(rng);
    } else {
      for (float& x : z) x = gauss(rng);
      for (size_t j = 0; j < kDim; ++j) {
        float a = 0;
        for (size_t l = 0; l < kLatent; ++l) a += basis[j * kLatent + l] * z[l];
        row[j] = a + 0.5f * std::sqrt(float{kLatent}) * gauss(rng);
      }
    }
    Normalize(row);
  }
  return v;
}

const std::vector<float>& Dataset(Data kind) {
  static std::map<Data, std::vector<float>> cache;
  auto it = cache.find(kind);
  if (it == cache.end()) {
    if (kind == Data::kHashText) {
      const auto& lines = TextLines();
      const std::vector<std::string> rows(lines.begin(), lines.begin() + Available(kind));
      it = cache.emplace(kind, EmbedTexts(rows)).first;
    } else {
      it = cache.emplace(kind, Generate(kind, kMaxN, 42)).first;
    }
  }
  return it->second;
}

const std::vector<float>& Queries(Data kind) {
  static std::map<Data, std::vector<float>> cache;
  auto it = cache.find(kind);
  if (it == cache.end()) {
    it = cache
             .emplace(kind, kind == Data::kHashText ? EmbedTexts(TextQueries())
                                                    : Generate(kind, kQueries, 7))
             .first;
  }
  return it->second;
}

std::span<const float> Query(Data kind, size_t i) {
  return std::span<const float>(Queries(kind)).subspan((i % kQueries) * kDim, kDim);
}

std::vector<int64_t> Ids(size_t n) {
  std::vector<int64_t> ids(n);
  for (size_t i = 0; i < n; ++i) ids[i] = static_cast<int64_t>(i) + 1;
  return ids;
}

std::unique_ptr<FaissIndex> MustCreate(const FaissIndexOptions& o) {
  auto index = FaissIndex::Create(o);
  if (!index) std::abort();
  return std::move(*index);
}

FaissIndexOptions FlatOptions() {
  FaissIndexOptions o;
  o.dimension = kDim;
  o.ann_threshold = std::numeric_limits<size_t>::max();
  return o;
}

std::unique_ptr<FaissIndex> BuildFlat(Data kind, size_t n) {
  auto index = MustCreate(FlatOptions());
  if (!index->Add(Ids(n), std::span<const float>(Dataset(kind)).first(n * kDim)).ok()) std::abort();
  return index;
}

// Exact top-k ids per query, from the exact index (itself checked against brute force in
// src/rag/faiss_index_test.cc).
const std::vector<std::set<int64_t>>& Truth(Data kind, size_t n) {
  static std::map<std::pair<Data, size_t>, std::vector<std::set<int64_t>>> cache;
  auto key = std::make_pair(kind, n);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  auto flat = BuildFlat(kind, n);
  auto hits = flat->SearchBatch(Queries(kind), kQueries, kK);
  if (!hits) std::abort();
  std::vector<std::set<int64_t>> truth;
  for (const auto& list : *hits) {
    std::set<int64_t> ids;
    for (const VectorHit& h : list) ids.insert(h.id);
    truth.push_back(std::move(ids));
  }
  return cache.emplace(key, std::move(truth)).first->second;
}

double Recall(const VectorIndex& index, Data kind, size_t n) {
  const auto& truth = Truth(kind, n);
  size_t found = 0;
  for (size_t q = 0; q < kQueries; ++q) {
    auto hits = index.Search(Query(kind, q), kK);
    if (!hits) std::abort();
    for (const VectorHit& h : *hits) found += truth[q].count(h.id);
  }
  return static_cast<double>(found) / static_cast<double>(kQueries * kK);
}

// One slot: the last flat index built (benchmarks run in registration order, grouped by size).
FaissIndex& FlatIndex(Data kind, size_t n) {
  static std::tuple<Data, size_t> key;
  static std::unique_ptr<FaissIndex> index;
  if (!index || key != std::make_tuple(kind, n)) {
    index.reset();
    index = BuildFlat(kind, n);
    key = {kind, n};
  }
  return *index;
}

// HNSW graphs are built once per (data, n, M) on two threads through the real threshold switch,
// saved, and loaded with each ef_search (FAISS keeps ef_search outside the saved graph's use).
struct Graph {
  std::filesystem::path file;
  double build_seconds = 0;
  double bytes_per_vector = 0;
};

const Graph& BuildGraph(Data kind, size_t n, int m) {
  static std::map<std::tuple<Data, size_t, int>, Graph> cache;
  auto key = std::make_tuple(kind, n, m);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  FaissIndexOptions o;
  o.dimension = kDim;
  o.ann_threshold = n;
  o.hnsw_m = m;
  o.build_threads = 2;
  o.defer_max = 0;  // build at once
  auto index = MustCreate(o);
  const auto start = std::chrono::steady_clock::now();
  if (!index->Add(Ids(n), std::span<const float>(Dataset(kind)).first(n * kDim)).ok()) std::abort();
  index->WaitForRebuild();
  Graph g;
  g.build_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  g.bytes_per_vector = static_cast<double>(index->memory_bytes()) / static_cast<double>(n);
  g.file = std::filesystem::temp_directory_path() /
           ("jrvs_bench_" + std::to_string(::getpid()) + "_" + std::to_string(int(kind)) + "_" +
            std::to_string(n) + "_" + std::to_string(m) + ".jvx");
  if (index->type() != "hnsw" || !index->Save(g.file, "bench", 0).ok()) std::abort();
  return cache.emplace(key, g).first->second;
}

FaissIndex& HnswIndex(Data kind, size_t n, int m, int ef, const Graph** graph) {
  static std::tuple<Data, size_t, int, int> key;
  static std::unique_ptr<FaissIndex> index;
  *graph = &BuildGraph(kind, n, m);
  if (!index || key != std::make_tuple(kind, n, m, ef)) {
    index.reset();
    FaissIndexOptions o;
    o.dimension = kDim;
    o.ann_threshold = 0;
    o.hnsw_m = m;
    o.hnsw_ef_search = ef;
    auto loaded = FaissIndex::Load((*graph)->file, o);
    if (!loaded) std::abort();
    index = std::move(loaded->index);
    key = {kind, n, m, ef};
  }
  return *index;
}

void SearchLoop(benchmark::State& state, const VectorIndex& index, Data kind) {
  size_t q = 0;
  for (auto _ : state) {
    auto hits = index.Search(Query(kind, q++), kK);
    benchmark::DoNotOptimize(hits);
  }
  state.SetItemsProcessed(state.iterations());
}

// ---- Exact search ----------------------------------------------------------------------------

// Reference: FAISS's own IndexFlatIP (Debian's build: baseline x86-64 kernels), one thread.
void BM_RawFaissFlatIP(benchmark::State& state) {
  omp_set_num_threads(1);
  const auto n = static_cast<size_t>(state.range(0));
  faiss::IndexFlatIP index(kDim);
  index.add(static_cast<faiss::Index::idx_t>(n), Dataset(Data::kEmbeddingLike).data());
  std::vector<float> dist(kK);
  std::vector<faiss::Index::idx_t> labels(kK);
  size_t q = 0;
  for (auto _ : state) {
    index.search(1, Query(Data::kEmbeddingLike, q++).data(), kK, dist.data(), labels.data());
    benchmark::DoNotOptimize(labels.data());
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_FlatSearch(benchmark::State& state) {
  const auto n = static_cast<size_t>(state.range(0));
  FaissIndex& index = FlatIndex(Data::kEmbeddingLike, n);
  SearchLoop(state, index, Data::kEmbeddingLike);
  state.counters["bytes_per_vec"] =
      static_cast<double>(index.memory_bytes()) / static_cast<double>(n);
}

// Eight queries sharing each pass over the vectors (SearchBatch); time per batch of 8.
void BM_FlatSearchBatch8(benchmark::State& state) {
  const auto n = static_cast<size_t>(state.range(0));
  FaissIndex& index = FlatIndex(Data::kEmbeddingLike, n);
  const auto queries = std::span<const float>(Queries(Data::kEmbeddingLike)).first(8 * kDim);
  for (auto _ : state) {
    auto hits = index.SearchBatch(queries, 8, kK);
    benchmark::DoNotOptimize(hits);
  }
  state.SetItemsProcessed(state.iterations() * 8);
}

constexpr int64_t kFlatSizes[] = {1000, 2000, 5000, 10000, 15000, 20000, 50000, 100000};

BENCHMARK(BM_RawFaissFlatIP)->Arg(1000)->Arg(10000)->Arg(100000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_FlatSearch)
    ->Apply([](benchmark::internal::Benchmark* b) {
      for (int64_t n : kFlatSizes) b->Arg(n);
    })
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_FlatSearchBatch8)->Arg(10000)->Arg(100000)->Unit(benchmark::kMicrosecond);

// ---- HNSW --------------------------------------------------------------------------------------

// Args: data (0 emb, 1 uni), n, M, ef_search.
void BM_HnswSearch(benchmark::State& state) {
  const auto kind = static_cast<Data>(state.range(0));
  const auto n = static_cast<size_t>(state.range(1));
  if (n > Available(kind) || Queries(kind).size() < kQueries * kDim) {
    state.SkipWithError("not enough rows in JRVS_BENCH_TEXT");
    return;
  }
  const Graph* graph = nullptr;
  FaissIndex& index = HnswIndex(kind, n, static_cast<int>(state.range(2)),
                                static_cast<int>(state.range(3)), &graph);
  const double recall = Recall(index, kind, n);
  SearchLoop(state, index, kind);
  state.counters["recall@10"] = recall;
  state.counters["build_s"] = graph->build_seconds;
  state.counters["bytes_per_vec"] = graph->bytes_per_vector;
}

void HnswArgs(benchmark::internal::Benchmark* b) {
  for (int64_t n : {10000, 100000}) {
    for (int64_t m : {16, 32}) {
      for (int64_t ef : {32, 64, 128, 256}) b->Args({0, n, m, ef});
    }
  }
  // Uniform vectors: only 10k (a 100k graph takes minutes to build and reached recall@10 0.67 at
  // ef_search 512 with ef_construction 80).
  for (int64_t ef : {64, 256, 512}) b->Args({1, 10000, 32, ef});
  if (TextFile() != nullptr) {
    for (int64_t n : {10000, 100000}) {
      for (int64_t m : {16, 32}) {
        for (int64_t ef : {32, 64, 128, 256}) b->Args({2, n, m, ef});
      }
    }
  }
  // Where HNSW overtakes the exact scan (index.ann_threshold): the defaults between 10k and 100k,
  // beside BM_FlatSearch at the same sizes.
  for (int64_t n : {20000, 50000}) {
    b->Args({0, n, 32, 128});
    if (TextFile() != nullptr) b->Args({2, n, 32, 128});
  }
}
BENCHMARK(BM_HnswSearch)->Apply(HnswArgs)->Unit(benchmark::kMicrosecond);

// Reference: FAISS's IndexHNSWFlat with its own distance code, M 32 and our default ef values.
void BM_RawFaissHnsw(benchmark::State& state) {
  omp_set_num_threads(2);
  const auto n = static_cast<size_t>(state.range(0));
  static std::unique_ptr<faiss::IndexHNSWFlat> index;
  static double build_seconds = 0;
  if (!index || static_cast<size_t>(index->ntotal) != n) {
    index = std::make_unique<faiss::IndexHNSWFlat>(static_cast<int>(kDim), 32,
                                                   faiss::METRIC_INNER_PRODUCT);
    index->hnsw.efConstruction = FaissIndexOptions{}.hnsw_ef_construction;
    const auto start = std::chrono::steady_clock::now();
    index->add(static_cast<faiss::Index::idx_t>(n), Dataset(Data::kEmbeddingLike).data());
    build_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    index->hnsw.efSearch = FaissIndexOptions{}.hnsw_ef_search;
  }
  omp_set_num_threads(1);
  std::vector<float> dist(kK);
  std::vector<faiss::Index::idx_t> labels(kK);
  size_t q = 0;
  for (auto _ : state) {
    index->search(1, Query(Data::kEmbeddingLike, q++).data(), kK, dist.data(), labels.data());
    benchmark::DoNotOptimize(labels.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["build_s"] = build_seconds;
}
BENCHMARK(BM_RawFaissHnsw)->Arg(10000)->Unit(benchmark::kMicrosecond);

// ---- Throughput on both cores ----------------------------------------------------------------

// Searches from 1 and 2 threads against one shared index; items_per_second is the aggregate.
// Args: 0 = flat 10k, 1 = flat 20k, 2 = HNSW 100k (M 32, default ef_search).
void BM_SearchThroughput(benchmark::State& state) {
  static VectorIndex* index = nullptr;
  if (state.thread_index() == 0) {
    const Graph* graph = nullptr;
    switch (state.range(0)) {
      case 0:
        index = &FlatIndex(Data::kEmbeddingLike, 10000);
        break;
      case 1:
        index = &FlatIndex(Data::kEmbeddingLike, 20000);
        break;
      default:
        index = &HnswIndex(Data::kEmbeddingLike, 100000, 32, FaissIndexOptions{}.hnsw_ef_search,
                           &graph);
    }
  }
  // Google Benchmark starts the timing loop on all threads together, after this setup.
  size_t q = static_cast<size_t>(state.thread_index()) * 97;
  for (auto _ : state) {
    auto hits = index->Search(Query(Data::kEmbeddingLike, q++), kK);
    benchmark::DoNotOptimize(hits);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SearchThroughput)
    ->Arg(0)
    ->Arg(1)
    ->Arg(2)
    ->Threads(1)
    ->Threads(2)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

// ---- Adds --------------------------------------------------------------------------------------

// Appending batches of 256 vectors to an exact index (fresh per run, grows to 256 * iterations).
void BM_AddFlat(benchmark::State& state) {
  auto index = MustCreate(FlatOptions());
  const auto& data = Dataset(Data::kEmbeddingLike);
  int64_t next_id = 1;
  size_t row = 0;
  for (auto _ : state) {
    std::vector<int64_t> ids(256);
    for (int64_t& id : ids) id = next_id++;
    if (row + 256 > kMaxN) row = 0;
    if (!index->Add(ids, std::span<const float>(data).subspan(row * kDim, 256 * kDim)).ok()) {
      state.SkipWithError("add failed");
    }
    row += 256;
  }
  state.SetItemsProcessed(state.iterations() * 256);
}
BENCHMARK(BM_AddFlat)->Iterations(200)->Unit(benchmark::kMicrosecond);

// Adding batches of 16 vectors to an HNSW index whose graph holds 10,000 (default M and
// ef_construction): the write path only, which appends to the delta (the background merger links
// the vectors into the graph on its own thread; see BM_MergeDelta).
void BM_AddHnsw(benchmark::State& state) {
  const Graph& graph = BuildGraph(Data::kEmbeddingLike, 10000, 32);
  FaissIndexOptions o;
  o.dimension = kDim;
  o.ann_threshold = 0;
  auto loaded = FaissIndex::Load(graph.file, o);
  if (!loaded) std::abort();
  FaissIndex& index = *loaded->index;
  const auto& data = Dataset(Data::kEmbeddingLike);
  int64_t next_id = 10001;
  size_t row = 10000;
  for (auto _ : state) {
    std::vector<int64_t> ids(16);
    for (int64_t& id : ids) id = next_id++;
    if (!index.Add(ids, std::span<const float>(data).subspan(row * kDim, 16 * kDim)).ok()) {
      state.SkipWithError("add failed");
    }
    row += 16;
  }
  state.SetItemsProcessed(state.iterations() * 16);
}
BENCHMARK(BM_AddHnsw)->Iterations(100)->Unit(benchmark::kMicrosecond);

// The background merger's rate: 4,096 vectors added at once to an index whose graph holds
// 10,000, timed until the merger has linked them all (one thread, short exclusive holds).
void BM_MergeDelta(benchmark::State& state) {
  const Graph& graph = BuildGraph(Data::kEmbeddingLike, 10000, 32);
  constexpr size_t kAdd = 4096;
  const auto& data = Dataset(Data::kEmbeddingLike);
  for (auto _ : state) {
    state.PauseTiming();
    FaissIndexOptions o;
    o.dimension = kDim;
    o.ann_threshold = 0;
    o.defer_max = 0;  // the merger's rate, not how long it waits for ingestion to pause
    auto loaded = FaissIndex::Load(graph.file, o);
    if (!loaded) std::abort();
    std::vector<int64_t> ids(kAdd);
    for (size_t i = 0; i < kAdd; ++i) ids[i] = static_cast<int64_t>(10001 + i);
    state.ResumeTiming();
    if (!loaded->index->Add(ids, std::span<const float>(data).subspan(10000 * kDim, kAdd * kDim))
             .ok()) {
      state.SkipWithError("add failed");
    }
    loaded->index->WaitForRebuild();
    if (loaded->index->delta_size() != 0) state.SkipWithError("delta not merged");
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(kAdd));
}
BENCHMARK(BM_MergeDelta)->Iterations(3)->UseRealTime()->Unit(benchmark::kMillisecond);

// Cleans up the saved graphs when the process exits.
struct GraphFileCleanup {
  ~GraphFileCleanup() {
    std::error_code ec;
    for (const auto& entry :
         std::filesystem::directory_iterator(std::filesystem::temp_directory_path(), ec)) {
      const std::string name = entry.path().filename().string();
      if (name.rfind("jrvs_bench_" + std::to_string(::getpid()) + "_", 0) == 0) {
        std::filesystem::remove(entry.path(), ec);
      }
    }
  }
} graph_file_cleanup;

}  // namespace
}  // namespace jrvs::rag
