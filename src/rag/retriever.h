// HybridRetriever: BM25 (SQLite FTS5, porter stemming) and vector search (FAISS) fused by
// weighted reciprocal rank fusion (DESIGN.md §5). Every hit is joined with the database, so a
// deleted document never comes back even if the index still holds its vectors.
//
// Weights, candidate counts and query processing are options because they are set from
// measurement (bench/ir_eval.py on CISI; docs/PERFORMANCE.md), not assumed.
// Thread-safe: Retrieve and SearchDocuments may run concurrently.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/metrics.h"
#include "core/status.h"
#include "rag/embedder.h"
#include "rag/index_manager.h"
#include "store/store.h"

namespace jrvs::rag {

enum class SearchMode { kHybrid, kLexical, kVector };
std::optional<SearchMode> ParseSearchMode(std::string_view name);
std::string_view SearchModeName(SearchMode mode);

struct RetrieverOptions {
  SearchMode mode = SearchMode::kHybrid;
  size_t candidates = 50;         // hits taken from each signal before fusion (>= 1)
  double lexical_weight = 1.0;    // RRF weight of the BM25 ranking (>= 0)
  double vector_weight = 0.2;     // RRF weight of the vector ranking (>= 0)
  double rrf_k = 60;              // RRF constant: score = sum w / (k + rank) (> 0)
  bool drop_stop_words = true;    // drop English stop words from the lexical query
  double min_score = 0;           // hits with a lower fused score are dropped (>= 0)
  bool mmr = false;               // re-rank the top hits by maximal marginal relevance
  double mmr_lambda = 0.7;        // MMR trade-off: 1 = relevance only, 0 = diversity only
  size_t max_query_bytes = 4096;  // longer queries are cut (on a code-point boundary)
  double title_weight = 2.0;      // document search: BM25 weight of a title match vs content
  // Document search in hybrid mode, once BM25 has found at least `limit` documents: rank those
  // documents by the exact similarity of their best chunk (RRF weight rerank_vector_weight)
  // instead of by where their best chunk falls in a walk of the whole vector index. With the
  // weights above a document BM25 did not find could not reach the top `limit` anyway; the walk,
  // ~55% of a document search's CPU at 10k documents, is saved. Chosen on CISI (nDCG@10 0.3649
  // vs 0.3645, docs/PERFORMANCE.md, "Retrieval quality").
  bool rerank_documents = true;
  double rerank_vector_weight = 0.4;  // RRF weight of that ranking (>= 0)

  Status Validate() const;
};

struct RetrievedChunk {
  int64_t chunk_id = 0;
  int64_t document_id = 0;
  int chunk_index = 0;
  std::string title;
  std::optional<std::string> url;
  std::string text;
  std::string metadata_json;
  double score = 0;          // fused score, higher is better
  double lexical_score = 0;  // BM25 (higher is better), 0 if not a lexical hit
  double vector_score = 0;   // cosine similarity, 0 if not a vector hit
  int lexical_rank = 0;      // 1-based rank in the BM25 list, 0 if absent
  int vector_rank = 0;       // 1-based rank in the vector list, 0 if absent
};

// A document-level hit. Documents are ranked by fusing document-level BM25 (title and content)
// with a vector ranking by each document's best chunk: among BM25's documents
// (RetrieverOptions::rerank_documents), else where that chunk falls in a search of the index.
struct DocumentHit {
  int64_t document_id = 0;
  std::string title;
  std::optional<std::string> url;
  double score = 0;       // the best chunk's fused score
  double similarity = 0;  // score relative to the best hit of the query, in (0, 1]
  std::string preview;    // the best vector chunk's text (cut to ~200 bytes), else a BM25 snippet
  int chunk_index = -1;   // the chunk the preview comes from (-1: a snippet of the document)
};

struct RetrievalTimings {
  double embed_ms = 0;
  double vector_ms = 0;
  double lexical_ms = 0;
  double fetch_ms = 0;
};

class HybridRetriever {
 public:
  HybridRetriever(store::Store& store, Embedder& embedder, const IndexManager& index,
                  RetrieverOptions options, MetricsRegistry* metrics = nullptr);

  // The k best chunks, best first. `mode` overrides the configured mode for this call.
  Result<std::vector<RetrievedChunk>> Retrieve(std::string_view query, size_t k,
                                               std::optional<SearchMode> mode = std::nullopt,
                                               RetrievalTimings* timings = nullptr) const;
  // The `limit` best documents, best first.
  Result<std::vector<DocumentHit>> SearchDocuments(std::string_view query, size_t limit,
                                                   std::optional<SearchMode> mode = std::nullopt,
                                                   RetrievalTimings* timings = nullptr) const;

  const RetrieverOptions& options() const { return options_; }

  // The words sent to the lexical index for `query` (exposed for tests and tuning).
  std::vector<std::string> LexicalTerms(std::string_view query) const;

 private:
  Result<std::vector<RetrievedChunk>> Fused(std::string_view query, size_t want, SearchMode mode,
                                            RetrievalTimings* timings) const;
  // The query's embedding, or an empty vector when it carries no signal (no words).
  Result<std::vector<float>> QueryVector(std::string_view query, RetrievalTimings* timings) const;
  // Each of `documents` (distinct) that has a chunk in the index, with its most similar chunk,
  // ranked by that chunk's exact similarity to `query` (best first; equal scores by document id).
  Result<std::vector<store::ChunkRef>> RankDocumentsByVector(
      const std::vector<float>& query, const std::vector<int64_t>& documents) const;
  // Every document with a chunk among the `n` nearest in the index (a walk of the whole index),
  // with that chunk, ranked by where it falls (best first).
  Result<std::vector<store::ChunkRef>> RankDocumentsByWalk(const std::vector<float>& query,
                                                           size_t n) const;

  store::Store& store_;
  Embedder& embedder_;
  const IndexManager& index_;
  RetrieverOptions options_;
  Histogram* retrieval_seconds_ = nullptr;
  Histogram* vector_seconds_ = nullptr;
  Histogram* lexical_seconds_ = nullptr;
  Histogram* embed_seconds_ = nullptr;  // query embedding (same family as ingest's)
};

// A citation as shown to the model and the user: [n] title (url).
struct Citation {
  int n = 0;
  int64_t document_id = 0;
  int64_t chunk_id = 0;
  std::string title;
  std::optional<std::string> url;
  double score = 0;
};

// The RAG context: numbered chunks "[n] title (url)\ntext" separated by blank lines, cut at
// `budget_bytes` on a chunk boundary (a chunk that does not fit is left out whole; the first
// chunk is cut on a code-point boundary if it alone exceeds the budget). Chunks of the same
// document share one number.
struct BuiltContext {
  std::string text;
  std::vector<Citation> citations;
  size_t chunks_used = 0;
};
BuiltContext BuildContext(const std::vector<RetrievedChunk>& chunks, size_t budget_bytes);

}  // namespace jrvs::rag
