// MemoryFts alone, and SqliteStore with its in-memory full-text copies: same ranking as FTS5,
// writes followed in commit order, deletes, compaction.
#include "store/memory_fts.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <thread>

#include <fmt/format.h>

#include "store/store_test_util.h"

namespace jrvs::store::testing {
namespace {

class MemoryFtsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = FtsTokenizer::Create();
    ASSERT_TRUE(t.has_value()) << t.error().ToString();
    tokenizer_ = std::move(*t);
  }
  MemoryFtsRow Row(MemoryFts& index, int64_t id, std::string_view a, std::string_view b = "") {
    const std::string_view columns[] = {a, b};
    auto row = index.Prepare(*tokenizer_, id, id * 10, columns);
    EXPECT_TRUE(row.has_value());
    return row.value_or(MemoryFtsRow{});
  }
  void Add(MemoryFts& index, int64_t id, std::string_view a, std::string_view b = "") {
    std::vector<MemoryFtsRow> rows;
    rows.push_back(Row(index, id, a, b));
    index.Apply(std::move(rows), {});
  }
  std::vector<int64_t> Ids(const MemoryFts& index, std::vector<std::string> tokens,
                           size_t limit = 10, std::vector<double> weights = {}) {
    std::vector<int64_t> ids;
    for (const auto& h : index.Search(tokens, limit, weights)) ids.push_back(h.id);
    return ids;
  }
  std::unique_ptr<FtsTokenizer> tokenizer_;
};

TEST_F(MemoryFtsTest, TokenizesLikeFts5PorterUnicode61) {
  std::vector<std::string> tokens;
  ASSERT_TRUE(tokenizer_
                  ->Tokenize("Running DOGS, naïve café-owners!", FtsTokenizer::Purpose::kDocument,
                             [&](std::string_view t, size_t, size_t) { tokens.emplace_back(t); })
                  .ok());
  EXPECT_EQ(tokens, (std::vector<std::string>{"run", "dog", "naiv", "cafe", "owner"}));
}

TEST_F(MemoryFtsTest, RanksByBm25AndFollowsReplaceAndRemove) {
  MemoryFts index(1);
  Add(index, 1, "the cat sat on the mat");
  Add(index, 2, "a cat and another cat and a third cat");
  Add(index, 3, "dogs only here");
  EXPECT_EQ(Ids(index, {"cat"}), (std::vector<int64_t>{2, 1}));
  EXPECT_EQ(Ids(index, {"cat"}, 1), (std::vector<int64_t>{2}));
  EXPECT_EQ(Ids(index, {"dog"}), (std::vector<int64_t>{3}));
  EXPECT_TRUE(Ids(index, {"zebra"}).empty());
  EXPECT_EQ(index.Parent(2), 20);
  // Same id again replaces the row.
  Add(index, 2, "no felines any more");
  EXPECT_EQ(Ids(index, {"cat"}), (std::vector<int64_t>{1}));
  EXPECT_EQ(Ids(index, {"felin"}), (std::vector<int64_t>{2}));
  const int64_t gone[] = {1, 42};
  index.Apply({}, gone);
  EXPECT_TRUE(Ids(index, {"cat"}).empty());
  EXPECT_FALSE(index.Parent(1).has_value());
  EXPECT_EQ(index.GetStats().live_rows, 2u);
  EXPECT_EQ(index.GetStats().dead_rows, 2u);
}

TEST_F(MemoryFtsTest, ColumnWeightsChangeTheOrder) {
  MemoryFts index(2);
  Add(index, 1, "zebra migration", "animals move across the plains every year");
  Add(index, 2, "plains", "a zebra herd crosses the river and zebra foals follow");
  EXPECT_EQ(Ids(index, {"zebra"}, 10, {10.0, 1.0}).front(), 1);
  EXPECT_EQ(Ids(index, {"zebra"}, 10, {0.1, 1.0}).front(), 2);
}

TEST_F(MemoryFtsTest, CommonTermsAreLeftOutButTheRarestIsKept) {
  MemoryFts index(1);
  for (int i = 0; i < 10; ++i) Add(index, i + 1, i == 4 ? "common rare" : "common words");
  EXPECT_EQ(Ids(index, {"common", "rare"}), (std::vector<int64_t>{5}));
  EXPECT_EQ(Ids(index, {"common"}).size(), 10u);
}

TEST_F(MemoryFtsTest, CompactionKeepsResultsAndDropsDeadRows) {
  MemoryFts index(1);
  std::vector<MemoryFtsRow> rows;
  for (int i = 1; i <= 3000; ++i) {
    rows.push_back(Row(index, i, fmt::format("word{}{}", i % 50, i % 7 == 0 ? " seven" : "")));
  }
  index.Apply(std::move(rows), {});
  auto before = index.Search(std::vector<std::string>{"seven"}, 1000, {});
  std::vector<int64_t> remove;
  for (int i = 1; i <= 3000; ++i) {
    if (i % 3 != 0) remove.push_back(i);
  }
  index.Apply({}, remove);  // 2,000 dead of 3,000: compacts
  MemoryFtsStats stats = index.GetStats();
  EXPECT_EQ(stats.dead_rows, 0u);
  EXPECT_EQ(stats.live_rows, 1000u);
  auto after = index.Search(std::vector<std::string>{"seven"}, 1000, {});
  std::vector<int64_t> expected;
  for (const auto& h : before) {
    if (h.id % 3 == 0) expected.push_back(h.id);
  }
  std::vector<int64_t> got;
  for (const auto& h : after) got.push_back(h.id);
  std::sort(expected.begin(), expected.end());
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, expected);
  EXPECT_EQ(index.Parent(21), 210);
  EXPECT_FALSE(index.Parent(22).has_value());
  // Rows added after a compaction are found.
  Add(index, 5000, "seven fresh");
  EXPECT_EQ(Ids(index, {"fresh"}), (std::vector<int64_t>{5000}));
}

// ---- through SqliteStore ----

class MemoryFtsStoreTest : public SqliteStoreTest {
 protected:
  // Random documents over a small Zipf-like vocabulary, so terms repeat and dfs vary.
  void PutRandomCorpus(int docs, uint32_t seed) {
    std::mt19937 rng(seed);
    std::vector<std::string> vocab;
    for (int i = 0; i < 300; ++i) vocab.push_back(fmt::format("w{}x", i));
    std::vector<double> weights;
    for (int i = 0; i < 300; ++i) weights.push_back(1.0 / (i + 1));
    std::discrete_distribution<int> pick(weights.begin(), weights.end());
    std::uniform_int_distribution<int> length(5, 80);
    for (int d = 0; d < docs; ++d) {
      auto words = [&] {
        std::string text;
        for (int n = length(rng); n > 0; --n) text += vocab[pick(rng)] + " ";
        return text;
      };
      std::string content = words();
      Put(Doc(content, fmt::format("https://c.test/{}", d), words().substr(0, 30)),
          Chunks({content.substr(0, content.size() / 2), content.substr(content.size() / 2)}));
    }
  }
  std::vector<std::vector<std::string>> Queries(int n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> word(0, 299);
    std::uniform_int_distribution<int> len(1, 3);
    std::vector<std::vector<std::string>> queries;
    for (int q = 0; q < n; ++q) {
      std::vector<std::string> terms;
      for (int k = len(rng); k > 0; --k) terms.push_back(fmt::format("w{}x", word(rng)));
      queries.push_back(terms);
    }
    return queries;
  }
  using Ranking = std::vector<std::pair<int64_t, double>>;
  Ranking ChunkRanking(const std::vector<std::string>& terms) {
    Ranking out;
    auto hits = store_->SearchText(terms, 1000);
    EXPECT_TRUE(hits);
    for (const auto& h : hits.value_or(std::vector<TextHit>{}))
      out.emplace_back(h.chunk_id, h.score);
    return out;
  }
  Ranking DocumentRanking(const std::vector<std::string>& terms) {
    Ranking out;
    auto hits = store_->SearchDocumentsText(terms, 1000, 2.0);
    EXPECT_TRUE(hits);
    for (const auto& h : hits.value_or(std::vector<DocumentTextHit>{}))
      out.emplace_back(h.document_id, h.score);
    return out;
  }
  // Same rows with the same scores (FTS5 orders equal scores arbitrarily, so compare by id).
  static void ExpectSame(Ranking fts5, Ranking memory, const std::string& what) {
    ASSERT_EQ(fts5.size(), memory.size()) << what;
    std::sort(fts5.begin(), fts5.end());
    std::sort(memory.begin(), memory.end());
    for (size_t i = 0; i < fts5.size(); ++i) {
      ASSERT_EQ(fts5[i].first, memory[i].first) << what;
      ASSERT_NEAR(fts5[i].second, memory[i].second, 1e-9 * std::max(1.0, fts5[i].second)) << what;
    }
  }
};

TEST_F(MemoryFtsStoreTest, RanksExactlyLikeFts5) {
  PutRandomCorpus(300, 7);
  auto queries = Queries(60, 11);
  std::vector<Ranking> chunk_rankings, document_rankings;
  for (const auto& q : queries) {
    chunk_rankings.push_back(ChunkRanking(q));
    document_rankings.push_back(DocumentRanking(q));
  }
  ASSERT_TRUE(store_->EnableMemoryFts().ok());
  ASSERT_TRUE(store_->memory_fts_enabled());
  size_t nonempty = 0;
  for (size_t i = 0; i < queries.size(); ++i) {
    ExpectSame(chunk_rankings[i], ChunkRanking(queries[i]), fmt::format("chunks, query {}", i));
    ExpectSame(document_rankings[i], DocumentRanking(queries[i]),
               fmt::format("documents, query {}", i));
    nonempty += chunk_rankings[i].empty() ? 0 : 1;
  }
  EXPECT_GT(nonempty, 40u);  // the comparison compared something
  EXPECT_EQ(store_->MemoryFtsChunkStats().live_rows, 600u);
  EXPECT_EQ(store_->MemoryFtsDocumentStats().live_rows, 300u);
}

TEST_F(MemoryFtsStoreTest, FollowsWritesUpdatesAndDeletes) {
  ASSERT_TRUE(store_->EnableMemoryFts().ok());
  auto a = Put(Doc("alpha document about otters", "https://x.test/a"),
               Chunks({"otters sleep on ice", "they eat clams"}));
  auto b = Put(Doc("beta document", "https://x.test/b"), Chunks({"penguins sleep standing"}));
  EXPECT_EQ(Search({"otter"}), std::vector<int64_t>{a.chunk_ids[0]});
  EXPECT_EQ(Search({"sleep"}).size(), 2u);
  auto refs = store_->ChunkDocumentIds({b.chunk_ids[0], 999, a.chunk_ids[1]});
  ASSERT_TRUE(refs);
  ASSERT_EQ(refs->size(), 2u);
  EXPECT_EQ((*refs)[0].document_id, b.id);
  EXPECT_EQ((*refs)[1].document_id, a.id);
  // Update: the old chunks leave, the new ones come.
  auto a2 = Put(Doc("alpha rewritten about seals", "https://x.test/a"), Chunks({"seals swim"}));
  EXPECT_EQ(a2.id, a.id);
  EXPECT_TRUE(Search({"otter"}).empty());
  EXPECT_EQ(Search({"seal"}), std::vector<int64_t>{a2.chunk_ids[0]});
  auto docs = store_->SearchDocumentsText({"otters"}, 10, 1.0);
  ASSERT_TRUE(docs);
  EXPECT_TRUE(docs->empty());
  ASSERT_TRUE(store_->DeleteDocument(b.id).has_value());
  EXPECT_TRUE(Search({"penguin"}).empty());
  refs = store_->ChunkDocumentIds({b.chunk_ids[0]});
  ASSERT_TRUE(refs);
  EXPECT_TRUE(refs->empty());
}

TEST_F(MemoryFtsStoreTest, ConcurrentUpdatesEndWhereTheDatabaseEnds) {
  ASSERT_TRUE(store_->EnableMemoryFts().ok());
  // Many threads rewrite the same few URLs: the copy must hold the last committed version of
  // each, which only holds if it applies the writes in commit order.
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([this, t] {
      for (int i = 0; i < 40; ++i) {
        std::string word = fmt::format("v{}x{}y", t, i);
        NewDocument doc =
            Doc(fmt::format("version {}", word), fmt::format("https://x.test/{}", i % 3));
        (void)store_->PutDocument(doc, Chunks({fmt::format("chunk {}", word)}), "hash-384");
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int u = 0; u < 3; ++u) {
    auto summary = store_->ListDocuments(0, 0);
    ASSERT_TRUE(summary);
  }
  auto all = store_->ListDocuments(0, 0);
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 3u);
  for (const auto& s : *all) {
    auto doc = store_->GetDocument(s.id);
    ASSERT_TRUE(doc);
    std::string word = doc->content.substr(std::string("version ").size());
    auto hits = store_->SearchDocumentsText({word}, 10, 1.0);
    ASSERT_TRUE(hits);
    ASSERT_EQ(hits->size(), 1u) << word;
    EXPECT_EQ((*hits)[0].document_id, s.id);
    EXPECT_EQ(Search({word}).size(), 1u) << word;
  }
  EXPECT_EQ(store_->MemoryFtsDocumentStats().live_rows, 3u);
  EXPECT_EQ(store_->MemoryFtsChunkStats().live_rows, 3u);
}

}  // namespace
}  // namespace jrvs::store::testing
