// HTML-to-text extraction shared by the scraper and the HTML document loader.
//
// ExtractHtml() parses a page once (gumbo), picks its main content and renders it as plain text,
// and returns the page title, every outbound link resolved to an absolute URL, and metadata.
//
// Main content: the largest (by visible text) <main>, <article> or [role=main] element that has
// any visible text; otherwise the densest block, scored over every non-dropped block element as
//     score(element) = visible_chars - 2 * link_chars
// where link_chars is the visible text inside <a>. The factor 2 makes any block whose link
// density exceeds 50% score below zero, so menus and link sidebars lose to prose, and a container
// only beats the block it holds if what it adds is mostly non-link text. Ties go to the outermost
// element; if nothing scores above zero, the whole <body> is used. Characters are code points that
// are not whitespace. (A deliberately small cousin of Readability: no class-name heuristics.)
//
// Never rendered: script, style, noscript, template, svg, math, nav, aside, footer, form, iframe,
// button, select, textarea, canvas, object, embed, audio, video, a closed <dialog>; elements with
// the hidden attribute, aria-hidden="true", an inline style of display:none or visibility:hidden,
// or role navigation / complementary / contentinfo / banner / search / dialog / alertdialog; and
// <header> unless it sits inside <article>, <main> or [role=main] (there it carries the headline
// and byline).
//
// Text layout (plain text, Markdown-friendly, so the chunker sees paragraph and item boundaries):
// - inline elements flow into their block; whitespace runs (NBSP included) collapse to one space;
// - block elements (p, div, headings, section, blockquote, figure, ...) are paragraphs, separated
//   by one blank line; <br> is a line break, and <br><br> a paragraph break;
// - list items are lines starting with "- ", indented two spaces per nesting level; dt and dd are
//   lines of their own; blocks inside an item only break the line;
// - a data table is one line per row with cells joined by " | " (empty trailing cells omitted, the
//   caption on its own line); blocks and <br> inside a cell become spaces. A table holding a
//   nested table, a heading, a list or article/section/main is a layout table: its cells are
//   rendered as ordinary blocks;
// - <pre> keeps its spaces, tabs and interior blank lines;
// - no leading or trailing blank lines, no trailing spaces, no final newline.
//
// The input is assumed UTF-8 (charset conversion belongs to the fetcher); all output strings are
// valid UTF-8: bad bytes become U+FFFD, and control characters never appear (gumbo turns them into
// U+FFFD; any that get through are dropped, except tab inside <pre>). Nesting deeper than
// kMaxHtmlNesting is flattened before parsing because gumbo's tree builder is quadratic in nesting
// depth (a 1 MB page of "<div>" would otherwise take minutes of CPU).
//
// Thread safety: ExtractHtml is a pure function; call it concurrently from any thread.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace jrvs::scrape {

// Start tags nested deeper than this are dropped (their text is kept) before parsing.
inline constexpr std::size_t kMaxHtmlNesting = 512;

struct PageMetadata {
  // <meta name=description>, else og:description.
  std::string description;
  // <meta name=author>, else article:author.
  std::string author;
  // <html lang>, else <meta http-equiv=content-language>.
  std::string lang;
  // <link rel=canonical href>, resolved to an absolute http(s) URL; empty if absent or invalid.
  std::string canonical_url;
  // article:published_time, else itemprop=datePublished, else <meta name=date|pubdate|dc.date|
  // dcterms.created|citation_publication_date>, else the first <time datetime> in the main
  // content. Verbatim (not parsed or normalised).
  std::string published_time;
  // Every <meta property|name="og:..."> keyed by the full property name ("og:title"); the first
  // occurrence of a property wins.
  std::map<std::string, std::string> og;
};

struct Heading {
  int level = 1;  // 1..6
  std::string text;
};

struct ExtractedPage {
  // <title> (trimmed, whitespace collapsed), else og:title, else the first <h1>, else the host of
  // the base URL (empty for file: URLs without a host).
  std::string title;
  // Main content as plain text, laid out as described at the top of this file.
  std::string text;
  // Every <a href> and <area href> of the whole document (navigation included, so a crawler can
  // follow them), resolved against <base href> / the base URL, fragment removed, deduplicated,
  // in document order. Only http and https links are kept (plus file: links when the base URL is
  // itself a file: URL); mailto:, javascript:, tel:, data: and the like never appear.
  std::vector<std::string> links;
  // The headings (h1..h6) of the main content, in order.
  std::vector<Heading> headings;
  PageMetadata metadata;
};

// Extracts title, main text, links and metadata from one HTML page. `base_url` is the absolute
// URL the page was fetched from (or "file:///path" for a local file); if it is empty or not an
// absolute URL, only absolute links in the page are kept. Never fails: malformed HTML yields
// whatever text it has.
ExtractedPage ExtractHtml(std::string_view html, std::string_view base_url);

}  // namespace jrvs::scrape
