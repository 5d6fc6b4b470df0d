#include "store/memory_fts.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <queue>
#include <utility>

namespace jrvs::store {
namespace {

constexpr double kK1 = 1.2;  // FTS5's bm25() constants
constexpr double kB = 0.75;
constexpr uint32_t kNoSlot = std::numeric_limits<uint32_t>::max();

// A posting: varint(slot delta), then varint(tf) per column (at most 2): at most 15 bytes.
constexpr size_t kMaxPostingBytes = 15;

size_t PutVarint(uint8_t* out, uint32_t v) {
  size_t n = 0;
  while (v >= 0x80) {
    out[n++] = static_cast<uint8_t>(v | 0x80);
    v >>= 7;
  }
  out[n++] = static_cast<uint8_t>(v);
  return n;
}

size_t EncodePosting(uint8_t* out, uint32_t slot_delta, const uint32_t* tf, size_t columns) {
  size_t n = PutVarint(out, slot_delta);
  for (size_t c = 0; c < columns; ++c) n += PutVarint(out + n, tf[c]);
  return n;
}

// The open-addressing tables (sizes powers of two) grow by doubling before an insertion would
// take them past 70% full.
constexpr size_t kMinTableSize = 64;
bool TooFull(size_t entries, size_t table_size) { return (entries + 1) * 10 > table_size * 7; }
size_t TableSizeFor(size_t entries) {
  size_t size = kMinTableSize;
  while (TooFull(entries, size)) size *= 2;
  return size;
}

size_t TermHash(std::string_view token) { return std::hash<std::string_view>{}(token); }

size_t RowHash(int64_t id) {  // murmur3's finalizer: row ids are often consecutive
  auto h = static_cast<uint64_t>(id);
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return static_cast<size_t>(h);
}

// In an open-addressing table of slots (linear probing on RowHash of key_of(slot)), the entry
// holding the slot whose key is `key`, or the empty entry where it would go. The table is not
// empty and never full.
template <typename KeyOf>
size_t ProbeSlots(const std::vector<uint32_t>& table, int64_t key, uint32_t empty, KeyOf key_of) {
  const size_t mask = table.size() - 1;
  size_t i = RowHash(key) & mask;
  while (table[i] != empty && key_of(table[i]) != key) i = (i + 1) & mask;
  return i;
}

// Re-inserts the slots held in an open-addressing table (linear probing on RowHash of
// key_of(slot)) into a table of `size` entries, a power of two; `empty` marks a free entry.
template <typename KeyOf>
void RehashSlots(std::vector<uint32_t>& table, size_t size, uint32_t empty, KeyOf key_of) {
  std::vector<uint32_t> old = std::move(table);
  table.assign(size, empty);
  const size_t mask = size - 1;
  for (uint32_t slot : old) {
    if (slot == empty) continue;
    size_t i = RowHash(key_of(slot)) & mask;
    while (table[i] != empty) i = (i + 1) & mask;
    table[i] = slot;
  }
}

// Heap blocks of postings: [uint32 capacity][bytes]. Their sizes are 8 mod 16, from 24 up, which
// fill glibc's chunks (16-byte steps after an 8-byte header) with no slack.
constexpr size_t kBlockHeader = sizeof(uint32_t);
constexpr size_t kMallocHeader = 8;
size_t BlockSizeFor(size_t bytes) {
  const size_t n = std::max<size_t>(bytes + kBlockHeader, 24);
  return ((n + kMallocHeader + 15) & ~size_t{15}) - kMallocHeader;
}
uint32_t BlockCapacity(const uint8_t* block) {
  uint32_t capacity;
  std::memcpy(&capacity, block, sizeof capacity);
  return capacity;
}
uint8_t* NewBlock(size_t size) {
  uint8_t* block = std::allocator<uint8_t>().allocate(size);
  const auto capacity = static_cast<uint32_t>(size - kBlockHeader);
  std::memcpy(block, &capacity, sizeof capacity);
  return block;
}
void DeleteBlock(uint8_t* block) {
  std::allocator<uint8_t>().deallocate(block, BlockCapacity(block) + kBlockHeader);
}

uint32_t GetVarint(const uint8_t*& p) {
  uint32_t v = 0;
  int shift = 0;
  for (;;) {
    uint8_t byte = *p++;
    v |= static_cast<uint32_t>(byte & 0x7f) << shift;
    if (byte < 0x80) return v;
    shift += 7;
  }
}

// Reads one term's postings in slot order.
struct Cursor {
  const uint8_t* p = nullptr;
  const uint8_t* end = nullptr;
  uint32_t slot = 0;
  uint32_t tf[2] = {0, 0};
  bool first = true;
  double idf = 0;

  // Moves to the next posting; false at the end.
  bool Next(size_t columns) {
    if (p == end) return false;
    uint32_t delta = GetVarint(p);
    slot = first ? delta : slot + delta;
    first = false;
    for (size_t c = 0; c < columns; ++c) tf[c] = GetVarint(p);
    return true;
  }
};

}  // namespace

MemoryFts::PostingBytes::PostingBytes(PostingBytes&& other) noexcept : size_(other.size_) {
  std::memcpy(place_, other.place_, kInlineBytes);
  other.size_ = 0;
}

MemoryFts::PostingBytes& MemoryFts::PostingBytes::operator=(PostingBytes&& other) noexcept {
  if (this != &other) {
    Release();
    size_ = other.size_;
    std::memcpy(place_, other.place_, kInlineBytes);
    other.size_ = 0;
  }
  return *this;
}

MemoryFts::PostingBytes::~PostingBytes() { Release(); }

void MemoryFts::PostingBytes::Release() {
  if (size_ > kInlineBytes) DeleteBlock(Block());
  size_ = 0;
}

uint8_t* MemoryFts::PostingBytes::Block() const {
  static_assert(sizeof(uint8_t*) <= kInlineBytes);
  static_assert(sizeof(TermRecord) == 24);
  uint8_t* block;
  std::memcpy(&block, place_, sizeof block);
  return block;
}

const uint8_t* MemoryFts::PostingBytes::data() const {
  return size_ > kInlineBytes ? Block() + kBlockHeader : place_;
}

void MemoryFts::PostingBytes::Append(const uint8_t* bytes, size_t n) {
  const size_t size = size_ + n;
  if (size <= kInlineBytes) {
    std::memcpy(place_ + size_, bytes, n);
  } else if (size_ <= kInlineBytes) {  // spills to a block
    uint8_t* block = NewBlock(BlockSizeFor(size));
    std::memcpy(block + kBlockHeader, place_, size_);
    std::memcpy(block + kBlockHeader + size_, bytes, n);
    std::memcpy(place_, &block, sizeof block);
  } else {
    uint8_t* block = Block();
    const size_t capacity = BlockCapacity(block);
    if (size > capacity) {  // grows by half, as the lists of common terms keep growing
      uint8_t* bigger = NewBlock(BlockSizeFor(std::max(size, capacity + capacity / 2)));
      std::memcpy(bigger + kBlockHeader, block + kBlockHeader, size_);
      DeleteBlock(block);
      block = bigger;
      std::memcpy(place_, &block, sizeof block);
    }
    std::memcpy(block + kBlockHeader + size_, bytes, n);
  }
  size_ = static_cast<uint32_t>(size);
}

void MemoryFts::PostingBytes::Shrink() {
  if (size_ <= kInlineBytes) return;
  uint8_t* block = Block();
  const size_t fit = BlockSizeFor(size_);
  if (fit >= BlockCapacity(block) + kBlockHeader) return;
  uint8_t* smaller = NewBlock(fit);
  std::memcpy(smaller + kBlockHeader, block + kBlockHeader, size_);
  DeleteBlock(block);
  std::memcpy(place_, &smaller, sizeof smaller);
}

size_t MemoryFts::PostingBytes::HeapBytes() const {
  return size_ > kInlineBytes ? BlockCapacity(Block()) + kBlockHeader + kMallocHeader : 0;
}

std::string_view MemoryFts::TermText(uint32_t term) const {
  const size_t begin = terms_[term].text;
  const size_t end = term + 1 < terms_.size() ? terms_[term + 1].text : text_.size();
  return std::string_view(text_).substr(begin, end - begin);
}

uint32_t MemoryFts::FindTermLocked(std::string_view token) const {
  if (term_table_.empty()) return kAbsent;
  const size_t mask = term_table_.size() - 1;
  for (size_t i = TermHash(token) & mask;; i = (i + 1) & mask) {
    const uint32_t term = term_table_[i];
    if (term == kAbsent || TermText(term) == token) return term;
  }
}

uint32_t MemoryFts::AddTermLocked(std::string_view token) {
  if (TooFull(terms_.size(), term_table_.size())) {
    RehashTermsLocked(std::max(kMinTableSize, term_table_.size() * 2));
  }
  const size_t mask = term_table_.size() - 1;
  size_t i = TermHash(token) & mask;
  for (; term_table_[i] != kAbsent; i = (i + 1) & mask) {
    if (TermText(term_table_[i]) == token) return term_table_[i];
  }
  // Offsets are 32-bit: an index holds at most 4 GiB of distinct term characters.
  const auto term = static_cast<uint32_t>(terms_.size());
  terms_.emplace_back().text = static_cast<uint32_t>(text_.size());
  text_.append(token);
  term_table_[i] = term;
  return term;
}

void MemoryFts::RehashTermsLocked(size_t size) {
  term_table_.assign(size, kAbsent);
  const size_t mask = size - 1;
  for (uint32_t term = 0; term < terms_.size(); ++term) {
    size_t i = TermHash(TermText(term)) & mask;
    while (term_table_[i] != kAbsent) i = (i + 1) & mask;
    term_table_[i] = term;
  }
}

uint32_t MemoryFts::FindSlotLocked(int64_t id) const {
  if (row_table_.empty()) return kAbsent;
  return row_table_[ProbeSlots(row_table_, id, kAbsent,
                               [this](uint32_t s) { return slot_id_[s]; })];
}

void MemoryFts::InsertRowLocked(uint32_t slot) {
  if (TooFull(live_rows_, row_table_.size())) {
    RehashSlots(row_table_, std::max(kMinTableSize, row_table_.size() * 2), kAbsent,
                [this](uint32_t s) { return slot_id_[s]; });
  }
  const size_t mask = row_table_.size() - 1;
  size_t i = RowHash(slot_id_[slot]) & mask;
  while (row_table_[i] != kAbsent) i = (i + 1) & mask;
  row_table_[i] = slot;
  ++live_rows_;
}

uint32_t MemoryFts::EraseRowLocked(int64_t id) {
  if (row_table_.empty()) return kAbsent;
  const size_t mask = row_table_.size() - 1;
  size_t hole = ProbeSlots(row_table_, id, kAbsent, [this](uint32_t s) { return slot_id_[s]; });
  const uint32_t slot = row_table_[hole];
  if (slot == kAbsent) return kAbsent;
  // Backward shift (no tombstones): an entry further along the run moves into the hole unless
  // its home position lies cyclically in (hole, j], where a lookup would stop before the hole.
  for (size_t j = (hole + 1) & mask; row_table_[j] != kAbsent; j = (j + 1) & mask) {
    const size_t home = RowHash(slot_id_[row_table_[j]]) & mask;
    const bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
    if (!stays) {
      row_table_[hole] = row_table_[j];
      hole = j;
    }
  }
  row_table_[hole] = kAbsent;
  --live_rows_;
  return slot;
}

uint32_t MemoryFts::FindNewestChildLocked(int64_t parent) const {
  if (parent_table_.empty()) return kAbsent;
  return parent_table_[ProbeSlots(parent_table_, parent, kAbsent,
                                  [this](uint32_t s) { return slot_parent_[s]; })];
}

void MemoryFts::LinkChildLocked(uint32_t slot) {
  if (TooFull(parents_, parent_table_.size())) {
    RehashSlots(parent_table_, std::max(kMinTableSize, parent_table_.size() * 2), kAbsent,
                [this](uint32_t s) { return slot_parent_[s]; });
  }
  const size_t i = ProbeSlots(parent_table_, slot_parent_[slot], kAbsent,
                              [this](uint32_t s) { return slot_parent_[s]; });
  if (parent_table_[i] == kAbsent) ++parents_;
  slot_older_sibling_[slot] = parent_table_[i];
  parent_table_[i] = slot;
}

MemoryFts::MemoryFts(size_t columns) : columns_(std::clamp<size_t>(columns, 1, 2)) {}

Result<MemoryFtsRow> MemoryFts::Prepare(FtsTokenizer& tokenizer, int64_t id, int64_t parent,
                                        std::span<const std::string_view> column_texts) const {
  MemoryFtsRow row;
  row.id = id;
  row.parent = parent;
  // Distinct tokens: open addressing over indexes into row.terms (no allocation per token but
  // the term's own string, which short tokens keep inline).
  thread_local std::vector<uint32_t> table;
  constexpr uint32_t kEmpty = std::numeric_limits<uint32_t>::max();
  size_t mask = 255;
  table.assign(mask + 1, kEmpty);
  const size_t n = std::min(column_texts.size(), columns_);
  for (size_t c = 0; c < n; ++c) {
    Status s = tokenizer.Tokenize(
        column_texts[c], FtsTokenizer::Purpose::kDocument,
        [&](std::string_view token, size_t, size_t) {
          ++row.length;
          if ((row.terms.size() + 1) * 2 > mask + 1) {  // grow and re-insert
            mask = mask * 2 + 1;
            table.assign(mask + 1, kEmpty);
            for (uint32_t t = 0; t < row.terms.size(); ++t) {
              size_t i = std::hash<std::string_view>{}(row.terms[t].token) & mask;
              while (table[i] != kEmpty) i = (i + 1) & mask;
              table[i] = t;
            }
          }
          size_t i = std::hash<std::string_view>{}(token)&mask;
          for (;; i = (i + 1) & mask) {
            if (table[i] == kEmpty) {
              table[i] = static_cast<uint32_t>(row.terms.size());
              row.terms.push_back(MemoryFtsRow::Term{.token = std::string(token)});
              ++row.terms.back().tf[c];
              return;
            }
            if (row.terms[table[i]].token == token) {
              ++row.terms[table[i]].tf[c];
              return;
            }
          }
        });
    if (!s.ok()) return Error(std::move(s));
  }
  return row;
}

void MemoryFts::Apply(std::vector<MemoryFtsRow> add, std::span<const int64_t> remove) {
  std::unique_lock lock(mu_);
  for (int64_t id : remove) RemoveLocked(id);
  for (const MemoryFtsRow& row : add) AddLocked(row);
  if (dead_rows_ >= 1024 && dead_rows_ * 4 >= slot_id_.size()) CompactLocked();
}

void MemoryFts::RemoveLocked(int64_t id) {
  const uint32_t slot = EraseRowLocked(id);
  if (slot == kAbsent) return;
  slot_live_[slot] = 0;
  live_tokens_ -= slot_length_[slot];
  ++dead_rows_;
}

void MemoryFts::AddLocked(const MemoryFtsRow& row) {
  RemoveLocked(row.id);
  const auto slot = static_cast<uint32_t>(slot_id_.size());
  slot_id_.push_back(row.id);
  slot_parent_.push_back(row.parent);
  slot_length_.push_back(row.length);
  slot_live_.push_back(1);
  slot_older_sibling_.push_back(kAbsent);
  if (row.parent != 0) LinkChildLocked(slot);
  InsertRowLocked(slot);
  live_tokens_ += row.length;
  uint8_t posting[kMaxPostingBytes];
  for (const MemoryFtsRow::Term& term : row.terms) {
    TermRecord& record = terms_[AddTermLocked(term.token)];
    const size_t n = EncodePosting(posting, record.count == 0 ? slot : slot - record.last_slot,
                                   term.tf, columns_);
    posting_bytes_ -= record.postings.HeapBytes();
    record.postings.Append(posting, n);
    posting_bytes_ += record.postings.HeapBytes();
    record.last_slot = slot;
    ++record.count;
  }
}

void MemoryFts::CompactLocked() {
  // New slots: the live ones, in their old order (so every list stays sorted).
  std::vector<uint32_t> remap(slot_id_.size(), kNoSlot);
  uint32_t next = 0;
  for (size_t s = 0; s < slot_id_.size(); ++s) {
    if (slot_live_[s] == 0) continue;
    remap[s] = next;
    slot_id_[next] = slot_id_[s];
    slot_parent_[next] = slot_parent_[s];
    slot_length_[next] = slot_length_[s];
    slot_live_[next] = 1;
    ++next;
  }
  for (std::vector<int64_t>* v : {&slot_id_, &slot_parent_}) {
    v->resize(next);
    v->shrink_to_fit();
  }
  slot_length_.resize(next);
  slot_length_.shrink_to_fit();
  slot_live_.resize(next);
  slot_live_.shrink_to_fit();
  slot_older_sibling_.assign(next, kAbsent);
  slot_older_sibling_.shrink_to_fit();
  row_table_.assign(TableSizeFor(next), kAbsent);
  live_rows_ = 0;
  parent_table_.clear();
  parents_ = 0;
  for (uint32_t slot = 0; slot < next; ++slot) {
    InsertRowLocked(slot);
    if (slot_parent_[slot] != 0) LinkChildLocked(slot);
  }

  // Terms keep their order; those left without postings go.
  std::vector<TermRecord> terms;
  std::string text;
  posting_bytes_ = 0;
  uint8_t posting[kMaxPostingBytes];
  for (uint32_t term = 0; term < terms_.size(); ++term) {
    const PostingBytes& old = terms_[term].postings;
    TermRecord fresh;
    Cursor cursor{.p = old.data(), .end = old.data() + old.size()};
    while (cursor.Next(columns_)) {
      uint32_t slot = remap[cursor.slot];
      if (slot == kNoSlot) continue;
      const size_t n = EncodePosting(posting, fresh.count == 0 ? slot : slot - fresh.last_slot,
                                     cursor.tf, columns_);
      fresh.postings.Append(posting, n);
      fresh.last_slot = slot;
      ++fresh.count;
    }
    if (fresh.count == 0) continue;
    fresh.postings.Shrink();
    posting_bytes_ += fresh.postings.HeapBytes();
    fresh.text = static_cast<uint32_t>(text.size());
    text.append(TermText(term));
    terms.push_back(std::move(fresh));
  }
  terms.shrink_to_fit();
  text.shrink_to_fit();
  terms_ = std::move(terms);
  text_ = std::move(text);
  RehashTermsLocked(TableSizeFor(terms_.size()));
  dead_rows_ = 0;
}

std::vector<MemoryFtsHit> MemoryFts::Search(std::span<const std::string> tokens, size_t limit,
                                            std::span<const double> weights,
                                            double max_df_fraction) const {
  std::vector<MemoryFtsHit> out;
  if (limit == 0 || tokens.empty()) return out;
  double w[2] = {1, 1};
  for (size_t c = 0; c < std::min<size_t>(weights.size(), 2); ++c) w[c] = weights[c];

  std::shared_lock lock(mu_);
  const size_t rows = live_rows_;
  if (rows == 0) return out;
  const double n = static_cast<double>(rows);
  const double avgdl = static_cast<double>(live_tokens_) / n;

  std::vector<Cursor> cursors;
  std::vector<uint32_t> dfs;
  for (const std::string& token : tokens) {
    const uint32_t term = FindTermLocked(token);
    if (term == kAbsent) continue;
    const TermRecord& list = terms_[term];
    Cursor c{.p = list.postings.data(), .end = list.postings.data() + list.postings.size()};
    const double df = list.count;
    c.idf = std::log((n - df + 0.5) / (df + 0.5));
    if (c.idf <= 0) c.idf = 1e-6;
    cursors.push_back(c);
    dfs.push_back(list.count);
  }
  if (cursors.empty()) return out;
  // Terms in too many rows add (next to) nothing to any score but cost a pass over most rows.
  const uint32_t rarest = *std::min_element(dfs.begin(), dfs.end());
  bool rarest_kept = false;
  std::vector<Cursor> kept;
  for (size_t i = 0; i < cursors.size(); ++i) {
    bool is_rarest = !rarest_kept && dfs[i] == rarest;
    if (is_rarest || static_cast<double>(dfs[i]) <= max_df_fraction * n) {
      kept.push_back(cursors[i]);
      rarest_kept = rarest_kept || is_rarest;
    }
  }
  std::vector<Cursor*> active;
  for (Cursor& c : kept) {
    if (c.Next(columns_)) active.push_back(&c);
  }

  // Keep the `limit` best in a heap whose top is the worst kept (lowest score, then largest id).
  auto worse = [](const MemoryFtsHit& a, const MemoryFtsHit& b) {
    if (a.score != b.score) return a.score > b.score;
    return a.id < b.id;
  };
  std::priority_queue<MemoryFtsHit, std::vector<MemoryFtsHit>, decltype(worse)> best(worse);
  while (!active.empty()) {
    uint32_t slot = active.front()->slot;
    for (const Cursor* c : active) slot = std::min(slot, c->slot);
    const bool live = slot_live_[slot] != 0;
    const double norm = kK1 * (1 - kB + kB * slot_length_[slot] / avgdl);
    double score = 0;
    for (size_t i = 0; i < active.size();) {
      Cursor& c = *active[i];
      if (c.slot == slot) {
        if (live) {
          double f = w[0] * c.tf[0] + (columns_ > 1 ? w[1] * c.tf[1] : 0.0);
          score += c.idf * (f * (kK1 + 1)) / (f + norm);
        }
        if (!c.Next(columns_)) {
          active[i] = active.back();
          active.pop_back();
          continue;
        }
      }
      ++i;
    }
    if (!live) continue;
    MemoryFtsHit hit{.id = slot_id_[slot], .score = score};
    if (best.size() < limit) {
      best.push(hit);
    } else if (worse(hit, best.top())) {
      best.pop();
      best.push(hit);
    }
  }
  out.resize(best.size());
  for (size_t i = out.size(); i-- > 0;) {
    out[i] = best.top();
    best.pop();
  }
  return out;
}

void MemoryFts::Shrink() {
  std::unique_lock lock(mu_);
  posting_bytes_ = 0;
  for (TermRecord& term : terms_) {
    term.postings.Shrink();
    posting_bytes_ += term.postings.HeapBytes();
  }
  terms_.shrink_to_fit();
  text_.shrink_to_fit();
  slot_id_.shrink_to_fit();
  slot_parent_.shrink_to_fit();
  slot_length_.shrink_to_fit();
  slot_live_.shrink_to_fit();
  slot_older_sibling_.shrink_to_fit();
}

std::optional<int64_t> MemoryFts::Parent(int64_t id) const {
  std::shared_lock lock(mu_);
  const uint32_t slot = FindSlotLocked(id);
  if (slot == kAbsent) return std::nullopt;
  return slot_parent_[slot];
}

MemoryFtsStats MemoryFts::GetStats() const {
  std::shared_lock lock(mu_);
  MemoryFtsStats stats;
  stats.live_rows = live_rows_;
  stats.dead_rows = dead_rows_;
  stats.terms = terms_.size();
  for (const TermRecord& term : terms_) stats.postings += term.count;
  // Postings spilled to blocks (with malloc's headers), the term records (holding the rest), the
  // term characters, the three tables, and the per-slot arrays.
  stats.bytes = posting_bytes_ + terms_.capacity() * sizeof(TermRecord) + text_.capacity() +
                (term_table_.capacity() + row_table_.capacity() + parent_table_.capacity()) *
                    sizeof(uint32_t) +
                slot_id_.capacity() * sizeof(int64_t) + slot_parent_.capacity() * sizeof(int64_t) +
                (slot_length_.capacity() + slot_older_sibling_.capacity()) * sizeof(uint32_t) +
                slot_live_.capacity();
  return stats;
}

}  // namespace jrvs::store
