// SQLite store throughput: conversation appends through SqliteStore's group commit from 1, 4
// and 16 threads, against the one-transaction-per-write baseline (plain sqlite3 with the same
// schema and pragmas), plus the read paths the API serves most (history, full-text search).
//
//   ./build/release/bench/store_bench --benchmark_out=store_bench.json
//
// Databases live in a fresh directory under $TMPDIR (or /tmp), removed afterwards. Every run
// starts from an empty database; random text uses a fixed seed.
#include <benchmark/benchmark.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/metrics.h"
#include "store/sqlite_store.h"

namespace jrvs::store {
namespace {

// One directory per process, removed at exit; each benchmark run gets its own file in it.
class BenchDir {
 public:
  BenchDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "jrvs-bench-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) std::abort();
    path_ = pattern;
  }
  ~BenchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

std::string FreshDbPath() {
  static const BenchDir dir;
  static int counter = 0;
  return (dir.path() / ("store-" + std::to_string(counter++) + ".db")).string();
}

void RemoveDb(const std::string& path) {
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
}

NewConversation SampleTurn(int thread, int64_t i) {
  NewConversation turn;
  turn.session_id = "bench-session-" + std::to_string(thread) + "-" + std::to_string(i % 64);
  turn.user_message = "What does the design document say about group commit and durability?";
  turn.ai_response = std::string(480, 'r');
  turn.model_used = "llama3.1:8b";
  turn.context_used = std::string(200, 'c');
  turn.sources_json = R"([{"document_id":1,"title":"Design","url":"file:///DESIGN.md"}])";
  turn.latency_ms = 123.4;
  return turn;
}

// ---- conversation appends through the store (group commit) ----

std::unique_ptr<MetricsRegistry> g_metrics;
std::unique_ptr<SqliteStore> g_store;
std::string g_path;

void OpenStore(const benchmark::State&) {
  g_path = FreshDbPath();
  g_metrics = std::make_unique<MetricsRegistry>();
  auto store = SqliteStore::Open({.path = g_path}, g_metrics.get());
  if (!store) std::abort();
  g_store = std::move(*store);
}

void CloseStore(const benchmark::State&) {
  g_store.reset();
  g_metrics.reset();
  RemoveDb(g_path);
}

// Mean writes per transaction so far (the group commit at work).
double MeanBatchSize() {
  const Histogram& h = g_metrics->AddHistogram("db_group_commit_batch_size", "").Get();
  return h.Count() == 0 ? 0 : h.Sum() / static_cast<double>(h.Count());
}

void BM_StoreAppendConversation(benchmark::State& state) {
  const NewConversation turn = SampleTurn(state.thread_index(), 0);
  for (auto _ : state) {
    Result<int64_t> id = g_store->AppendConversation(turn);
    if (!id) {
      state.SkipWithError(id.error().ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(*id);
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    state.counters["batch"] = MeanBatchSize();
    state.counters["ckpts"] = static_cast<double>(g_store->GetWriterStats().background_checkpoints);
  }
}
BENCHMARK(BM_StoreAppendConversation)
    ->Setup(OpenStore)
    ->Teardown(CloseStore)
    ->Threads(1)
    ->Threads(4)
    ->Threads(16)
    ->UseRealTime();

// ---- baseline: plain sqlite3, one transaction per write ----

// Opens a connection with the store's pragmas (WAL, synchronous=NORMAL, same cache and busy
// timeout) on a database whose schema the store created.
sqlite3* OpenBaselineConnection(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr) !=
      SQLITE_OK) {
    std::abort();
  }
  sqlite3_busy_timeout(db, 5000);
  sqlite3_exec(db,
               "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
               "PRAGMA temp_store=MEMORY; PRAGMA cache_size=-8192;",
               nullptr, nullptr, nullptr);
  return db;
}

void CreateBaselineDb(const benchmark::State&) {
  g_path = FreshDbPath();
  auto store = SqliteStore::Open({.path = g_path});  // same schema as the store
  if (!store) std::abort();
}

void RemoveBaselineDb(const benchmark::State&) { RemoveDb(g_path); }

void BM_SqliteTransactionPerWrite(benchmark::State& state) {
  // Each thread has its own connection, as a naive multi-threaded program would; concurrent
  // writers contend for SQLite's write lock through the busy handler.
  sqlite3* db = OpenBaselineConnection(g_path);
  sqlite3_stmt* insert = nullptr;
  sqlite3_prepare_v2(db,
                     "INSERT INTO conversations(session_id, user_message, ai_response, model_used,"
                     " context_used, sources, created_at, latency_ms)"
                     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                     -1, &insert, nullptr);
  const NewConversation turn = SampleTurn(state.thread_index(), 0);
  int64_t now = 1'700'000'000'000;
  for (auto _ : state) {
    sqlite3_bind_text(insert, 1, turn.session_id.c_str(), -1, SQLITE_STATIC);
    sqlite3_bind_text(insert, 2, turn.user_message.c_str(), -1, SQLITE_STATIC);
    sqlite3_bind_text(insert, 3, turn.ai_response.c_str(), -1, SQLITE_STATIC);
    sqlite3_bind_text(insert, 4, turn.model_used.c_str(), -1, SQLITE_STATIC);
    sqlite3_bind_text(insert, 5, turn.context_used.c_str(), -1, SQLITE_STATIC);
    sqlite3_bind_text(insert, 6, turn.sources_json.c_str(), -1, SQLITE_STATIC);
    sqlite3_bind_int64(insert, 7, ++now);
    sqlite3_bind_double(insert, 8, turn.latency_ms);
    int rc = sqlite3_step(insert);  // autocommit: the INSERT is its own transaction
    sqlite3_reset(insert);
    if (rc != SQLITE_DONE) {
      state.SkipWithError(sqlite3_errmsg(db));
      break;
    }
  }
  sqlite3_finalize(insert);
  sqlite3_close(db);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SqliteTransactionPerWrite)
    ->Setup(CreateBaselineDb)
    ->Teardown(RemoveBaselineDb)
    ->Threads(1)
    ->Threads(4)
    ->Threads(16)
    ->UseRealTime();

// ---- reference: the writer's SQL work alone ----

// One thread, `range(0)` inserts per explicit transaction, each in a SAVEPOINT like the store's
// batches, with no queue and no thread hand-off: the ceiling group commit can approach here.
void BM_SqliteBatchedTransaction(benchmark::State& state) {
  const int64_t per_txn = state.range(0);
  sqlite3* db = OpenBaselineConnection(g_path);
  sqlite3_stmt* insert = nullptr;
  sqlite3_prepare_v2(db,
                     "INSERT INTO conversations(session_id, user_message, ai_response, model_used,"
                     " context_used, sources, created_at, latency_ms)"
                     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                     -1, &insert, nullptr);
  std::vector<NewConversation> turns;
  for (int t = 0; t < per_txn; ++t) turns.push_back(SampleTurn(t, 0));
  int64_t now = 1'700'000'000'000;
  for (auto _ : state) {
    sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
    for (const NewConversation& turn : turns) {
      sqlite3_exec(db, "SAVEPOINT op", nullptr, nullptr, nullptr);
      sqlite3_bind_text(insert, 1, turn.session_id.c_str(), -1, SQLITE_STATIC);
      sqlite3_bind_text(insert, 2, turn.user_message.c_str(), -1, SQLITE_STATIC);
      sqlite3_bind_text(insert, 3, turn.ai_response.c_str(), -1, SQLITE_STATIC);
      sqlite3_bind_text(insert, 4, turn.model_used.c_str(), -1, SQLITE_STATIC);
      sqlite3_bind_text(insert, 5, turn.context_used.c_str(), -1, SQLITE_STATIC);
      sqlite3_bind_text(insert, 6, turn.sources_json.c_str(), -1, SQLITE_STATIC);
      sqlite3_bind_int64(insert, 7, ++now);
      sqlite3_bind_double(insert, 8, turn.latency_ms);
      sqlite3_step(insert);
      sqlite3_reset(insert);
      sqlite3_exec(db, "RELEASE op", nullptr, nullptr, nullptr);
    }
    if (sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
      state.SkipWithError(sqlite3_errmsg(db));
      break;
    }
  }
  sqlite3_finalize(insert);
  sqlite3_close(db);
  state.SetItemsProcessed(state.iterations() * per_txn);
}
BENCHMARK(BM_SqliteBatchedTransaction)
    ->Setup(CreateBaselineDb)
    ->Teardown(RemoveBaselineDb)
    ->Arg(4)
    ->Arg(16)
    ->UseRealTime();

// ---- reads ----

constexpr int kReadSessions = 200;
constexpr int kTurnsPerSession = 50;
constexpr int kDocuments = 500;
constexpr int kChunksPerDocument = 10;

// A store with conversation history and a small knowledge base of pseudo-English chunks.
void OpenPopulatedStore(const benchmark::State& state) {
  OpenStore(state);
  for (int s = 0; s < kReadSessions; ++s) {
    for (int t = 0; t < kTurnsPerSession; ++t) {
      NewConversation turn = SampleTurn(0, 0);
      turn.session_id = "read-" + std::to_string(s);
      if (!g_store->AppendConversation(turn)) std::abort();
    }
  }
  // Pseudo-words with Zipf-distributed frequencies (rank r drawn with weight 1/r), so common
  // words are everywhere and rarer ones are selective, as in natural text.
  constexpr int kVocabulary = 5000;
  std::vector<double> weights;
  for (int r = 1; r <= kVocabulary; ++r) weights.push_back(1.0 / r);
  std::mt19937 rng(42);
  std::discrete_distribution<int> pick(weights.begin(), weights.end());
  for (int d = 0; d < kDocuments; ++d) {
    NewDocument doc;
    doc.title = "doc " + std::to_string(d);
    doc.content = "document " + std::to_string(d);
    std::vector<NewChunk> chunks;
    for (int c = 0; c < kChunksPerDocument; ++c) {
      NewChunk chunk;
      chunk.chunk_index = c;
      for (int w = 0; w < 80; ++w) {
        chunk.text += 'w';  // (appended piecewise: "w" + ... trips GCC 12's -Wrestrict)
        chunk.text += std::to_string(pick(rng));
        chunk.text += ' ';
      }
      chunk.embedding.assign(384, 0.01f * static_cast<float>(c));
      chunks.push_back(std::move(chunk));
    }
    if (!g_store->PutDocument(doc, chunks, "hash")) std::abort();
  }
}

void BM_StoreListConversations(benchmark::State& state) {
  int64_t i = state.thread_index();
  for (auto _ : state) {
    auto turns = g_store->ListConversations("read-" + std::to_string(i++ % kReadSessions), 10);
    if (!turns || turns->size() != 10) {
      state.SkipWithError("list failed");
      break;
    }
    benchmark::DoNotOptimize(turns->data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_StoreListConversations)
    ->Setup(OpenPopulatedStore)
    ->Teardown(CloseStore)
    ->Threads(1)
    ->Threads(4)
    ->UseRealTime();

// Arg 0: three words of ranks 20, 200 and 2000 (the first is in about a third of all chunks,
// and FTS5 scores every match of an OR query). Arg 1: ranks 300, 1000 and 3000, as left after
// dropping stop words and very common terms.
void BM_StoreSearchText(benchmark::State& state) {
  const std::vector<std::string> terms = state.range(0) == 0
                                             ? std::vector<std::string>{"w20", "w200", "w2000"}
                                             : std::vector<std::string>{"w300", "w1000", "w3000"};
  for (auto _ : state) {
    auto hits = g_store->SearchText(terms, 20);
    if (!hits || hits->empty()) {
      state.SkipWithError("search failed");
      break;
    }
    benchmark::DoNotOptimize(hits->data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_StoreSearchText)
    ->Arg(0)
    ->Arg(1)
    ->Setup(OpenPopulatedStore)
    ->Teardown(CloseStore)
    ->Threads(1)
    ->Threads(4)
    ->UseRealTime();

}  // namespace
}  // namespace jrvs::store
