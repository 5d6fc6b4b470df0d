// The Porter (1980) English stemmer, as implemented by SQLite FTS5's "porter" tokenizer.
//
// Contract: pure functions over lower-case tokens as produced by text::Tokenize; thread-safe.
// Re-exported by core/text.h, which most callers include instead.
#pragma once

#include <string>
#include <string_view>

namespace jrvs::text {

// The Porter (1980) stemmer as implemented by SQLite FTS5's "porter" tokenizer, including its
// departures from the paper shared with Porter's reference C code (logi -> log, bli -> ble): the
// same input token gives the same stem as FTS5. Expects a lower-case token; tokens shorter than 3
// or longer than 64 bytes are returned unchanged, as in FTS5. Non-ASCII bytes count as consonants.
std::string PorterStem(std::string_view word);
// In-place form for hot loops: rewrites *word with its stem (no allocation beyond one byte of
// growth, which reserved capacity absorbs).
void PorterStemInPlace(std::string* word);

}  // namespace jrvs::text
