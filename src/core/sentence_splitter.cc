// The sentence splitter declared in core/sentence_splitter.h: terminal punctuation, closers,
// abbreviation and initialism rules, and Markdown block starts that end a sentence at a line break.
#include "core/sentence_splitter.h"

#include <algorithm>
#include <initializer_list>
#include <string>

#include "core/text.h"
#include "core/text_internal.h"

namespace jrvs::text {
namespace {

using internal::AsciiLower;
using internal::IsAsciiAlpha;
using internal::IsAsciiDigit;

constexpr size_t kNpos = std::string_view::npos;

enum class TerminalKind { kNone, kPeriod, kBang, kEllipsis, kCjk };

// A sentence-ending mark at `i`: its byte length and kind (length 0 if none).
size_t TerminalAt(std::string_view s, size_t i, TerminalKind* kind) {
  unsigned char c = s[i];
  if (c == '.') {
    *kind = TerminalKind::kPeriod;
    return 1;
  }
  if (c == '!' || c == '?') {
    *kind = TerminalKind::kBang;
    return 1;
  }
  if (c < 0xE2 || i + 2 >= s.size()) return 0;
  std::string_view seq = s.substr(i, 3);
  if (seq == "\u2026") {
    *kind = TerminalKind::kEllipsis;
    return 3;
  }
  if (seq == "\u3002" || seq == "\uFF01" || seq == "\uFF1F" || seq == "\uFF0E" || seq == "\uFF61") {
    *kind = TerminalKind::kCjk;
    return 3;
  }
  return 0;
}

// Closing quote or bracket at `i` that stays with the sentence before it: its byte length or 0.
size_t CloserAt(std::string_view s, size_t i) {
  unsigned char c = s[i];
  if (c == ')' || c == ']' || c == '}' || c == '"' || c == '\'') return 1;
  for (std::string_view closer :
       {"\u201D", "\u2019", "\u00BB", "\u203A", "\u300D", "\u300F", "\uFF09"}) {
    if (s.substr(i, closer.size()) == closer) return closer.size();
  }
  return 0;
}

// A capital letter of Latin-1, Latin Extended-A, Greek or Cyrillic.
bool IsUpperCaseLetter(char32_t cp) {
  if (cp >= 0xC0 && cp <= 0xDE) return cp != 0xD7;
  if (cp >= 0x100 && cp <= 0x137) return cp % 2 == 0;
  if (cp >= 0x139 && cp <= 0x148) return cp % 2 == 1;
  if (cp >= 0x14A && cp <= 0x177) return cp % 2 == 0;
  if (cp == 0x178) return true;
  if (cp >= 0x179 && cp <= 0x17E) return cp % 2 == 1;
  if (cp == 0x386 || (cp >= 0x388 && cp <= 0x38F)) return cp != 0x38B && cp != 0x38D;
  if (cp >= 0x391 && cp <= 0x3AB) return cp != 0x3A2;
  return cp >= 0x400 && cp <= 0x42F;
}

enum class WordCase { kEnd, kLower, kUpper, kDigit, kOther };

struct NextWord {
  WordCase kind = WordCase::kEnd;
  std::string lower;  // its leading ASCII letters, lower-cased (at most 16)
};

// The word that starts after `pos`, skipping whitespace and opening quotes or brackets.
NextWord PeekNextWord(std::string_view s, size_t pos) {
  NextWord out;
  const size_t n = s.size();
  while (pos < n) {
    if (size_t w = SpaceLengthAt(s, pos)) {
      pos += w;
      continue;
    }
    unsigned char c = s[pos];
    if (c == '"' || c == '\'' || c == '(' || c == '[' || c == '{') {
      ++pos;
      continue;
    }
    if (s.substr(pos, 3) == "\u201C" || s.substr(pos, 3) == "\u2018") {
      pos += 3;
      continue;
    }
    if (s.substr(pos, 2) == "\u00AB") {
      pos += 2;
      continue;
    }
    break;
  }
  if (pos >= n) return out;
  size_t p = pos;
  char32_t cp = DecodeUtf8(s, &p);
  if (IsAsciiDigit(cp)) {
    out.kind = WordCase::kDigit;
  } else if (cp >= 'a' && cp <= 'z') {
    out.kind = WordCase::kLower;
  } else if (cp >= 'A' && cp <= 'Z') {
    out.kind = WordCase::kUpper;
  } else if (IsUpperCaseLetter(cp)) {
    out.kind = WordCase::kUpper;
  } else if (cp >= 0x80 && cp < 0x530 && IsWordCodePoint(cp)) {
    out.kind = WordCase::kLower;  // Latin, Greek or Cyrillic small letter
  } else {
    out.kind = WordCase::kOther;
  }
  for (size_t i = pos; i < n && out.lower.size() < 16 && IsAsciiAlpha(char32_t(s[i])); ++i) {
    out.lower.push_back(AsciiLower(s[i]));
  }
  return out;
}

bool InList(std::string_view w, std::initializer_list<std::string_view> list) {
  return std::find(list.begin(), list.end(), w) != list.end();
}

// Whether the period at `dot` (followed by closers up to `after`) ends a sentence.
bool PeriodEndsSentence(std::string_view s, size_t dot, size_t after) {
  NextWord next = PeekNextWord(s, after);
  if (next.kind == WordCase::kEnd) return true;
  size_t wb = dot;
  while (wb > 0 && (IsAsciiAlpha(char32_t(s[wb - 1])) || IsAsciiDigit(char32_t(s[wb - 1])) ||
                    s[wb - 1] == '.')) {
    --wb;
  }
  std::string_view raw = s.substr(wb, dot - wb);
  if (raw.empty() || raw.size() > 16) return next.kind != WordCase::kLower;
  std::string word;
  bool has_letter = false;
  for (char c : raw) {
    word.push_back(AsciiLower(c));
    has_letter = has_letter || IsAsciiAlpha(char32_t(c));
  }
  // Titles and reference abbreviations never end a sentence.
  if (InList(word,
             {"mr",  "mrs",  "ms", "dr",  "prof", "sr",     "jr",  "st",   "rev", "hon", "gen",
              "col", "capt", "lt", "sgt", "mt",   "messrs", "mme", "mlle", "e.g", "i.e", "eg",
              "ie",  "vs",   "cf", "al",  "ca",   "approx", "viz", "resp", "incl"})) {
    return false;
  }
  if (next.kind == WordCase::kDigit &&
      InList(word, {"no", "nos", "fig", "figs", "vol", "vols", "pp", "p", "ch", "sec", "eq", "ref",
                    "art", "op", "pt", "tab", "ex"})) {
    return false;
  }
  // Initialisms (U.S, a.m, Ph.D, a single letter) and abbreviations that can also end a sentence.
  bool initialism = has_letter;
  size_t segment = 0;
  for (char c : raw) {
    if (c == '.') {
      segment = 0;
    } else if (!IsAsciiAlpha(char32_t(c)) || ++segment > 2) {
      initialism = false;
    }
  }
  initialism = initialism && (raw.size() == 1 || raw.find('.') != std::string_view::npos);
  if (initialism || InList(word, {"etc",  "inc",  "ltd", "corp", "co",   "bros", "dept", "est",
                                  "govt", "assn", "ave", "blvd", "univ", "jan",  "feb",  "apr",
                                  "jun",  "jul",  "aug", "sept", "oct",  "nov",  "dec"})) {
    return next.kind == WordCase::kUpper && IsStopWord(next.lower);
  }
  return next.kind != WordCase::kLower;
}

// The line starting at `line_start` is a Markdown heading.
bool IsHeadingLine(std::string_view s, size_t line_start) {
  size_t p = line_start;
  while (p < s.size() && (s[p] == ' ' || s[p] == '\t')) ++p;
  return p < s.size() && s[p] == '#';
}

// A Markdown block (heading, list item, table row, quote, code fence) starts at `p`.
bool StartsBlock(std::string_view s, size_t p) {
  const size_t n = s.size();
  if (p >= n) return false;
  char c = s[p];
  if (c == '#' || c == '|' || c == '>' || s.substr(p, 3) == "```") return true;
  auto space_at = [&](size_t i) { return i < n && (s[i] == ' ' || s[i] == '\t'); };
  if ((c == '-' || c == '*' || c == '+') && space_at(p + 1)) return true;
  if (s.substr(p, 3) == "\u2022" && space_at(p + 3)) return true;
  size_t d = p;
  while (d < n && d - p < 3 && IsAsciiDigit(char32_t(s[d]))) ++d;
  return d > p && d < n && (s[d] == '.' || s[d] == ')') && space_at(d + 1);
}

}  // namespace

std::vector<SentenceSpan> SplitSentences(std::string_view s) {
  std::vector<SentenceSpan> out;
  const size_t n = s.size();
  size_t begin = kNpos;   // first byte of the sentence being read
  size_t line_start = 0;  // first byte of the current line
  auto emit = [&](size_t end, bool ends_paragraph) {
    out.push_back({begin, end, ends_paragraph});
    begin = kNpos;
  };
  size_t i = 0;
  while (i < n) {
    if (SpaceLengthAt(s, i) > 0) {
      size_t j = i;
      int breaks = 0;
      const size_t this_line = line_start;
      while (size_t w = SpaceLengthAt(s, j)) {
        char c = s[j];
        if (c == '\n' || (c == '\r' && (j + 1 >= n || s[j + 1] != '\n'))) {
          ++breaks;
          line_start = j + 1;
        } else if (c == '\f' || s.substr(j, w) == "\u2029") {
          breaks += 2;
          line_start = j + w;
        }
        j += w;
      }
      if (breaks >= 2) {
        if (begin != kNpos) {
          emit(i, true);
        } else if (!out.empty()) {
          out.back().ends_paragraph = true;
        }
      } else if (breaks == 1 && begin != kNpos &&
                 (StartsBlock(s, j) || IsHeadingLine(s, this_line))) {
        emit(i, false);
      }
      i = j;
      continue;
    }
    if (begin == kNpos) begin = i;
    TerminalKind kind = TerminalKind::kNone;
    if (size_t len = TerminalAt(s, i, &kind)) {
      size_t run_begin = i;
      size_t k = i + len;
      bool bang = kind == TerminalKind::kBang;
      bool cjk = kind == TerminalKind::kCjk;
      bool single_period = kind == TerminalKind::kPeriod;
      TerminalKind more = TerminalKind::kNone;
      while (k < n) {
        size_t l = TerminalAt(s, k, &more);
        if (l == 0) break;
        bang = bang || more == TerminalKind::kBang;
        cjk = cjk || more == TerminalKind::kCjk;
        single_period = false;
        k += l;
      }
      size_t after = k;
      while (after < n) {
        size_t l = CloserAt(s, after);
        if (l == 0) break;
        after += l;
      }
      bool at_break = after >= n || SpaceLengthAt(s, after) > 0;
      bool boundary = false;
      if (cjk) {
        boundary = true;
      } else if (!at_break) {
        boundary = false;
      } else if (bang) {
        boundary = true;
      } else if (single_period) {
        boundary = PeriodEndsSentence(s, run_begin, after);
      } else {  // an ellipsis: ends a sentence before a capital or the end
        WordCase next = PeekNextWord(s, after).kind;
        boundary = next == WordCase::kEnd || next == WordCase::kUpper || next == WordCase::kOther;
      }
      i = after;
      if (boundary) emit(after, false);
      continue;
    }
    unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
    } else {
      DecodeUtf8(s, &i);
    }
  }
  if (begin != kNpos) {
    size_t e = n;
    while (size_t w = SpaceLengthBefore(s, e)) e -= w;
    emit(e, true);
  } else if (!out.empty()) {
    out.back().ends_paragraph = true;
  }
  return out;
}

}  // namespace jrvs::text
