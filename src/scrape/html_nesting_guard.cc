// The nesting guard of ExtractHtml. gumbo checks scopes by walking its stack of open elements for
// every start tag, so n nested elements cost O(n^2). This pre-scan approximates the open-element
// stack (void elements and elements whose end tag is implied are not counted, raw-text elements
// and comments are skipped) and, only if the depth ever exceeds the limit, copies the input
// without the start tags beyond it and their end tags. Text is never removed.
#include "scrape/html_extractor_internal.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace jrvs::scrape::html_internal {
namespace {

bool IsVoidOrImpliedEnd(std::string_view name) {
  static constexpr std::string_view kNames[] = {
      "area",     "base",     "br",       "col",   "embed",   "hr",       "img",   "input", "link",
      "meta",     "param",    "source",   "track", "wbr",     "keygen",   "p",     "li",    "dt",
      "dd",       "option",   "optgroup", "tr",    "td",      "th",       "thead", "tbody", "tfoot",
      "colgroup", "caption",  "rb",       "rt",    "rtc",     "rp",       "html",  "head",  "body",
      "frame",    "basefont", "bgsound",  "image", "isindex", "menuitem", "nextid"};
  for (std::string_view k : kNames) {
    if (EqualsIgnoreCase(name, k)) return true;
  }
  return false;
}

bool IsRawText(std::string_view name) {
  static constexpr std::string_view kNames[] = {"script", "style",  "textarea", "title",
                                                "xmp",    "iframe", "noembed",  "noframes"};
  for (std::string_view k : kNames) {
    if (EqualsIgnoreCase(name, k)) return true;
  }
  return false;
}

std::size_t FindIgnoreCase(std::string_view hay, std::string_view needle, std::size_t from) {
  if (needle.empty()) return from;
  while (from + needle.size() <= hay.size()) {
    const std::size_t lt = hay.find(needle[0], from);
    if (lt == std::string_view::npos || lt + needle.size() > hay.size()) break;
    if (EqualsIgnoreCase(hay.substr(lt, needle.size()), needle)) return lt;
    from = lt + 1;
  }
  return std::string_view::npos;
}

// Returns the end (one past '>') of the tag starting at `lt`, honouring quoted attribute values.
std::size_t TagEnd(std::string_view html, std::size_t pos) {
  char quote = 0;
  bool after_equals = false;
  for (; pos < html.size(); ++pos) {
    const char c = html[pos];
    if (quote != 0) {
      if (c == quote) quote = 0;
    } else if (c == '>') {
      return pos + 1;
    } else if (c == '=') {
      after_equals = true;
    } else if ((c == '"' || c == '\'') && after_equals) {
      quote = c;
      after_equals = false;
    } else if (!IsAsciiSpace(static_cast<unsigned char>(c))) {
      after_equals = false;
    }
  }
  return html.size();
}

}  // namespace

// Scans `html`; if `out` is null, returns true as soon as the depth limit is exceeded. With
// `out`, writes the flattened copy and returns true.
bool ScanNesting(std::string_view html, std::size_t max_depth, std::string* out) {
  constexpr std::size_t kMatchWindow = 16;  // end tags match only this close to the top
  std::vector<std::string_view> stack;
  std::size_t foreign_base = SIZE_MAX;  // stack size at which <svg>/<math> was opened
  std::size_t dropped_open = 0;
  std::size_t i = 0;
  auto copy = [&](std::size_t from, std::size_t to) {
    if (out != nullptr) out->append(html.substr(from, to - from));
  };
  while (i < html.size()) {
    const std::size_t lt = html.find('<', i);
    if (lt == std::string_view::npos || lt + 1 >= html.size()) break;
    copy(i, lt);
    const char next = html[lt + 1];
    std::size_t end;
    if (next == '!' || next == '?') {
      if (html.substr(lt, 4) == "<!--") {
        end = html.find("-->", lt + 4);
        end = end == std::string_view::npos ? html.size() : end + 3;
      } else {
        end = TagEnd(html, lt + 2);
      }
      copy(lt, end);
    } else if (next == '/') {
      std::size_t name_end = lt + 2;
      while (name_end < html.size() && IsTagNameChar(html[name_end])) ++name_end;
      const std::string_view name = html.substr(lt + 2, name_end - lt - 2);
      end = TagEnd(html, name_end);
      bool matched = false;
      for (std::size_t k = 0; k < std::min(kMatchWindow, stack.size()); ++k) {
        if (EqualsIgnoreCase(stack[stack.size() - 1 - k], name)) {
          stack.resize(stack.size() - 1 - k);
          if (stack.size() <= foreign_base) foreign_base = SIZE_MAX;
          matched = true;
          break;
        }
      }
      if (!matched && dropped_open > 0 && !IsVoidOrImpliedEnd(name)) {
        --dropped_open;  // the end tag of a dropped start tag
      } else {
        copy(lt, end);
      }
    } else if ((next >= 'a' && next <= 'z') || (next >= 'A' && next <= 'Z')) {
      std::size_t name_end = lt + 1;
      while (name_end < html.size() && IsTagNameChar(html[name_end])) ++name_end;
      const std::string_view name = html.substr(lt + 1, name_end - lt - 1);
      end = TagEnd(html, name_end);
      const bool self_closing = end >= 2 && html[end - 2] == '/' && foreign_base != SIZE_MAX;
      if (EqualsIgnoreCase(name, "plaintext")) {
        copy(lt, html.size());
        return out != nullptr;
      }
      if (IsRawText(name)) {
        std::string close = "</";
        close.append(name);
        const std::size_t close_at = FindIgnoreCase(html, close, end);
        end = close_at == std::string_view::npos ? html.size() : TagEnd(html, close_at + 2);
        copy(lt, end);
      } else if (IsVoidOrImpliedEnd(name) || self_closing) {
        copy(lt, end);
      } else if (stack.size() >= max_depth) {
        if (out == nullptr) return true;
        ++dropped_open;
      } else {
        if (foreign_base == SIZE_MAX &&
            (EqualsIgnoreCase(name, "svg") || EqualsIgnoreCase(name, "math"))) {
          foreign_base = stack.size();
        }
        stack.push_back(name);
        copy(lt, end);
      }
    } else {
      end = lt + 1;
      copy(lt, end);
    }
    i = end;
  }
  if (i < html.size()) copy(i, html.size());
  return out != nullptr;
}

}  // namespace jrvs::scrape::html_internal
