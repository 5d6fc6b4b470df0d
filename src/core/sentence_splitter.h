// Sentence splitting for chunking and snippets: byte spans of the sentences of a UTF-8 text.
//
// Contract: inputs are UTF-8 (invalid bytes never crash anything); offsets are byte offsets into
// the caller's string; SplitSentences is pure and thread-safe. Re-exported by core/text.h, which
// most callers include instead.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

namespace jrvs::text {

struct SentenceSpan {
  size_t begin = 0;             // byte offset of the first non-space byte
  size_t end = 0;               // one past the last non-space byte (punctuation included)
  bool ends_paragraph = false;  // a blank line (or the end of the text) follows
};

// Splits `text` into sentences, in order, covering every non-space byte exactly once. A sentence
// ends after a run of . ! ? … (plus closing quotes and brackets) followed by whitespace or the end,
// and after CJK full stops; a blank line (or form feed, U+2029) always ends one and marks it
// ends_paragraph. A single line break ends a sentence when the next line starts a Markdown block
// (heading, list item, table row, quote, code fence) or the current line is a heading.
// Not a boundary: decimals and dotted names (3.14, example.com: no space after the dot); titles
// and reference abbreviations (Mr. Dr. Prof. e.g. i.e. vs. cf. al., and No./Fig./Vol. before a
// number); single initials (J. Smith); a period followed by a lower-case word. Initialisms and
// other abbreviations (U.S., a.m., etc., Inc.) end a sentence only when the next word is a
// capitalised stop word ("... in the U.S. The next ..."), and an ellipsis only before a capital.
std::vector<SentenceSpan> SplitSentences(std::string_view text);

}  // namespace jrvs::text
