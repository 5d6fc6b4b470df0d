// Document-level full-text search (migration 2): title and content, title weight, previews, and
// the index following updates and deletes; each test runs on FTS5 and on the in-memory copy.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>

#include <fmt/format.h>

#include "store/fts_tokenizer.h"
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

// The snippet rule stated plainly, over every token of the text: the first window of
// min(max_tokens, tokens) tokens with the most distinct wanted tokens, moved to start two tokens
// before its first match, "..." where text is left out.
std::string ReferenceSnippet(FtsTokenizer& tokenizer, const std::string& text,
                             const std::vector<std::string>& wanted, size_t max_tokens) {
  struct Token {
    size_t start, end;
    int match;
  };
  std::vector<Token> tokens;
  EXPECT_TRUE(tokenizer
                  .Tokenize(text, FtsTokenizer::Purpose::kDocument,
                            [&](std::string_view token, size_t start, size_t end) {
                              auto it = std::find(wanted.begin(), wanted.end(), token);
                              tokens.push_back({start, end,
                                                it == wanted.end()
                                                    ? -1
                                                    : static_cast<int>(it - wanted.begin())});
                            })
                  .ok());
  if (tokens.empty() || max_tokens == 0) return "";
  const size_t n = tokens.size(), w = std::min(max_tokens, n);
  int best = -1;
  size_t best_start = 0;
  for (size_t start = 0; start + w <= n; ++start) {
    std::set<int> distinct;
    size_t first = start + w;
    for (size_t i = start; i < start + w; ++i) {
      if (tokens[i].match < 0) continue;
      distinct.insert(tokens[i].match);
      first = std::min(first, i);
    }
    if (static_cast<int>(distinct.size()) > best) {
      best = static_cast<int>(distinct.size());
      best_start = first < start + w && first > start + 2 ? std::min(first - 2, n - w) : start;
    }
  }
  const size_t last = best_start + w - 1;
  std::string out = best_start > 0 ? "..." : "";
  out += text.substr(tokens[best_start].start, tokens[last].end - tokens[best_start].start);
  if (last + 1 < n || tokens[last].end < text.size()) out += "...";
  return out;
}

// Snippets stop tokenizing once no later window can win: the result must be the rule's, whatever
// the text, terms (repeated, stemmed alike, absent) and window.
TEST_P(DocumentSearchTest, SnippetsMatchTheRuleOnRandomTexts) {
  auto tokenizer = FtsTokenizer::Create();
  ASSERT_TRUE(tokenizer) << tokenizer.error().ToString();
  const std::vector<std::string> words = {"otter", "otters",  "ice",  "river", "stone",
                                          "run",   "running", "the",  "a",     "fish",
                                          "sleep", "sleeps",  "cold", "north", "Ice."};
  const std::vector<std::string> query_words = {"otter", "ice",     "running", "fish",
                                                "cold",  "penguin", "run",     "north"};
  std::mt19937 rng(7);
  std::vector<int64_t> ids;
  std::vector<std::string> texts;
  for (int d = 0; d < 40; ++d) {
    std::string text;
    const size_t length = 1 + rng() % (d < 10 ? 20 : 200);
    for (size_t i = 0; i < length; ++i) {
      text += words[rng() % words.size()];
      text += rng() % 7 == 0 ? ", " : " ";
    }
    texts.push_back(text);
    ids.push_back(Put(fmt::format("doc{}", d), text));
  }
  for (int round = 0; round < 60; ++round) {
    std::vector<std::string> terms;
    for (size_t t = 0, n = 1 + rng() % 4; t < n; ++t) {
      terms.push_back(query_words[rng() % query_words.size()]);
    }
    const size_t max_tokens = std::vector<size_t>{1, 2, 3, 12, 24, 500}[rng() % 6];
    auto previews = store_->GetDocumentPreviews(ids, terms, max_tokens);
    ASSERT_TRUE(previews) << previews.error().ToString();
    ASSERT_EQ(previews->size(), ids.size());
    // The store stems the terms as queries are (QueryTokens); so does this.
    std::vector<std::string> wanted;
    for (const std::string& term : terms) {
      ASSERT_TRUE((*tokenizer)
                      ->Tokenize(term, FtsTokenizer::Purpose::kQuery,
                                 [&](std::string_view token, size_t, size_t) {
                                   wanted.emplace_back(token);
                                 })
                      .ok());
    }
    for (size_t d = 0; d < ids.size(); ++d) {
      EXPECT_EQ((*previews)[d].snippet, ReferenceSnippet(**tokenizer, texts[d], wanted, max_tokens))
          << "terms " << fmt::format("{}", fmt::join(terms, " ")) << " window " << max_tokens
          << " text " << texts[d];
    }
  }
}

TEST_P(DocumentSearchTest, DocumentChunkIdsFollowUpdatesAndDeletes) {
  auto put = [&](const std::string& url, const std::vector<std::string>& texts) {
    NewDocument doc;
    doc.title = url;
    doc.url = url;
    std::vector<NewChunk> chunks;
    for (const std::string& t : texts) {
      doc.content += t + " ";
      NewChunk chunk;
      chunk.chunk_index = static_cast<int>(chunks.size());
      chunk.text = t;
      chunks.push_back(std::move(chunk));
    }
    auto r = store_->PutDocument(doc, chunks, "none");
    EXPECT_TRUE(r.has_value()) << r.error().ToString();
    return r ? *r : PutDocumentResult{};
  };
  auto a = put("https://a.test/", {"one", "two", "three"});
  auto b = put("https://b.test/", {"four"});
  auto c = put("https://c.test/", {"five", "six"});
  auto ids_of = [&](const std::vector<int64_t>& docs) {
    auto refs = store_->DocumentChunkIds(docs);
    EXPECT_TRUE(refs.has_value()) << refs.error().ToString();
    std::vector<std::pair<int64_t, int64_t>> out;
    if (refs) {
      for (const ChunkRef& r : *refs) out.emplace_back(r.document_id, r.chunk_id);
    }
    return out;
  };
  using Pairs = std::vector<std::pair<int64_t, int64_t>>;
  EXPECT_EQ(ids_of({c.id, 999, a.id}), (Pairs{{c.id, c.chunk_ids[0]},
                                              {c.id, c.chunk_ids[1]},
                                              {a.id, a.chunk_ids[0]},
                                              {a.id, a.chunk_ids[1]},
                                              {a.id, a.chunk_ids[2]}}));
  // New content at the same URL replaces the chunks; a deleted document has none.
  auto a2 = put("https://a.test/", {"seven", "eight"});
  ASSERT_EQ(a2.id, a.id);
  ASSERT_TRUE(store_->DeleteDocument(b.id).has_value());
  EXPECT_EQ(ids_of({a.id, b.id}), (Pairs{{a.id, a2.chunk_ids[0]}, {a.id, a2.chunk_ids[1]}}));
  EXPECT_TRUE(ids_of({}).empty());
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
