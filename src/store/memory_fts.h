// MemoryFts: an in-memory copy of one FTS5 table (chunks_fts or documents_fts), answering BM25
// searches about two orders of magnitude faster than FTS5 (docs/PERFORMANCE.md, "Lexical
// search in memory"). SQLite's FTS5 table stays the durable index, written in the same
// transaction as the rows; this copy is built from the database when the store enables it and
// then follows every committed write (SqliteStore applies them on the writer thread, in commit
// order).
//
// Rows are tokenized by FTS5's own tokenizer (store/fts_tokenizer.h), and scores are FTS5's
// bm25(): for each query term, idf * f * (k1 + 1) / (f + k1 * (1 - b + b * D / avgdl)) with
// k1 = 1.2, b = 0.75, f the column-weighted term frequency, D the row's length in tokens (all
// columns), idf = ln((N - df + 0.5) / (df + 0.5)) floored at 1e-6. So before any delete the two
// rank alike (a test compares them). A removed row is marked dead and its postings stay until a
// compaction, as in Lucene: until then it still counts in its terms' document frequencies (N and
// avgdl count live rows only). Compaction runs when dead rows reach a quarter of all rows.
//
// Postings are kept per term as delta-encoded varints (row slot, then one term frequency per
// column), about 2.5-3.5 bytes each, and scored document-at-a-time: no per-query buffers sized
// by the corpus.
//
// Thread safety: Search(), Parent() and GetStats() may run concurrently with each other and with
// Apply() (a reader-writer lock; Apply() holds it exclusively for the postings appends only:
// rows are tokenized beforehand, by Prepare(), without any lock).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "store/fts_tokenizer.h"

namespace jrvs::store {

// One row, tokenized and ready to be added.
struct MemoryFtsRow {
  struct Term {
    std::string token;
    uint32_t tf[2] = {0, 0};  // occurrences per column
  };
  int64_t id = 0;
  int64_t parent = 0;       // chunks: the document id (0 where unused)
  uint32_t length = 0;      // tokens in all columns (FTS5's column size)
  std::vector<Term> terms;  // distinct tokens
};

struct MemoryFtsHit {
  int64_t id = 0;
  double score = 0;  // bm25, higher is better (FTS5's rank negated)
};

struct MemoryFtsStats {
  size_t live_rows = 0;
  size_t dead_rows = 0;  // removed, waiting for a compaction
  size_t terms = 0;
  size_t postings = 0;
  size_t bytes = 0;  // approximate heap bytes held
};

class MemoryFts {
 public:
  // `columns`: 1 or 2 (FTS5 columns of the table).
  explicit MemoryFts(size_t columns);

  // Tokenizes a row's columns (at most `columns` of them) with `tokenizer`. No lock taken.
  Result<MemoryFtsRow> Prepare(FtsTokenizer& tokenizer, int64_t id, int64_t parent,
                               std::span<const std::string_view> column_texts) const;

  // Removes the rows with ids `remove` (unknown ids ignored), then adds `add` (a row whose id is
  // already present replaces it). May compact.
  void Apply(std::vector<MemoryFtsRow> add, std::span<const int64_t> remove);

  // The `limit` best rows matching any of `tokens` (already tokenized, query purpose; repeated
  // tokens count once each, as repeated FTS5 phrases do), best first, equal scores by id.
  // `weights`: per-column weight (missing columns weigh 1). Tokens in more than
  // `max_df_fraction` of the rows are left out (their idf is at FTS5's floor), except the
  // rarest token, so a query never becomes empty.
  std::vector<MemoryFtsHit> Search(std::span<const std::string> tokens, size_t limit,
                                   std::span<const double> weights,
                                   double max_df_fraction = 0.5) const;

  // Releases the spare capacity of the postings (after a bulk load).
  void Shrink();

  // The parent of a live row, if present.
  std::optional<int64_t> Parent(int64_t id) const;
  // Calls fn(id, parent) for each live row among `ids`, in order, under one lock.
  template <typename Fn>
  void ForEachParent(std::span<const int64_t> ids, Fn&& fn) const {
    std::shared_lock lock(mu_);
    for (int64_t id : ids) {
      auto it = slot_of_.find(id);
      if (it != slot_of_.end()) fn(id, slot_parent_[it->second]);
    }
  }
  MemoryFtsStats GetStats() const;

 private:
  struct TermPostings {
    std::vector<uint8_t> bytes;  // per posting: varint(slot delta), then varint(tf) per column
    uint32_t count = 0;          // postings, live or dead (the document frequency used)
    uint32_t last_slot = 0;
  };
  void AddLocked(MemoryFtsRow& row);
  void RemoveLocked(int64_t id);
  void CompactLocked();

  const size_t columns_;
  mutable std::shared_mutex mu_;                     // guards everything below
  std::unordered_map<std::string, uint32_t> vocab_;  // token -> index in postings_
  std::vector<TermPostings> postings_;
  std::vector<int64_t> slot_id_;      // row id of each slot
  std::vector<int64_t> slot_parent_;  // parent of each slot
  std::vector<uint32_t> slot_length_;
  std::vector<uint8_t> slot_live_;
  std::unordered_map<int64_t, uint32_t> slot_of_;  // live rows: id -> slot
  uint64_t live_tokens_ = 0;
  size_t dead_rows_ = 0;
  size_t posting_bytes_ = 0;
};

}  // namespace jrvs::store
