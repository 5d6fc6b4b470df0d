#include "store/fts_planner.h"

#include <algorithm>
#include <numeric>
#include <utility>

#include "store/fts_query.h"
#include "store/sqlite_connection.h"

namespace jrvs::store {
namespace {

// Row counts are estimated by the largest id (O(log n), where count(*) scans the table); deleted
// rows make it an overestimate, which only makes the planner keep more terms.
constexpr const char kMaxChunkId[] = "SELECT coalesce(max(id), 0) FROM chunks";
constexpr const char kMaxDocumentId[] = "SELECT coalesce(max(id), 0) FROM documents";
constexpr const char kChunkDf[] = "SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?1";
constexpr const char kDocumentDf[] =
    "SELECT count(*) FROM documents_fts WHERE documents_fts MATCH ?1";

Result<int64_t> QueryOne(SqliteConnection& conn, const char* sql, const std::string* text) {
  Result<SqliteStatement> stmt = conn.Prepare(sql);
  if (!stmt) return Error(stmt.error());
  if (text != nullptr) stmt->BindText(1, *text);
  Result<bool> row = stmt->Step();
  if (!row) return Error(row.error());
  return *row ? stmt->Int(0) : 0;
}

}  // namespace

FtsPlan PlanFtsTerms(const std::vector<std::string>& terms, const std::vector<int64_t>& dfs,
                     int64_t rows, int64_t max_rowid, const FtsPlannerOptions& options) {
  FtsPlan plan;
  std::vector<size_t> order(terms.size());
  std::iota(order.begin(), order.end(), size_t{0});
  // Rarest first; equal dfs keep the query's order.
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return dfs[a] < dfs[b]; });
  // The rarest term that matches anything is always kept (the rarest of all if none does: the
  // search then finds nothing, as it should).
  auto first = std::find_if(order.begin(), order.end(), [&](size_t i) { return dfs[i] > 0; });
  if (first == order.end()) first = order.begin();
  const double common = options.max_df_fraction * static_cast<double>(rows);
  int64_t postings = dfs[*first];
  plan.kept.push_back(terms[*first]);
  for (auto it = order.begin(); it != order.end(); ++it) {
    if (it == first) continue;
    const int64_t df = dfs[*it];
    if (df > 0 && static_cast<double>(df) <= common && postings + df <= options.max_postings) {
      plan.kept.push_back(terms[*it]);
      postings += df;
    } else {
      plan.dropped.push_back(terms[*it]);
    }
  }
  if (dfs[*first] > options.max_unselective_rows && max_rowid > 0) {
    // No selective term: the newest rows holding about max_unselective_rows of the matches.
    const double share =
        static_cast<double>(options.max_unselective_rows) / static_cast<double>(postings);
    const auto window = static_cast<int64_t>(share * static_cast<double>(max_rowid)) + 1;
    plan.min_rowid = std::max<int64_t>(0, max_rowid - window + 1);
  }
  plan.match = BuildFtsMatchExpression(plan.kept);
  return plan;
}

Result<FtsPlan> FtsPlanner::Plan(SqliteConnection& conn, FtsTable table,
                                 const std::vector<std::string>& terms) {
  std::vector<std::string> unique;
  for (const std::string& t : terms) {
    if (!t.empty() && std::find(unique.begin(), unique.end(), t) == unique.end()) {
      unique.push_back(t);
    }
  }
  if (unique.empty()) return FtsPlan{};
  const bool chunks = table == FtsTable::kChunks;
  Result<int64_t> max_rowid = QueryOne(conn, chunks ? kMaxChunkId : kMaxDocumentId, nullptr);
  if (!max_rowid) return Error(max_rowid.error());
  const int64_t rows = *max_rowid;
  const char tag = chunks ? 'c' : 'd';
  std::vector<int64_t> dfs(unique.size(), -1);
  {
    std::lock_guard<std::mutex> l(mu_);
    for (size_t i = 0; i < unique.size(); ++i) {
      auto it = cache_.find(tag + unique[i]);
      // Fresh while the table has grown by less than a quarter since the count.
      if (it != cache_.end() && rows <= it->second.rows + it->second.rows / 4) {
        dfs[i] = it->second.df;
      }
    }
  }
  for (size_t i = 0; i < unique.size(); ++i) {
    if (dfs[i] >= 0) continue;
    const std::string match = BuildFtsMatchExpression({unique[i]});
    Result<int64_t> df = QueryOne(conn, chunks ? kChunkDf : kDocumentDf, &match);
    if (!df) return Error(df.error());
    dfs[i] = *df;
    std::lock_guard<std::mutex> l(mu_);
    if (cache_.size() >= options_.max_cached_terms) cache_.clear();
    cache_[tag + unique[i]] = Entry{.df = *df, .rows = rows};
  }
  return PlanFtsTerms(unique, dfs, rows, rows, options_);
}

}  // namespace jrvs::store
