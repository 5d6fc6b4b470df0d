// Concurrency, group commit, back-pressure and crash durability of SqliteStore.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/metrics.h"
#include "store/sqlite_connection.h"
#include "store/sqlite_store.h"
#include "store/store_test_util.h"

namespace jrvs::store {
namespace {

using testing::TempDir;

NewConversation Turn(std::string session, std::string message, std::string sources = "[]") {
  NewConversation turn;
  turn.session_id = std::move(session);
  turn.user_message = std::move(message);
  turn.ai_response = "ok";
  turn.sources_json = std::move(sources);
  return turn;
}

// Holds the database's write lock from a second connection, as another process could, so the
// store's writer thread blocks in BEGIN IMMEDIATE until Release().
class WriteLockHolder {
 public:
  explicit WriteLockHolder(const std::string& path) {
    auto conn = SqliteConnection::Open({.path = path, .writer = true});
    EXPECT_TRUE(conn.has_value());
    conn_ = std::move(*conn);
    EXPECT_TRUE(conn_->Exec("BEGIN IMMEDIATE").ok());
  }
  void Release() { EXPECT_TRUE(conn_->Exec("COMMIT").ok()); }

 private:
  std::unique_ptr<SqliteConnection> conn_;
};

// Polls a condition that another thread makes true; no assumption about how long it takes (the
// test's own timeout is the limit).
template <typename Pred>
void WaitUntil(Pred pred) {
  while (!pred()) std::this_thread::yield();
}

TEST(SqliteStoreConcurrencyTest, ManyWritersAndReadersLoseNothingAndKeepOrder) {
  TempDir dir;
  FakeClock clock;  // every turn gets the same timestamp: order comes from ids alone
  MetricsRegistry metrics;
  auto opened = SqliteStore::Open({.path = dir.File("jrvs.db")}, &metrics, &clock);
  ASSERT_TRUE(opened.has_value());
  SqliteStore& store = **opened;

  constexpr int kWriters = 8;
  constexpr int kPerWriter = 500;
  constexpr int kReaders = 4;
  std::vector<std::vector<int64_t>> ids(kWriters);
  std::atomic<int> writers_left{kWriters};
  std::atomic<int> read_failures{0};
  std::atomic<int64_t> reads{0};

  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < kPerWriter; ++i) {
        Result<int64_t> id =
            store.AppendConversation(Turn("session-" + std::to_string(w), std::to_string(i)));
        if (id) ids[w].push_back(*id);
      }
      --writers_left;
    });
  }
  for (int r = 0; r < kReaders; ++r) {
    threads.emplace_back([&, r] {
      int session = r;
      while (writers_left.load() > 0) {
        session = (session + 1) % kWriters;
        auto turns = store.ListConversations("session-" + std::to_string(session), 50);
        ++reads;
        if (!turns) {
          ++read_failures;
          continue;
        }
        // Whatever prefix has committed, a session's turns are consecutive and in order.
        for (size_t k = 1; k < turns->size(); ++k) {
          if (std::stoi((*turns)[k].user_message) != std::stoi((*turns)[k - 1].user_message) + 1 ||
              (*turns)[k].id <= (*turns)[k - 1].id) {
            ++read_failures;
          }
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();

  EXPECT_EQ(read_failures.load(), 0);
  EXPECT_GT(reads.load(), 0);
  std::set<int64_t> unique;
  for (int w = 0; w < kWriters; ++w) {
    ASSERT_EQ(ids[w].size(), static_cast<size_t>(kPerWriter)) << "writer " << w;
    unique.insert(ids[w].begin(), ids[w].end());
    auto turns = store.ListConversations("session-" + std::to_string(w), 0);
    ASSERT_TRUE(turns.has_value());
    ASSERT_EQ(turns->size(), static_cast<size_t>(kPerWriter));
    for (int i = 0; i < kPerWriter; ++i) {
      EXPECT_EQ((*turns)[i].user_message, std::to_string(i));
      EXPECT_EQ((*turns)[i].id, ids[w][i]);
    }
  }
  EXPECT_EQ(unique.size(), static_cast<size_t>(kWriters * kPerWriter));
  auto stats = store.Stats();
  EXPECT_EQ(stats->conversations, kWriters * kPerWriter);
  EXPECT_EQ(stats->sessions, kWriters);
  const Histogram& batches = metrics.AddHistogram("db_group_commit_batch_size", "").Get();
  EXPECT_DOUBLE_EQ(batches.Sum(), kWriters * kPerWriter);  // every write in exactly one batch
}

TEST(SqliteStoreConcurrencyTest, FailingWritesDoNotFailTheirBatch) {
  TempDir dir;
  const std::string path = dir.File("jrvs.db");
  MetricsRegistry metrics;
  auto opened = SqliteStore::Open({.path = path, .busy_timeout_ms = 600'000}, &metrics);
  ASSERT_TRUE(opened.has_value());
  SqliteStore& store = **opened;

  WriteLockHolder lock(path);
  // A first write takes the writer thread into BEGIN IMMEDIATE, where it waits for the lock.
  std::thread first([&] { EXPECT_TRUE(store.AppendConversation(Turn("s", "first"))); });
  WaitUntil([&] { return store.GetWriterStats().in_flight == 1; });

  // The next seven queue up behind it and will be taken as one batch. Append 2 fails in its only
  // statement; document "bad" fails on its second chunk, after its document row and first chunk
  // were written, so its SAVEPOINT must undo those.
  constexpr int kAppends = 5;
  std::vector<Result<int64_t>> appends(kAppends, Error(StatusCode::kInternal, "not run"));
  Result<PutDocumentResult> bad_doc = Error(StatusCode::kInternal, "not run");
  Result<PutDocumentResult> good_doc = Error(StatusCode::kInternal, "not run");
  std::vector<std::thread> batch;
  for (int i = 0; i < kAppends; ++i) {
    batch.emplace_back([&, i] {
      appends[i] = store.AppendConversation(
          Turn("batch", std::to_string(i), i == 2 ? "[broken json" : "[]"));
    });
  }
  batch.emplace_back([&] {
    NewDocument doc;
    doc.content = "bad document";
    std::vector<NewChunk> chunks = {{.chunk_index = 0, .text = "zebra stripes", .embedding = {}},
                                    {.chunk_index = 0, .text = "duplicate", .embedding = {}}};
    bad_doc = store.PutDocument(doc, chunks, "m");
  });
  batch.emplace_back([&] {
    NewDocument doc;
    doc.content = "good document";
    std::vector<NewChunk> chunks = {{.chunk_index = 0, .text = "giraffe necks", .embedding = {}}};
    good_doc = store.PutDocument(doc, chunks, "m");
  });
  const size_t queued = batch.size();
  WaitUntil([&] { return store.GetWriterStats().queued == queued; });
  // Reads are not blocked by the stalled writer.
  EXPECT_TRUE(store.ListConversations("batch", 0).has_value());

  lock.Release();
  first.join();
  for (std::thread& t : batch) t.join();

  for (int i = 0; i < kAppends; ++i) {
    if (i == 2) {
      ASSERT_FALSE(appends[i].has_value());
      EXPECT_EQ(appends[i].error().code(), StatusCode::kInvalidArgument);
    } else {
      EXPECT_TRUE(appends[i].has_value()) << i << ": " << appends[i].error().ToString();
    }
  }
  ASSERT_FALSE(bad_doc.has_value());
  EXPECT_EQ(bad_doc.error().code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(good_doc.has_value()) << good_doc.error().ToString();

  auto turns = store.ListConversations("batch", 0);
  ASSERT_TRUE(turns.has_value());
  std::set<std::string> stored;
  for (const Conversation& t : *turns) stored.insert(t.user_message);
  EXPECT_EQ(stored, (std::set<std::string>{"0", "1", "3", "4"}));
  auto stats = store.Stats();
  EXPECT_EQ(stats->documents, 1);
  EXPECT_EQ(stats->chunks, 1);
  EXPECT_EQ(store.SearchText({"zebra"}, 5)->size(), 0u);
  EXPECT_EQ(store.SearchText({"giraffe"}, 5)->size(), 1u);
  // Exactly two transactions: the first write alone, then all the others together.
  const Histogram& sizes = metrics.AddHistogram("db_group_commit_batch_size", "").Get();
  EXPECT_EQ(sizes.Count(), 2u);
  EXPECT_DOUBLE_EQ(sizes.Sum(), static_cast<double>(1 + queued));
}

TEST(SqliteStoreConcurrencyTest, FullWriteQueueFailsFastWithUnavailable) {
  TempDir dir;
  const std::string path = dir.File("jrvs.db");
  auto opened = SqliteStore::Open(
      {.path = path, .busy_timeout_ms = 600'000, .write_queue_capacity = 2, .max_batch_ops = 1});
  ASSERT_TRUE(opened.has_value());
  SqliteStore& store = **opened;

  WriteLockHolder lock(path);
  std::vector<std::thread> accepted;
  accepted.emplace_back([&] { EXPECT_TRUE(store.AppendConversation(Turn("s", "in flight"))); });
  WaitUntil([&] { return store.GetWriterStats().in_flight == 1; });
  for (int i = 0; i < 2; ++i) {
    accepted.emplace_back([&] { EXPECT_TRUE(store.AppendConversation(Turn("s", "queued"))); });
  }
  WaitUntil([&] { return store.GetWriterStats().queued == 2; });

  // The queue is full and the writer is stuck: this returns at once instead of waiting.
  Result<int64_t> rejected = store.AppendConversation(Turn("s", "rejected"));
  ASSERT_FALSE(rejected.has_value());
  EXPECT_EQ(rejected.error().code(), StatusCode::kUnavailable);
  EXPECT_NE(rejected.error().message().find("queue full"), std::string::npos);
  Status setting = store.PutSetting("k", "v");
  EXPECT_EQ(setting.code(), StatusCode::kUnavailable);
  // Reads still work.
  EXPECT_TRUE(store.Ping().ok());

  lock.Release();
  for (std::thread& t : accepted) t.join();
  auto turns = store.ListConversations("s", 0);
  ASSERT_TRUE(turns.has_value());
  EXPECT_EQ(turns->size(), 3u);
  EXPECT_TRUE(store.AppendConversation(Turn("s", "after")).has_value());
}

TEST(SqliteStoreConcurrencyTest, WriterBusyTimeoutIsUnavailableNotAHang) {
  TempDir dir;
  const std::string path = dir.File("jrvs.db");
  auto opened = SqliteStore::Open({.path = path, .busy_timeout_ms = 0});
  ASSERT_TRUE(opened.has_value());
  WriteLockHolder lock(path);
  Result<int64_t> id = (*opened)->AppendConversation(Turn("s", "blocked"));
  ASSERT_FALSE(id.has_value());
  EXPECT_EQ(id.error().code(), StatusCode::kUnavailable);
  lock.Release();
  EXPECT_TRUE((*opened)->AppendConversation(Turn("s", "free")).has_value());
  EXPECT_EQ((*opened)->ListConversations("s", 0)->size(), 1u);
}

TEST(SqliteStoreConcurrencyTest, AcknowledgedWritesSurviveKill9) {
  TempDir dir;
  const std::string path = dir.File("jrvs.db");
  // The child writes, then kills itself without closing anything. Only this thread exists here,
  // so forking is safe.
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto store = SqliteStore::Open({.path = path});
    if (!store) _exit(2);
    for (int i = 0; i < 100; ++i) {
      if (!(*store)->AppendConversation(Turn("crash", std::to_string(i)))) _exit(3);
    }
    NewDocument doc;
    doc.url = "https://crash.test/";
    doc.content = "survives";
    std::vector<NewChunk> chunks = {{.chunk_index = 0, .text = "survivor text", .embedding = {}}};
    if (!(*store)->PutDocument(doc, chunks, "m")) _exit(4);
    kill(getpid(), SIGKILL);
    _exit(5);  // not reached
  }
  int wstatus = 0;
  ASSERT_EQ(waitpid(child, &wstatus, 0), child);
  ASSERT_TRUE(WIFSIGNALED(wstatus)) << "child exited with " << WEXITSTATUS(wstatus);
  EXPECT_EQ(WTERMSIG(wstatus), SIGKILL);
  EXPECT_TRUE(std::filesystem::exists(path + "-wal"));  // nothing was checkpointed or closed

  auto store = SqliteStore::Open({.path = path});
  ASSERT_TRUE(store.has_value()) << store.error().ToString();
  auto turns = (*store)->ListConversations("crash", 0);
  ASSERT_TRUE(turns.has_value());
  EXPECT_EQ(turns->size(), 100u);
  auto hits = (*store)->SearchText({"survivor"}, 5);
  ASSERT_TRUE(hits.has_value());
  EXPECT_EQ(hits->size(), 1u);
}

TEST(SqliteStoreConcurrencyTest, BackgroundCheckpointsKeepEveryWrite) {
  TempDir dir;
  const std::string path = dir.File("jrvs.db");
  auto opened = SqliteStore::Open({.path = path, .wal_autocheckpoint_pages = 8});
  ASSERT_TRUE(opened.has_value());
  SqliteStore& store = **opened;
  for (int i = 0; i < 300; ++i) {
    NewConversation turn = Turn("ckpt", std::to_string(i));
    turn.ai_response = std::string(2000, 'x');  // about two turns per 4 KiB page
    ASSERT_TRUE(store.AppendConversation(turn).has_value());
  }
  // The WAL passed 8 pages many times over; the checkpointer thread reacts on its own time.
  WaitUntil([&] { return store.GetWriterStats().background_checkpoints >= 1; });
  auto turns = store.ListConversations("ckpt", 0);
  ASSERT_TRUE(turns.has_value());
  ASSERT_EQ(turns->size(), 300u);
  EXPECT_EQ(turns->back().user_message, "299");
  opened->reset();
  auto reopened = SqliteStore::Open({.path = path});
  ASSERT_TRUE(reopened.has_value());
  EXPECT_EQ((*reopened)->ListConversations("ckpt", 0)->size(), 300u);
}

TEST(SqliteStoreConcurrencyTest, StoresOpenedAndClosedFromManyThreads) {
  TempDir dir;
  const std::string path = dir.File("jrvs.db");
  for (int round = 0; round < 3; ++round) {
    auto store = SqliteStore::Open({.path = path, .max_idle_readers = 2});
    ASSERT_TRUE(store.has_value());
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int t = 0; t < 6; ++t) {
      threads.emplace_back([&, t] {
        std::string session = "t";  // (not "t" + ...: GCC 12 -Wrestrict false positive)
        session += std::to_string(t);
        for (int i = 0; i < 20; ++i) {
          if (!(*store)->AppendConversation(Turn(session, "m"))) ++failures;
          if (!(*store)->ListConversations(session, 5)) ++failures;
          if (!(*store)->Stats()) ++failures;
        }
      });
    }
    for (std::thread& t : threads) t.join();
    EXPECT_EQ(failures.load(), 0);
    EXPECT_EQ((*store)->Stats()->conversations, (round + 1) * 6 * 20);
  }
}

}  // namespace
}  // namespace jrvs::store
