#include "store/sqlite_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "store/store_test_util.h"

namespace jrvs::store {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using testing::SqliteStoreTest;
using testing::TempDir;

// ---- conversations ----

TEST_F(SqliteStoreTest, AppendStampsTimeUnlessGivenAndRoundTripsFields) {
  NewConversation turn = Turn("s1", "hello");
  turn.context_used = "[1] Doc (http://x)";
  turn.sources_json = R"([{"document_id":1,"title":"Doc"}])";
  turn.latency_ms = 12.5;
  const int64_t first = Append(turn);
  const int64_t second = Append(Turn("s1", "later", 42));
  EXPECT_GT(second, first);

  auto turns = store_->ListConversations("s1", 0);
  ASSERT_TRUE(turns.has_value());
  ASSERT_EQ(turns->size(), 2u);
  const Conversation& a = (*turns)[1];  // created_at 42 sorts first
  EXPECT_EQ(a.id, first);
  EXPECT_EQ(a.session_id, "s1");
  EXPECT_EQ(a.user_message, "hello");
  EXPECT_EQ(a.ai_response, "re: hello");
  EXPECT_EQ(a.model_used, "llama3");
  EXPECT_EQ(a.context_used, "[1] Doc (http://x)");
  EXPECT_EQ(a.sources_json, R"([{"document_id":1,"title":"Doc"}])");
  EXPECT_EQ(a.created_at_ms, clock_.NowUnixMs());
  EXPECT_DOUBLE_EQ(a.latency_ms, 12.5);
  EXPECT_EQ((*turns)[0].created_at_ms, 42);
}

TEST_F(SqliteStoreTest, ListReturnsNewestLimitOldestFirst) {
  for (int i = 1; i <= 5; ++i) {
    clock_.AdvanceMs(1000);
    Append(Turn("s", "m" + std::to_string(i)));
  }
  Append(Turn("other", "x"));
  auto last3 = store_->ListConversations("s", 3);
  ASSERT_TRUE(last3.has_value());
  EXPECT_THAT(Messages(*last3), ElementsAre("m3", "m4", "m5"));
  auto all = store_->ListConversations("s", 0);
  ASSERT_TRUE(all.has_value());
  EXPECT_THAT(Messages(*all), ElementsAre("m1", "m2", "m3", "m4", "m5"));
  auto none = store_->ListConversations("missing", 10);
  ASSERT_TRUE(none.has_value());
  EXPECT_THAT(*none, IsEmpty());
}

TEST_F(SqliteStoreTest, EqualTimestampsKeepInsertionOrder) {
  for (int i = 1; i <= 4; ++i) Append(Turn("s", "m" + std::to_string(i), 5000));
  auto last2 = store_->ListConversations("s", 2);
  ASSERT_TRUE(last2.has_value());
  EXPECT_THAT(Messages(*last2), ElementsAre("m3", "m4"));
  auto all = store_->ListConversations("s", -1);
  ASSERT_TRUE(all.has_value());
  EXPECT_THAT(Messages(*all), ElementsAre("m1", "m2", "m3", "m4"));
}

TEST_F(SqliteStoreTest, DeleteSessionRemovesOnlyThatSession) {
  for (int i = 0; i < 3; ++i) Append(Turn("a", "a" + std::to_string(i)));
  Append(Turn("b", "b0"));
  auto deleted = store_->DeleteSession("a");
  ASSERT_TRUE(deleted.has_value());
  EXPECT_EQ(*deleted, 3);
  EXPECT_THAT(*store_->ListConversations("a", 0), IsEmpty());
  EXPECT_THAT(Messages(*store_->ListConversations("b", 0)), ElementsAre("b0"));
  EXPECT_EQ(*store_->DeleteSession("a"), 0);
}

TEST_F(SqliteStoreTest, DeleteBeforeCutoffKeepsNewerTurns) {
  Append(Turn("s", "old", 100));
  Append(Turn("s", "edge", 200));
  Append(Turn("t", "new", 300));
  auto deleted = store_->DeleteConversationsBefore(200);
  ASSERT_TRUE(deleted.has_value());
  EXPECT_EQ(*deleted, 1);
  EXPECT_THAT(Messages(*store_->ListConversations("s", 0)), ElementsAre("edge"));
  EXPECT_THAT(Messages(*store_->ListConversations("t", 0)), ElementsAre("new"));
}

TEST_F(SqliteStoreTest, InvalidSourcesJsonIsRejectedAndNothingStored) {
  NewConversation turn = Turn("s", "bad");
  turn.sources_json = "[not json";
  auto id = store_->AppendConversation(turn);
  ASSERT_FALSE(id.has_value());
  EXPECT_EQ(id.error().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(*store_->ListConversations("s", 0), IsEmpty());
}

// ---- stats, models, settings, maintenance ----

TEST_F(SqliteStoreTest, StatsCountsEverything) {
  Put(Doc("a"), Chunks({"x", "y"}));
  Put(Doc("b"), Chunks({"z"}));
  Append(Turn("s1", "1"));
  Append(Turn("s1", "2"));
  Append(Turn("s2", "3"));
  auto stats = store_->Stats();
  ASSERT_TRUE(stats.has_value());
  EXPECT_EQ(stats->documents, 2);
  EXPECT_EQ(stats->chunks, 3);
  EXPECT_EQ(stats->conversations, 3);
  EXPECT_EQ(stats->sessions, 2);
  EXPECT_GT(stats->database_bytes, 0);
  EXPECT_TRUE(store_->Ping().ok());
}

TEST_F(SqliteStoreTest, ModelUsageKeepsARunningAverage) {
  ASSERT_TRUE(store_->RecordModelUsage("llama3", 100).ok());
  clock_.AdvanceMs(10);
  ASSERT_TRUE(store_->RecordModelUsage("llama3", 200).ok());
  ASSERT_TRUE(store_->RecordModelUsage("phi3", 50).ok());
  auto models = store_->ListModelUsage();
  ASSERT_TRUE(models.has_value());
  ASSERT_EQ(models->size(), 2u);
  EXPECT_EQ((*models)[0].name, "llama3");
  EXPECT_EQ((*models)[0].usage_count, 2);
  EXPECT_DOUBLE_EQ((*models)[0].avg_response_ms, 150);
  EXPECT_EQ((*models)[0].last_used_ms, clock_.NowUnixMs());
  EXPECT_EQ((*models)[1].name, "phi3");
}

TEST_F(SqliteStoreTest, SettingsUpsert) {
  EXPECT_EQ(*store_->GetSetting("model"), std::nullopt);
  ASSERT_TRUE(store_->PutSetting("model", "llama3").ok());
  ASSERT_TRUE(store_->PutSetting("model", "phi3").ok());
  EXPECT_EQ(*store_->GetSetting("model"), "phi3");
}

TEST_F(SqliteStoreTest, EverythingSurvivesReopen) {
  PutDocumentResult put = Put(Doc("durable", "https://d.test/"), Chunks({"persist me"}));
  Append(Turn("s", "remember"));
  ASSERT_TRUE(store_->PutSetting("index_max_chunk", "7").ok());
  Reopen();
  EXPECT_EQ(store_->GetDocument(put.id)->content, "durable");
  EXPECT_THAT(Search({"persisting"}), ElementsAre(put.chunk_ids[0]));
  EXPECT_THAT(Messages(*store_->ListConversations("s", 0)), ElementsAre("remember"));
  EXPECT_EQ(*store_->GetSetting("index_max_chunk"), "7");
  EXPECT_EQ(Put(Doc("durable", "https://d.test/"), {}).outcome,
            PutDocumentResult::Outcome::kUnchanged);
}

TEST_F(SqliteStoreTest, CheckpointEmptiesTheWal) {
  for (int i = 0; i < 20; ++i) Append(Turn("s", std::string(1000, 'w')));
  EXPECT_GT(std::filesystem::file_size(path_ + "-wal"), 0u);
  ASSERT_TRUE(store_->Checkpoint().ok());
  EXPECT_EQ(std::filesystem::file_size(path_ + "-wal"), 0u);
  EXPECT_EQ(store_->ListConversations("s", 0)->size(), 20u);
}

TEST_F(SqliteStoreTest, BackupIsAConsistentOpenableCopy) {
  PutDocumentResult put = Put(Doc("backed up"), Chunks({"copy this"}));
  Append(Turn("s", "hi"));
  const std::string backup = dir_.File("backup/jrvs-backup.db");
  std::filesystem::create_directories(dir_.path() / "backup");
  ASSERT_TRUE(store_->BackupTo(backup).ok());
  Status again = store_->BackupTo(backup);
  EXPECT_EQ(again.code(), StatusCode::kAlreadyExists);
  auto copy = SqliteStore::Open({.path = backup});
  ASSERT_TRUE(copy.has_value()) << copy.error().ToString();
  EXPECT_EQ((*copy)->GetDocument(put.id)->content, "backed up");
  EXPECT_EQ((*copy)->ListConversations("s", 0)->size(), 1u);
  EXPECT_EQ((*copy)->SearchText({"copy"}, 5)->size(), 1u);
}

TEST_F(SqliteStoreTest, MetricsCountOperationsByStatus) {
  Append(Turn("s", "m"));
  (void)store_->GetDocument(777);
  const std::string text = metrics_.Render();
  EXPECT_NE(text.find("db_operations_total{op=\"append_conversation\",status=\"ok\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("db_operations_total{op=\"get_document\",status=\"not_found\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("db_operation_duration_seconds_count{op=\"append_conversation\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("db_group_commit_batch_size_count 1\n"), std::string::npos);
  EXPECT_NE(text.find("db_write_queue_depth 0\n"), std::string::npos);
}

TEST(SqliteStoreLifetimeTest, StoresCanBeRecreatedOnTheSameThread) {
  TempDir dir;
  for (int round = 0; round < 3; ++round) {
    // Alternate between two files, so a stale connection would read the wrong database.
    const std::string path = dir.File(round % 2 == 0 ? "even.db" : "odd.db");
    auto store = SqliteStore::Open({.path = path});
    ASSERT_TRUE(store.has_value());
    NewConversation turn;
    turn.session_id = "s";
    turn.user_message = "round " + std::to_string(round);
    ASSERT_TRUE((*store)->AppendConversation(turn).has_value());
    auto turns = (*store)->ListConversations("s", 0);
    ASSERT_TRUE(turns.has_value());
    EXPECT_EQ(turns->size(), static_cast<size_t>(round / 2 + 1));
    EXPECT_EQ(turns->back().user_message, "round " + std::to_string(round));
  }
}

}  // namespace
}  // namespace jrvs::store
