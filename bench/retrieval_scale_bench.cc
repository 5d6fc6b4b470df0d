// The ceiling for /api/rag/retrieve at scale: the raw work one retrieval needs, measured in
// process on a data directory built by `jrvs ingest` (scripts/perf.sh --only scale builds it
// and runs this binary beside wrk against `jrvs serve` on the same directory).
//
//   JRVS_SCALE_DATA=/path/to/data-dir build/release/bench/retrieval_scale_bench
//
// Rows (per query, one thread, 200 three-word queries drawn with Zipf's law from
// bench/wrk/vocab.txt like bench/wrk/retrieve.lua; p50/p95/p99 counters in microseconds):
//   BM_Embed          hash embedding of the query
//   BM_VectorAnn      FaissIndex search, k = 50 (the retriever's candidates), as saved (HNSW
//                     above index.ann_threshold); recall@10 against an exact float search of
//                     the embeddings in the database (not of the index's half-precision copy)
//   BM_VectorExact    the same vectors in an exact (flat, AVX2) index, as the server keeps them
//   BM_Fts            SqliteStore::SearchText, k = 50 (FTS5 bm25 with the term planner)
//   BM_FtsMemory      the same on the in-memory copy serve uses (store/memory_fts.h)
// FaissIndex is FAISS's HNSW / flat storage with a faster kernel (bench/vector_index_bench.cc
// compares it with FAISS's own classes), so these rows are the raw FAISS + FTS5 ceiling.
// Without JRVS_SCALE_DATA every row is skipped. JRVS_SCALE_EF_SEARCH=N searches the saved HNSW
// with ef_search N instead of the default (to measure recall against latency);
// JRVS_SCALE_FLOAT16=0 keeps the index's vectors in float instead of half precision.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "core/text.h"
#include "rag/faiss_index.h"
#include "rag/hash_embedder.h"
#include "store/sqlite_store.h"

namespace jrvs::rag {
namespace {

namespace fs = std::filesystem;

constexpr size_t kQueries = 200;
constexpr size_t kCandidates = 50;

const char* DataDir() { return std::getenv("JRVS_SCALE_DATA"); }

// Queries of three Zipf-drawn words (seed 43, as retrieve.lua; a different random stream).
const std::vector<std::string>& QueryTexts() {
  static const std::vector<std::string> queries = [] {
    std::vector<std::string> words;
    std::ifstream in("bench/wrk/vocab.txt");
    for (std::string w; std::getline(in, w);) {
      if (!w.empty()) words.push_back(w);
    }
    if (words.empty()) words.push_back("missing");
    std::vector<double> cumulative;
    double total = 0;
    for (size_t r = 1; r <= words.size(); ++r) cumulative.push_back(total += 1.0 / double(r));
    std::mt19937_64 rng(43);
    std::uniform_real_distribution<double> u(0, total);
    std::vector<std::string> out;
    for (size_t i = 0; i < kQueries; ++i) {
      std::string q;
      for (int j = 0; j < 3; ++j) {
        const size_t r = std::min<size_t>(
            std::lower_bound(cumulative.begin(), cumulative.end(), u(rng)) - cumulative.begin(),
            words.size() - 1);
        if (!q.empty()) q += ' ';
        q += words[r];
      }
      out.push_back(q);
    }
    return out;
  }();
  return queries;
}

HashEmbedder& Embedder() {
  static HashEmbedder embedder;
  return embedder;
}

const std::vector<std::vector<float>>& QueryVectors() {
  static const auto vectors = [] {
    auto v = Embedder().Embed(QueryTexts());
    if (!v) std::abort();
    return *v;
  }();
  return vectors;
}

FaissIndexOptions ServerOptions() {
  FaissIndexOptions o;
  if (const char* half = std::getenv("JRVS_SCALE_FLOAT16")) o.float16 = std::atoi(half) != 0;
  return o;
}

FaissIndex& SavedIndex() {
  static std::unique_ptr<FaissIndex> index = [] {
    FaissIndexOptions o = ServerOptions();
    if (const char* ef = std::getenv("JRVS_SCALE_EF_SEARCH")) o.hnsw_ef_search = std::atoi(ef);
    auto loaded = FaissIndex::Load(fs::path(DataDir()) / "index" / "vectors.faiss", o);
    if (!loaded) std::abort();
    loaded->index->WaitForRebuild();
    return std::move(loaded->index);
  }();
  return *index;
}

FaissIndex& ExactIndex() {
  static std::unique_ptr<FaissIndex> index = [] {
    FaissIndexOptions o = ServerOptions();
    o.ann_threshold = std::numeric_limits<size_t>::max();
    auto loaded = FaissIndex::Load(fs::path(DataDir()) / "index" / "vectors.faiss", o);
    if (!loaded) std::abort();
    loaded->index->WaitForRebuild();  // an HNSW file becomes flat here
    return std::move(loaded->index);
  }();
  return *index;
}

store::SqliteStore& Store(bool memory);

// The ground truth: the embeddings as the database holds them (floats), searched exactly.
FaissIndex& TruthIndex() {
  static std::unique_ptr<FaissIndex> index = [] {
    FaissIndexOptions o;
    o.ann_threshold = std::numeric_limits<size_t>::max();
    o.float16 = false;
    auto created = FaissIndex::Create(o);
    if (!created) std::abort();
    std::vector<int64_t> ids;
    std::vector<float> vectors;
    auto flush = [&] {
      if (!(*created)->Add(ids, vectors).ok()) std::abort();
      ids.clear();
      vectors.clear();
    };
    const Status st = Store(false).ForEachChunkEmbedding(
        0, [&](int64_t id, std::string_view, const std::vector<float>& embedding) {
          ids.push_back(id);
          vectors.insert(vectors.end(), embedding.begin(), embedding.end());
          if (ids.size() == 4096) flush();
          return true;
        });
    if (!st.ok()) std::abort();
    flush();
    return std::move(*created);
  }();
  return *index;
}

store::SqliteStore& Store(bool memory) {
  auto open = [memory] {
    store::SqliteOptions o;
    o.path = (fs::path(DataDir()) / "jrvs.db").string();
    auto opened = store::SqliteStore::Open(o);
    if (!opened) std::abort();
    if (memory && !(*opened)->EnableMemoryFts().ok()) std::abort();
    return std::move(*opened);
  };
  static std::unique_ptr<store::SqliteStore> fts5 = open();
  if (!memory) return *fts5;
  static std::unique_ptr<store::SqliteStore> in_memory = open();
  return *in_memory;
}

// Times `fn(i)` per query in a loop and reports latency percentiles.
template <typename Fn>
void TimedLoop(benchmark::State& state, Fn fn) {
  std::vector<double> us;
  size_t i = 0;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    fn(i++ % kQueries);
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
                     .count());
  }
  std::sort(us.begin(), us.end());
  auto at = [&](double p) { return us[std::min(us.size() - 1, size_t(p * double(us.size())))]; };
  state.counters["p50_us"] = at(0.50);
  state.counters["p95_us"] = at(0.95);
  state.counters["p99_us"] = at(0.99);
  state.SetItemsProcessed(state.iterations());
}

bool Skip(benchmark::State& state) {
  if (DataDir() != nullptr) return false;
  state.SkipWithError("set JRVS_SCALE_DATA to a data directory");
  return true;
}

void BM_Embed(benchmark::State& state) {
  if (Skip(state)) return;
  TimedLoop(state, [](size_t i) {
    auto v = Embedder().Embed({QueryTexts()[i]});
    benchmark::DoNotOptimize(v);
  });
}

void BM_VectorExact(benchmark::State& state) {
  if (Skip(state)) return;
  FaissIndex& index = ExactIndex();
  TimedLoop(state, [&](size_t i) {
    auto hits = index.Search(QueryVectors()[i], kCandidates);
    benchmark::DoNotOptimize(hits);
  });
  state.counters["vectors"] = double(index.size());
}

void BM_VectorAnn(benchmark::State& state) {
  if (Skip(state)) return;
  FaissIndex& index = SavedIndex();
  FaissIndex& exact = TruthIndex();
  size_t found = 0;
  double gap_1_10 = 0, gap_10_100 = 0, top10 = 0;
  for (size_t i = 0; i < kQueries; ++i) {
    std::set<int64_t> truth;
    const auto want = exact.Search(QueryVectors()[i], 10);
    const auto got = index.Search(QueryVectors()[i], 10);
    if (!want || !got) std::abort();
    for (const VectorHit& h : *want) truth.insert(h.id);
    for (const VectorHit& h : *got) found += truth.count(h.id);
    const auto deep = exact.Search(QueryVectors()[i], 100);
    if (deep && deep->size() == 100) {
      gap_1_10 += (*deep)[0].score - (*deep)[9].score;
      gap_10_100 += (*deep)[9].score - (*deep)[99].score;
      top10 += (*deep)[9].score;
    }
  }
  state.counters["gap_1_10"] = gap_1_10 / kQueries;
  state.counters["gap_10_100"] = gap_10_100 / kQueries;
  state.counters["score10"] = top10 / kQueries;
  TimedLoop(state, [&](size_t i) {
    auto hits = index.Search(QueryVectors()[i], kCandidates);
    benchmark::DoNotOptimize(hits);
  });
  state.counters["recall@10"] = double(found) / double(kQueries * 10);
  state.counters["vectors"] = double(index.size());
  state.counters["hnsw"] = index.type() == "hnsw" ? 1 : 0;
}

void FtsLoop(benchmark::State& state, bool memory) {
  if (Skip(state)) return;
  std::vector<std::vector<std::string>> terms;
  for (const std::string& q : QueryTexts()) {
    std::vector<std::string> t;
    for (std::string& w : text::Tokenize(q)) {
      if (!text::IsStopWord(w)) t.push_back(std::move(w));
    }
    terms.push_back(std::move(t));
  }
  store::SqliteStore& store = Store(memory);
  TimedLoop(state, [&](size_t i) {
    auto hits = store.SearchText(terms[i], static_cast<int>(kCandidates));
    benchmark::DoNotOptimize(hits);
  });
}

void BM_Fts(benchmark::State& state) { FtsLoop(state, false); }
void BM_FtsMemory(benchmark::State& state) { FtsLoop(state, true); }

BENCHMARK(BM_Embed)->Iterations(2000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_VectorExact)->Iterations(400)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_VectorAnn)->Iterations(2000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Fts)->Iterations(1000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_FtsMemory)->Iterations(2000)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace jrvs::rag
