// Document-level full-text search (migration 2): title and content, title weight, previews, and
// the index following updates and deletes; each test runs on FTS5 and on the in-memory copy.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include "store/store_test_util.h"

namespace jrvs::store::testing {
namespace {

class DocumentSearchTest : public SqliteStoreTest, public ::testing::WithParamInterface<bool> {
 protected:
  void SetUp() override {
    SqliteStoreTest::SetUp();
    InMemory();
  }
  void InMemory() {
    if (GetParam()) {
      ASSERT_TRUE(store_->EnableMemoryFts().ok());
    }
    EXPECT_EQ(store_->memory_fts_enabled(), GetParam());
  }
  int64_t Put(const std::string& title, const std::string& content,
              std::optional<std::string> url = std::nullopt) {
    NewDocument doc;
    doc.title = title;
    doc.content = content;
    doc.url = std::move(url);
    auto r = store_->PutDocument(doc, {}, "none");
    EXPECT_TRUE(r.has_value()) << r.error().ToString();
    return r ? r->id : 0;
  }
  std::vector<int64_t> Search(const std::vector<std::string>& terms, double title_weight = 1.0) {
    auto hits = store_->SearchDocumentsText(terms, 10, title_weight);
    EXPECT_TRUE(hits.has_value()) << hits.error().ToString();
    std::vector<int64_t> ids;
    if (hits) {
      for (const auto& h : *hits) ids.push_back(h.document_id);
    }
    return ids;
  }
};

TEST_P(DocumentSearchTest, MatchesTitleAndContentWithStemming) {
  int64_t a = Put("Indexing libraries", "A catalogue of books.", "https://a.test/");
  int64_t b = Put("Cooking", "Recipes for indexed soups.");
  auto ids = Search({"index"});
  ASSERT_EQ(ids.size(), 2u);
  auto hits = store_->SearchDocumentsText({"index"}, 10, 1.0);
  ASSERT_TRUE(hits);
  for (const auto& h : *hits) EXPECT_GT(h.score, 0);
  auto previews = store_->GetDocumentPreviews({b, 999, a}, {"index"}, 24);
  ASSERT_TRUE(previews) << previews.error().ToString();
  ASSERT_EQ(previews->size(), 2u);  // 999 does not exist
  EXPECT_EQ((*previews)[0].document_id, b);
  EXPECT_EQ((*previews)[0].title, "Cooking");
  EXPECT_FALSE((*previews)[0].url.has_value());
  EXPECT_NE((*previews)[0].snippet.find("indexed"), std::string::npos) << (*previews)[0].snippet;
  EXPECT_EQ((*previews)[1].document_id, a);
  ASSERT_TRUE((*previews)[1].url.has_value());
  EXPECT_EQ(*(*previews)[1].url, "https://a.test/");
}

TEST_P(DocumentSearchTest, SnippetIsAWindowAroundTheMatchesWithEllipses) {
  std::string content;
  for (int i = 0; i < 60; ++i) content += fmt::format("filler{} ", i);
  content += "the otter sleeps on the ice near another otter. ";
  for (int i = 0; i < 60; ++i) content += fmt::format("tail{} ", i);
  int64_t id = Put("Arctic", content);
  auto previews = store_->GetDocumentPreviews({id}, {"otters", "ice"}, 12);
  ASSERT_TRUE(previews);
  ASSERT_EQ(previews->size(), 1u);
  const std::string& snippet = (*previews)[0].snippet;
  EXPECT_EQ(snippet.rfind("...", 0), 0u) << snippet;  // starts cut
  EXPECT_EQ(snippet.substr(snippet.size() - 3), "...") << snippet;
  EXPECT_NE(snippet.find("otter sleeps on the ice"), std::string::npos) << snippet;
  EXPECT_EQ(snippet.find("filler10 "), std::string::npos) << snippet;
  // No match: the first words.
  previews = store_->GetDocumentPreviews({id}, {"penguin"}, 3);
  ASSERT_TRUE(previews);
  EXPECT_EQ((*previews)[0].snippet, "filler0 filler1 filler2...");
}

TEST_P(DocumentSearchTest, TitleWeightChangesTheOrder) {
  int64_t in_title = Put("Zebra migration", "Animals move across the plains every year.");
  int64_t in_body = Put("Plains", "A zebra herd crosses the river; zebra foals follow.");
  EXPECT_EQ(Search({"zebra"}, 10.0).front(), in_title);
  EXPECT_EQ(Search({"zebra"}, 0.1).front(), in_body);
}

TEST_P(DocumentSearchTest, FollowsUpdatesAndDeletes) {
  int64_t id = Put("Page", "The first version mentions dolphins.", "https://x.test/p");
  ASSERT_EQ(Search({"dolphin"}).size(), 1u);
  EXPECT_EQ(Put("Page", "The second version mentions otters.", "https://x.test/p"), id);
  EXPECT_TRUE(Search({"dolphin"}).empty());
  EXPECT_EQ(Search({"otter"}), std::vector<int64_t>{id});
  ASSERT_TRUE(store_->DeleteDocument(id).has_value());
  EXPECT_TRUE(Search({"otter"}).empty());
}

TEST_P(DocumentSearchTest, HostileTermsAreQuotedAndEmptyTermsFindNothing) {
  Put("Quotes", "He said \"NEAR\" and AND * twice.");
  EXPECT_EQ(Search({"NEAR("}).size(), 1u);
  EXPECT_EQ(Search({"AND"}).size(), 1u);
  EXPECT_TRUE(Search({}).empty());
  EXPECT_TRUE(Search({"\""}).empty());
}

TEST_P(DocumentSearchTest, SurvivesReopen) {
  int64_t id = Put("Persistent", "Stored before the reopen.");
  Reopen();
  InMemory();
  EXPECT_EQ(Search({"persistent"}), std::vector<int64_t>{id});
}

INSTANTIATE_TEST_SUITE_P(Fts5AndMemory, DocumentSearchTest, ::testing::Bool(),
                         [](const auto& p) { return p.param ? "memory" : "fts5"; });

}  // namespace
}  // namespace jrvs::store::testing
