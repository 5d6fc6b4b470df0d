// FtsPlanner: which terms reach FTS5 (the pure decision, then through a real SqliteStore).
#include "store/fts_planner.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "store/store_test_util.h"

namespace jrvs::store {
namespace {

using Strings = std::vector<std::string>;

TEST(PlanFtsTermsTest, DropsTermsInMoreThanTheFractionOfRows) {
  const FtsPlan plan = PlanFtsTerms({"the", "zebra", "plain"}, {990, 3, 400}, 1000, 1000, {});
  EXPECT_EQ(plan.kept, (Strings{"zebra", "plain"}));
  EXPECT_EQ(plan.dropped, Strings{"the"});
  EXPECT_EQ(plan.match, "\"zebra\" OR \"plain\"");
  EXPECT_EQ(plan.min_rowid, 0);
}

TEST(PlanFtsTermsTest, AlwaysKeepsTheRarestTermThatMatches) {
  const FtsPlan plan = PlanFtsTerms({"a", "b", "missing"}, {900, 800, 0}, 1000, 1000, {});
  EXPECT_EQ(plan.kept, Strings{"b"});
  EXPECT_EQ(plan.dropped, (Strings{"missing", "a"}));
  // Nothing matches: the query still holds a term (and finds nothing).
  EXPECT_EQ(PlanFtsTerms({"x", "y"}, {0, 0}, 10, 10, {}).kept, Strings{"x"});
}

TEST(PlanFtsTermsTest, DropsTheMostCommonTermsOverThePostingsBudget) {
  FtsPlannerOptions o;
  o.max_postings = 100;
  const FtsPlan plan = PlanFtsTerms({"c", "a", "b"}, {70, 10, 30}, 100000, 100000, o);
  EXPECT_EQ(plan.kept, (Strings{"a", "b"}));
  EXPECT_EQ(plan.dropped, Strings{"c"});
  EXPECT_EQ(plan.min_rowid, 0);
}

TEST(PlanFtsTermsTest, AQueryWithoutASelectiveTermSearchesTheNewestRows) {
  FtsPlannerOptions o;
  o.max_unselective_rows = 100;
  o.max_df_fraction = 1.0;
  const FtsPlan plan = PlanFtsTerms({"every"}, {1000}, 1000, 1000, o);
  EXPECT_EQ(plan.kept, Strings{"every"});
  // A tenth of the matches: about the newest tenth of the rows.
  EXPECT_GE(plan.min_rowid, 890);
  EXPECT_LE(plan.min_rowid, 910);
  // One selective term (df <= 100) is enough to search every row.
  EXPECT_EQ(PlanFtsTerms({"every", "rare"}, {1000, 50}, 1000, 1000, o).min_rowid, 0);
}

class FtsPlannerStoreTest : public testing::SqliteStoreTest {
 protected:
  void PutDocs() {
    for (int i = 0; i < 20; ++i) {
      std::string text = "common words everywhere number " + std::to_string(i);
      if (i % 10 == 3) text += " zebra";
      Put(Doc(text), Chunks({text}));
    }
  }
  std::vector<int64_t> SearchDocs(const Strings& terms) {
    auto hits = store_->SearchDocumentsText(terms, 100, 1.0);
    EXPECT_TRUE(hits.has_value()) << hits.error().ToString();
    std::vector<int64_t> ids;
    for (const auto& h : hits.value_or(std::vector<DocumentTextHit>{}))
      ids.push_back(h.document_id);
    return ids;
  }
};

TEST_F(FtsPlannerStoreTest, ACommonTermNoLongerMatchesEveryDocument) {
  PutDocs();
  // "common" is in all 20 documents and dropped; only the two with "zebra" match.
  EXPECT_EQ(SearchDocs({"common", "zebra"}).size(), 2u);
  EXPECT_EQ(Search({"common", "zebra"}).size(), 2u);
  // Alone, the common term is kept: a query never becomes empty.
  EXPECT_EQ(SearchDocs({"common"}).size(), 20u);
  EXPECT_EQ(Search({"common"}, 100).size(), 20u);
  // A term that matches nothing does not hide the one that does.
  EXPECT_EQ(SearchDocs({"absent", "common"}).size(), 20u);
}

TEST_F(FtsPlannerStoreTest, CachedFrequenciesFollowTheCorpusAsItGrows) {
  PutDocs();
  ASSERT_EQ(SearchDocs({"common", "zebra"}).size(), 2u);  // caches df(zebra) = 2 of 20
  // Zebra becomes common: 40 more documents, all with zebra (60 rows; the cache is stale past 25).
  for (int i = 0; i < 40; ++i) {
    const std::string text = "zebra stripes " + std::to_string(i);
    Put(Doc(text), Chunks({text}));
  }
  // df(zebra) = 42 of 60 > half, df(common) = 20: now "common" is the rarest and is kept.
  EXPECT_EQ(SearchDocs({"common", "zebra"}).size(), 20u);
}

TEST_F(FtsPlannerStoreTest, AnUnselectiveQuerySearchesTheNewestRows) {
  SqliteOptions o;
  o.path = dir_.File("floor.db");
  o.fts_planner.max_unselective_rows = 5;
  auto opened = SqliteStore::Open(o, nullptr, &clock_);
  ASSERT_TRUE(opened.has_value()) << opened.error().ToString();
  store_ = std::move(*opened);
  PutDocs();
  // "common" is in all 20 documents: only about the newest 5 (ids 16..20) are searched.
  const auto docs = SearchDocs({"common"});
  ASSERT_GE(docs.size(), 4u);
  ASSERT_LE(docs.size(), 6u);
  for (int64_t id : docs) EXPECT_GE(id, 15);
  const auto chunks = Search({"common"}, 100);
  ASSERT_GE(chunks.size(), 4u);
  ASSERT_LE(chunks.size(), 6u);
  // A selective term searches every row.
  EXPECT_EQ(SearchDocs({"zebra", "common"}).size(), 2u);
}

}  // namespace
}  // namespace jrvs::store
