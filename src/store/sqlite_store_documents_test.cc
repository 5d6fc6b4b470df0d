// SqliteStore: documents, chunks, full-text search and embeddings.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "core/sha256.h"
#include "store/sqlite_connection.h"
#include "store/sqlite_store.h"
#include "store/store_test_util.h"

namespace jrvs::store {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using testing::SqliteStoreTest;
using Outcome = PutDocumentResult::Outcome;

// ---- documents ----

TEST_F(SqliteStoreTest, PutCreatesDocumentWithChunksInIndexOrder) {
  NewDocument doc = Doc("full content", "https://example.com/a", "Example");
  doc.metadata_json = R"({"source":"web"})";
  std::vector<NewChunk> chunks = Chunks({"zero", "one", "two"});
  std::swap(chunks[0], chunks[2]);  // given out of order; stored and reported by chunk_index
  PutDocumentResult put = Put(doc, chunks);
  EXPECT_EQ(put.outcome, Outcome::kCreated);
  ASSERT_EQ(put.chunk_ids.size(), 3u);
  EXPECT_LT(put.chunk_ids[0], put.chunk_ids[1]);
  EXPECT_LT(put.chunk_ids[1], put.chunk_ids[2]);
  EXPECT_THAT(put.removed_chunk_ids, IsEmpty());

  auto views = store_->GetChunks(put.chunk_ids);
  ASSERT_TRUE(views.has_value());
  ASSERT_EQ(views->size(), 3u);
  EXPECT_EQ((*views)[0].text, "zero");
  EXPECT_EQ((*views)[2].text, "two");
  EXPECT_EQ((*views)[2].chunk_index, 2);

  auto got = store_->GetDocument(put.id);
  ASSERT_TRUE(got.has_value()) << got.error().ToString();
  EXPECT_EQ(got->url, "https://example.com/a");
  EXPECT_EQ(got->title, "Example");
  EXPECT_EQ(got->content, "full content");
  EXPECT_EQ(got->content_type, "text/plain");
  EXPECT_EQ(got->content_hash, Sha256Hex("full content"));
  EXPECT_EQ(got->metadata_json, R"({"source":"web"})");
  EXPECT_EQ(got->created_at_ms, clock_.NowUnixMs());
  EXPECT_EQ(got->updated_at_ms, clock_.NowUnixMs());
  EXPECT_EQ(got->last_accessed_ms, clock_.NowUnixMs());
}

TEST_F(SqliteStoreTest, SameUrlSameContentIsUnchangedAndWritesNothing) {
  PutDocumentResult first = Put(Doc("body", "https://x.test/"), Chunks({"a", "b"}));
  clock_.AdvanceMs(5000);
  PutDocumentResult again = Put(Doc("body", "https://x.test/", "New title"), Chunks({"c"}));
  EXPECT_EQ(again.outcome, Outcome::kUnchanged);
  EXPECT_EQ(again.id, first.id);
  EXPECT_EQ(again.chunk_ids, first.chunk_ids);
  EXPECT_THAT(again.removed_chunk_ids, IsEmpty());
  auto got = store_->GetDocument(first.id);
  EXPECT_EQ(got->title, "Title");
  EXPECT_EQ(got->updated_at_ms, got->created_at_ms);
  EXPECT_EQ(store_->Stats()->chunks, 2);
}

TEST_F(SqliteStoreTest, SameUrlNewContentReplacesChunksAndFullText) {
  PutDocumentResult first = Put(Doc("v1", "https://x.test/"), Chunks({"alpha apple", "beta"}));
  const int64_t created = clock_.NowUnixMs();
  clock_.AdvanceMs(5000);
  PutDocumentResult second =
      Put(Doc("v2", "https://x.test/", "Renamed"), Chunks({"gamma grape", "delta", "eps"}));
  EXPECT_EQ(second.outcome, Outcome::kUpdated);
  EXPECT_EQ(second.id, first.id);
  EXPECT_EQ(second.removed_chunk_ids, first.chunk_ids);
  ASSERT_EQ(second.chunk_ids.size(), 3u);
  for (int64_t id : second.chunk_ids) EXPECT_GT(id, first.chunk_ids.back());  // never reused

  EXPECT_THAT(*store_->GetChunks(first.chunk_ids), IsEmpty());
  EXPECT_THAT(Search({"apple"}), IsEmpty());
  EXPECT_THAT(Search({"grape"}), ElementsAre(second.chunk_ids[0]));
  auto got = store_->GetDocument(first.id);
  EXPECT_EQ(got->title, "Renamed");
  EXPECT_EQ(got->content, "v2");
  EXPECT_EQ(got->created_at_ms, created);
  EXPECT_EQ(got->updated_at_ms, created + 5000);
  auto stats = store_->Stats();
  EXPECT_EQ(stats->documents, 1);
  EXPECT_EQ(stats->chunks, 3);
}

TEST_F(SqliteStoreTest, DocumentsWithoutUrlAreDeduplicatedByContentHash) {
  PutDocumentResult a = Put(Doc("same text"), Chunks({"same text"}));
  PutDocumentResult b = Put(Doc("same text", std::nullopt, "Other"), Chunks({"same text"}));
  EXPECT_EQ(b.outcome, Outcome::kUnchanged);
  EXPECT_EQ(b.id, a.id);
  PutDocumentResult c = Put(Doc("different text"), Chunks({"different text"}));
  EXPECT_EQ(c.outcome, Outcome::kCreated);
  EXPECT_NE(c.id, a.id);
  EXPECT_EQ(store_->Stats()->documents, 2);
}

TEST_F(SqliteStoreTest, FindDocumentByHash) {
  PutDocumentResult put = Put(Doc("hash me", "https://h.test/"), {});
  auto found = store_->FindDocumentByHash(Sha256Hex("hash me"));
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(*found, put.id);
  auto missing = store_->FindDocumentByHash(Sha256Hex("something else"));
  ASSERT_TRUE(missing.has_value());
  EXPECT_EQ(*missing, std::nullopt);
}

TEST_F(SqliteStoreTest, GetMissingDocumentIsNotFound) {
  auto got = store_->GetDocument(12345);
  ASSERT_FALSE(got.has_value());
  EXPECT_EQ(got.error().code(), StatusCode::kNotFound);
}

TEST_F(SqliteStoreTest, GetDocumentRecordsAccessBeforeTheNextWriteCommits) {
  PutDocumentResult put = Put(Doc("read me"), {});
  const int64_t created = clock_.NowUnixMs();
  clock_.AdvanceMs(60'000);
  auto first = store_->GetDocument(put.id);
  EXPECT_EQ(first->last_accessed_ms, created);     // the value before this access
  ASSERT_TRUE(store_->PutSetting("k", "v").ok());  // any later write follows the access flush
  auto second = store_->GetDocument(put.id);
  EXPECT_EQ(second->last_accessed_ms, created + 60'000);
  EXPECT_EQ(second->updated_at_ms, created);
}

TEST_F(SqliteStoreTest, ListDocumentsNewestFirstWithPagingAndCounts) {
  std::vector<int64_t> ids;
  for (int i = 1; i <= 5; ++i) {
    clock_.AdvanceMs(1000);
    std::vector<std::string> texts(static_cast<size_t>(i), "chunk");
    ids.push_back(Put(Doc(std::string(static_cast<size_t>(10 * i), 'x'),
                          "https://d.test/" + std::to_string(i)),
                      Chunks(texts))
                      .id);
  }
  auto ids_of = [](const std::vector<DocumentSummary>& docs) {
    std::vector<int64_t> out;
    for (const DocumentSummary& d : docs) out.push_back(d.id);
    return out;
  };
  auto page1 = store_->ListDocuments(2, 0);
  ASSERT_TRUE(page1.has_value());
  EXPECT_THAT(ids_of(*page1), ElementsAre(ids[4], ids[3]));
  EXPECT_EQ((*page1)[0].chunk_count, 5);
  EXPECT_EQ((*page1)[0].content_length, 50);
  EXPECT_EQ((*page1)[0].url, "https://d.test/5");
  EXPECT_EQ((*page1)[1].chunk_count, 4);
  EXPECT_THAT(ids_of(*store_->ListDocuments(2, 2)), ElementsAre(ids[2], ids[1]));
  EXPECT_THAT(ids_of(*store_->ListDocuments(2, 4)), ElementsAre(ids[0]));
  EXPECT_THAT(*store_->ListDocuments(2, 6), IsEmpty());
  EXPECT_EQ(store_->ListDocuments(0, 0)->size(), 5u);
  auto bad = store_->ListDocuments(2, -1);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code(), StatusCode::kInvalidArgument);
}

TEST_F(SqliteStoreTest, DeleteDocumentCascadesToChunksAndFullText) {
  PutDocumentResult keep = Put(Doc("keep"), Chunks({"keeper words"}));
  PutDocumentResult gone = Put(Doc("gone"), Chunks({"doomed words", "more doomed"}));
  auto deleted = store_->DeleteDocument(gone.id);
  ASSERT_TRUE(deleted.has_value()) << deleted.error().ToString();
  EXPECT_EQ(*deleted, gone.chunk_ids);
  EXPECT_THAT(*store_->GetChunks(gone.chunk_ids), IsEmpty());
  EXPECT_THAT(Search({"doomed"}), IsEmpty());
  EXPECT_THAT(Search({"words"}), ElementsAre(keep.chunk_ids[0]));
  EXPECT_EQ(store_->Stats()->chunks, 1);
  auto again = store_->DeleteDocument(gone.id);
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code(), StatusCode::kNotFound);

  // The external-content FTS index agrees with the chunks table.
  auto conn = SqliteConnection::Open({.path = path_, .writer = true});
  ASSERT_TRUE(conn.has_value());
  EXPECT_TRUE((*conn)->Exec("INSERT INTO chunks_fts(chunks_fts) VALUES ('integrity-check')").ok());
}

TEST_F(SqliteStoreTest, RejectedPutStoresNothing) {
  std::vector<NewChunk> chunks = Chunks({"a", "b"});
  chunks[1].chunk_index = 0;  // duplicate index
  auto dup = store_->PutDocument(Doc("dup"), chunks, "m");
  ASSERT_FALSE(dup.has_value());
  EXPECT_EQ(dup.error().code(), StatusCode::kInvalidArgument);
  NewDocument bad_meta = Doc("meta");
  bad_meta.metadata_json = "{oops";
  auto meta = store_->PutDocument(bad_meta, Chunks({"a"}), "m");
  ASSERT_FALSE(meta.has_value());
  EXPECT_EQ(meta.error().code(), StatusCode::kInvalidArgument);
  auto stats = store_->Stats();
  EXPECT_EQ(stats->documents, 0);
  EXPECT_EQ(stats->chunks, 0);
  EXPECT_THAT(Search({"a"}), IsEmpty());
}

// ---- chunks ----

TEST_F(SqliteStoreTest, GetChunksFollowsRequestedOrderAndSkipsMissing) {
  PutDocumentResult put = Put(Doc("d", "https://c.test/"), Chunks({"c0", "c1", "c2"}));
  auto views = store_->GetChunks({put.chunk_ids[2], 999'999, put.chunk_ids[0]});
  ASSERT_TRUE(views.has_value());
  ASSERT_EQ(views->size(), 2u);
  EXPECT_EQ((*views)[0].chunk_id, put.chunk_ids[2]);
  EXPECT_EQ((*views)[0].text, "c2");
  EXPECT_EQ((*views)[0].chunk_index, 2);
  EXPECT_EQ((*views)[0].document_id, put.id);
  EXPECT_EQ((*views)[0].title, "Title");
  EXPECT_EQ((*views)[0].url, "https://c.test/");
  EXPECT_EQ((*views)[0].metadata_json, R"({"i":2})");
  EXPECT_EQ((*views)[1].chunk_id, put.chunk_ids[0]);
  EXPECT_THAT(*store_->GetChunks({}), IsEmpty());
}

TEST_F(SqliteStoreTest, SearchTextStemsAndOrsTerms) {
  PutDocumentResult put =
      Put(Doc("d"), Chunks({"The dog runs in the park", "Cats sleep all day", "Nothing here"}));
  EXPECT_THAT(Search({"running"}), ElementsAre(put.chunk_ids[0]));
  std::vector<int64_t> both = Search({"dogs", "cat"});
  EXPECT_THAT(std::set<int64_t>(both.begin(), both.end()),
              (std::set<int64_t>{put.chunk_ids[0], put.chunk_ids[1]}));
  EXPECT_THAT(Search({}), IsEmpty());
  EXPECT_THAT(Search({"", ""}), IsEmpty());
  EXPECT_THAT(Search({"dog"}, 0), IsEmpty());
}

TEST_F(SqliteStoreTest, SearchTextRanksByBm25HigherIsBetter) {
  PutDocumentResult put = Put(Doc("d"), Chunks({"apple banana cherry date elder fig",
                                                "apple apple apple banana cherry date",
                                                "grape kiwi lemon mango nectarine olive"}));
  auto hits = store_->SearchText({"apple"}, 10);
  ASSERT_TRUE(hits.has_value());
  ASSERT_EQ(hits->size(), 2u);
  EXPECT_EQ((*hits)[0].chunk_id, put.chunk_ids[1]);
  EXPECT_EQ((*hits)[1].chunk_id, put.chunk_ids[0]);
  EXPECT_GT((*hits)[0].score, (*hits)[1].score);
  EXPECT_GT((*hits)[1].score, 0.0);
  EXPECT_EQ(store_->SearchText({"apple"}, 1)->size(), 1u);
}

TEST_F(SqliteStoreTest, SearchTextQuotesHostileTerms) {
  PutDocumentResult put = Put(Doc("d"), Chunks({"meet me near the station and wait",
                                                "say \"hello\" to the star", "plain words"}));
  for (const std::string term :
       {"\"", "\"\"", "AND", "OR", "NOT", "*", "NEAR(", "NEAR(a b)", "text:plain", "(", ")",
        "^plain", "-plain", "plain*", "a\"b", "{text}: plain", "\\", "'", ";"}) {
    auto hits = store_->SearchText({term}, 10);
    EXPECT_TRUE(hits.has_value()) << "term [" << term << "]: " << hits.error().ToString();
  }
  EXPECT_THAT(Search({"NEAR("}), ElementsAre(put.chunk_ids[0]));  // the word "near"
  EXPECT_THAT(Search({"AND"}), ElementsAre(put.chunk_ids[0]));    // the word "and"
  EXPECT_THAT(Search({"\"hello\""}), ElementsAre(put.chunk_ids[1]));
  EXPECT_THAT(Search({"*"}), IsEmpty());           // not a wildcard
  EXPECT_THAT(Search({"text:plain"}), IsEmpty());  // a phrase "text plain", not a column filter
  EXPECT_THAT(Search({"plain*"}), ElementsAre(put.chunk_ids[2]));  // "plain", no prefix query
  EXPECT_THAT(Search({"pla*"}), IsEmpty());
}

TEST_F(SqliteStoreTest, ForEachChunkEmbeddingRoundTripsVectorsExactlyInIdOrder) {
  const std::vector<float> special = {0.0f,
                                      -0.0f,
                                      1.0f / 3.0f,
                                      -1e-42f,  // subnormal
                                      std::numeric_limits<float>::max(),
                                      std::numeric_limits<float>::lowest(),
                                      std::numeric_limits<float>::min(),
                                      std::numeric_limits<float>::infinity(),
                                      3.14159265f};
  std::vector<NewChunk> chunks = {
      {.chunk_index = 0, .text = "a", .embedding = special},
      {.chunk_index = 1, .text = "b", .embedding = {}},
      {.chunk_index = 2, .text = "c", .embedding = std::vector<float>(384, -0.25f)},
  };
  auto put = store_->PutDocument(Doc("vectors"), chunks, "hash-384");
  ASSERT_TRUE(put.has_value());

  std::vector<int64_t> ids;
  std::vector<std::string> models;
  std::vector<std::vector<float>> vectors;
  Status s = store_->ForEachChunkEmbedding(
      0, [&](int64_t id, std::string_view model, const std::vector<float>& v) {
        ids.push_back(id);
        models.emplace_back(model);
        vectors.push_back(v);
        return true;
      });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(ids, put->chunk_ids);
  EXPECT_THAT(models, ElementsAre("hash-384", "", "hash-384"));
  ASSERT_EQ(vectors[0].size(), special.size());
  EXPECT_EQ(std::memcmp(vectors[0].data(), special.data(), special.size() * sizeof(float)), 0);
  EXPECT_THAT(vectors[1], IsEmpty());
  EXPECT_EQ(vectors[2], chunks[2].embedding);

  // after_id filters, and returning false stops the scan.
  std::vector<int64_t> after;
  s = store_->ForEachChunkEmbedding(put->chunk_ids[0],
                                    [&](int64_t id, std::string_view, const std::vector<float>&) {
                                      after.push_back(id);
                                      return false;
                                    });
  ASSERT_TRUE(s.ok());
  EXPECT_THAT(after, ElementsAre(put->chunk_ids[1]));
}

TEST_F(SqliteStoreTest, StoreCallsFromInsideForEachCallbackWork) {
  PutDocumentResult put = Put(Doc("nested"), Chunks({"one", "two", "three"}));
  std::vector<std::string> texts;
  Status s = store_->ForEachChunkEmbedding(
      0, [&](int64_t id, std::string_view, const std::vector<float>&) {
        auto views = store_->GetChunks({id});
        EXPECT_TRUE(views.has_value());
        if (views && !views->empty()) texts.push_back((*views)[0].text);
        EXPECT_TRUE(store_->AppendConversation(Turn("cb", "x")).has_value());
        return true;
      });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_THAT(texts, ElementsAre("one", "two", "three"));
  EXPECT_EQ(store_->ListConversations("cb", 0)->size(), 3u);
}

TEST_F(SqliteStoreTest, MaxChunkIdNeverGoesBackToAReusedId) {
  EXPECT_EQ(*store_->MaxChunkId(), 0);
  PutDocumentResult a = Put(Doc("a"), Chunks({"a0", "a1"}));
  PutDocumentResult b = Put(Doc("b"), Chunks({"b0"}));
  EXPECT_EQ(*store_->MaxChunkId(), b.chunk_ids[0]);
  ASSERT_TRUE(store_->DeleteDocument(b.id).has_value());
  EXPECT_EQ(*store_->MaxChunkId(), a.chunk_ids[1]);
  PutDocumentResult c = Put(Doc("c"), Chunks({"c0"}));
  EXPECT_GT(c.chunk_ids[0], b.chunk_ids[0]);
  EXPECT_GT(c.id, b.id);
}

}  // namespace
}  // namespace jrvs::store
