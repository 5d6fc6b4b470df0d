#include "scrape/html_extractor.h"

#include <gumbo.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <exception>
#include <initializer_list>
#include <memory>
#include <optional>
#include <unordered_set>
#include <utility>

#include <boost/url.hpp>

namespace jrvs::scrape {
namespace {

namespace urls = boost::urls;

// ----------------------------------------------------------------------------------------------
// Bytes and UTF-8

bool IsAsciiSpace(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) return false;
  }
  return true;
}

std::string_view TrimAscii(std::string_view s) {
  while (!s.empty() && IsAsciiSpace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && IsAsciiSpace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// Length of the well-formed UTF-8 sequence starting at p (at most n bytes), or 0 if malformed
// (overlong forms, surrogates and code points above U+10FFFF are malformed).
std::size_t Utf8SequenceLength(const unsigned char* p, std::size_t n) {
  const unsigned char c = p[0];
  if (c < 0x80) return 1;
  auto cont = [&](std::size_t i, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
    return i < n && p[i] >= lo && p[i] <= hi;
  };
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c == 0xE0) return cont(1, 0xA0) && cont(2) ? 3 : 0;
  if (c == 0xED) return cont(1, 0x80, 0x9F) && cont(2) ? 3 : 0;
  if (c >= 0xE1 && c <= 0xEF) return cont(1) && cont(2) ? 3 : 0;
  if (c == 0xF0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (c >= 0xF1 && c <= 0xF3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (c == 0xF4) return cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";

// Visible characters (code points that are not ASCII whitespace) in a text node; used for
// scoring, so it only needs to be cheap and monotonic, not exact for malformed input.
std::uint32_t CountVisibleChars(std::string_view s) {
  std::uint32_t n = 0;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    n += static_cast<std::uint32_t>((c & 0xC0) != 0x80 && !IsAsciiSpace(c));
  }
  return n;
}

// ----------------------------------------------------------------------------------------------
// Text rendering: a line-oriented buffer with whitespace collapsing, lazy list prefixes and
// lazy table-cell separators. Appends only; never rescans what it wrote (linear time).

class TextSink {
 public:
  // Inline text. Outside <pre>, runs of whitespace (and NBSP) collapse to one space and leading
  // or trailing whitespace of a line is dropped; inside, spacing and line breaks are kept.
  void Append(std::string_view s, bool preformatted) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const std::size_t n = s.size();
    std::size_t i = 0;
    while (i < n) {
      const unsigned char c = p[i];
      if (c < 0x80) {
        ++i;
        if (preformatted) {
          if (c == '\r' || c == '\n') {
            if (c == '\r' && i < n && p[i] == '\n') ++i;
            PreNewline();
            continue;
          }
          if (c == '\t' || c == ' ') {
            BeforeVisible();
            out_.push_back(static_cast<char>(c));
            continue;
          }
        } else if (IsAsciiSpace(c)) {
          pending_space_ = true;
          continue;
        }
        if (c < 0x20 || c == 0x7F) continue;  // other control characters
        BeforeVisible();
        out_.push_back(static_cast<char>(c));
        continue;
      }
      const std::size_t len = Utf8SequenceLength(p + i, n - i);
      if (len == 0) {
        BeforeVisible();
        out_.append(kReplacementChar);
        ++i;
        continue;
      }
      if (c == 0xC2 && p[i + 1] == 0xA0) {  // NBSP
        if (preformatted) {
          BeforeVisible();
          out_.push_back(' ');
        } else {
          pending_space_ = true;
        }
      } else if (!(c == 0xC2 && p[i + 1] < 0xA0)) {  // C1 controls are dropped
        BeforeVisible();
        out_.append(s.data() + i, len);
      }
      i += len;
    }
  }

  // A soft boundary: a space unless the line is empty.
  void Space() { pending_space_ = true; }

  // Ends the current line if it has visible content; the next text starts a new line.
  void BreakLine() {
    if (line_has_text_) {
      while (out_.size() > line_start_ && out_.back() == ' ') out_.pop_back();
      if (out_.size() > line_start_) {
        out_.push_back('\n');
        ++breaks_;
      }
      line_start_ = out_.size();
      line_has_text_ = false;
    }
    pending_space_ = false;
    pending_separators_ = 0;
  }

  // Ends the current line; the next text starts after a blank line (a paragraph break).
  void BreakParagraph() {
    BreakLine();
    pending_paragraph_ = !out_.empty();
  }

  // <br>: a line break, or a paragraph break when the line is already empty (<br><br>).
  void HardBreak() {
    if (line_has_text_) {
      BreakLine();
    } else {
      pending_paragraph_ = !out_.empty();
    }
  }

  void SetLinePrefix(std::string prefix) { prefix_ = std::move(prefix); }
  void ClearLinePrefix() { prefix_.clear(); }
  void AddCellSeparator() { ++pending_separators_; }

  void BeginPre(bool paragraph) {
    paragraph ? BreakParagraph() : BreakLine();
    pre_has_text_ = false;
    pending_blank_lines_ = 0;
  }
  void EndPre(bool paragraph) {
    pending_blank_lines_ = 0;
    paragraph ? BreakParagraph() : BreakLine();
  }

  std::size_t size() const { return out_.size(); }
  const std::string& buffer() const { return out_; }

  std::string Take() {
    BreakLine();
    if (!out_.empty() && out_.back() == '\n') out_.pop_back();
    return std::move(out_);
  }

 private:
  void PreNewline() {
    if (line_has_text_) {
      BreakLine();
    } else if (pre_has_text_) {
      ++pending_blank_lines_;  // kept only if more text follows inside the same <pre>
    }
  }

  // Emits what must precede a visible character: blank lines kept from <pre>, the list prefix,
  // cell separators and a collapsed space.
  void BeforeVisible() {
    if (!line_has_text_) {
      if (pending_paragraph_ && !out_.empty()) out_.push_back('\n');
      pending_paragraph_ = false;
      for (; pending_blank_lines_ > 0; --pending_blank_lines_) out_.push_back('\n');
      line_start_ = out_.size();
      out_.append(prefix_);
      prefix_.clear();
    }
    if (pending_separators_ > 0) {
      for (; pending_separators_ > 0; --pending_separators_) {
        out_.append(line_has_text_ ? " |" : "|");
        line_has_text_ = true;
      }
      pending_space_ = true;
    }
    if (pending_space_ && line_has_text_) out_.push_back(' ');
    pending_space_ = false;
    line_has_text_ = true;
    pre_has_text_ = true;
  }

  std::string out_;
  std::size_t line_start_ = 0;  // offset of the current line in out_
  std::size_t breaks_ = 0;
  bool line_has_text_ = false;
  bool pending_space_ = false;
  bool pre_has_text_ = false;
  bool pending_paragraph_ = false;  // a blank line goes before the next visible text
  int pending_separators_ = 0;
  std::size_t pending_blank_lines_ = 0;
  std::string prefix_;
};

// Collapses whitespace, trims, and repairs UTF-8 (for titles, headings and attribute values).
std::string CleanInline(std::string_view s) {
  TextSink sink;
  sink.Append(s, /*preformatted=*/false);
  return sink.Take();
}

// ----------------------------------------------------------------------------------------------
// Nesting guard. gumbo checks scopes by walking its stack of open elements for every start tag,
// so n nested elements cost O(n^2). This pre-scan approximates the open-element stack (void
// elements and elements whose end tag is implied are not counted, raw-text elements and comments
// are skipped) and, only if the depth ever exceeds the limit, copies the input without the start
// tags beyond it and their end tags. Text is never removed.

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

bool IsTagNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == ':' || c == '.';
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

// ----------------------------------------------------------------------------------------------
// Element classification

using GumboOutputPtr = std::unique_ptr<GumboOutput, void (*)(GumboOutput*)>;

std::string_view AttrValue(const GumboElement& el, const char* name) {
  const GumboAttribute* a = gumbo_get_attribute(&el.attributes, name);
  return a == nullptr ? std::string_view() : std::string_view(a->value);
}
bool HasAttr(const GumboElement& el, const char* name) {
  return gumbo_get_attribute(&el.attributes, name) != nullptr;
}

// The tag name of an element gumbo does not know (e.g. <dialog>), from the source text.
std::string_view UnknownTagName(const GumboElement& el) {
  std::string_view s(el.original_tag.data == nullptr ? "" : el.original_tag.data,
                     el.original_tag.length);
  if (!s.empty() && s.front() == '<') s.remove_prefix(1);
  std::size_t n = 0;
  while (n < s.size() && IsTagNameChar(s[n])) ++n;
  return s.substr(0, n);
}

// A set of gumbo tags as a lookup table.
class TagSet {
 public:
  constexpr TagSet(std::initializer_list<GumboTag> tags) {
    for (GumboTag t : tags) bits_[t] = true;
  }
  constexpr bool Contains(GumboTag t) const { return t >= 0 && t < GUMBO_TAG_LAST && bits_[t]; }

 private:
  std::array<bool, GUMBO_TAG_LAST + 1> bits_{};
};

// Inline (phrasing) elements flow into the surrounding block. Unknown elements (custom elements)
// count as inline; any blocks inside them still break lines.
constexpr TagSet kInlineTags = {
    GUMBO_TAG_A,      GUMBO_TAG_ABBR,  GUMBO_TAG_ACRONYM, GUMBO_TAG_B,        GUMBO_TAG_BDI,
    GUMBO_TAG_BDO,    GUMBO_TAG_BIG,   GUMBO_TAG_BLINK,   GUMBO_TAG_CITE,     GUMBO_TAG_CODE,
    GUMBO_TAG_DATA,   GUMBO_TAG_DEL,   GUMBO_TAG_DFN,     GUMBO_TAG_EM,       GUMBO_TAG_FONT,
    GUMBO_TAG_I,      GUMBO_TAG_IMG,   GUMBO_TAG_IMAGE,   GUMBO_TAG_INPUT,    GUMBO_TAG_INS,
    GUMBO_TAG_KBD,    GUMBO_TAG_LABEL, GUMBO_TAG_MAP,     GUMBO_TAG_AREA,     GUMBO_TAG_MARK,
    GUMBO_TAG_METER,  GUMBO_TAG_NOBR,  GUMBO_TAG_OUTPUT,  GUMBO_TAG_PROGRESS, GUMBO_TAG_Q,
    GUMBO_TAG_RB,     GUMBO_TAG_RP,    GUMBO_TAG_RT,      GUMBO_TAG_RTC,      GUMBO_TAG_RUBY,
    GUMBO_TAG_S,      GUMBO_TAG_SAMP,  GUMBO_TAG_SMALL,   GUMBO_TAG_SPAN,     GUMBO_TAG_STRIKE,
    GUMBO_TAG_STRONG, GUMBO_TAG_SUB,   GUMBO_TAG_SUP,     GUMBO_TAG_TIME,     GUMBO_TAG_TT,
    GUMBO_TAG_U,      GUMBO_TAG_VAR,   GUMBO_TAG_WBR,     GUMBO_TAG_SPACER,   GUMBO_TAG_UNKNOWN,
    GUMBO_TAG_BR};

// Never rendered, whatever their attributes (<header> and <dialog> are decided in IsDropped).
constexpr TagSet kDroppedTags = {
    GUMBO_TAG_HEAD,     GUMBO_TAG_TITLE,    GUMBO_TAG_SCRIPT,  GUMBO_TAG_STYLE,
    GUMBO_TAG_NOSCRIPT, GUMBO_TAG_TEMPLATE, GUMBO_TAG_SVG,     GUMBO_TAG_MATH,
    GUMBO_TAG_NAV,      GUMBO_TAG_ASIDE,    GUMBO_TAG_FOOTER,  GUMBO_TAG_FORM,
    GUMBO_TAG_IFRAME,   GUMBO_TAG_BUTTON,   GUMBO_TAG_SELECT,  GUMBO_TAG_TEXTAREA,
    GUMBO_TAG_CANVAS,   GUMBO_TAG_OBJECT,   GUMBO_TAG_EMBED,   GUMBO_TAG_AUDIO,
    GUMBO_TAG_VIDEO,    GUMBO_TAG_NOFRAMES, GUMBO_TAG_NOEMBED, GUMBO_TAG_DATALIST,
    GUMBO_TAG_APPLET,   GUMBO_TAG_FRAMESET};

bool IsInline(GumboTag tag) { return kInlineTags.Contains(tag); }

bool IsTableSection(GumboTag tag) {
  return tag == GUMBO_TAG_THEAD || tag == GUMBO_TAG_TBODY || tag == GUMBO_TAG_TFOOT ||
         tag == GUMBO_TAG_COLGROUP || tag == GUMBO_TAG_COL;
}

bool IsHeading(GumboTag tag) { return tag >= GUMBO_TAG_H1 && tag <= GUMBO_TAG_H6; }

bool IsSectioningRoot(const GumboElement& el) {
  return el.tag == GUMBO_TAG_ARTICLE || el.tag == GUMBO_TAG_MAIN ||
         EqualsIgnoreCase(TrimAscii(AttrValue(el, "role")), "main");
}

bool StyleHides(std::string_view style) {
  std::string compact;
  compact.reserve(style.size());
  for (char c : style) {
    if (!IsAsciiSpace(static_cast<unsigned char>(c))) compact.push_back(AsciiLower(c));
  }
  return compact.find("display:none") != std::string::npos ||
         compact.find("visibility:hidden") != std::string::npos;
}

// Elements never rendered (see the header). `in_article` tells whether an <article>, <main> or
// [role=main] encloses the element.
bool IsDropped(const GumboNode* node, bool in_article) {
  if (node->type == GUMBO_NODE_TEMPLATE) return true;
  const GumboElement& el = node->v.element;
  if (el.tag_namespace != GUMBO_NAMESPACE_HTML) return true;  // svg, math
  if (kDroppedTags.Contains(el.tag)) return true;
  if (el.tag == GUMBO_TAG_HEADER && !in_article) return true;
  if (el.tag == GUMBO_TAG_UNKNOWN && EqualsIgnoreCase(UnknownTagName(el), "dialog") &&
      !HasAttr(el, "open")) {
    return true;  // a closed <dialog> is not rendered by browsers
  }
  if (el.attributes.length == 0) return false;
  if (HasAttr(el, "hidden")) return true;
  if (EqualsIgnoreCase(TrimAscii(AttrValue(el, "aria-hidden")), "true")) return true;
  const std::string_view role = TrimAscii(AttrValue(el, "role"));
  if (!role.empty()) {
    for (std::string_view r : {"navigation", "complementary", "contentinfo", "banner", "dialog",
                               "alertdialog", "search"}) {
      if (EqualsIgnoreCase(role, r)) return true;
    }
  }
  const std::string_view style = AttrValue(el, "style");
  return !style.empty() && StyleHides(style);
}

const GumboVector* ChildrenOf(const GumboNode* node) {
  switch (node->type) {
    case GUMBO_NODE_DOCUMENT:
      return &node->v.document.children;
    case GUMBO_NODE_ELEMENT:
    case GUMBO_NODE_TEMPLATE:
      return &node->v.element.children;
    default:
      return nullptr;
  }
}

bool IsText(const GumboNode* node) {
  return node->type == GUMBO_NODE_TEXT || node->type == GUMBO_NODE_WHITESPACE ||
         node->type == GUMBO_NODE_CDATA;
}

// Iterative pre/post-order walk (pages can nest thousands deep; no recursion). Visitor::Enter
// returns whether to descend; Visitor::Exit runs after the children of every node descended into.
template <typename Visitor>
void Walk(const GumboNode* root, Visitor& visitor) {
  struct Frame {
    const GumboNode* node;
    unsigned next_child;
  };
  if (!visitor.Enter(root)) return;
  std::vector<Frame> stack;
  stack.push_back({root, 0});
  while (!stack.empty()) {
    Frame& top = stack.back();
    const GumboVector* children = ChildrenOf(top.node);
    if (children != nullptr && top.next_child < children->length) {
      const auto* child = static_cast<const GumboNode*>(children->data[top.next_child++]);
      if (visitor.Enter(child)) stack.push_back({child, 0});
    } else {
      visitor.Exit(top.node);
      stack.pop_back();
    }
  }
}

// All text below `node`, whitespace collapsed.
std::string GatherText(const GumboNode* node) {
  struct Gatherer {
    std::string raw;
    bool Enter(const GumboNode* n) {
      if (IsText(n)) {
        raw.append(n->v.text.text);
        return false;
      }
      if (n->type == GUMBO_NODE_ELEMENT && IsDropped(n, true)) return false;
      return n->type == GUMBO_NODE_ELEMENT;
    }
    void Exit(const GumboNode* n) {
      if (n->type == GUMBO_NODE_ELEMENT && !IsInline(n->v.element.tag)) raw.push_back(' ');
    }
  } gatherer;
  Walk(node, gatherer);
  return CleanInline(gatherer.raw);
}

bool IsAncestor(const GumboNode* maybe_ancestor, const GumboNode* node) {
  for (const GumboNode* p = node->parent; p != nullptr; p = p->parent) {
    if (p == maybe_ancestor) return true;
  }
  return false;
}

// ----------------------------------------------------------------------------------------------
// Links

bool IsHexDigit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// Makes an href acceptable to an RFC 3986 parser the way browsers do: trims it, removes tabs and
// newlines, percent-encodes spaces, non-ASCII bytes and other characters URLs may not contain,
// and drops the fragment (we remove fragments anyway).
std::string EncodeHref(std::string_view raw) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  raw = TrimAscii(raw);
  // Brackets are legal only in an IPv6 host, so keep them verbatim only inside an authority.
  std::size_t authority_end = 0;
  {
    std::size_t start = std::string_view::npos;
    if (raw.substr(0, 2) == "//") {
      start = 2;
    } else if (const std::size_t colon = raw.find("://");
               colon != std::string_view::npos && raw.find_first_of("/?#") > colon) {
      start = colon + 3;
    }
    if (start != std::string_view::npos) {
      authority_end = std::min(raw.find_first_of("/?#", start), raw.size());
    }
  }
  std::string out;
  out.reserve(raw.size() + 8);
  for (std::size_t i = 0; i < raw.size(); ++i) {
    const auto c = static_cast<unsigned char>(raw[i]);
    if (c == '\t' || c == '\n' || c == '\r') continue;
    if (c == '#') break;
    const bool bracket = (c == '[' || c == ']') && i >= authority_end;
    const bool bad_percent =
        c == '%' && !(i + 2 < raw.size() && IsHexDigit(raw[i + 1]) && IsHexDigit(raw[i + 2]));
    if (c <= 0x20 || c >= 0x7F || bracket || bad_percent ||
        std::string_view("\"<>\\^`{|}").find(static_cast<char>(c)) != std::string_view::npos) {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

// Resolves `raw` against `base` (may be null); returns the normalised absolute URL, or nothing
// if it is same-document, malformed, or of a scheme we do not keep.
std::optional<std::string> ResolveUrl(const urls::url* base, std::string_view raw,
                                      bool allow_file) {
  try {
    const std::string encoded = EncodeHref(raw);
    if (encoded.empty()) return std::nullopt;
    auto ref = urls::parse_uri_reference(encoded);
    if (!ref) return std::nullopt;
    urls::url dest;
    if (ref->has_scheme()) {
      dest = *ref;
    } else {
      if (base == nullptr || !urls::resolve(*base, *ref, dest)) return std::nullopt;
    }
    dest.normalize();
    const urls::scheme id = dest.scheme_id();
    if (id == urls::scheme::http || id == urls::scheme::https) {
      if (!dest.has_authority() || dest.encoded_host().empty()) return std::nullopt;
      if ((id == urls::scheme::http && dest.port() == "80") ||
          (id == urls::scheme::https && dest.port() == "443")) {
        dest.remove_port();
      }
      if (dest.encoded_path().empty()) {
        dest.set_encoded_path("/");
        dest.normalize_path();  // Boost 1.81 writes "/./" for an empty path; this folds it to "/"
      }
    } else if (!(id == urls::scheme::file && allow_file)) {
      return std::nullopt;
    }
    dest.remove_fragment();
    return std::string(dest.buffer());
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// ----------------------------------------------------------------------------------------------
// Pass 1: metadata, links, title candidates and content scores over the whole document.

class Collector {
 public:
  // Raw values; cleaned and resolved by the caller.
  std::string_view title_raw;
  bool have_title = false;
  std::string first_h1;  // the first <h1> with text
  std::string_view base_href;
  bool have_base = false;
  std::string_view html_lang;
  std::string_view canonical_href;
  std::vector<std::string_view> hrefs;
  std::string_view meta_description, meta_author, article_author, content_language;
  std::string_view published[3];  // article:published_time, datePublished, name=date etc.
  std::map<std::string, std::string> og;

  const GumboNode* best_semantic = nullptr;
  std::uint32_t best_semantic_chars = 0;
  const GumboNode* best_block = nullptr;
  std::int64_t best_block_score = 0;
  std::unordered_set<const GumboNode*> layout_tables;

  bool Enter(const GumboNode* node) {
    if (IsText(node)) {
      if (dropped_depth_ == 0 && !stack_.empty()) {
        const std::uint32_t n = CountVisibleChars(node->v.text.text);
        stack_.back().chars += n;
        if (link_depth_ > 0) stack_.back().link_chars += n;
      }
      return false;
    }
    if (node->type == GUMBO_NODE_DOCUMENT) return true;
    if (node->type != GUMBO_NODE_ELEMENT && node->type != GUMBO_NODE_TEMPLATE) return false;
    const GumboElement& el = node->v.element;
    if (node->type == GUMBO_NODE_TEMPLATE || el.tag_namespace != GUMBO_NAMESPACE_HTML) {
      return false;  // no content, links or metadata of ours inside <template>, svg or math
    }
    CollectMetadata(node, el);
    if (el.tag == GUMBO_TAG_SCRIPT || el.tag == GUMBO_TAG_STYLE) return false;

    State state;
    state.dropped = IsDropped(node, article_depth_ > 0);
    state.sectioning = IsSectioningRoot(el);
    dropped_depth_ += state.dropped ? 1 : 0;
    article_depth_ += state.sectioning ? 1 : 0;
    link_depth_ += el.tag == GUMBO_TAG_A ? 1 : 0;
    stack_.push_back(state);
    return true;
  }

  void Exit(const GumboNode* node) {
    if (node->type == GUMBO_NODE_DOCUMENT) return;
    const GumboElement& el = node->v.element;
    const State state = stack_.back();
    stack_.pop_back();
    dropped_depth_ -= state.dropped ? 1 : 0;
    article_depth_ -= state.sectioning ? 1 : 0;
    link_depth_ -= el.tag == GUMBO_TAG_A ? 1 : 0;
    if (state.dropped || dropped_depth_ > 0) return;

    if (state.sectioning && state.chars > best_semantic_chars) {
      best_semantic = node;
      best_semantic_chars = state.chars;
    }
    if (!IsInline(el.tag) && el.tag != GUMBO_TAG_HTML) {
      const std::int64_t score =
          static_cast<std::int64_t>(state.chars) - 2 * static_cast<std::int64_t>(state.link_chars);
      // Children exit before their parents, so on a tie the parent replaces its descendant.
      if (score > best_block_score ||
          (score == best_block_score && best_block != nullptr && IsAncestor(node, best_block))) {
        best_block = node;
        best_block_score = score;
      }
    }
    const bool structural = el.tag == GUMBO_TAG_TABLE || IsHeading(el.tag) ||
                            el.tag == GUMBO_TAG_UL || el.tag == GUMBO_TAG_OL ||
                            el.tag == GUMBO_TAG_ARTICLE || el.tag == GUMBO_TAG_SECTION ||
                            el.tag == GUMBO_TAG_MAIN;
    if (el.tag == GUMBO_TAG_TABLE && state.has_structure) layout_tables.insert(node);
    if (!stack_.empty()) {
      State& parent = stack_.back();
      parent.chars += state.chars;
      parent.link_chars += state.link_chars;
      parent.has_structure = parent.has_structure || state.has_structure || structural;
    }
  }

 private:
  struct State {
    std::uint32_t chars = 0;       // visible characters below, dropped subtrees excluded
    std::uint32_t link_chars = 0;  // of which inside <a>
    bool dropped = false;
    bool sectioning = false;
    bool has_structure = false;  // a table, heading, list or section below (layout tables)
  };

  void CollectMetadata(const GumboNode* node, const GumboElement& el) {
    switch (el.tag) {
      case GUMBO_TAG_TITLE:
        if (!have_title) {
          have_title = true;
          if (el.children.length > 0) {
            const auto* t = static_cast<const GumboNode*>(el.children.data[0]);
            if (IsText(t)) title_raw = t->v.text.text;
          }
        }
        break;
      case GUMBO_TAG_H1:
        if (first_h1.empty()) first_h1 = GatherText(node);
        break;
      case GUMBO_TAG_BASE:
        if (!have_base && HasAttr(el, "href")) {
          have_base = true;
          base_href = AttrValue(el, "href");
        }
        break;
      case GUMBO_TAG_HTML:
        if (html_lang.empty()) html_lang = TrimAscii(AttrValue(el, "lang"));
        break;
      case GUMBO_TAG_A:
      case GUMBO_TAG_AREA:
        if (HasAttr(el, "href")) hrefs.push_back(AttrValue(el, "href"));
        break;
      case GUMBO_TAG_LINK:
        if (canonical_href.empty() && RelHas(AttrValue(el, "rel"), "canonical")) {
          canonical_href = AttrValue(el, "href");
        }
        break;
      case GUMBO_TAG_META:
        CollectMeta(el);
        break;
      case GUMBO_TAG_TIME:
        if (published[1].empty() &&
            EqualsIgnoreCase(TrimAscii(AttrValue(el, "itemprop")), "datePublished")) {
          published[1] = AttrValue(el, "datetime");
        }
        break;
      default:
        break;
    }
  }

  static bool RelHas(std::string_view rel, std::string_view token) {
    std::size_t i = 0;
    while (i < rel.size()) {
      while (i < rel.size() && IsAsciiSpace(static_cast<unsigned char>(rel[i]))) ++i;
      std::size_t j = i;
      while (j < rel.size() && !IsAsciiSpace(static_cast<unsigned char>(rel[j]))) ++j;
      if (j > i && EqualsIgnoreCase(rel.substr(i, j - i), token)) return true;
      i = j;
    }
    return false;
  }

  void CollectMeta(const GumboElement& el) {
    const std::string_view content = AttrValue(el, "content");
    std::string_view key = TrimAscii(AttrValue(el, "property"));
    if (key.empty()) key = TrimAscii(AttrValue(el, "name"));
    auto set_once = [&](std::string_view& slot) {
      if (slot.empty()) slot = content;
    };
    if (key.size() > 3 && EqualsIgnoreCase(key.substr(0, 3), "og:")) {
      std::string lowered(key);
      for (char& c : lowered) c = AsciiLower(c);
      og.emplace(std::move(lowered), CleanInline(content));
    } else if (EqualsIgnoreCase(key, "description")) {
      set_once(meta_description);
    } else if (EqualsIgnoreCase(key, "author")) {
      set_once(meta_author);
    } else if (EqualsIgnoreCase(key, "article:author")) {
      set_once(article_author);
    } else if (EqualsIgnoreCase(key, "article:published_time")) {
      set_once(published[0]);
    } else {
      for (std::string_view k : {"date", "pubdate", "publishdate", "dc.date", "dc.date.issued",
                                 "dcterms.created", "dcterms.date", "citation_publication_date"}) {
        if (EqualsIgnoreCase(key, k)) set_once(published[2]);
      }
    }
    if (EqualsIgnoreCase(TrimAscii(AttrValue(el, "itemprop")), "datePublished")) {
      set_once(published[1]);
    }
    if (EqualsIgnoreCase(TrimAscii(AttrValue(el, "http-equiv")), "content-language")) {
      set_once(content_language);
    }
  }

  std::vector<State> stack_;
  int dropped_depth_ = 0;
  int article_depth_ = 0;
  int link_depth_ = 0;
};

// ----------------------------------------------------------------------------------------------
// Pass 2: render the chosen subtree as text.

class Renderer {
 public:
  Renderer(const std::unordered_set<const GumboNode*>& layout_tables, int article_depth)
      : layout_tables_(layout_tables), article_depth_(article_depth) {}

  std::vector<Heading> headings;
  std::string first_time_datetime;

  bool Enter(const GumboNode* node) {
    if (IsText(node)) {
      sink_.Append(node->v.text.text, pre_depth_ > 0 && cell_depth_ == 0);
      return false;
    }
    if (node->type == GUMBO_NODE_DOCUMENT) return true;
    if (node->type != GUMBO_NODE_ELEMENT) return false;  // comments, templates
    if (IsDropped(node, article_depth_ > 0)) return false;
    const GumboElement& el = node->v.element;
    const GumboTag tag = el.tag;
    Frame frame;
    frame.sectioning = IsSectioningRoot(el);
    article_depth_ += frame.sectioning ? 1 : 0;

    if (tag == GUMBO_TAG_TIME && first_time_datetime.empty()) {
      first_time_datetime = CleanInline(AttrValue(el, "datetime"));
    }
    if (tag == GUMBO_TAG_BR) {
      if (cell_depth_ > 0) {
        sink_.Space();
      } else if (pre_depth_ > 0) {
        sink_.Append("\n", true);
      } else {
        sink_.HardBreak();
      }
    } else if (tag == GUMBO_TAG_TABLE) {
      tables_.push_back(layout_tables_.count(node) == 0 && cell_depth_ == 0);
      frame.kind = Kind::kTable;
      Boundary();
    } else if (InDataTable() && tag == GUMBO_TAG_TR) {
      frame.kind = Kind::kRow;
      sink_.BreakLine();
      cells_.push_back(0);
    } else if (InDataTable() && (tag == GUMBO_TAG_TD || tag == GUMBO_TAG_TH) && !cells_.empty()) {
      frame.kind = Kind::kCell;
      if (cells_.back()++ > 0) sink_.AddCellSeparator();
      ++cell_depth_;
    } else if (IsInline(tag) || (InDataTable() && IsTableSection(tag))) {
      // flows into the current line
    } else if (InDataTable() && tag == GUMBO_TAG_CAPTION && cell_depth_ == 0) {
      frame.kind = Kind::kLine;
      sink_.BreakLine();
    } else if (cell_depth_ > 0) {
      frame.kind = Kind::kBlock;  // blocks inside a data cell only separate words
      sink_.Space();
    } else if (tag == GUMBO_TAG_LI) {
      frame.kind = Kind::kListItem;
      sink_.BreakLine();
      const int indent = std::max(list_depth_, 1) - 1;
      sink_.SetLinePrefix(std::string(static_cast<std::size_t>(indent) * 2, ' ') + "- ");
      ++item_depth_;
    } else if (tag == GUMBO_TAG_DT || tag == GUMBO_TAG_DD) {
      frame.kind = Kind::kListItem;
      sink_.BreakLine();
      ++item_depth_;
    } else if (tag == GUMBO_TAG_UL || tag == GUMBO_TAG_OL || tag == GUMBO_TAG_MENU ||
               tag == GUMBO_TAG_DIR) {
      frame.kind = Kind::kList;
      Boundary();
      ++list_depth_;
    } else if (tag == GUMBO_TAG_PRE || tag == GUMBO_TAG_LISTING || tag == GUMBO_TAG_XMP ||
               tag == GUMBO_TAG_PLAINTEXT) {
      frame.kind = Kind::kPre;
      if (pre_depth_++ == 0) sink_.BeginPre(item_depth_ == 0);
    } else {
      frame.kind = IsHeading(tag) ? Kind::kHeading : Kind::kBlock;
      Boundary();
      frame.start = sink_.size();
    }
    frames_.push_back(frame);
    return true;
  }

  void Exit(const GumboNode* node) {
    if (node->type == GUMBO_NODE_DOCUMENT) return;
    const Frame frame = frames_.back();
    frames_.pop_back();
    article_depth_ -= frame.sectioning ? 1 : 0;
    switch (frame.kind) {
      case Kind::kInline:
        return;
      case Kind::kTable:
        tables_.pop_back();
        Boundary();
        return;
      case Kind::kRow:
        cells_.pop_back();
        sink_.BreakLine();
        return;
      case Kind::kCell:
        --cell_depth_;
        return;
      case Kind::kList:
        --list_depth_;
        Boundary();
        return;
      case Kind::kLine:
        sink_.BreakLine();
        return;
      case Kind::kListItem:
        --item_depth_;
        sink_.BreakLine();
        sink_.ClearLinePrefix();
        return;
      case Kind::kPre:
        if (--pre_depth_ == 0) sink_.EndPre(item_depth_ == 0);
        return;
      case Kind::kHeading:
        if (cell_depth_ == 0) {
          std::string text = CleanInline(std::string_view(sink_.buffer()).substr(frame.start));
          if (!text.empty()) {
            headings.push_back(
                {static_cast<int>(node->v.element.tag - GUMBO_TAG_H1) + 1, std::move(text)});
          }
        }
        Boundary();
        return;
      case Kind::kBlock:
        Boundary();
        return;
    }
  }

  std::string Take() { return sink_.Take(); }

 private:
  // What an open element does at its end. kInline: nothing; kBlock: Boundary(); kLine: a line
  // break; kList / kListItem / kPre / kHeading / kTable / kRow / kCell: see Exit().
  enum class Kind : std::uint8_t {
    kInline,
    kBlock,
    kLine,
    kList,
    kListItem,
    kPre,
    kHeading,
    kTable,
    kRow,
    kCell
  };
  struct Frame {
    Kind kind = Kind::kInline;
    bool sectioning = false;
    std::size_t start = 0;  // headings: output offset where the heading began
  };

  bool InDataTable() const { return !tables_.empty() && tables_.back(); }

  // The boundary of a block: a space inside a data-table cell, a line break inside a list item,
  // a paragraph break (blank line) elsewhere.
  void Boundary() {
    if (cell_depth_ > 0) {
      sink_.Space();
    } else if (item_depth_ > 0) {
      sink_.BreakLine();
    } else {
      sink_.BreakParagraph();
    }
  }

  const std::unordered_set<const GumboNode*>& layout_tables_;
  TextSink sink_;
  std::vector<Frame> frames_;
  std::vector<bool> tables_;  // per open table: true when rendered as a data table
  std::vector<int> cells_;    // per open data-table row: cells seen so far
  int article_depth_ = 0;
  int list_depth_ = 0;
  int item_depth_ = 0;  // open li/dt/dd
  int pre_depth_ = 0;
  int cell_depth_ = 0;
};

const GumboNode* FindBody(const GumboOutput& output) {
  const GumboVector& children = output.root->v.element.children;
  for (unsigned i = 0; i < children.length; ++i) {
    const auto* child = static_cast<const GumboNode*>(children.data[i]);
    if (child->type == GUMBO_NODE_ELEMENT && child->v.element.tag == GUMBO_TAG_BODY) return child;
  }
  return output.root;
}

}  // namespace

ExtractedPage ExtractHtml(std::string_view html, std::string_view base_url) {
  std::string flattened;
  if (ScanNesting(html, kMaxHtmlNesting, nullptr)) {
    flattened.reserve(html.size());
    ScanNesting(html, kMaxHtmlNesting, &flattened);
    html = flattened;
  }

  GumboOptions options = kGumboDefaultOptions;
  options.max_errors = 0;  // we never read parse errors; recording them costs time
  static const GumboOptions kDestroyOptions = kGumboDefaultOptions;
  GumboOutputPtr output(gumbo_parse_with_options(&options, html.data(), html.size()),
                        [](GumboOutput* o) { gumbo_destroy_output(&kDestroyOptions, o); });

  ExtractedPage page;
  Collector collector;
  Walk(output->document, collector);

  // Base URL: the page's own, overridden by the first <base href>.
  std::optional<urls::url> base;
  if (auto parsed = urls::parse_uri(TrimAscii(base_url)); parsed) base.emplace(*parsed);
  const bool allow_file = base && base->scheme_id() == urls::scheme::file;
  std::optional<urls::url> link_base = base;
  if (collector.have_base) {
    if (auto resolved = ResolveUrl(base ? &*base : nullptr, collector.base_href, true)) {
      if (auto parsed = urls::parse_uri(*resolved); parsed) link_base.emplace(*parsed);
    }
  }
  const urls::url* link_base_ptr = link_base ? &*link_base : nullptr;
  std::unordered_set<std::string> seen;
  for (std::string_view href : collector.hrefs) {
    if (auto url = ResolveUrl(link_base_ptr, href, allow_file)) {
      if (seen.insert(*url).second) page.links.push_back(std::move(*url));
    }
  }

  // Main content.
  const GumboNode* root = collector.best_semantic;
  if (root == nullptr) root = collector.best_block;
  if (root == nullptr) root = FindBody(*output);
  int article_depth = 0;
  for (const GumboNode* p = root->parent; p != nullptr; p = p->parent) {
    if (p->type == GUMBO_NODE_ELEMENT && IsSectioningRoot(p->v.element)) ++article_depth;
  }
  Renderer renderer(collector.layout_tables, article_depth);
  Walk(root, renderer);
  page.text = renderer.Take();
  page.headings = std::move(renderer.headings);

  // Metadata.
  PageMetadata& meta = page.metadata;
  meta.og = std::move(collector.og);
  auto og = [&](const char* key) -> std::string {
    auto it = meta.og.find(key);
    return it == meta.og.end() ? std::string() : it->second;
  };
  meta.description = CleanInline(collector.meta_description);
  if (meta.description.empty()) meta.description = og("og:description");
  meta.author = CleanInline(collector.meta_author);
  if (meta.author.empty()) meta.author = CleanInline(collector.article_author);
  meta.lang = CleanInline(collector.html_lang);
  if (meta.lang.empty()) meta.lang = CleanInline(collector.content_language);
  if (!collector.canonical_href.empty()) {
    meta.canonical_url =
        ResolveUrl(link_base_ptr, collector.canonical_href, allow_file).value_or("");
  }
  for (std::string_view candidate : collector.published) {
    if (meta.published_time.empty()) meta.published_time = CleanInline(candidate);
  }
  if (meta.published_time.empty()) meta.published_time = renderer.first_time_datetime;

  // Title.
  page.title = CleanInline(collector.title_raw);
  if (page.title.empty()) page.title = og("og:title");
  if (page.title.empty()) page.title = collector.first_h1;
  if (page.title.empty() && base) {
    try {
      page.title = CleanInline(base->host());
      for (char& c : page.title) c = AsciiLower(c);
    } catch (const std::exception&) {
      page.title.clear();
    }
  }
  return page;
}

}  // namespace jrvs::scrape
