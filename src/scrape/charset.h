// Charset detection and conversion of fetched text to UTF-8 (iconv from glibc).
//
// DecodeToUtf8() picks the source encoding in this order:
//   1. a byte order mark (UTF-8, UTF-16LE/BE), which is removed. The HTML standard puts the
//      BOM first because it is a statement by the bytes themselves; a header that disagrees
//      with it is the server guessing;
//   2. the charset parameter of the Content-Type header;
//   3. for HTML, <meta charset=...> or <meta http-equiv="Content-Type" content="...;charset=...">
//      within the first 2 KB (a meta naming UTF-16 means UTF-8, as in the HTML standard: the
//      bytes read as ASCII to find it, so they are not UTF-16);
//   4. UTF-8 when the body is valid UTF-8;
//   5. windows-1252.
// Labels are normalised as browsers do: iso-8859-1, latin1, us-ascii and friends all mean
// windows-1252 (a superset that gives curly quotes instead of C1 controls); unknown labels are
// skipped. Other encodings iconv knows (shift_jis, koi8-r, windows-1251, ...) are used as is.
// Bytes invalid in the source encoding become U+FFFD; the output is always valid UTF-8.
//
// Thread safety: all functions are pure and may be called concurrently.
#pragma once

#include <string>
#include <string_view>

namespace jrvs::scrape {

struct DecodedText {
  std::string text;     // valid UTF-8
  std::string charset;  // normalised name of the source encoding ("utf-8", "windows-1252", ...)
};

DecodedText DecodeToUtf8(std::string_view body, std::string_view content_type, bool is_html);

// The charset parameter of a Content-Type value, lower case, unquoted; "" when absent.
std::string CharsetFromContentType(std::string_view content_type);

// The charset declared by a <meta> tag in `head` (the first bytes of an HTML page); "".
std::string CharsetFromMeta(std::string_view head);

// The normalised name for a charset label, or "" when neither the table nor iconv knows it.
std::string NormalizeCharset(std::string_view label);

bool IsValidUtf8(std::string_view text);

// `text` with every invalid UTF-8 sequence replaced by U+FFFD.
std::string SanitizeUtf8(std::string_view text);

}  // namespace jrvs::scrape
