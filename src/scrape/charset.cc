#include "scrape/charset.h"

#include <iconv.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <string>

#include "core/text.h"

namespace jrvs::scrape {
namespace {

constexpr size_t kMetaScanBytes = 2048;
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD in UTF-8

// Length of the valid UTF-8 sequence at the start of `s`, or 0 if it is not one (overlongs,
// surrogates and code points above U+10FFFF are invalid).
size_t Utf8SequenceLength(std::string_view s) {
  auto b = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  unsigned char c = b(0);
  if (c < 0x80) return 1;
  size_t len;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (s.size() < len) return 0;
  if (b(1) < lo || b(1) > hi) return 0;
  for (size_t i = 2; i < len; ++i) {
    if (b(i) < 0x80 || b(i) > 0xBF) return 0;
  }
  return len;
}

// Converts with iconv; invalid or truncated input bytes become U+FFFD. False when iconv does
// not know `from`.
bool IconvToUtf8(std::string_view in, const std::string& from, std::string* out) {
  iconv_t cd = iconv_open("UTF-8", from.c_str());
  if (cd == reinterpret_cast<iconv_t>(-1)) return false;
  out->clear();
  out->reserve(in.size() + in.size() / 2);
  char* src = const_cast<char*>(in.data());  // iconv's API is not const-correct
  size_t src_left = in.size();
  char buf[8192];
  while (src_left > 0) {
    char* dst = buf;
    size_t dst_left = sizeof buf;
    size_t rc = iconv(cd, &src, &src_left, &dst, &dst_left);
    out->append(buf, static_cast<size_t>(dst - buf));
    if (rc != static_cast<size_t>(-1)) continue;
    if (errno == E2BIG) continue;  // buffer full: flush and go on
    if (errno == EILSEQ) {         // an invalid byte: replace it and resynchronise
      out->append(kReplacement);
      ++src;
      --src_left;
      iconv(cd, nullptr, nullptr, nullptr, nullptr);  // reset the shift state
      continue;
    }
    out->append(kReplacement);  // EINVAL: a sequence cut off at the end
    break;
  }
  char* dst = buf;
  size_t dst_left = sizeof buf;
  iconv(cd, nullptr, nullptr, &dst, &dst_left);  // flush a final shift sequence
  out->append(buf, static_cast<size_t>(dst - buf));
  iconv_close(cd);
  return true;
}

// Reads the value after "charset" at `pos` in `s`: optional spaces, '=', optional quote.
std::string ReadCharsetValue(std::string_view s, size_t pos) {
  while (pos < s.size() && std::isspace(static_cast<unsigned char>(s[pos]))) ++pos;
  if (pos >= s.size() || s[pos] != '=') return "";
  ++pos;
  while (pos < s.size() && std::isspace(static_cast<unsigned char>(s[pos]))) ++pos;
  if (pos < s.size() && (s[pos] == '"' || s[pos] == '\'')) ++pos;
  size_t end = pos;
  while (end < s.size() && s[end] != '"' && s[end] != '\'' && s[end] != ';' && s[end] != '>' &&
         s[end] != '/' && !std::isspace(static_cast<unsigned char>(s[end]))) {
    ++end;
  }
  return text::AsciiLower(s.substr(pos, end - pos));
}

}  // namespace

bool IsValidUtf8(std::string_view text) {
  while (!text.empty()) {
    size_t n = Utf8SequenceLength(text);
    if (n == 0) return false;
    text.remove_prefix(n);
  }
  return true;
}

std::string SanitizeUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    size_t n = Utf8SequenceLength(text);
    if (n == 0) {
      out.append(kReplacement);
      text.remove_prefix(1);
    } else {
      out.append(text.substr(0, n));
      text.remove_prefix(n);
    }
  }
  return out;
}

std::string CharsetFromContentType(std::string_view content_type) {
  std::string lower = text::AsciiLower(content_type);
  size_t pos = 0;
  while ((pos = lower.find("charset", pos)) != std::string::npos) {
    std::string v = ReadCharsetValue(lower, pos + 7);
    if (!v.empty()) return v;
    pos += 7;
  }
  return "";
}

std::string CharsetFromMeta(std::string_view head) {
  std::string lower = text::AsciiLower(head.substr(0, kMetaScanBytes));
  size_t pos = 0;
  while ((pos = lower.find("<meta", pos)) != std::string::npos) {
    size_t end = lower.find('>', pos);
    std::string_view tag = std::string_view(lower).substr(
        pos, end == std::string::npos ? std::string::npos : end - pos);
    size_t c = 0;
    while ((c = tag.find("charset", c)) != std::string_view::npos) {
      std::string v = ReadCharsetValue(tag, c + 7);
      if (!v.empty()) return v;
      c += 7;
    }
    pos += 5;
  }
  return "";
}

std::string NormalizeCharset(std::string_view label_in) {
  std::string label = text::AsciiLower(label_in);
  static const std::string_view kUtf8[] = {"utf-8", "utf8", "unicode-1-1-utf-8"};
  static const std::string_view k1252[] = {
      "windows-1252", "cp1252", "x-cp1252", "iso-8859-1", "iso8859-1", "iso_8859-1",
      "iso-ir-100",   "latin1", "l1",       "us-ascii",   "ascii",     "ansi_x3.4-1968",
      "cp819",        "ibm819", "iso88591", "csisolatin1"};
  static const std::string_view kUtf16le[] = {"utf-16", "utf-16le", "unicode", "ucs-2"};
  if (std::find(std::begin(kUtf8), std::end(kUtf8), label) != std::end(kUtf8)) return "utf-8";
  if (std::find(std::begin(k1252), std::end(k1252), label) != std::end(k1252)) {
    return "windows-1252";
  }
  if (std::find(std::begin(kUtf16le), std::end(kUtf16le), label) != std::end(kUtf16le)) {
    return "utf-16le";
  }
  if (label == "utf-16be") return "utf-16be";
  if (label.empty() || label.size() > 40) return "";
  bool sane = std::all_of(label.begin(), label.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
           c == ':';
  });
  if (!sane) return "";
  iconv_t cd = iconv_open("UTF-8", label.c_str());
  if (cd == reinterpret_cast<iconv_t>(-1)) return "";
  iconv_close(cd);
  return label;
}

DecodedText DecodeToUtf8(std::string_view body, std::string_view content_type, bool is_html) {
  std::string charset;
  if (body.substr(0, 3) == "\xEF\xBB\xBF") {
    charset = "utf-8";
    body.remove_prefix(3);
  } else if (body.substr(0, 2) == "\xFF\xFE") {
    charset = "utf-16le";
    body.remove_prefix(2);
  } else if (body.substr(0, 2) == "\xFE\xFF") {
    charset = "utf-16be";
    body.remove_prefix(2);
  }
  if (charset.empty()) charset = NormalizeCharset(CharsetFromContentType(content_type));
  if (charset.empty() && is_html) {
    charset = NormalizeCharset(CharsetFromMeta(body));
    if (charset == "utf-16le" || charset == "utf-16be") charset = "utf-8";
  }
  if (charset.empty()) charset = IsValidUtf8(body) ? "utf-8" : "windows-1252";

  DecodedText out;
  out.charset = charset;
  if (charset == "utf-8") {
    out.text = IsValidUtf8(body) ? std::string(body) : SanitizeUtf8(body);
    return out;
  }
  std::string converted;
  if (!IconvToUtf8(body, charset, &converted)) {
    out.charset = "utf-8";  // iconv_open failed after all: keep what is valid
    out.text = SanitizeUtf8(body);
    return out;
  }
  out.text = SanitizeUtf8(converted);  // cheap insurance: iconv output is valid already
  return out;
}

}  // namespace jrvs::scrape
