#include "core/text.h"

#include <algorithm>
#include <array>
#include <iterator>

#include "core/text_internal.h"

namespace jrvs::text {
namespace {

constexpr char32_t kReplacement = 0xFFFD;

// Length of the valid UTF-8 sequence at `pos` (setting *cp), or 0 if it is invalid.
size_t DecodeValid(std::string_view s, size_t pos, char32_t* cp) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data()) + pos;
  const size_t avail = s.size() - pos;
  const unsigned char b0 = p[0];
  if (b0 < 0x80) {
    *cp = b0;
    return 1;
  }
  auto cont = [&](size_t i) { return i < avail && (p[i] & 0xC0) == 0x80; };
  if (b0 < 0xC2) return 0;  // a continuation byte, or an overlong 2-byte lead
  if (b0 < 0xE0) {
    if (!cont(1)) return 0;
    *cp = (char32_t(b0 & 0x1F) << 6) | (p[1] & 0x3F);
    return 2;
  }
  if (b0 < 0xF0) {
    if (!cont(1) || !cont(2)) return 0;
    if (b0 == 0xE0 && p[1] < 0xA0) return 0;   // overlong
    if (b0 == 0xED && p[1] >= 0xA0) return 0;  // UTF-16 surrogate
    *cp = (char32_t(b0 & 0x0F) << 12) | (char32_t(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
    return 3;
  }
  if (b0 < 0xF5) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (b0 == 0xF0 && p[1] < 0x90) return 0;   // overlong
    if (b0 == 0xF4 && p[1] >= 0x90) return 0;  // above U+10FFFF
    *cp = (char32_t(b0 & 0x07) << 18) | (char32_t(p[1] & 0x3F) << 12) |
          (char32_t(p[2] & 0x3F) << 6) | (p[3] & 0x3F);
    return 4;
  }
  return 0;
}

using internal::AsciiLower;
using internal::IsAsciiAlpha;
using internal::IsAsciiDigit;

// Latin-1 U+00C0..U+00FF folded; "" = not a letter (× ÷), kept as is.
constexpr std::array<std::string_view, 64> kLatin1Fold = {
    "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i",  "i",   //
    "d", "n", "o", "o", "o", "o", "o",  "",  "o", "u", "u", "u", "u", "y", "th", "ss",  //
    "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i",  "i",   //
    "d", "n", "o", "o", "o", "o", "o",  "",  "o", "u", "u", "u", "u", "y", "th", "y"};

// Latin Extended-A U+0100..U+017F folded to a base letter; '1' = "ij", '2' = "oe".
constexpr std::string_view kExtAFold =
    "aaaaaa"
    "cccccccc"
    "dddd"
    "eeeeeeeeee"
    "gggggggg"
    "hhhh"
    "iiiiiiiiii"
    "11"
    "jj"
    "kkk"
    "llllllllll"
    "nnnnnnnnn"
    "oooooo"
    "22"
    "rrrrrr"
    "ssssssss"
    "tttttt"
    "uuuuuuuuuuuu"
    "ww"
    "yyy"
    "zzzzzz"
    "s";
static_assert(kExtAFold.size() == 0x80);

// Appends the folded form of a code point (see text.h): lower case, no accents.
void AppendFolded(char32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(AsciiLower(char(cp)));
    return;
  }
  if (cp >= 0xC0 && cp <= 0xFF) {
    std::string_view f = kLatin1Fold[cp - 0xC0];
    if (!f.empty()) {
      out->append(f);
      return;
    }
  } else if (cp >= 0x100 && cp <= 0x17F) {
    char c = kExtAFold[cp - 0x100];
    if (c == '1') {
      out->append("ij");
    } else if (c == '2') {
      out->append("oe");
    } else {
      out->push_back(c);
    }
    return;
  } else if (cp >= 0x300 && cp <= 0x36F) {
    return;  // combining accent
  } else if (cp == 0xAA) {
    cp = 'a';
  } else if (cp == 0xBA) {
    cp = 'o';
  } else if (cp == 0xB5) {
    cp = 0x3BC;  // micro sign -> Greek mu
  } else if ((cp >= 0x391 && cp <= 0x3A1) || (cp >= 0x3A3 && cp <= 0x3AB)) {
    cp += 0x20;  // Greek capitals
  } else if (cp == 0x386) {
    cp = 0x3AC;
  } else if (cp >= 0x388 && cp <= 0x38A) {
    cp += 0x25;
  } else if (cp == 0x38C) {
    cp = 0x3CC;
  } else if (cp == 0x38E || cp == 0x38F) {
    cp += 0x3F;
  } else if (cp == 0x3C2) {
    cp = 0x3C3;  // final sigma
  } else if (cp >= 0x410 && cp <= 0x42F) {
    cp += 0x20;  // Cyrillic capitals
  } else if (cp >= 0x400 && cp <= 0x40F) {
    cp += 0x50;
  } else if (cp >= 0xFB00 && cp <= 0xFB06) {
    static constexpr std::array<std::string_view, 7> kLigatures = {"ff",  "fi", "fl", "ffi",
                                                                   "ffl", "st", "st"};
    out->append(kLigatures[cp - 0xFB00]);
    return;
  } else if (cp >= 0xFF01 && cp <= 0xFF5E) {
    out->push_back(AsciiLower(char(cp - 0xFEE0)));  // full-width ASCII
    return;
  }
  AppendUtf8(cp, out);
}

bool IsApostrophe(char32_t cp) { return cp == '\'' || cp == 0x2019 || cp == 0x02BC; }
bool IsIgnorableInWord(char32_t cp) { return cp == 0xAD || cp == 0x200C || cp == 0x200D; }
bool IsLetter(char32_t cp) { return IsWordCodePoint(cp) && !IsAsciiDigit(cp); }

// ---- stop words (sorted; checked at compile time) ----

constexpr std::string_view kStopWords[] = {
    "a",      "about",   "above",      "after",    "again",      "against",   "all",     "also",
    "am",     "an",      "and",        "any",      "are",        "arent",     "as",      "at",
    "be",     "because", "been",       "before",   "being",      "below",     "between", "both",
    "but",    "by",      "can",        "cannot",   "cant",       "could",     "couldnt", "did",
    "didnt",  "do",      "does",       "doesnt",   "doing",      "dont",      "down",    "during",
    "each",   "few",     "for",        "from",     "further",    "had",       "hadnt",   "has",
    "hasnt",  "have",    "havent",     "having",   "he",         "hed",       "her",     "here",
    "heres",  "hers",    "herself",    "hes",      "him",        "himself",   "his",     "how",
    "hows",   "i",       "if",         "im",       "in",         "into",      "is",      "isnt",
    "it",     "its",     "itself",     "ive",      "just",       "lets",      "may",     "me",
    "might",  "more",    "most",       "must",     "mustnt",     "my",        "myself",  "no",
    "nor",    "not",     "now",        "of",       "off",        "on",        "once",    "only",
    "or",     "other",   "ought",      "our",      "ours",       "ourselves", "out",     "over",
    "own",    "same",    "shall",      "shant",    "she",        "shes",      "should",  "shouldnt",
    "so",     "some",    "such",       "than",     "that",       "thats",     "the",     "their",
    "theirs", "them",    "themselves", "then",     "there",      "theres",    "these",   "they",
    "theyd",  "theyll",  "theyre",     "theyve",   "this",       "those",     "through", "to",
    "too",    "under",   "until",      "up",       "upon",       "us",        "very",    "was",
    "wasnt",  "we",      "were",       "werent",   "weve",       "what",      "whats",   "when",
    "where",  "wheres",  "which",      "while",    "who",        "whom",      "whos",    "why",
    "will",   "with",    "wont",       "would",    "wouldnt",    "you",       "youd",    "youll",
    "your",   "youre",   "yours",      "yourself", "yourselves", "youve"};

template <size_t N>
constexpr bool IsSortedUnique(const std::string_view (&a)[N]) {
  for (size_t i = 1; i < N; ++i) {
    if (!(a[i - 1] < a[i])) return false;
  }
  return true;
}
static_assert(IsSortedUnique(kStopWords));

constexpr size_t kMaxStopWordLength = [] {
  size_t m = 0;
  for (std::string_view w : kStopWords) m = std::max(m, w.size());
  return m;
}();

// [begin, end) of the stop words starting with each letter a..z.
struct LetterRange {
  uint16_t begin = 0;
  uint16_t end = 0;
};
constexpr std::array<LetterRange, 26> kStopWordsByLetter = [] {
  std::array<LetterRange, 26> ranges{};
  for (size_t i = 0; i < std::size(kStopWords); ++i) {
    LetterRange& r = ranges[size_t(kStopWords[i][0] - 'a')];
    if (r.end == 0) r.begin = uint16_t(i);
    r.end = uint16_t(i + 1);
  }
  return ranges;
}();

uint64_t Rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

uint64_t Load64Le(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

// ---- UTF-8 ----

char32_t DecodeUtf8(std::string_view s, size_t* pos) {
  char32_t cp = 0;
  size_t len = DecodeValid(s, *pos, &cp);
  if (len == 0) {
    *pos += 1;
    return kReplacement;
  }
  *pos += len;
  return cp;
}

void AppendUtf8(char32_t cp, std::string* out) {
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = kReplacement;
  if (cp < 0x80) {
    out->push_back(char(cp));
  } else if (cp < 0x800) {
    out->push_back(char(0xC0 | (cp >> 6)));
    out->push_back(char(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(char(0xE0 | (cp >> 12)));
    out->push_back(char(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(char(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(char(0xF0 | (cp >> 18)));
    out->push_back(char(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(char(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(char(0x80 | (cp & 0x3F)));
  }
}

size_t ValidUtf8PrefixLength(std::string_view s) {
  size_t pos = 0;
  while (pos < s.size()) {
    if (static_cast<unsigned char>(s[pos]) < 0x80) {
      ++pos;
      continue;
    }
    char32_t cp = 0;
    size_t len = DecodeValid(s, pos, &cp);
    if (len == 0) return pos;
    pos += len;
  }
  return pos;
}

std::string SanitizeUtf8(std::string_view s) {
  size_t valid = ValidUtf8PrefixLength(s);
  std::string out(s.substr(0, valid));
  size_t pos = valid;
  while (pos < s.size()) {
    char32_t cp = DecodeUtf8(s, &pos);
    AppendUtf8(cp, &out);
  }
  return out;
}

size_t Utf8BoundaryAtOrBefore(std::string_view s, size_t pos) {
  if (pos >= s.size()) return s.size();
  auto is_cont = [&](size_t i) { return (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80; };
  if (!is_cont(pos)) return pos;
  // Back up to the lead byte of the sequence `pos` is inside, if it is a valid one that spans pos.
  for (size_t back = 1; back <= 3 && back <= pos; ++back) {
    size_t lead = pos - back;
    if (is_cont(lead)) continue;
    char32_t cp = 0;
    size_t len = DecodeValid(s, lead, &cp);
    return (len > back) ? lead : pos;
  }
  return pos;  // stray continuation bytes: each is its own unit
}

std::string_view TruncateUtf8(std::string_view s, size_t max_bytes) {
  if (s.size() <= max_bytes) return s;
  return s.substr(0, Utf8BoundaryAtOrBefore(s, max_bytes));
}

// ---- whitespace ----

size_t SpaceLengthAt(std::string_view s, size_t pos) {
  if (pos >= s.size()) return 0;
  const auto* p = reinterpret_cast<const unsigned char*>(s.data()) + pos;
  const size_t avail = s.size() - pos;
  unsigned char c = p[0];
  if (c < 0x80) return (c == ' ' || (c >= '\t' && c <= '\r')) ? 1 : 0;
  if (c == 0xC2) return (avail >= 2 && (p[1] == 0x85 || p[1] == 0xA0)) ? 2 : 0;
  if (avail < 3) return 0;
  if (c == 0xE1) return (p[1] == 0x9A && p[2] == 0x80) ? 3 : 0;  // U+1680
  if (c == 0xE2) {
    if (p[1] == 0x80 &&
        ((p[2] >= 0x80 && p[2] <= 0x8A) || p[2] == 0xA8 || p[2] == 0xA9 || p[2] == 0xAF)) {
      return 3;  // U+2000..U+200A, U+2028, U+2029, U+202F
    }
    return (p[1] == 0x81 && p[2] == 0x9F) ? 3 : 0;  // U+205F
  }
  if (c == 0xE3) return (p[1] == 0x80 && p[2] == 0x80) ? 3 : 0;  // U+3000
  return 0;
}

size_t SpaceLengthBefore(std::string_view s, size_t pos) {
  pos = std::min(pos, s.size());
  for (size_t len = 1; len <= 3 && len <= pos; ++len) {
    if (SpaceLengthAt(s, pos - len) == len) return len;
  }
  return 0;
}

std::string_view TrimAscii(std::string_view s) {
  auto space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
  };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string_view TrimSpace(std::string_view s) {
  size_t b = 0;
  while (size_t w = SpaceLengthAt(s, b)) b += w;
  size_t e = s.size();
  while (e > b) {
    size_t w = SpaceLengthBefore(s, e);
    if (w == 0) break;
    e -= w;
  }
  return s.substr(b, e - b);
}

// ---- folding and tokens ----

bool IsWordCodePoint(char32_t cp) {
  if (cp < 0x80) return IsAsciiAlpha(cp) || IsAsciiDigit(cp);
  if (cp < 0xC0) return cp == 0xAA || cp == 0xB5 || cp == 0xBA;
  if (cp == 0xD7 || cp == 0xF7) return false;
  if (cp < 0x2000) {
    // Letters and marks of the alphabetic scripts, minus their sentence punctuation.
    switch (cp) {
      case 0x37E:
      case 0x387:
      case 0x589:
      case 0x5BE:
      case 0x5C0:
      case 0x5C3:
      case 0x5F3:
      case 0x5F4:
      case 0x60C:
      case 0x60D:
      case 0x61B:
      case 0x61F:
      case 0x6D4:
      case 0x964:
      case 0x965:
      case 0x970:
      case 0xE4F:
      case 0xE5A:
      case 0xE5B:
      case 0x10FB:
      case 0x166D:
      case 0x166E:
      case 0x1680:
        return false;
      default:
        break;
    }
    if ((cp >= 0x66A && cp <= 0x66D) || (cp >= 0x1361 && cp <= 0x1368) ||
        (cp >= 0x17D4 && cp <= 0x17DA && cp != 0x17D7) || (cp >= 0x1800 && cp <= 0x180A)) {
      return false;
    }
    return true;
  }
  if (cp < 0x2C00) return false;  // punctuation, symbols, arrows, math, box drawing, dingbats
  if (cp < 0x2E00) return true;   // Glagolitic, Latin Extended-C, Coptic, Georgian, Tifinagh...
  if (cp < 0x2E80) return false;  // supplemental punctuation
  if (cp < 0x2FF0) return true;   // CJK radicals
  if (cp < 0x3040) return cp >= 0x3005 && cp <= 0x3007;     // CJK symbols and punctuation
  if (cp < 0x3100) return cp != 0x30A0 && cp != 0x30FB;     // kana
  if (cp < 0xD800) return !(cp >= 0x4DC0 && cp <= 0x4DFF);  // CJK, Yi, Hangul; not hexagrams
  if (cp < 0xF900) return false;                            // surrogates, private use
  if (cp < 0xFE00) return true;   // CJK compatibility, alphabetic and Arabic presentation forms
  if (cp < 0xFE20) return false;  // variation selectors, vertical forms
  if (cp < 0xFE30) return true;   // combining half marks
  if (cp < 0xFE70) return false;  // CJK compatibility and small forms
  if (cp < 0xFF00) return cp != 0xFEFF;
  if (cp < 0xFFF0) {
    return (cp >= 0xFF10 && cp <= 0xFF19) || (cp >= 0xFF21 && cp <= 0xFF3A) ||
           (cp >= 0xFF41 && cp <= 0xFF5A) || (cp >= 0xFF66 && cp <= 0xFFDC);
  }
  if (cp < 0x10000) return false;
  if (cp < 0x1F000) return !(cp >= 0x1D000 && cp < 0x1D400);  // not musical symbols
  if (cp < 0x20000) return false;                             // emoji and symbols
  return cp < 0xE0000;                                        // not tags or private use
}

std::string Normalize(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  bool pending_space = false;
  size_t pos = 0;
  while (pos < s.size()) {
    if (size_t w = SpaceLengthAt(s, pos)) {
      pending_space = !out.empty();
      pos += w;
      continue;
    }
    char32_t cp = DecodeUtf8(s, &pos);
    if (IsIgnorableInWord(cp) || cp == 0x200B || cp == 0xFEFF) continue;
    if (pending_space) {
      out.push_back(' ');
      pending_space = false;
    }
    if (cp == 0x2018 || cp == 0x2019 || cp == 0x201A || cp == 0x201B || cp == 0x2032) {
      out.push_back('\'');
    } else if (cp == 0x201C || cp == 0x201D || cp == 0x201E || cp == 0x201F || cp == 0x2033) {
      out.push_back('"');
    } else if ((cp >= 0x2010 && cp <= 0x2015) || cp == 0x2212) {
      out.push_back('-');
    } else {
      AppendFolded(cp, &out);
    }
  }
  return out;
}

bool TokenStream::Next(std::string* token) {
  token->clear();
  const size_t n = text_.size();
  for (;;) {
    // Skip to the next word code point.
    while (pos_ < n) {
      unsigned char c = text_[pos_];
      if (c < 0x80) {
        if (IsAsciiAlpha(c) || IsAsciiDigit(c)) break;
        ++pos_;
        continue;
      }
      size_t p = pos_;
      if (IsWordCodePoint(DecodeUtf8(text_, &p))) break;
      pos_ = p;
    }
    if (pos_ >= n) return false;
    token_begin_ = pos_;
    size_t end = pos_;
    char32_t prev = 0;
    while (pos_ < n) {
      size_t p = pos_;
      unsigned char c = text_[pos_];
      char32_t cp = c < 0x80 ? (++p, char32_t(c)) : DecodeUtf8(text_, &p);
      if (IsWordCodePoint(cp)) {
        AppendFolded(cp, token);
        prev = cp;
        pos_ = end = p;
        continue;
      }
      if (IsIgnorableInWord(cp)) {
        pos_ = p;
        continue;
      }
      if (IsApostrophe(cp) && IsLetter(prev) && p < n) {
        size_t q = p;
        char32_t next = DecodeUtf8(text_, &q);
        if (IsLetter(next)) {
          size_t r = q;
          if ((next == 's' || next == 'S') && (q >= n || !IsWordCodePoint(DecodeUtf8(text_, &r)))) {
            pos_ = end = q;  // possessive 's: dropped
            break;
          }
          pos_ = p;  // inner apostrophe: joins the two parts
          continue;
        }
      }
      if ((cp == '.' || cp == ',') && IsAsciiDigit(prev) && p < n &&
          IsAsciiDigit(char32_t(text_[p]))) {
        if (cp == '.') token->push_back('.');
        pos_ = p;
        continue;
      }
      break;
    }
    token_end_ = end;
    if (!token->empty()) return true;  // else the run was only combining marks: keep looking
  }
}

std::vector<std::string> Tokenize(std::string_view text) {
  std::vector<std::string> out;
  TokenStream stream(text);
  std::string token;
  while (stream.Next(&token)) out.push_back(token);
  return out;
}

bool IsStopWord(std::string_view token) {
  if (token.empty() || token.size() > kMaxStopWordLength || token[0] < 'a' || token[0] > 'z') {
    return false;
  }
  const LetterRange r = kStopWordsByLetter[size_t(token[0] - 'a')];
  return std::binary_search(kStopWords + r.begin, kStopWords + r.end, token);
}

// ---- hashing ----

uint64_t Mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

uint64_t Hash64(std::string_view data, uint64_t seed) {
  constexpr uint64_t kMul1 = 0x87c37b91114253d5ULL;
  constexpr uint64_t kMul2 = 0x4cf5ad432745937fULL;
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  const size_t n = data.size();
  uint64_t h = seed ^ (uint64_t(n) * 0x9e3779b97f4a7c15ULL);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t k = Load64Le(p + i);
    k *= kMul1;
    k = Rotl(k, 31);
    k *= kMul2;
    h ^= k;
    h = Rotl(h, 27) * 5 + 0x52dce729;
  }
  if (i < n) {
    uint64_t k = 0;
    for (size_t j = n; j > i; --j) k = (k << 8) | p[j - 1];
    k *= kMul1;
    k = Rotl(k, 31);
    k *= kMul2;
    h ^= k;
  }
  return Mix64(h);
}

}  // namespace jrvs::text
