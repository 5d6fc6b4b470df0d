// SqliteStore: full-text search (SearchText over chunks, SearchDocumentsText over documents),
// with the query terms chosen by the FtsPlanner (store/fts_planner.h).
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
// bm25() weights: title, content. snippet(): the content column, 24 tokens at most. Ranked in a
// subquery so that the join and snippet() run for the `limit` best rows only (SQLite computes
// the result columns of every matching row before sorting: that doubled the cost of a query of
// common words).
constexpr const char kSearchDocumentsText[] =
    "WITH top AS (SELECT rowid AS id, bm25(documents_fts, ?3, 1.0) AS score FROM documents_fts"
    " WHERE documents_fts MATCH ?1 AND rowid >= ?4 ORDER BY score LIMIT ?2)"
    " SELECT top.id, top.score, d.title, d.url, snippet(documents_fts, 1, '', '', '...', 24)"
    " FROM top JOIN documents_fts f ON f.rowid = top.id JOIN documents d ON d.id = top.id"
    " WHERE documents_fts MATCH ?1 ORDER BY top.score, top.id";

}  // namespace

Result<std::vector<TextHit>> SqliteStore::SearchText(const std::vector<std::string>& terms,
                                                     int limit) {
  DbOpTimer timer(metrics_.get(), clock_, DbOp::kSearchText);
  auto run = [&]() -> Result<std::vector<TextHit>> {
    std::vector<TextHit> hits;
    if (limit <= 0) return hits;
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
      DocumentTextHit hit;
      hit.document_id = stmt->Int(0);
      hit.score = -stmt->Double(1);
      hit.title = stmt->Text(2);
      if (!stmt->IsNull(3)) hit.url = stmt->Text(3);
      hit.snippet = stmt->Text(4);
      hits.push_back(std::move(hit));
    }
  };
  return timer.Finish(run());
}

}  // namespace jrvs::store
