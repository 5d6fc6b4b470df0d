// MemoryFts alone, and SqliteStore with its in-memory full-text copies: same ranking as FTS5,
// writes followed in commit order, deletes, compaction.
#include "store/memory_fts.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>

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

// ---- the vocabulary and row tables, against a plain model ----

// A row made by hand (no tokenizer): `terms` are distinct, with their occurrences per column.
MemoryFtsRow HandRow(int64_t id,
                     const std::vector<std::pair<std::string, std::array<uint32_t, 2>>>& terms) {
  MemoryFtsRow row;
  row.id = id;
  row.parent = id * 10;
  for (const auto& [token, tf] : terms) {
    row.terms.push_back(MemoryFtsRow::Term{.token = token, .tf = {tf[0], tf[1]}});
    row.length += tf[0] + tf[1];
  }
  return row;
}

// FTS5's bm25() over the live rows, computed row by row from the rows as given (so it agrees
// with MemoryFts while no removed row is waiting for a compaction).
class ReferenceIndex {
 public:
  explicit ReferenceIndex(size_t columns) : columns_(columns) {}

  void Apply(const std::vector<MemoryFtsRow>& add, std::span<const int64_t> remove) {
    for (int64_t id : remove) rows_.erase(id);
    for (const MemoryFtsRow& row : add) rows_[row.id] = row;
  }
  // Applies to both.
  void Apply(MemoryFts& index, const std::vector<MemoryFtsRow>& add,
             std::span<const int64_t> remove) {
    Apply(add, remove);
    index.Apply(add, remove);
  }
  const std::map<int64_t, MemoryFtsRow>& rows() const { return rows_; }
  size_t Terms() const {
    std::set<std::string> terms;
    for (const auto& [id, row] : rows_) {
      for (const auto& term : row.terms) terms.insert(term.token);
    }
    return terms.size();
  }
  size_t Postings() const {
    size_t postings = 0;
    for (const auto& [id, row] : rows_) postings += row.terms.size();
    return postings;
  }
  // Every live row matching a token, by id, with its score.
  std::vector<MemoryFtsHit> Search(const std::vector<std::string>& tokens,
                                   const std::vector<double>& weights) const {
    std::vector<MemoryFtsHit> out;
    if (rows_.empty()) return out;
    double w[2] = {1, 1};
    for (size_t c = 0; c < std::min<size_t>(weights.size(), 2); ++c) w[c] = weights[c];
    const double n = static_cast<double>(rows_.size());
    double total = 0;
    for (const auto& [id, row] : rows_) total += row.length;
    const double avgdl = total / n;
    std::vector<double> idf;
    for (const std::string& token : tokens) {
      double df = 0;
      for (const auto& [id, row] : rows_) df += Find(row, token) != nullptr ? 1 : 0;
      double v = std::log((n - df + 0.5) / (df + 0.5));
      idf.push_back(v <= 0 ? 1e-6 : v);
    }
    for (const auto& [id, row] : rows_) {
      double score = 0;
      bool matched = false;
      for (size_t k = 0; k < tokens.size(); ++k) {
        const MemoryFtsRow::Term* term = Find(row, tokens[k]);
        if (term == nullptr) continue;
        matched = true;
        const double f = w[0] * term->tf[0] + (columns_ > 1 ? w[1] * term->tf[1] : 0.0);
        const double norm = 1.2 * (1 - 0.75 + 0.75 * row.length / avgdl);
        score += idf[k] * (f * 2.2) / (f + norm);
      }
      if (matched) out.push_back(MemoryFtsHit{.id = id, .score = score});
    }
    return out;
  }

 private:
  static const MemoryFtsRow::Term* Find(const MemoryFtsRow& row, const std::string& token) {
    for (const auto& term : row.terms) {
      if (term.token == token) return &term;
    }
    return nullptr;
  }
  size_t columns_;
  std::map<int64_t, MemoryFtsRow> rows_;
};

// Every query returns the rows the model finds, with the same scores, best first.
void ExpectMatchesReference(const MemoryFts& index, const ReferenceIndex& reference,
                            const std::vector<std::vector<std::string>>& queries,
                            const std::vector<double>& weights = {}) {
  MemoryFtsStats stats = index.GetStats();
  ASSERT_EQ(stats.dead_rows, 0u);  // the model's dfs count live rows only
  ASSERT_EQ(stats.live_rows, reference.rows().size());
  for (const auto& query : queries) {
    const std::string what = fmt::format("query {}", fmt::join(query, " "));
    auto hits = index.Search(query, std::numeric_limits<size_t>::max(), weights, 1.0);
    for (size_t i = 1; i < hits.size(); ++i) {
      ASSERT_TRUE(hits[i - 1].score > hits[i].score ||
                  (hits[i - 1].score == hits[i].score && hits[i - 1].id < hits[i].id))
          << what;
    }
    auto expected = reference.Search(query, weights);
    ASSERT_EQ(hits.size(), expected.size()) << what;
    std::sort(hits.begin(), hits.end(), [](auto& a, auto& b) { return a.id < b.id; });
    for (size_t i = 0; i < hits.size(); ++i) {
      ASSERT_EQ(hits[i].id, expected[i].id) << what;
      ASSERT_NEAR(hits[i].score, expected[i].score, 1e-12 * std::abs(expected[i].score)) << what;
    }
  }
}

TEST(MemoryFtsVocabularyTest, ManyTermsSurviveTableGrowth) {
  MemoryFts index(1);
  ReferenceIndex reference(1);
  constexpr int kRows = 4000;
  for (int first = 0; first < kRows; first += 500) {  // the term table doubles seven times
    std::vector<MemoryFtsRow> rows;
    for (int i = first; i < first + 500; ++i) {
      rows.push_back(HandRow(i + 1, {{fmt::format("t{}", i), {1 + i % 5u, 0}},
                                     {fmt::format("g{}", i % 97), {1, 0}},
                                     {fmt::format("h{}", i % 13), {2, 0}}}));
    }
    reference.Apply(index, rows, {});
  }
  EXPECT_EQ(index.GetStats().terms, kRows + 97u + 13u);
  EXPECT_EQ(index.GetStats().postings, 3u * kRows);
  for (int i = 0; i < kRows; ++i) {
    auto hits = index.Search(std::vector<std::string>{fmt::format("t{}", i)}, 10, {});
    ASSERT_EQ(hits.size(), 1u) << i;
    EXPECT_EQ(hits[0].id, i + 1);
  }
  // Absent terms, some of them prefixes or extensions of present ones.
  for (std::string absent : {"t4000", "t", "t00", "t12x", "g97", "h", "", "zzz"}) {
    EXPECT_TRUE(index.Search(std::vector<std::string>{absent}, 10, {}).empty()) << absent;
  }
  ExpectMatchesReference(index, reference,
                         {{"g5"}, {"h3"}, {"g5", "h3"}, {"t17", "g17"}, {"t3999", "h0", "nope"}});
}

TEST(MemoryFtsVocabularyTest, PostingsCrossFromInPlaceToHeapBlocks) {
  // A term gains postings one row at a time, with slot gaps and frequencies of 1 to 3 varint
  // bytes, so its list crosses the in-place limit at different points; checked after each row,
  // with Shrink() between every other row.
  const std::array<uint32_t, 6> tfs = {1, 127, 128, 300, 16384, 70000};
  for (size_t columns : {1u, 2u}) {
    MemoryFts index(columns);
    ReferenceIndex reference(columns);
    const std::vector<double> weights = {2.0, 0.5};
    int64_t id = 0;
    for (int j = 0; j < 30; ++j) {
      std::vector<MemoryFtsRow> rows;
      const int gap = j == 5 || j == 23 ? 16400 : (j % 3 == 0 ? 130 : j % 3);
      for (int k = 0; k < gap; ++k) rows.push_back(HandRow(++id, {{"filler", {1, 1}}}));
      std::vector<std::pair<std::string, std::array<uint32_t, 2>>> terms = {
          {"p", {tfs[j % 6], tfs[(j + 2) % 6]}}};
      for (int q = j; q < 30; q += 7) terms.push_back({fmt::format("q{}", q), {1, 2}});
      rows.push_back(HandRow(++id, terms));
      reference.Apply(index, rows, {});
      if (j % 2 == 1) index.Shrink();  // and lists grow again from blocks cut to fit
      ASSERT_NO_FATAL_FAILURE(
          ExpectMatchesReference(index, reference, {{"p"}, {"p", "q3"}, {"q6", "q20"}}, weights))
          << "columns " << columns << ", row " << j;
    }
    ASSERT_EQ(index.Search(std::vector<std::string>{"p"}, 100, weights, 1.0).size(), 30u);
  }
}

TEST(MemoryFtsVocabularyTest, LongTermsAndTermsThatArePrefixesOfOthers) {
  MemoryFts index(2);
  ReferenceIndex reference(2);
  std::vector<int> lengths;
  for (int length = 1; length <= 300; ++length) lengths.push_back(length);
  std::shuffle(lengths.begin(), lengths.end(), std::mt19937(5));  // characters stored out of order
  std::vector<MemoryFtsRow> rows;
  for (int length : lengths) {
    rows.push_back(HandRow(length, {{std::string(length, 'a'), {1, 0}}, {"x", {0, 1}}}));
  }
  std::string long_term;
  for (int i = 0; i < 200; ++i) long_term += static_cast<char>('b' + i % 23);
  rows.push_back(HandRow(1000, {{long_term, {3, 1}}, {"", {1, 0}}}));  // and the empty token
  reference.Apply(index, rows, {});
  for (int length = 1; length <= 300; ++length) {
    auto hits = index.Search(std::vector<std::string>{std::string(length, 'a')}, 10, {});
    ASSERT_EQ(hits.size(), 1u) << length;
    EXPECT_EQ(hits[0].id, length);
  }
  EXPECT_TRUE(index.Search(std::vector<std::string>{std::string(301, 'a')}, 10, {}).empty());
  EXPECT_TRUE(index.Search(std::vector<std::string>{long_term.substr(0, 199)}, 10, {}).empty());
  EXPECT_EQ(index.GetStats().terms, 300u + 1 + 2);
  ExpectMatchesReference(index, reference,
                         {{long_term}, {""}, {"x", long_term}, {"aaa", std::string(250, 'a')}});
}

TEST(MemoryFtsVocabularyTest, CompactionRebuildsTermsAndRows) {
  MemoryFts index(1);
  ReferenceIndex reference(1);
  auto row = [](int i) {
    return HandRow(i, {{fmt::format("c{}", i % 50), {1 + i % 3u, 0}},
                       {fmt::format("only{}", i), {1, 0}},
                       {fmt::format("shared{}", i % 700), {2, 0}}});
  };
  std::vector<MemoryFtsRow> rows;
  for (int i = 1; i <= 6000; ++i) rows.push_back(row(i));
  reference.Apply(index, rows, {});
  const std::vector<std::vector<std::string>> queries = {
      {"c7"}, {"only3"}, {"only1"}, {"shared5", "c5"}, {"shared699", "only6000", "c0"}};
  ExpectMatchesReference(index, reference, queries);

  std::vector<int64_t> remove;
  for (int i = 1; i <= 6000; ++i) {
    if (i % 3 != 0) remove.push_back(i);
  }
  reference.Apply(index, {}, remove);  // 4,000 dead of 6,000: compacts
  MemoryFtsStats stats = index.GetStats();
  EXPECT_EQ(stats.dead_rows, 0u);
  EXPECT_EQ(stats.terms, reference.Terms());  // terms only in removed rows are gone
  EXPECT_EQ(stats.postings, reference.Postings());
  EXPECT_TRUE(index.Search(std::vector<std::string>{"only1"}, 10, {}).empty());
  ExpectMatchesReference(index, reference, queries);
  for (int i = 1; i <= 6000; ++i) {
    ASSERT_EQ(index.Parent(i), i % 3 == 0 ? std::optional<int64_t>(i * 10) : std::nullopt) << i;
  }

  // After the compaction: dropped terms come back, kept ones grow, and a second one follows.
  rows.clear();
  for (int i = 7001; i <= 8000; ++i) {
    rows.push_back(HandRow(i, {{fmt::format("only{}", i - 7000), {1, 0}},
                               {fmt::format("shared{}", i % 700), {1, 0}},
                               {"fresh", {1, 0}}}));
  }
  reference.Apply(index, rows, {});
  ExpectMatchesReference(index, reference,
                         {{"only1"}, {"only3"}, {"fresh", "c5"}, {"shared5"}, {"shared0", "c1"}});
  remove.clear();
  for (int i = 3; i <= 6000; i += 3) remove.push_back(i);
  reference.Apply(index, {}, remove);  // 2,000 dead of 3,000: compacts again
  EXPECT_EQ(index.GetStats().dead_rows, 0u);
  EXPECT_EQ(index.GetStats().terms, reference.Terms());
  ExpectMatchesReference(index, reference, {{"only1"}, {"only3"}, {"fresh"}, {"c5"}, {"shared1"}});
}

TEST(MemoryFtsVocabularyTest, RowIdsFollowAddsReplacesAndRemoves) {
  // Ids from a small pool, so that adds replace and removes hit; extreme and patterned ids too.
  std::vector<int64_t> pool = {0, -1, std::numeric_limits<int64_t>::min(),
                               std::numeric_limits<int64_t>::max()};
  for (int64_t i = 1; i <= 3000; ++i) pool.push_back(i % 3 == 0 ? i << 32 : i);
  std::mt19937 rng(9);
  std::uniform_int_distribution<size_t> pick(0, pool.size() - 1);
  MemoryFts index(1);
  std::map<int64_t, int64_t> live;  // id -> parent
  for (int round = 0; round < 40; ++round) {
    std::vector<MemoryFtsRow> add;
    std::vector<int64_t> remove;
    for (int k = 0; k < 400; ++k) {
      const int64_t id = pool[pick(rng)];
      if (rng() % 3 == 0) {
        remove.push_back(id);
      } else {
        MemoryFtsRow row;  // not HandRow: id * 10 would overflow
        row.id = id;
        row.parent = static_cast<int64_t>(rng() % 1000);
        row.length = 1;
        row.terms.push_back(MemoryFtsRow::Term{.token = "w", .tf = {1, 0}});
        add.push_back(std::move(row));
      }
    }
    for (int64_t id : remove) live.erase(id);  // removes first, then adds: the last one wins
    for (const MemoryFtsRow& row : add) live[row.id] = row.parent;
    index.Apply(std::move(add), remove);
    ASSERT_EQ(index.GetStats().live_rows, live.size()) << round;
    for (int64_t id : pool) {
      auto it = live.find(id);
      ASSERT_EQ(index.Parent(id),
                it == live.end() ? std::nullopt : std::optional<int64_t>(it->second))
          << "round " << round << ", id " << id;
    }
    std::vector<std::pair<int64_t, int64_t>> seen;
    index.ForEachParent(pool, [&](int64_t id, int64_t parent) { seen.emplace_back(id, parent); });
    std::vector<std::pair<int64_t, int64_t>> expected;
    for (int64_t id : pool) {
      if (live.count(id)) expected.emplace_back(id, live[id]);
    }
    ASSERT_EQ(seen, expected) << round;
    ASSERT_EQ(index.Search(std::vector<std::string>{"w"}, pool.size(), {}, 1.0).size(),
              live.size());
  }
}

TEST(MemoryFtsVocabularyTest, EmptyIndexAnswersNothing) {
  MemoryFts index(2);
  EXPECT_TRUE(index.Search(std::vector<std::string>{"a"}, 10, {}).empty());
  EXPECT_FALSE(index.Parent(1).has_value());
  const int64_t ids[] = {1, 2};
  index.Apply({}, ids);  // unknown ids, empty tables
  index.Shrink();
  MemoryFtsStats stats = index.GetStats();
  EXPECT_EQ(stats.live_rows + stats.dead_rows + stats.terms + stats.postings, 0u);
  std::vector<MemoryFtsRow> rows;
  rows.push_back(HandRow(7, {}));  // a row without terms is a row
  index.Apply(std::move(rows), {});
  EXPECT_EQ(index.Parent(7), 70);
  EXPECT_TRUE(index.Search(std::vector<std::string>{"a"}, 10, {}).empty());
}

TEST(MemoryFtsVocabularyTest, RareTermsCostFewBytesEach) {
  // 20,000 terms with one posting each: the record, the characters and the table's share,
  // with the rows' share on top, stay under 48 bytes a term (node-based maps took ~140).
  MemoryFts index(1);
  std::vector<MemoryFtsRow> rows;
  for (int i = 0; i < 2000; ++i) {
    std::vector<std::pair<std::string, std::array<uint32_t, 2>>> terms;
    for (int k = 0; k < 10; ++k) terms.push_back({fmt::format("v{}", i * 10 + k), {1, 0}});
    rows.push_back(HandRow(i + 1, terms));
  }
  index.Apply(std::move(rows), {});
  index.Shrink();
  MemoryFtsStats stats = index.GetStats();
  ASSERT_EQ(stats.terms, 20000u);
  EXPECT_LT(static_cast<double>(stats.bytes) / static_cast<double>(stats.terms), 48.0);
}

TEST(MemoryFtsVocabularyTest, SearchesRunWhileApplyGrowsAndCompacts) {
  MemoryFts index(1);
  std::vector<MemoryFtsRow> first;
  first.push_back(HandRow(1, {{"anchor", {1, 0}}}));
  index.Apply(std::move(first), {});
  std::atomic<bool> done{false};
  std::thread writer([&] {
    int64_t id = 1;
    for (int round = 0; round < 30; ++round) {  // each round replaces the previous one's rows
      std::vector<MemoryFtsRow> rows;
      std::vector<int64_t> remove;
      for (int k = 0; k < 400; ++k) {
        ++id;
        rows.push_back(HandRow(id, {{fmt::format("n{}", id), {1, 0}}, {"anchor", {1, 0}}}));
        if (round > 0) remove.push_back(id - 400);
      }
      index.Apply(std::move(rows), remove);
    }
    done = true;
  });
  size_t searches = 0;
  bool ok = true;
  while (ok && (!done || searches == 0)) {
    auto hits = index.Search(std::vector<std::string>{"anchor"}, 1000, {}, 1.0);
    ok = std::any_of(hits.begin(), hits.end(), [](auto& h) { return h.id == 1; }) &&
         index.Parent(1) == 10;
    ++searches;
  }
  writer.join();
  EXPECT_TRUE(ok) << "after " << searches << " searches";
  MemoryFtsStats stats = index.GetStats();
  EXPECT_EQ(stats.live_rows, 401u);
  EXPECT_LT(stats.dead_rows, 2000u);  // compactions ran (11,600 rows were removed)
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

// ---- children of a parent (the chunks of a document) ----

// Random adds (new rows, rows moved to another parent by a replace), removes and compactions,
// against a map of parent -> ids in the order they were last added.
TEST(MemoryFtsChildrenTest, FollowAddsReplacesRemovesAndCompactions) {
  MemoryFts index(1);
  std::map<int64_t, std::vector<int64_t>> children;  // the model
  std::map<int64_t, int64_t> parent_of;
  std::mt19937 rng(5);
  auto child = [](int64_t id, int64_t parent) {
    MemoryFtsRow row;
    row.id = id;
    row.parent = parent;
    row.length = 1;
    row.terms.push_back(MemoryFtsRow::Term{.token = "w", .tf = {1, 0}});
    return row;
  };
  auto forget = [&](int64_t id) {
    auto it = parent_of.find(id);
    if (it == parent_of.end()) return;
    auto& ids = children[it->second];
    ids.erase(std::find(ids.begin(), ids.end(), id));
    parent_of.erase(it);
  };
  auto check = [&](int round) {
    std::vector<int64_t> parents;
    for (int64_t p = 0; p <= 41; ++p) parents.push_back(p);  // 0 and 41 never have children
    std::vector<std::pair<int64_t, int64_t>> got;
    index.ForEachChild(parents, [&](int64_t id, int64_t parent) { got.emplace_back(id, parent); });
    std::vector<std::pair<int64_t, int64_t>> want;
    for (int64_t p : parents) {
      for (int64_t id : children[p]) want.emplace_back(id, p);
    }
    ASSERT_EQ(got, want) << "round " << round;
  };
  size_t compactions = 0;
  for (int round = 0; round < 1500; ++round) {
    std::vector<MemoryFtsRow> add;
    std::vector<int64_t> remove;
    for (int k = 0, n = static_cast<int>(rng() % 8); k < n; ++k) {
      const int64_t id = 1 + static_cast<int64_t>(rng() % 400);
      if (rng() % 3 == 0) {
        remove.push_back(id);
      } else {
        add.push_back(child(id, 1 + static_cast<int64_t>(rng() % 40)));
      }
    }
    // Apply removes first, then adds in order (a repeated id: the last add wins).
    for (int64_t id : remove) forget(id);
    for (const MemoryFtsRow& row : add) {
      forget(row.id);
      children[row.parent].push_back(row.id);
      parent_of[row.id] = row.parent;
    }
    const size_t dead_before = index.GetStats().dead_rows;
    index.Apply(std::move(add), remove);  // compacts once enough rows are dead
    if (index.GetStats().dead_rows < dead_before) ++compactions;
    check(round);
  }
  EXPECT_GT(index.GetStats().live_rows, 100u);
  EXPECT_GE(compactions, 2u);
}

TEST(MemoryFtsChildrenTest, RowsWithoutAParentHaveNoChildren) {
  MemoryFts index(2);
  std::vector<MemoryFtsRow> rows;
  for (int64_t id = 1; id <= 5; ++id) {
    MemoryFtsRow row;
    row.id = id;
    row.terms.push_back(MemoryFtsRow::Term{.token = "w", .tf = {1, 0}});
    rows.push_back(row);
  }
  index.Apply(std::move(rows), {});
  int calls = 0;
  const std::vector<int64_t> parents = {0, 1, 2};
  index.ForEachChild(parents, [&](int64_t, int64_t) { ++calls; });
  EXPECT_EQ(calls, 0);
}

}  // namespace
}  // namespace jrvs::store::testing
