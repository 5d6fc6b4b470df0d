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
// by the corpus. Most terms are rare (on real text ~3/4 have at most 8 bytes of postings), so the
// vocabulary is kept compact: a 24-byte record per term holding up to 8 bytes of postings in
// place, the characters in one shared buffer, and open-addressing tables of 32-bit indexes
// instead of node-based maps: ~45 bytes per term in all, characters included (~140 before),
// and 21 bytes per row plus 6-11 of table (~60 before).
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

  // Releases spare capacity: postings, vocabulary and per-row arrays (after a bulk load).
  void Shrink();

  // The parent of a live row, if present.
  std::optional<int64_t> Parent(int64_t id) const;
  // Calls fn(id, parent) for each live row among `ids`, in order, under one lock.
  template <typename Fn>
  void ForEachParent(std::span<const int64_t> ids, Fn&& fn) const {
    std::shared_lock lock(mu_);
    for (int64_t id : ids) {
      if (uint32_t slot = FindSlotLocked(id); slot != kAbsent) fn(id, slot_parent_[slot]);
    }
  }
  // Calls fn(id, parent) for each live row of each of `parents` (not 0), parent by parent in
  // that order, each parent's rows in the order they were added, under one lock.
  template <typename Fn>
  void ForEachChild(std::span<const int64_t> parents, Fn&& fn) const {
    std::shared_lock lock(mu_);
    thread_local std::vector<uint32_t> slots;
    for (int64_t parent : parents) {
      slots.clear();
      for (uint32_t s = FindNewestChildLocked(parent); s != kAbsent; s = slot_older_sibling_[s]) {
        if (slot_live_[s] != 0) slots.push_back(s);
      }
      for (size_t i = slots.size(); i-- > 0;) fn(slot_id_[slots[i]], parent);
    }
  }
  MemoryFtsStats GetStats() const;

 private:
  static constexpr uint32_t kAbsent = 0xffffffff;  // no such term, row or table entry

  // One term's postings (per posting: varint(slot delta), then varint(tf) per column), held in
  // place while they fit in kInlineBytes (most terms are rare: one or two postings), else in a
  // heap block of their own, [uint32 capacity][bytes], whose address takes the place's room.
  class PostingBytes {
   public:
    static constexpr size_t kInlineBytes = 8;
    PostingBytes() = default;
    PostingBytes(PostingBytes&& other) noexcept;
    PostingBytes& operator=(PostingBytes&& other) noexcept;
    ~PostingBytes();
    const uint8_t* data() const;
    size_t size() const { return size_; }
    void Append(const uint8_t* bytes, size_t n);
    void Shrink();             // to the smallest block that holds size()
    size_t HeapBytes() const;  // the heap block with malloc's header; 0 when in place

   private:
    uint8_t* Block() const;  // the heap block (size_ > kInlineBytes)
    void Release();
    uint32_t size_ = 0;
    uint8_t place_[kInlineBytes] = {};  // the bytes, or the block's address when they don't fit
  };
  struct TermRecord {    // 24 bytes
    uint32_t text = 0;   // offset in text_; the characters end where the next term's begin
    uint32_t count = 0;  // postings, live or dead (the document frequency used)
    uint32_t last_slot = 0;
    PostingBytes postings;
  };

  void AddLocked(const MemoryFtsRow& row);
  void RemoveLocked(int64_t id);
  void CompactLocked();
  std::string_view TermText(uint32_t term) const;
  uint32_t FindTermLocked(std::string_view token) const;  // index in terms_, or kAbsent
  uint32_t AddTermLocked(std::string_view token);         // finds or appends
  void RehashTermsLocked(size_t size);                    // table size, a power of two
  uint32_t FindSlotLocked(int64_t id) const;              // the live row's slot, or kAbsent
  void InsertRowLocked(uint32_t slot);
  uint32_t EraseRowLocked(int64_t id);  // the slot it held, or kAbsent
  // Children: the newest slot of each parent in parent_table_, older ones chained through
  // slot_older_sibling_ (dead slots stay chained until a compaction).
  uint32_t FindNewestChildLocked(int64_t parent) const;  // a slot, or kAbsent
  void LinkChildLocked(uint32_t slot);                   // slot_parent_[slot] != 0

  const size_t columns_;
  mutable std::shared_mutex mu_;  // guards everything below
  // The vocabulary: terms_ in the order they came, their characters back to back in text_, and
  // an open-addressing table (linear probing, load <= 0.7) of indexes into terms_.
  std::vector<TermRecord> terms_;
  std::string text_;
  std::vector<uint32_t> term_table_;  // kAbsent or an index in terms_
  std::vector<int64_t> slot_id_;      // row id of each slot
  std::vector<int64_t> slot_parent_;  // parent of each slot
  std::vector<uint32_t> slot_length_;
  std::vector<uint8_t> slot_live_;
  // Live rows, id -> slot: an open-addressing table of slots keyed by slot_id_[slot] (linear
  // probing, load <= 0.7, deletions by backward shift).
  std::vector<uint32_t> row_table_;  // kAbsent or a live slot
  // Parents, parent -> its newest slot: open addressing keyed by slot_parent_[slot] (linear
  // probing, load <= 0.7, no deletions: a parent stays until a compaction drops its last row).
  std::vector<uint32_t> parent_table_;
  std::vector<uint32_t> slot_older_sibling_;  // the parent's previous slot, or kAbsent
  size_t parents_ = 0;
  size_t live_rows_ = 0;
  uint64_t live_tokens_ = 0;
  size_t dead_rows_ = 0;
  size_t posting_bytes_ = 0;  // HeapBytes() of all postings
};

}  // namespace jrvs::store
