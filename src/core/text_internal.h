// ASCII character tests shared by the files that implement core/text.h (text.cc,
// sentence_splitter.cc). Internal to the core layer: include it only from those .cc files.
#pragma once

namespace jrvs::text::internal {

inline bool IsAsciiDigit(char32_t c) { return c >= '0' && c <= '9'; }
inline bool IsAsciiAlpha(char32_t c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
inline char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? char(c + 32) : c; }

}  // namespace jrvs::text::internal
