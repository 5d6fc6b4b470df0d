// Sentence-aware text chunking for ingestion (DESIGN.md §5).
//
// ChunkText splits a document into chunks of at most `max_chars` bytes that each hold whole
// sentences where possible:
// - Sentences (text::SplitSentences) are packed greedily; a paragraph break is preferred as the
//   cut point when cutting there still fills at least half a chunk.
// - Each chunk after the first starts with the trailing whole sentences of the previous chunk that
//   total at most `overlap_chars` bytes; if the last sentence alone is longer, a tail of it that
//   starts on a word boundary; if even its last word is longer, no overlap. The overlap shrinks
//   further if it would not leave room for the next sentence.
// - A sentence longer than `max_chars` is split on word boundaries (preferring line breaks, then
//   ; : , when they fall in the second half of the piece) and, as a last resort for a giant token,
//   on code point boundaries.
// Guarantees: every chunk is non-empty, at most max_chars bytes, trimmed of whitespace, the exact
// byte range [start, end) of the input, and never cuts a UTF-8 code point (so chunks of valid
// UTF-8 are valid UTF-8; invalid bytes are kept as single-byte units, see text::SanitizeUtf8).
// Chunks are in order; each starts at or before the previous end plus whitespace, and together
// they cover every non-space byte. Whitespace-only input gives no chunks. Deterministic.
//
// Sizes are in bytes of UTF-8 ("chars" for ASCII text). Pure functions, thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace jrvs::rag {

struct ChunkerOptions {
  // Largest chunk, in bytes. Must be >= 32.
  size_t max_chars = 512;
  // Largest overlap carried from one chunk into the next, in bytes. Must be < max_chars; 0 turns
  // overlap off.
  size_t overlap_chars = 64;

  // kInvalidArgument naming the field when a value is out of range.
  Status Validate() const;
};

struct Chunk {
  std::string text;  // == input.substr(start, end - start)
  size_t start = 0;  // byte offset in the input
  size_t end = 0;    // one past the last byte
};

// Splits `text` as described above. Options are expected to be validated at startup; invalid ones
// are clamped here (max_chars to >= 32, overlap_chars to < max_chars) so this never fails.
std::vector<Chunk> ChunkText(std::string_view text, const ChunkerOptions& options);

}  // namespace jrvs::rag
