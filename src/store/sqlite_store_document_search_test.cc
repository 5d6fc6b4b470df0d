// Document-level full-text search (migration 2): title and content, title weight, snippets, and
// the index following updates and deletes.
#include <gtest/gtest.h>

#include "store/store_test_util.h"

namespace jrvs::store::testing {
namespace {

class DocumentSearchTest : public SqliteStoreTest {
 protected:
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

TEST_F(DocumentSearchTest, MatchesTitleAndContentWithStemming) {
  int64_t a = Put("Indexing libraries", "A catalogue of books.", "https://a.test/");
  int64_t b = Put("Cooking", "Recipes for indexed soups.");
  auto ids = Search({"index"});
  ASSERT_EQ(ids.size(), 2u);
  auto hits = store_->SearchDocumentsText({"index"}, 10, 1.0);
  ASSERT_TRUE(hits);
  for (const auto& h : *hits) {
    EXPECT_GT(h.score, 0);
    if (h.document_id == a) {
      EXPECT_EQ(h.title, "Indexing libraries");
      ASSERT_TRUE(h.url.has_value());
      EXPECT_EQ(*h.url, "https://a.test/");
    } else {
      EXPECT_EQ(h.document_id, b);
      EXPECT_NE(h.snippet.find("indexed"), std::string::npos) << h.snippet;
    }
  }
}

TEST_F(DocumentSearchTest, TitleWeightChangesTheOrder) {
  int64_t in_title = Put("Zebra migration", "Animals move across the plains every year.");
  int64_t in_body = Put("Plains", "A zebra herd crosses the river; zebra foals follow.");
  EXPECT_EQ(Search({"zebra"}, 10.0).front(), in_title);
  EXPECT_EQ(Search({"zebra"}, 0.1).front(), in_body);
}

TEST_F(DocumentSearchTest, FollowsUpdatesAndDeletes) {
  int64_t id = Put("Page", "The first version mentions dolphins.", "https://x.test/p");
  ASSERT_EQ(Search({"dolphin"}).size(), 1u);
  EXPECT_EQ(Put("Page", "The second version mentions otters.", "https://x.test/p"), id);
  EXPECT_TRUE(Search({"dolphin"}).empty());
  EXPECT_EQ(Search({"otter"}), std::vector<int64_t>{id});
  ASSERT_TRUE(store_->DeleteDocument(id).has_value());
  EXPECT_TRUE(Search({"otter"}).empty());
}

TEST_F(DocumentSearchTest, HostileTermsAreQuotedAndEmptyTermsFindNothing) {
  Put("Quotes", "He said \"NEAR\" and AND * twice.");
  EXPECT_EQ(Search({"NEAR("}).size(), 1u);
  EXPECT_EQ(Search({"AND"}).size(), 1u);
  EXPECT_TRUE(Search({}).empty());
  EXPECT_TRUE(Search({"\""}).empty());
}

TEST_F(DocumentSearchTest, SurvivesReopen) {
  int64_t id = Put("Persistent", "Stored before the reopen.");
  Reopen();
  EXPECT_EQ(Search({"persistent"}), std::vector<int64_t>{id});
}

}  // namespace
}  // namespace jrvs::store::testing
