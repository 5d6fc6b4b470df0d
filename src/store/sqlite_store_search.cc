// SqliteStore: full-text search (SearchText over chunks, SearchDocumentsText over documents),
// answered by the in-memory copies when they are on (store/memory_fts.h), else by FTS5 with the
// query terms chosen by the FtsPlanner (store/fts_planner.h); search-result previews.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "store/fts_planner.h"
#include "store/sqlite_connection.h"
#include "store/sqlite_store.h"
#include "store/sqlite_store_metrics.h"

namespace jrvs::store {
namespace {

// ?3 (chunks) / ?4 (documents): the planner's rowid floor (store/fts_planner.h; 0 = every row).
constexpr const char kSearchText[] =
    "SELECT rowid, rank FROM chunks_fts WHERE chunks_fts MATCH ?1 AND rowid >= ?3"
    " ORDER BY rank LIMIT ?2";
// bm25() weights: title, content.
constexpr const char kSearchDocumentsText[] =
    "SELECT rowid, bm25(documents_fts, ?3, 1.0) AS score FROM documents_fts"
    " WHERE documents_fts MATCH ?1 AND rowid >= ?4 ORDER BY score, rowid LIMIT ?2";
constexpr const char kDocumentPreview[] =
    "SELECT title, url, substr(content, 1, 262144) FROM documents WHERE id = ?1";
constexpr const char kChunkDocument[] = "SELECT document_id FROM chunks WHERE id = ?1";
constexpr const char kDocumentChunks[] = "SELECT id FROM chunks WHERE document_id = ?1 ORDER BY id";

// The ~`max_tokens`-token window of `text` holding the most distinct `wanted` tokens (the first
// such window; the text's start when none matches), cut on token boundaries, with "..." where
// text was left out.
std::string Snippet(FtsTokenizer& tokenizer, std::string_view text,
                    const std::vector<std::string>& wanted, size_t max_tokens) {
  struct Token {
    size_t start, end;
    int match;  // index in wanted (its first copy), -1 if none
  };
  // Tokenizing (and stemming) the whole text was ~7% of /api/search: stop once a full window
  // holds every distinct wanted token (no later window can beat the first such one) and the
  // tokens the choice below reads past it (up to max_tokens more, and one to know that text
  // follows) are in.
  size_t distinct_wanted = 0;
  for (size_t w = 0; w < wanted.size(); ++w) {
    if (std::find(wanted.begin(), wanted.begin() + static_cast<std::ptrdiff_t>(w), wanted[w]) ==
        wanted.begin() + static_cast<std::ptrdiff_t>(w)) {
      ++distinct_wanted;
    }
  }
  std::vector<Token> tokens;
  std::vector<int> seen(wanted.size(), 0);  // per wanted token: matches in the last max_tokens
  size_t seen_distinct = 0;
  size_t enough = SIZE_MAX;  // stop once this many tokens are in
  Status s = tokenizer.TokenizeWhile(
      text, FtsTokenizer::Purpose::kDocument,
      [&](std::string_view token, size_t start, size_t end) {
        auto it = std::find(wanted.begin(), wanted.end(), token);
        int match = it == wanted.end() ? -1 : static_cast<int>(it - wanted.begin());
        tokens.push_back({start, end, match});
        if (enough == SIZE_MAX && max_tokens > 0 && distinct_wanted > 0) {
          const size_t i = tokens.size() - 1;
          if (match >= 0 && seen[match]++ == 0) ++seen_distinct;
          if (i >= max_tokens) {
            const int gone = tokens[i - max_tokens].match;
            if (gone >= 0 && --seen[gone] == 0) --seen_distinct;
          }
          if (seen_distinct == distinct_wanted && i + 1 >= max_tokens) {
            enough = i + max_tokens + 2;
          }
        }
        return tokens.size() < enough;
      });
  if (!s.ok() || tokens.empty() || max_tokens == 0) return "";
  const size_t window = std::min(max_tokens, tokens.size());
  // Slide the window; count distinct matches in it.
  std::vector<int> in_window(wanted.size(), 0);
  int distinct = 0;
  int best = -1;
  size_t best_start = 0;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i].match >= 0 && in_window[tokens[i].match]++ == 0) ++distinct;
    if (i >= window) {
      int gone = tokens[i - window].match;
      if (gone >= 0 && --in_window[gone] == 0) --distinct;
    }
    if (i + 1 >= window) {
      const size_t start = i + 1 - window;
      // Prefer starting a little before the first match, as FTS5's snippet() does.
      if (distinct > best) {
        best = distinct;
        size_t first = start;
        while (first <= i && tokens[first].match < 0) ++first;
        best_start =
            first <= i && first > start + 2 ? std::min(first - 2, tokens.size() - window) : start;
      }
    }
  }
  const size_t last = best_start + window - 1;
  std::string out;
  if (best_start > 0) out += "...";
  out.append(text.substr(tokens[best_start].start, tokens[last].end - tokens[best_start].start));
  if (last + 1 < tokens.size() || tokens[last].end < text.size()) out += "...";
  return out;
}

}  // namespace

Result<std::vector<TextHit>> SqliteStore::SearchText(const std::vector<std::string>& terms,
                                                     int limit) {
  DbOpTimer timer(metrics_.get(), clock_, DbOp::kSearchText);
  auto run = [&]() -> Result<std::vector<TextHit>> {
    std::vector<TextHit> hits;
    if (limit <= 0) return hits;
    if (memory_fts_enabled()) {
      Result<std::vector<std::string>> tokens = QueryTokens(terms);
      if (!tokens) return Error(tokens.error());
      const double weights[] = {1.0};
      for (const MemoryFtsHit& h :
           chunks_memory_->Search(*tokens, static_cast<size_t>(limit), weights,
                                  options_.fts_planner.max_df_fraction)) {
        hits.push_back(TextHit{.chunk_id = h.id, .score = h.score});
      }
      return hits;
    }
    Result<SqliteReaderPool::Lease> conn = readers_->Borrow();
    if (!conn) return Error(conn.error());
    Result<FtsPlan> plan = fts_planner_.Plan(**conn, FtsTable::kChunks, terms);
    if (!plan) return Error(plan.error());
    if (plan->match.empty()) return hits;
    Result<SqliteStatement> stmt = (*conn)->Prepare(kSearchText);
    if (!stmt) return Error(stmt.error());
    stmt->BindText(1, plan->match).BindInt(2, limit).BindInt(3, plan->min_rowid);
    for (;;) {
      Result<bool> row = stmt->Step();
      if (!row) return Error(row.error());
      if (!*row) return hits;
      hits.push_back(TextHit{.chunk_id = stmt->Int(0), .score = -stmt->Double(1)});
    }
  };
  return timer.Finish(run());
}

Result<std::vector<DocumentTextHit>> SqliteStore::SearchDocumentsText(
    const std::vector<std::string>& terms, int limit, double title_weight) {
  DbOpTimer timer(metrics_.get(), clock_, DbOp::kSearchDocumentsText);
  auto run = [&]() -> Result<std::vector<DocumentTextHit>> {
    std::vector<DocumentTextHit> hits;
    if (limit <= 0) return hits;
    if (memory_fts_enabled()) {
      Result<std::vector<std::string>> tokens = QueryTokens(terms);
      if (!tokens) return Error(tokens.error());
      const double weights[] = {title_weight, 1.0};
      for (const MemoryFtsHit& h :
           documents_memory_->Search(*tokens, static_cast<size_t>(limit), weights,
                                     options_.fts_planner.max_df_fraction)) {
        hits.push_back(DocumentTextHit{.document_id = h.id, .score = h.score});
      }
      return hits;
    }
    Result<SqliteReaderPool::Lease> conn = readers_->Borrow();
    if (!conn) return Error(conn.error());
    Result<FtsPlan> plan = fts_planner_.Plan(**conn, FtsTable::kDocuments, terms);
    if (!plan) return Error(plan.error());
    if (plan->match.empty()) return hits;
    Result<SqliteStatement> stmt = (*conn)->Prepare(kSearchDocumentsText);
    if (!stmt) return Error(stmt.error());
    stmt->BindText(1, plan->match)
        .BindInt(2, limit)
        .BindDouble(3, title_weight)
        .BindInt(4, plan->min_rowid);
    for (;;) {
      Result<bool> row = stmt->Step();
      if (!row) return Error(row.error());
      if (!*row) return hits;
      hits.push_back(DocumentTextHit{.document_id = stmt->Int(0), .score = -stmt->Double(1)});
    }
  };
  return timer.Finish(run());
}

Result<std::vector<DocumentPreview>> SqliteStore::GetDocumentPreviews(
    const std::vector<int64_t>& ids, const std::vector<std::string>& terms, size_t max_tokens) {
  DbOpTimer timer(metrics_.get(), clock_, DbOp::kGetDocumentPreviews);
  auto run = [&]() -> Result<std::vector<DocumentPreview>> {
    std::vector<DocumentPreview> previews;
    if (ids.empty()) return previews;
    Result<std::vector<std::string>> wanted = QueryTokens(terms);
    if (!wanted) return Error(wanted.error());
    Status s =
        ForEachKeyedRow(*readers_, kDocumentPreview, ids, [&](int64_t id, SqliteStatement& row) {
          previews.push_back(DocumentPreview{
              .document_id = id,
              .title = row.Text(0),
              .url = row.OptionalText(1),
              .snippet = Snippet(*tokenizer_, row.TextView(2), *wanted, max_tokens),
          });
        });
    if (!s.ok()) return Error(std::move(s));
    return previews;
  };
  return timer.Finish(run());
}

Result<std::vector<ChunkRef>> SqliteStore::ChunkDocumentIds(const std::vector<int64_t>& chunk_ids) {
  DbOpTimer timer(metrics_.get(), clock_, DbOp::kChunkDocumentIds);
  auto run = [&]() -> Result<std::vector<ChunkRef>> {
    std::vector<ChunkRef> refs;
    refs.reserve(chunk_ids.size());
    if (memory_fts_enabled()) {
      chunks_memory_->ForEachParent(chunk_ids, [&](int64_t id, int64_t doc) {
        refs.push_back({id, doc});
      });
      return refs;
    }
    Status s = ForEachKeyedRow(*readers_, kChunkDocument, chunk_ids,
                               [&](int64_t id, SqliteStatement& row) {
                                 refs.push_back({id, row.Int(0)});
                               });
    if (!s.ok()) return Error(std::move(s));
    return refs;
  };
  return timer.Finish(run());
}

Result<std::vector<ChunkRef>> SqliteStore::DocumentChunkIds(
    const std::vector<int64_t>& document_ids) {
  DbOpTimer timer(metrics_.get(), clock_, DbOp::kDocumentChunkIds);
  auto run = [&]() -> Result<std::vector<ChunkRef>> {
    std::vector<ChunkRef> refs;
    if (memory_fts_enabled()) {
      chunks_memory_->ForEachChild(document_ids, [&](int64_t id, int64_t doc) {
        refs.push_back({id, doc});
      });
      return refs;
    }
    Status s = ForEachKeyedRow(*readers_, kDocumentChunks, document_ids,
                               [&](int64_t doc, SqliteStatement& row) {
                                 refs.push_back({row.Int(0), doc});
                               });
    if (!s.ok()) return Error(std::move(s));
    return refs;
  };
  return timer.Finish(run());
}

}  // namespace jrvs::store
