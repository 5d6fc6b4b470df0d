#include "store/memory_fts.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>
#include <queue>
#include <utility>

namespace jrvs::store {
namespace {

constexpr double kK1 = 1.2;  // FTS5's bm25() constants
constexpr double kB = 0.75;
constexpr uint32_t kNoSlot = std::numeric_limits<uint32_t>::max();

void PutVarint(std::vector<uint8_t>& out, uint32_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<uint8_t>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<uint8_t>(v));
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
  for (MemoryFtsRow& row : add) AddLocked(row);
  if (dead_rows_ >= 1024 && dead_rows_ * 4 >= slot_id_.size()) CompactLocked();
}

void MemoryFts::RemoveLocked(int64_t id) {
  auto it = slot_of_.find(id);
  if (it == slot_of_.end()) return;
  uint32_t slot = it->second;
  slot_of_.erase(it);
  slot_live_[slot] = 0;
  live_tokens_ -= slot_length_[slot];
  ++dead_rows_;
}

void MemoryFts::AddLocked(MemoryFtsRow& row) {
  RemoveLocked(row.id);
  const auto slot = static_cast<uint32_t>(slot_id_.size());
  slot_id_.push_back(row.id);
  slot_parent_.push_back(row.parent);
  slot_length_.push_back(row.length);
  slot_live_.push_back(1);
  slot_of_[row.id] = slot;
  live_tokens_ += row.length;
  for (MemoryFtsRow::Term& term : row.terms) {
    auto [it, inserted] =
        vocab_.try_emplace(std::move(term.token), static_cast<uint32_t>(postings_.size()));
    if (inserted) postings_.emplace_back();
    TermPostings& list = postings_[it->second];
    const size_t before = list.bytes.capacity();
    PutVarint(list.bytes, list.count == 0 ? slot : slot - list.last_slot);
    for (size_t c = 0; c < columns_; ++c) PutVarint(list.bytes, term.tf[c]);
    posting_bytes_ += list.bytes.capacity() - before;
    list.last_slot = slot;
    ++list.count;
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
  for (auto& [id, slot] : slot_of_) slot = remap[slot];

  std::unordered_map<std::string, uint32_t> vocab;
  std::vector<TermPostings> postings;
  posting_bytes_ = 0;
  for (auto& [token, index] : vocab_) {
    TermPostings& old = postings_[index];
    TermPostings fresh;
    Cursor cursor{.p = old.bytes.data(), .end = old.bytes.data() + old.bytes.size()};
    while (cursor.Next(columns_)) {
      uint32_t slot = remap[cursor.slot];
      if (slot == kNoSlot) continue;
      PutVarint(fresh.bytes, fresh.count == 0 ? slot : slot - fresh.last_slot);
      for (size_t c = 0; c < columns_; ++c) PutVarint(fresh.bytes, cursor.tf[c]);
      fresh.last_slot = slot;
      ++fresh.count;
    }
    if (fresh.count == 0) continue;
    fresh.bytes.shrink_to_fit();
    posting_bytes_ += fresh.bytes.capacity();
    vocab.emplace(token, static_cast<uint32_t>(postings.size()));
    postings.push_back(std::move(fresh));
  }
  vocab_ = std::move(vocab);
  postings_ = std::move(postings);
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
  const size_t rows = slot_of_.size();
  if (rows == 0) return out;
  const double n = static_cast<double>(rows);
  const double avgdl = static_cast<double>(live_tokens_) / n;

  std::vector<Cursor> cursors;
  std::vector<uint32_t> dfs;
  for (const std::string& token : tokens) {
    auto it = vocab_.find(token);
    if (it == vocab_.end()) continue;
    const TermPostings& list = postings_[it->second];
    Cursor c{.p = list.bytes.data(), .end = list.bytes.data() + list.bytes.size()};
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
  for (TermPostings& list : postings_) {
    list.bytes.shrink_to_fit();
    posting_bytes_ += list.bytes.capacity();
  }
  postings_.shrink_to_fit();
}

std::optional<int64_t> MemoryFts::Parent(int64_t id) const {
  std::shared_lock lock(mu_);
  auto it = slot_of_.find(id);
  if (it == slot_of_.end()) return std::nullopt;
  return slot_parent_[it->second];
}

MemoryFtsStats MemoryFts::GetStats() const {
  std::shared_lock lock(mu_);
  MemoryFtsStats stats;
  stats.live_rows = slot_of_.size();
  stats.dead_rows = dead_rows_;
  stats.terms = vocab_.size();
  for (const TermPostings& p : postings_) stats.postings += p.count;
  stats.bytes = posting_bytes_ + postings_.capacity() * sizeof(TermPostings) + vocab_.size() * 64 +
                slot_id_.capacity() * (8 + 8 + 4 + 1) + slot_of_.size() * 32;
  return stats;
}

}  // namespace jrvs::store
