// HybridRetriever::SearchDocuments with rerank_documents: BM25's documents ranked by their best
// chunk's exact similarity, checked against the rule computed here from the store and the
// embedder; and the fallback to the index walk when BM25 finds fewer than `limit` documents.
#include "rag/retriever.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>

#include <fmt/format.h>

#include "rag/hash_embedder.h"
#include "rag/index_manager.h"
#include "store/sqlite_store.h"
#include "store/store_test_util.h"

namespace jrvs::rag {
namespace {

class RerankDocumentsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::SqliteStore::Open({.path = dir_.File("jrvs.db")}, nullptr, nullptr);
    ASSERT_TRUE(s) << s.error().ToString();
    store_ = std::move(*s);
  }

  // A document whose chunks are `texts`, embedded by the hash embedder.
  int64_t Put(const std::string& title, const std::vector<std::string>& texts) {
    store::NewDocument doc;
    doc.title = title;
    std::vector<store::NewChunk> chunks;
    for (const std::string& t : texts) {
      doc.content += t + "\n\n";
      store::NewChunk c;
      c.chunk_index = static_cast<int>(chunks.size());
      c.text = t;
      c.embedding = Embed(t);
      chunks.push_back(std::move(c));
    }
    auto r = store_->PutDocument(doc, chunks, std::string(embedder_.model()));
    EXPECT_TRUE(r) << r.error().ToString();
    return r ? r->id : 0;
  }
  std::vector<float> Embed(const std::string& text) {
    return std::move(embedder_.Embed({text})->front());
  }
  // Opens the index (replaying every chunk from the database) and the retriever.
  void Open(bool rerank) {
    IndexManagerOptions o;
    o.path = dir_.path() / "index" / "vectors.faiss";
    o.faiss.dimension = embedder_.dimension();
    o.embedding_model = std::string(embedder_.model());
    auto m = IndexManager::Open(o, *store_);
    ASSERT_TRUE(m) << m.error().ToString();
    index_ = std::move(*m);
    options_.rerank_documents = rerank;
    retriever_ = std::make_unique<HybridRetriever>(*store_, embedder_, *index_, options_);
  }
  std::vector<DocumentHit> Search(const std::string& query, size_t limit) {
    auto hits = retriever_->SearchDocuments(query, limit);
    EXPECT_TRUE(hits) << hits.error().ToString();
    return hits ? *hits : std::vector<DocumentHit>{};
  }

  store::testing::TempDir dir_;  // destroyed last
  HashEmbedder embedder_;
  RetrieverOptions options_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<IndexManager> index_;
  std::unique_ptr<HybridRetriever> retriever_;
};

float Dot(const std::vector<float>& a, const std::vector<float>& b) {
  float s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

TEST_F(RerankDocumentsTest, RanksBm25sDocumentsByTheirBestChunk) {
  // Every document matches "river"; their other words (and so their vectors) differ.
  const std::vector<std::string> words = {"otter",  "stone", "salmon", "bridge", "delta",
                                          "willow", "mill",  "heron",  "ferry",  "rapids"};
  std::mt19937 rng(3);
  std::map<int64_t, std::vector<std::string>> chunks_of;
  for (int d = 0; d < 30; ++d) {
    std::vector<std::string> chunks;
    for (size_t c = 0, n = 1 + rng() % 3; c < n; ++c) {
      std::string text = "the river";
      for (int w = 0; w < 6; ++w) text += " " + words[rng() % words.size()];
      chunks.push_back(text);
    }
    chunks_of[Put(fmt::format("doc {}", d), chunks)] = chunks;
  }
  Open(/*rerank=*/true);

  for (const std::string query : {"river otter salmon", "river heron ferry", "river mill"}) {
    const size_t limit = 8;
    // The rule: BM25's documents (their rank), each scored by its most similar chunk (its rank
    // among them), fused by RRF.
    auto lexical =
        store_->SearchDocumentsText(retriever_->LexicalTerms(query),
                                    static_cast<int>(options_.candidates), options_.title_weight);
    ASSERT_TRUE(lexical);
    ASSERT_GE(lexical->size(), limit);
    const std::vector<float> q = Embed(query);
    std::vector<std::pair<float, int64_t>> by_vector;  // (best similarity, document)
    std::map<int64_t, std::string> best_chunk;
    for (const auto& hit : *lexical) {
      float best = -2;
      for (const std::string& text : chunks_of.at(hit.document_id)) {
        const float s = Dot(q, Embed(text));
        if (s > best) {
          best = s;
          best_chunk[hit.document_id] = text;
        }
      }
      by_vector.emplace_back(best, hit.document_id);
    }
    std::sort(by_vector.begin(), by_vector.end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first > b.first : a.second < b.second;
    });
    std::map<int64_t, double> fused;
    for (size_t i = 0; i < lexical->size(); ++i) {
      fused[(*lexical)[i].document_id] += options_.lexical_weight / (options_.rrf_k + i + 1.0);
    }
    for (size_t i = 0; i < by_vector.size(); ++i) {
      fused[by_vector[i].second] += options_.rerank_vector_weight / (options_.rrf_k + i + 1.0);
    }
    std::vector<std::pair<double, int64_t>> want;
    for (const auto& [doc, score] : fused) want.emplace_back(score, doc);
    std::sort(want.begin(), want.end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first > b.first : a.second < b.second;
    });

    auto got = Search(query, limit);
    ASSERT_EQ(got.size(), limit) << query;
    for (size_t i = 0; i < limit; ++i) {
      EXPECT_EQ(got[i].document_id, want[i].second) << query << " rank " << i;
      // Float sums in another order: equal to rounding.
      EXPECT_NEAR(got[i].score, want[i].first, 1e-6) << query << " rank " << i;
      // The preview is the document's most similar chunk.
      EXPECT_GE(got[i].chunk_index, 0) << query;
      EXPECT_EQ(got[i].preview.substr(0, 9), best_chunk.at(got[i].document_id).substr(0, 9));
    }
  }
}

TEST_F(RerankDocumentsTest, FewerBm25DocumentsThanTheLimitSearchTheWholeIndex) {
  const int64_t lexical = Put("penguins", {"penguins huddle on the ice shelf"});
  // Shares no word with the query ("icebergz" is not "iceberg" to BM25), only character 3-grams.
  const int64_t vector_only = Put("glaciers", {"colonies near glaciers and icebergs"});
  Put("deserts", {"camels cross dry dunes"});
  Open(/*rerank=*/true);
  // BM25 finds one document, fewer than 2: the walk over the whole index adds the other.
  auto hits = Search("huddle icebergz", 2);
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0].document_id, lexical);
  EXPECT_EQ(hits[1].document_id, vector_only);
}

TEST_F(RerankDocumentsTest, DeletedDocumentsAreLeftOutAndUnindexedChunksUnranked) {
  std::vector<int64_t> ids;
  for (int d = 0; d < 6; ++d) {
    ids.push_back(Put(fmt::format("doc {}", d), {fmt::format("lantern harbour note {}", d)}));
  }
  Open(/*rerank=*/true);
  // Deleted from the store and from the index, as the ingest pipeline does.
  auto removed = store_->DeleteDocument(ids[2]);
  ASSERT_TRUE(removed);
  ASSERT_TRUE(index_->RemoveChunks(index_->BeginWrite(), *removed).ok());
  // Still in the store but not (yet) in the index: found by BM25, without a vector rank.
  auto chunks = store_->DocumentChunkIds({ids[4]});
  ASSERT_TRUE(chunks);
  ASSERT_EQ(chunks->size(), 1u);
  const std::vector<int64_t> unindexed = {chunks->front().chunk_id};
  ASSERT_TRUE(index_->RemoveChunks(index_->BeginWrite(), unindexed).ok());
  auto hits = Search("lantern harbour", 5);
  ASSERT_EQ(hits.size(), 5u);
  for (const auto& h : hits) {
    EXPECT_NE(h.document_id, ids[2]);
    // A preview from its best chunk, except for the document with none in the index.
    EXPECT_EQ(h.chunk_index < 0, h.document_id == ids[4]) << h.document_id;
  }
}

}  // namespace
}  // namespace jrvs::rag
