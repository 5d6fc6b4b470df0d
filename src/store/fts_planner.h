// FtsPlanner: decides which query terms a full-text search sends to FTS5, so a query of common
// words costs about as much as one of rare words (docs/PERFORMANCE.md, "Retrieval at scale").
//
// Why. FTS5 ranks every row matching any term of an OR query, and its bm25() counts every row
// holding each term once per query to get the term's IDF: the work grows with the sum of the
// terms' document frequencies (df). A word in every document costs a scan of the whole index
// while adding nothing to the ranking: bm25's IDF, ln((N - df + 0.5) / (df + 0.5)), is <= 0 once
// df >= N/2, and FTS5 then floors it to 1e-6.
//
// What. For each term the planner looks up its df (a count of the FTS5 rows matching it, cached
// per table and term; an entry is refreshed once the table has grown by a quarter since it was
// counted, so a cached df costs nothing and a fresh one is paid once per term per 25% of growth),
// then:
//   1. drops terms in more than `max_df_fraction` of the rows (zero IDF: no ranking lost);
//   2. while the kept terms' dfs add up to more than `max_postings`, drops the most common one;
//   3. always keeps the rarest term, so a query never becomes empty;
//   4. if even the rarest kept term is in more than `max_unselective_rows` rows, the query has
//      no selective word at all: it is searched among the newest rows only (a rowid floor), sized
//      to hold about `max_unselective_rows` matches of the kept terms. Such terms are in a large
//      share of the corpus, so their matches are nearly interchangeable for BM25; the newest
//      ones are a bounded, deterministic sample.
// Terms that match no row (df 0) are dropped too (when another term remains): they cannot match.
//
// Thread safety: FtsPlanner is safe to use from many threads (the cache has its own mutex); the
// connection passed to Plan() must be used by the calling thread only.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/status.h"

namespace jrvs::store {

class SqliteConnection;

struct FtsPlannerOptions {
  // Terms in more than this fraction of the rows are dropped. (0, 1]; 1 keeps every term. 0.5 is
  // where FTS5's bm25 IDF reaches zero (see above), so it drops only terms that cannot change
  // the ranking.
  double max_df_fraction = 0.5;
  // Sum of the kept terms' document frequencies above which the most common are dropped. >= 1.
  // FTS5 spends ~0.6 us (documents) to ~0.85 us (chunks) per matched row and term
  // (docs/PERFORMANCE.md), so 20,000 bounds a search near 15 ms. On CISI (long queries, 1,460
  // documents) 20,000 leaves nDCG@10 unchanged; 5,000 lowered it by 0.004 and 2,000 by 0.015.
  int64_t max_postings = 20000;
  // Rows the rarest kept term may match before the query counts as unselective and is searched
  // among the newest rows only (step 4 above). >= 1. 2,000 bounds such a query near 1-2 ms.
  int64_t max_unselective_rows = 2000;
  // Cached document frequencies, over all tables; the cache is emptied when it is full. >= 1.
  size_t max_cached_terms = 100000;
};

// Which FTS5 table a plan is for; each has its own content table for row counts.
enum class FtsTable { kChunks, kDocuments };

struct FtsPlan {
  std::string match;      // FTS5 MATCH expression of the kept terms ("" when no term is left)
  int64_t min_rowid = 0;  // search only rows with rowid >= this (0: all)
  std::vector<std::string> kept;     // the terms in `match`, rarest first
  std::vector<std::string> dropped;  // the terms left out
};

// The decision alone, given each term's df and the table's row count (pure; for tests).
// `max_rowid` is the largest rowid in the table (the floor is computed from it).
FtsPlan PlanFtsTerms(const std::vector<std::string>& terms, const std::vector<int64_t>& dfs,
                     int64_t rows, int64_t max_rowid, const FtsPlannerOptions& options);

class FtsPlanner {
 public:
  explicit FtsPlanner(const FtsPlannerOptions& options = {}) : options_(options) {}

  // The plan for `terms` (empty terms ignored) on `table`, reading dfs and the row count through
  // `conn` (a reader). Errors are the connection's.
  Result<FtsPlan> Plan(SqliteConnection& conn, FtsTable table,
                       const std::vector<std::string>& terms);

 private:
  struct Entry {
    int64_t df = 0;
    int64_t rows = 0;  // the row count when df was counted
  };
  const FtsPlannerOptions options_;
  std::mutex mu_;                                 // guards cache_
  std::unordered_map<std::string, Entry> cache_;  // key: table tag + term
};

}  // namespace jrvs::store
