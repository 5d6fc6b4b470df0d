// Internals of ExtractHtml (scrape/html_extractor.h), shared by the files that implement it:
// - html_extractor.cc: element classification, the tree walk, and ExtractHtml wiring the passes;
// - html_nesting_guard.cc: the pre-scan that flattens nesting deeper than kMaxHtmlNesting;
// - html_collector.cc: pass 1 (links, metadata, title candidates, content scores) and link
//   resolution;
// - html_renderer.cc: pass 2 (the chosen subtree rendered as plain text) and CleanInline.
// Include it only from those .cc files: it exposes gumbo and Boost.URL types, which stay out of
// every public header. Everything here is pure or per-call state; nothing is shared between
// threads.
#pragma once

#include <gumbo.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include <boost/url/url.hpp>

#include "scrape/html_extractor.h"

namespace jrvs::scrape::html_internal {

// ----------------------------------------------------------------------------------------------
// Bytes

inline bool IsAsciiSpace(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

inline char AsciiLower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

inline bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) return false;
  }
  return true;
}

inline std::string_view TrimAscii(std::string_view s) {
  while (!s.empty() && IsAsciiSpace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && IsAsciiSpace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

inline bool IsTagNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == ':' || c == '.';
}

// ----------------------------------------------------------------------------------------------
// Nesting guard (html_nesting_guard.cc)

// Scans `html`; if `out` is null, returns true as soon as the depth limit is exceeded. With
// `out`, writes the flattened copy (start tags beyond `max_depth` and their end tags removed,
// text kept) and returns true.
bool ScanNesting(std::string_view html, std::size_t max_depth, std::string* out);

// ----------------------------------------------------------------------------------------------
// Text (html_renderer.cc)

// Collapses whitespace, trims, and repairs UTF-8 (for titles, headings and attribute values).
std::string CleanInline(std::string_view s);

// ----------------------------------------------------------------------------------------------
// Element classification (html_extractor.cc)

inline std::string_view AttrValue(const GumboElement& el, const char* name) {
  const GumboAttribute* a = gumbo_get_attribute(&el.attributes, name);
  return a == nullptr ? std::string_view() : std::string_view(a->value);
}
inline bool HasAttr(const GumboElement& el, const char* name) {
  return gumbo_get_attribute(&el.attributes, name) != nullptr;
}

// Inline (phrasing) elements flow into the surrounding block; unknown elements count as inline.
bool IsInline(GumboTag tag);

inline bool IsTableSection(GumboTag tag) {
  return tag == GUMBO_TAG_THEAD || tag == GUMBO_TAG_TBODY || tag == GUMBO_TAG_TFOOT ||
         tag == GUMBO_TAG_COLGROUP || tag == GUMBO_TAG_COL;
}

inline bool IsHeading(GumboTag tag) { return tag >= GUMBO_TAG_H1 && tag <= GUMBO_TAG_H6; }

// <article>, <main> or [role=main].
bool IsSectioningRoot(const GumboElement& el);

// Elements never rendered (see the header). `in_article` tells whether an <article>, <main> or
// [role=main] encloses the element.
bool IsDropped(const GumboNode* node, bool in_article);

inline const GumboVector* ChildrenOf(const GumboNode* node) {
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

inline bool IsText(const GumboNode* node) {
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
std::string GatherText(const GumboNode* node);

bool IsAncestor(const GumboNode* maybe_ancestor, const GumboNode* node);

// ----------------------------------------------------------------------------------------------
// Links (html_collector.cc)

// Resolves `raw` against `base` (may be null); returns the normalised absolute URL, or nothing
// if it is same-document, malformed, or of a scheme we do not keep.
std::optional<std::string> ResolveUrl(const boost::urls::url* base, std::string_view raw,
                                      bool allow_file);

// ----------------------------------------------------------------------------------------------
// Pass 1 (html_collector.cc): metadata, links, title candidates and content scores over the whole
// document. A Walk visitor; the string_views point into the gumbo output and must not outlive it.

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

  bool Enter(const GumboNode* node);
  void Exit(const GumboNode* node);

 private:
  struct State {
    std::uint32_t chars = 0;       // visible characters below, dropped subtrees excluded
    std::uint32_t link_chars = 0;  // of which inside <a>
    bool dropped = false;
    bool sectioning = false;
    bool has_structure = false;  // a table, heading, list or section below (layout tables)
  };

  void CollectMetadata(const GumboNode* node, const GumboElement& el);
  static bool RelHas(std::string_view rel, std::string_view token);
  void CollectMeta(const GumboElement& el);

  std::vector<State> stack_;
  int dropped_depth_ = 0;
  int article_depth_ = 0;
  int link_depth_ = 0;
};

// ----------------------------------------------------------------------------------------------
// Pass 2 (html_renderer.cc): render the chosen subtree as text.

struct RenderedContent {
  std::string text;                 // laid out as described in html_extractor.h
  std::vector<Heading> headings;    // h1..h6 of the subtree, in order
  std::string first_time_datetime;  // the first <time datetime> of the subtree, cleaned
};

// Renders `root` and its descendants. `layout_tables` are the tables Collector found to hold
// structure (rendered as blocks, not rows); `article_depth` counts the sectioning roots
// (IsSectioningRoot) enclosing `root`.
RenderedContent RenderContent(const GumboNode* root,
                              const std::unordered_set<const GumboNode*>& layout_tables,
                              int article_depth);

}  // namespace jrvs::scrape::html_internal
