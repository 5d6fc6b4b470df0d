// ExtractHtml (scrape/html_extractor.h): the nesting guard, one gumbo parse, pass 1 (Collector)
// over the whole document, pass 2 (RenderContent) over the chosen main content, then links,
// metadata and title assembled from what the passes found. Also the element classification both
// passes share (which elements are inline, dropped or sectioning roots).
#include "scrape/html_extractor.h"

#include <gumbo.h>

#include <array>
#include <cstddef>
#include <exception>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <utility>

#include <boost/url.hpp>

#include "scrape/html_extractor_internal.h"

namespace jrvs::scrape {
namespace html_internal {
namespace {

// ----------------------------------------------------------------------------------------------
// Element classification

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

bool StyleHides(std::string_view style) {
  std::string compact;
  compact.reserve(style.size());
  for (char c : style) {
    if (!IsAsciiSpace(static_cast<unsigned char>(c))) compact.push_back(AsciiLower(c));
  }
  return compact.find("display:none") != std::string::npos ||
         compact.find("visibility:hidden") != std::string::npos;
}

}  // namespace

bool IsInline(GumboTag tag) { return kInlineTags.Contains(tag); }

bool IsSectioningRoot(const GumboElement& el) {
  return el.tag == GUMBO_TAG_ARTICLE || el.tag == GUMBO_TAG_MAIN ||
         EqualsIgnoreCase(TrimAscii(AttrValue(el, "role")), "main");
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

}  // namespace html_internal

namespace {

namespace urls = boost::urls;

using html_internal::AsciiLower;
using html_internal::CleanInline;
using html_internal::Collector;
using html_internal::IsSectioningRoot;
using html_internal::RenderContent;
using html_internal::RenderedContent;
using html_internal::ResolveUrl;
using html_internal::ScanNesting;
using html_internal::TrimAscii;
using html_internal::Walk;

using GumboOutputPtr = std::unique_ptr<GumboOutput, void (*)(GumboOutput*)>;

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
  RenderedContent rendered = RenderContent(root, collector.layout_tables, article_depth);
  page.text = std::move(rendered.text);
  page.headings = std::move(rendered.headings);

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
  if (meta.published_time.empty()) meta.published_time = rendered.first_time_datetime;

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
