#include "rag/chunker.h"

#include <algorithm>
#include <string>

#include "core/text.h"

namespace jrvs::rag {
namespace {

// A packing unit: a sentence, or a piece of a sentence longer than max_chars.
struct Unit {
  size_t begin = 0;
  size_t end = 0;
  bool ends_paragraph = false;
  bool starts_word = true;  // false for a piece cut inside a giant token
};

size_t CodePointLengthAt(std::string_view s, size_t pos) {
  size_t p = pos;
  text::DecodeUtf8(s, &p);
  return p - pos;
}

// Splits the sentence [begin, end) (longer than max) into pieces of at most max bytes, appended to
// `units`. Cuts at the last whitespace that fits, preferring (in the second half of a piece) a line
// break, then whitespace after ; : or ,; a word longer than max is cut on code point boundaries.
void SplitLongSentence(std::string_view s, const text::SentenceSpan& sentence, size_t max,
                       std::vector<Unit>* units) {
  size_t p = sentence.begin;
  const size_t end = sentence.end;
  bool starts_word = true;
  while (end - p > max) {
    const size_t limit = p + max;  // a piece is [p, cut) with cut <= limit
    size_t last_space = 0, last_clause = 0, last_line = 0;
    size_t i = p;
    while (i < limit) {
      size_t w = text::SpaceLengthAt(s, i);
      if (w == 0) {
        i += CodePointLengthAt(s, i);
        continue;
      }
      if (i > p) {
        last_space = i;
        char before = s[i - 1];
        if (before == ';' || before == ':' || before == ',') last_clause = i;
        if (s[i] == '\n' || s[i] == '\r') last_line = i;
      }
      i += w;
    }
    // A cut exactly at `limit` is fine too when whitespace starts there.
    if (limit < end && text::SpaceLengthAt(s, limit) > 0) {
      last_space = limit;
      char before = s[limit - 1];
      if (before == ';' || before == ':' || before == ',') last_clause = limit;
      if (s[limit] == '\n' || s[limit] == '\r') last_line = limit;
    }
    const size_t half = p + max / 2;
    size_t cut = 0;
    if (last_line >= half) {
      cut = last_line;
    } else if (last_clause >= half) {
      cut = last_clause;
    } else if (last_space > p) {
      cut = last_space;
    }
    size_t next = 0;
    if (cut > p) {
      // Trim trailing whitespace of the piece (the cut is at a whitespace start, but a run of
      // whitespace may precede it) and skip the whitespace that follows.
      size_t piece_end = cut;
      while (size_t w = text::SpaceLengthBefore(s, piece_end)) piece_end -= w;
      next = cut;
      while (size_t w = text::SpaceLengthAt(s, next)) next += w;
      cut = piece_end;
    } else {
      cut = text::Utf8BoundaryAtOrBefore(s, limit);
      if (cut <= p) cut = p + CodePointLengthAt(s, p);  // cannot happen with max >= 4
      next = cut;
    }
    units->push_back({p, cut, false, starts_word});
    starts_word = next > cut;  // whitespace was skipped
    p = next;
  }
  if (p < end) units->push_back({p, end, sentence.ends_paragraph, starts_word});
}

// Where the chunk after one ending with units[last] (that began at chunk_start) starts: after
// chunk_start, and early enough to hold units[last + 1] within max bytes.
size_t OverlapStart(std::string_view s, const std::vector<Unit>& units, size_t last,
                    size_t chunk_start, size_t max, size_t overlap) {
  const size_t prev_end = units[last].end;
  const Unit& next = units[last + 1];
  if (overlap == 0) return next.begin;
  // Whole trailing units.
  size_t best = next.begin;
  for (size_t k = last + 1; k-- > 0;) {
    const Unit& u = units[k];
    // Never the whole previous chunk: the next one would contain it.
    if (u.begin <= chunk_start || prev_end - u.begin > overlap || next.end - u.begin > max) break;
    if (u.starts_word) best = u.begin;
  }
  if (best != next.begin) return best;
  // A word-boundary tail of the last unit: the earliest word start that fits.
  const Unit& u = units[last];
  size_t from = std::max(u.begin, std::max(prev_end - std::min(prev_end, overlap),
                                           next.end - std::min(next.end, max)));
  for (size_t i = std::max(from, u.begin + 1); i < prev_end;) {
    size_t w = text::SpaceLengthBefore(s, i);
    if (w > 0 && text::SpaceLengthAt(s, i) == 0) return i;
    i += text::SpaceLengthAt(s, i) > 0 ? text::SpaceLengthAt(s, i) : CodePointLengthAt(s, i);
  }
  return next.begin;
}

}  // namespace

Status ChunkerOptions::Validate() const {
  if (max_chars < 32) {
    return Status(StatusCode::kInvalidArgument,
                  "chunker.max_chars must be >= 32, got " + std::to_string(max_chars));
  }
  if (overlap_chars >= max_chars) {
    return Status(StatusCode::kInvalidArgument,
                  "chunker.overlap_chars must be < chunker.max_chars (" +
                      std::to_string(max_chars) + "), got " + std::to_string(overlap_chars));
  }
  return Status::Ok();
}

std::vector<Chunk> ChunkText(std::string_view text, const ChunkerOptions& options) {
  const size_t max = std::max<size_t>(options.max_chars, 32);
  const size_t overlap = std::min(options.overlap_chars, max - 1);

  std::vector<Unit> units;
  for (const text::SentenceSpan& sentence : text::SplitSentences(text)) {
    if (sentence.end - sentence.begin <= max) {
      units.push_back({sentence.begin, sentence.end, sentence.ends_paragraph});
    } else {
      SplitLongSentence(text, sentence, max, &units);
    }
  }

  std::vector<Chunk> chunks;
  size_t first = 0;                                   // first new unit of the chunk
  size_t start = units.empty() ? 0 : units[0].begin;  // chunk start (overlap included)
  while (first < units.size()) {
    size_t last = first;  // fits by construction of `start`
    while (last + 1 < units.size() && units[last + 1].end - start <= max) ++last;
    // Prefer ending at a paragraph break when that still fills half a chunk.
    if (last + 1 < units.size() && !units[last].ends_paragraph) {
      for (size_t k = last; k-- > first;) {
        if (units[k].end - start < max / 2) break;
        if (units[k].ends_paragraph) {
          last = k;
          break;
        }
      }
    }
    const size_t end = units[last].end;
    chunks.push_back({std::string(text.substr(start, end - start)), start, end});
    if (last + 1 >= units.size()) break;
    start = OverlapStart(text, units, last, start, max, overlap);
    first = last + 1;
  }
  return chunks;
}

}  // namespace jrvs::rag
