// Text utilities shared by ingestion, retrieval and the built-in embedder: UTF-8 helpers, case and
// accent folding, tokenisation, English stop words, the Porter stemmer, sentence splitting and a
// fixed, portable 64-bit hash. The stemmer and the sentence splitter live in
// core/porter_stemmer.h and core/sentence_splitter.h, both included here.
//
// Contract:
// - Inputs are UTF-8. Invalid bytes never crash anything: decoders read them as U+FFFD one byte
//   at a time, and functions that build new text (Normalize, SanitizeUtf8, tokens) emit valid
//   UTF-8.
// - Offsets are byte offsets into the caller's string.
// - Every function is pure and thread-safe; TokenStream is a small value type used by one thread.
//
// Folding (Normalize, Tokenize): ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic letters are
// lower-cased; Latin letters lose their accents (é -> e, ß -> ss, æ -> ae, ł -> l), combining
// accents U+0300..U+036F are dropped, ligatures ﬁ/ﬂ are expanded and full-width ASCII becomes
// ASCII. This mirrors SQLite FTS5 unicode61's default folding closely enough for query processing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/porter_stemmer.h"     // IWYU pragma: export
#include "core/sentence_splitter.h"  // IWYU pragma: export

namespace jrvs::text {

// ---- UTF-8 ----

// Decodes the code point starting at `*pos` and advances `*pos` past it. A malformed, overlong,
// surrogate or truncated sequence yields U+FFFD and advances by one byte. Requires *pos < s.size().
char32_t DecodeUtf8(std::string_view s, size_t* pos);

// Appends the UTF-8 encoding of `cp` (U+FFFD if cp is not a Unicode scalar value).
void AppendUtf8(char32_t cp, std::string* out);

// Length in bytes of the longest prefix of `s` that is valid UTF-8.
size_t ValidUtf8PrefixLength(std::string_view s);
inline bool IsValidUtf8(std::string_view s) { return ValidUtf8PrefixLength(s) == s.size(); }

// `s` with every invalid sequence replaced by U+FFFD (one per bad byte).
std::string SanitizeUtf8(std::string_view s);

// The largest code point boundary <= pos (pos is clamped to s.size()). For valid UTF-8 the result
// never falls inside a code point; a run of stray continuation bytes is treated byte by byte.
size_t Utf8BoundaryAtOrBefore(std::string_view s, size_t pos);

// The longest prefix of `s` of at most `max_bytes` bytes that does not cut a code point.
std::string_view TruncateUtf8(std::string_view s, size_t max_bytes);

// ---- whitespace ----

// Byte length of the whitespace code point at `pos` (ASCII space, \t \n \v \f \r, U+0085, U+00A0,
// U+1680, U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000), or 0 if there is none.
size_t SpaceLengthAt(std::string_view s, size_t pos);
// Byte length of the whitespace code point that ends right before `pos`, or 0.
size_t SpaceLengthBefore(std::string_view s, size_t pos);
// `s` without leading and trailing whitespace (as defined above).
std::string_view TrimSpace(std::string_view s);
// `s` without leading and trailing ASCII whitespace (protocol text: headers, robots.txt, ...).
std::string_view TrimAscii(std::string_view s);
// `s` with ASCII letters lower-cased, other bytes unchanged (header names, hosts, charsets).
std::string AsciiLower(std::string_view s);

// ---- folding and tokens ----

// Folds case and accents (see the file comment), maps curly quotes to ' and ", Unicode dashes to
// '-', collapses each whitespace run into one ASCII space and trims. Punctuation is kept. Invalid
// bytes become U+FFFD, so the result is always valid UTF-8.
std::string Normalize(std::string_view s);

// True if the code point is part of a word: ASCII letters and digits, and every code point at or
// above U+0080 that is not whitespace, punctuation, a symbol, an emoji, a control, a private-use or
// a special (so CJK, Greek, Cyrillic, Arabic... letters all count). Combining marks count too.
bool IsWordCodePoint(char32_t cp);

// Streams the tokens of a text without allocating per token: each Next() overwrites `*token`
// (whose capacity is reused). Tokens are maximal runs of word code points, folded as by
// Normalize, with these rules:
// - an apostrophe (' U+2019 U+02BC) between two letters joins them ("don't" -> "dont"), except a
//   final 's, which is dropped ("John's" -> "john", "it's" -> "it");
// - a '.' or ',' between two digits keeps a number whole ("3.14" -> "3.14", "1,000" -> "1000");
// - soft hyphens and zero-width joiners inside a word are ignored; everything else separates.
// Value type; not shared between threads.
class TokenStream {
 public:
  explicit TokenStream(std::string_view text) : text_(text) {}
  // Writes the next token into *token; false (token cleared) when the text is exhausted.
  bool Next(std::string* token);
  // Byte offsets in the text of the token returned by the last successful Next().
  size_t token_begin() const { return token_begin_; }
  size_t token_end() const { return token_end_; }

 private:
  std::string_view text_;
  size_t pos_ = 0;
  size_t token_begin_ = 0;
  size_t token_end_ = 0;
};

// All tokens of `text` in order (see TokenStream).
std::vector<std::string> Tokenize(std::string_view text);

// True for common English function words ("the", "is", "of", "don't" as "dont", ...). Expects a
// token as produced by Tokenize (lower-case, folded, apostrophes removed), before stemming.
bool IsStopWord(std::string_view token);

// ---- hashing ----

// A fixed 64-bit hash (a MurmurHash3-style 64-bit-block mix of the bytes read little-endian, then
// MurmurHash3's fmix64 finaliser). Identical on every machine, compiler and run: safe to persist.
// Not cryptographic.
uint64_t Hash64(std::string_view data, uint64_t seed = 0);
// MurmurHash3's 64-bit finaliser: a bijective avalanche mix.
uint64_t Mix64(uint64_t x);

}  // namespace jrvs::text
