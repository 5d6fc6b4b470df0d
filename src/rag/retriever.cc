#include "rag/retriever.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>

#include "core/text.h"

namespace jrvs::rag {

namespace {

using Clock = std::chrono::steady_clock;

double MsSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// Cuts `text` to about `max_bytes` on a word boundary, adding an ellipsis when cut.
std::string Preview(std::string_view text, size_t max_bytes) {
  text = text::TrimSpace(text);
  if (text.size() <= max_bytes) return std::string(text);
  std::string_view cut = text::TruncateUtf8(text, max_bytes);
  auto space = cut.find_last_of(" \n\t");
  if (space != std::string_view::npos && space > max_bytes / 2) cut = cut.substr(0, space);
  return std::string(cut) + "...";
}

}  // namespace

std::optional<SearchMode> ParseSearchMode(std::string_view name) {
  if (name == "hybrid") return SearchMode::kHybrid;
  if (name == "lexical" || name == "bm25") return SearchMode::kLexical;
  if (name == "vector") return SearchMode::kVector;
  return std::nullopt;
}

std::string_view SearchModeName(SearchMode mode) {
  switch (mode) {
    case SearchMode::kHybrid:
      return "hybrid";
    case SearchMode::kLexical:
      return "lexical";
    case SearchMode::kVector:
      return "vector";
  }
  return "hybrid";
}

Status RetrieverOptions::Validate() const {
  if (candidates == 0) return Status(StatusCode::kInvalidArgument, "candidates must be >= 1");
  if (lexical_weight < 0 || vector_weight < 0 || rerank_vector_weight < 0) {
    return Status(StatusCode::kInvalidArgument, "weights must be >= 0");
  }
  if (rrf_k <= 0) return Status(StatusCode::kInvalidArgument, "rrf_k must be > 0");
  if (mmr_lambda < 0 || mmr_lambda > 1) {
    return Status(StatusCode::kInvalidArgument, "mmr_lambda must be in [0, 1]");
  }
  return Status::Ok();
}

HybridRetriever::HybridRetriever(store::Store& store, Embedder& embedder, const IndexManager& index,
                                 RetrieverOptions options, MetricsRegistry* metrics)
    : store_(store), embedder_(embedder), index_(index), options_(options) {
  if (metrics != nullptr) {
    retrieval_seconds_ =
        &metrics->AddHistogram("retrieval_duration_seconds", "Hybrid retrieval time per query.")
             .Get();
    vector_seconds_ =
        &metrics->AddHistogram("index_search_duration_seconds", "Vector index search time.").Get();
    lexical_seconds_ =
        &metrics->AddHistogram("fts_search_duration_seconds", "Full-text (BM25) search time.")
             .Get();
    embed_seconds_ =
        &metrics->AddHistogram("embedding_duration_seconds", "Time of one embedder call.").Get();
  }
}

std::vector<std::string> HybridRetriever::LexicalTerms(std::string_view query) const {
  std::vector<std::string> terms;
  std::unordered_set<std::string> seen;
  for (auto& token : text::Tokenize(query)) {
    if (options_.drop_stop_words && text::IsStopWord(token)) continue;
    if (seen.insert(token).second) terms.push_back(std::move(token));
  }
  // A query made only of stop words still searches for them.
  if (terms.empty() && options_.drop_stop_words) {
    for (auto& token : text::Tokenize(query)) {
      if (seen.insert(token).second) terms.push_back(std::move(token));
    }
  }
  return terms;
}

Result<std::vector<RetrievedChunk>> HybridRetriever::Fused(std::string_view query, size_t want,
                                                           SearchMode mode,
                                                           RetrievalTimings* timings) const {
  query = text::TruncateUtf8(query, options_.max_query_bytes);
  const size_t n = std::max(options_.candidates, want);
  struct Candidate {
    double fused = 0;
    double lexical = 0;
    double vector = 0;
    int lexical_rank = 0;
    int vector_rank = 0;
  };
  std::unordered_map<int64_t, Candidate> candidates;

  if (mode != SearchMode::kVector && options_.lexical_weight > 0) {
    auto t0 = Clock::now();
    auto hits = store_.SearchText(LexicalTerms(query), static_cast<int>(n));
    if (!hits) return Error(hits.error());
    double ms = MsSince(t0);
    if (timings != nullptr) timings->lexical_ms = ms;
    if (lexical_seconds_ != nullptr) lexical_seconds_->Observe(ms / 1000);
    for (size_t i = 0; i < hits->size(); ++i) {
      auto& c = candidates[(*hits)[i].chunk_id];
      c.lexical = (*hits)[i].score;
      c.lexical_rank = static_cast<int>(i + 1);
      c.fused += options_.lexical_weight / (options_.rrf_k + static_cast<double>(i + 1));
    }
  }

  if (mode != SearchMode::kLexical && options_.vector_weight > 0) {
    auto qv = QueryVector(query, timings);
    if (!qv) return Error(qv.error());
    const auto& q = *qv;
    if (!q.empty()) {
      auto t1 = Clock::now();
      auto index = index_.index();
      auto hits = index->Search(q, n);
      if (!hits) return Error(hits.error());
      double ms = MsSince(t1);
      if (timings != nullptr) timings->vector_ms = ms;
      if (vector_seconds_ != nullptr) vector_seconds_->Observe(ms / 1000);
      for (size_t i = 0; i < hits->size(); ++i) {
        auto& c = candidates[(*hits)[i].id];
        c.vector = (*hits)[i].score;
        c.vector_rank = static_cast<int>(i + 1);
        c.fused += options_.vector_weight / (options_.rrf_k + static_cast<double>(i + 1));
      }
    }
  }

  std::vector<std::pair<int64_t, Candidate>> ranked(candidates.begin(), candidates.end());
  std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
    if (a.second.fused != b.second.fused) return a.second.fused > b.second.fused;
    return a.first < b.first;
  });
  ranked.erase(std::remove_if(ranked.begin(), ranked.end(),
                              [&](const auto& r) { return r.second.fused < options_.min_score; }),
               ranked.end());
  if (ranked.size() > want) ranked.resize(want);

  auto t2 = Clock::now();
  std::vector<int64_t> ids;
  ids.reserve(ranked.size());
  for (const auto& r : ranked) ids.push_back(r.first);
  auto views = store_.GetChunks(ids);
  if (!views) return Error(views.error());
  if (timings != nullptr) timings->fetch_ms = MsSince(t2);

  std::unordered_map<int64_t, store::ChunkView*> by_id;
  for (auto& v : *views) by_id[v.chunk_id] = &v;
  std::vector<RetrievedChunk> out;
  out.reserve(ranked.size());
  for (const auto& [id, c] : ranked) {
    auto it = by_id.find(id);
    if (it == by_id.end()) continue;  // deleted since the index saw it
    store::ChunkView& v = *it->second;
    RetrievedChunk r;
    r.chunk_id = id;
    r.document_id = v.document_id;
    r.chunk_index = v.chunk_index;
    r.title = std::move(v.title);
    r.url = std::move(v.url);
    r.text = std::move(v.text);
    r.metadata_json = std::move(v.metadata_json);
    r.score = c.fused;
    r.lexical_score = c.lexical;
    r.vector_score = c.vector;
    r.lexical_rank = c.lexical_rank;
    r.vector_rank = c.vector_rank;
    out.push_back(std::move(r));
  }
  return out;
}

Result<std::vector<RetrievedChunk>> HybridRetriever::Retrieve(std::string_view query, size_t k,
                                                              std::optional<SearchMode> mode,
                                                              RetrievalTimings* timings) const {
  auto t0 = Clock::now();
  if (k == 0 || text::TrimSpace(query).empty()) return std::vector<RetrievedChunk>{};
  SearchMode m = mode.value_or(options_.mode);
  size_t pool = options_.mmr ? std::max(k * 3, k) : k;
  auto chunks = Fused(query, pool, m, timings);
  if (!chunks) return chunks;
  if (options_.mmr && chunks->size() > k) {
    // Maximal marginal relevance over the candidates' embeddings.
    std::vector<std::string> texts;
    for (const auto& c : *chunks) texts.push_back(c.text);
    auto vecs = embedder_.Embed(texts);
    if (!vecs) return Error(vecs.error());
    double top = chunks->front().score > 0 ? chunks->front().score : 1;
    std::vector<bool> taken(chunks->size(), false);
    std::vector<size_t> order;
    while (order.size() < k) {
      double best = -1e300;
      size_t best_i = 0;
      for (size_t i = 0; i < chunks->size(); ++i) {
        if (taken[i]) continue;
        double redundancy = 0;
        for (size_t j : order)
          redundancy =
              std::max(redundancy, static_cast<double>(DotProduct((*vecs)[i], (*vecs)[j])));
        double v = options_.mmr_lambda * ((*chunks)[i].score / top) -
                   (1 - options_.mmr_lambda) * redundancy;
        if (v > best) {
          best = v;
          best_i = i;
        }
      }
      taken[best_i] = true;
      order.push_back(best_i);
    }
    std::vector<RetrievedChunk> reranked;
    for (size_t i : order) reranked.push_back(std::move((*chunks)[i]));
    *chunks = std::move(reranked);
  }
  if (chunks->size() > k) chunks->resize(k);
  if (retrieval_seconds_ != nullptr) retrieval_seconds_->Observe(MsSince(t0) / 1000);
  return chunks;
}

Result<std::vector<float>> HybridRetriever::QueryVector(std::string_view query,
                                                        RetrievalTimings* timings) const {
  auto t0 = Clock::now();
  auto vectors = embedder_.Embed({std::string(query)});
  if (!vectors) return Error(vectors.error());
  if (timings != nullptr) timings->embed_ms = MsSince(t0);
  if (embed_seconds_ != nullptr) embed_seconds_->Observe(MsSince(t0) / 1000);
  std::vector<float> q = std::move(vectors->front());
  if (std::none_of(q.begin(), q.end(), [](float v) { return v != 0.f; })) q.clear();
  return q;
}

Result<std::vector<store::ChunkRef>> HybridRetriever::RankDocumentsByVector(
    const std::vector<float>& query, const std::vector<int64_t>& documents) const {
  auto refs = store_.DocumentChunkIds(documents);  // grouped by document
  if (!refs) return Error(refs.error());
  std::vector<int64_t> chunk_ids;
  chunk_ids.reserve(refs->size());
  for (const store::ChunkRef& r : *refs) chunk_ids.push_back(r.chunk_id);
  auto scores = index_.index()->Score(query, chunk_ids);
  if (!scores) return Error(scores.error());
  // Scores keep the order of the ids (leaving out those the index does not hold), so each
  // document's chunks are still together: keep the best of each run.
  struct Best {
    float score;
    store::ChunkRef ref;
  };
  std::vector<Best> ranked;
  size_t at = 0;
  for (const VectorHit& h : *scores) {
    while ((*refs)[at].chunk_id != h.id) ++at;
    const store::ChunkRef ref{h.id, (*refs)[at].document_id};
    if (ranked.empty() || ranked.back().ref.document_id != ref.document_id) {
      ranked.push_back({h.score, ref});
    } else if (h.score > ranked.back().score) {
      ranked.back() = {h.score, ref};
    }
  }
  std::sort(ranked.begin(), ranked.end(), [](const Best& a, const Best& b) {
    return a.score != b.score ? a.score > b.score : a.ref.document_id < b.ref.document_id;
  });
  std::vector<store::ChunkRef> out;
  out.reserve(ranked.size());
  for (const Best& b : ranked) out.push_back(b.ref);
  return out;
}

Result<std::vector<store::ChunkRef>> HybridRetriever::RankDocumentsByWalk(
    const std::vector<float>& query, size_t n) const {
  auto hits = index_.index()->Search(query, n);
  if (!hits) return Error(hits.error());
  std::vector<int64_t> ids;
  ids.reserve(hits->size());
  for (const auto& h : *hits) ids.push_back(h.id);
  auto refs = store_.ChunkDocumentIds(ids);
  if (!refs) return Error(refs.error());
  // Chunks come back in hit order; a document ranks where its best chunk does.
  std::vector<store::ChunkRef> out;
  std::unordered_set<int64_t> seen;
  for (const store::ChunkRef& ref : *refs) {
    if (seen.insert(ref.document_id).second) out.push_back(ref);
  }
  return out;
}

Result<std::vector<DocumentHit>> HybridRetriever::SearchDocuments(std::string_view query,
                                                                  size_t limit,
                                                                  std::optional<SearchMode> mode,
                                                                  RetrievalTimings* timings) const {
  auto t0 = Clock::now();
  if (limit == 0 || text::TrimSpace(query).empty()) return std::vector<DocumentHit>{};
  query = text::TruncateUtf8(query, options_.max_query_bytes);
  const SearchMode m = mode.value_or(options_.mode);
  const size_t n = std::max(limit * 4, options_.candidates);
  const std::vector<std::string> terms = LexicalTerms(query);
  // Ranked on ids and scores alone; titles, URLs and previews are read for the results only.
  struct Candidate {
    double score = 0;
    int64_t best_chunk = 0;  // the document's best vector hit (0: none)
  };
  std::unordered_map<int64_t, Candidate> docs;
  std::vector<int64_t> lexical_docs;  // BM25's documents, best first

  if (m != SearchMode::kVector && options_.lexical_weight > 0) {
    auto t1 = Clock::now();
    auto hits = store_.SearchDocumentsText(terms, static_cast<int>(n), options_.title_weight);
    if (!hits) return Error(hits.error());
    double ms = MsSince(t1);
    if (timings != nullptr) timings->lexical_ms = ms;
    if (lexical_seconds_ != nullptr) lexical_seconds_->Observe(ms / 1000);
    for (size_t i = 0; i < hits->size(); ++i) {
      lexical_docs.push_back((*hits)[i].document_id);
      docs[(*hits)[i].document_id].score +=
          options_.lexical_weight / (options_.rrf_k + static_cast<double>(i + 1));
    }
  }
  // (lexical_docs is empty unless BM25 ran; limit >= 1 here.)
  const bool rerank =
      options_.rerank_documents && m == SearchMode::kHybrid && lexical_docs.size() >= limit;

  const double vector_weight = rerank ? options_.rerank_vector_weight : options_.vector_weight;

  if (m != SearchMode::kLexical && vector_weight > 0) {
    auto q = QueryVector(query, timings);
    if (!q) return Error(q.error());
    if (!q->empty()) {
      auto t1 = Clock::now();
      auto by_vector =
          rerank ? RankDocumentsByVector(*q, lexical_docs) : RankDocumentsByWalk(*q, n);
      if (!by_vector) return Error(by_vector.error());
      double ms = MsSince(t1);
      if (timings != nullptr) timings->vector_ms = ms;
      if (vector_seconds_ != nullptr) vector_seconds_->Observe(ms / 1000);
      for (size_t i = 0; i < by_vector->size(); ++i) {
        Candidate& d = docs[(*by_vector)[i].document_id];
        d.best_chunk = (*by_vector)[i].chunk_id;
        d.score += vector_weight / (options_.rrf_k + static_cast<double>(i + 1));
      }
    }
  }

  std::vector<std::pair<int64_t, Candidate>> ranked;
  ranked.reserve(docs.size());
  for (const auto& [id, d] : docs) {
    if (d.score >= options_.min_score) ranked.emplace_back(id, d);
  }
  std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
    if (a.second.score != b.second.score) return a.second.score > b.second.score;
    return a.first < b.first;
  });

  // Details of the best `limit`; a document deleted meanwhile is skipped and the next one taken.
  auto t2 = Clock::now();
  std::vector<DocumentHit> out;
  size_t next = 0;
  while (out.size() < limit && next < ranked.size()) {
    const size_t take = std::min(limit - out.size(), ranked.size() - next);
    std::vector<int64_t> chunk_ids;
    std::vector<int64_t> doc_ids;  // documents without a vector hit: a snippet
    for (size_t i = next; i < next + take; ++i) {
      if (ranked[i].second.best_chunk != 0) {
        chunk_ids.push_back(ranked[i].second.best_chunk);
      } else {
        doc_ids.push_back(ranked[i].first);
      }
    }
    auto views = store_.GetChunks(chunk_ids);
    if (!views) return Error(views.error());
    std::unordered_map<int64_t, DocumentHit> found;
    for (auto& v : *views) {
      DocumentHit& d = found[v.document_id];
      d.title = std::move(v.title);
      d.url = std::move(v.url);
      d.preview = Preview(v.text, 200);
      d.chunk_index = v.chunk_index;
    }
    // A document whose best chunk was replaced since the search still shows, with a snippet.
    for (size_t i = next; i < next + take; ++i) {
      if (ranked[i].second.best_chunk != 0 && !found.contains(ranked[i].first)) {
        doc_ids.push_back(ranked[i].first);
      }
    }
    auto previews = store_.GetDocumentPreviews(doc_ids, terms, 24);
    if (!previews) return Error(previews.error());
    for (auto& p : *previews) {
      DocumentHit& d = found[p.document_id];
      d.title = std::move(p.title);
      d.url = std::move(p.url);
      d.preview = Preview(p.snippet, 200);
    }
    for (size_t i = next; i < next + take; ++i) {
      auto it = found.find(ranked[i].first);
      if (it == found.end()) continue;
      DocumentHit& d = it->second;
      d.document_id = ranked[i].first;
      d.score = ranked[i].second.score;
      out.push_back(std::move(d));
    }
    next += take;
  }
  if (timings != nullptr) timings->fetch_ms = MsSince(t2);
  double top = out.empty() ? 1 : out.front().score;
  for (auto& d : out) d.similarity = top > 0 ? d.score / top : 0;
  if (retrieval_seconds_ != nullptr) retrieval_seconds_->Observe(MsSince(t0) / 1000);
  return out;
}

BuiltContext BuildContext(const std::vector<RetrievedChunk>& chunks, size_t budget_bytes) {
  BuiltContext out;
  std::map<int64_t, int> number_of_doc;
  for (const auto& c : chunks) {
    auto it = number_of_doc.find(c.document_id);
    int n = it == number_of_doc.end() ? static_cast<int>(out.citations.size()) + 1 : it->second;
    std::string header = c.url ? fmt::format("[{}] {} ({})\n", n, c.title, *c.url)
                               : fmt::format("[{}] {}\n", n, c.title);
    std::string block = header + std::string(text::TrimSpace(c.text));
    size_t sep = out.text.empty() ? 0 : 2;
    if (out.text.size() + sep + block.size() > budget_bytes) {
      if (!out.text.empty()) break;
      block = std::string(text::TruncateUtf8(block, budget_bytes));
      if (block.size() <= header.size()) break;
    }
    if (sep > 0) out.text += "\n\n";
    out.text += block;
    ++out.chunks_used;
    if (it == number_of_doc.end()) {
      number_of_doc[c.document_id] = n;
      out.citations.push_back({n, c.document_id, c.chunk_id, c.title, c.url, c.score});
    }
  }
  return out;
}

}  // namespace jrvs::rag
