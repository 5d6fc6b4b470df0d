// Pass 1 of ExtractHtml over the whole document: metadata, every link, title candidates and the
// content scores that pick the main content (Collector), plus link resolution (ResolveUrl:
// browser-like href clean-up, then RFC 3986 resolution with Boost.URL).
#include "scrape/html_extractor_internal.h"

#include <algorithm>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <boost/url.hpp>

namespace jrvs::scrape::html_internal {
namespace {

namespace urls = boost::urls;

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

}  // namespace

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

bool Collector::Enter(const GumboNode* node) {
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

void Collector::Exit(const GumboNode* node) {
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

void Collector::CollectMetadata(const GumboNode* node, const GumboElement& el) {
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

bool Collector::RelHas(std::string_view rel, std::string_view token) {
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

void Collector::CollectMeta(const GumboElement& el) {
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

}  // namespace jrvs::scrape::html_internal
