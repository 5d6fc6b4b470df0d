#include "scrape/html_extractor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "core/text.h"

namespace jrvs::scrape {
namespace {

using ::testing::ElementsAre;

std::filesystem::path DataDir() {
  if (const char* env = std::getenv("JRVS_TEST_DATA_DIR"); env != nullptr && *env != '\0') {
    return env;
  }
  return std::filesystem::path(__FILE__).parent_path() / "../../tests/data";
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Golden {
  ExtractedPage page;
  std::string expected;
};

// Extracts tests/data/html/<name>.html and loads <name>.expected.txt (whose final newline, added
// by editors, is not part of the expected text).
Golden RunGolden(const std::string& name, std::string_view base_url) {
  const std::filesystem::path dir = DataDir() / "html";
  Golden g;
  g.page = ExtractHtml(ReadFile(dir / (name + ".html")), base_url);
  g.expected = ReadFile(dir / (name + ".expected.txt"));
  if (!g.expected.empty() && g.expected.back() == '\n') g.expected.pop_back();
  return g;
}

TEST(HtmlExtractorGoldenTest, BoilerplateHeavyNewsArticle) {
  const Golden g =
      RunGolden("news_article", "https://gazette.example.com/news/2024/skerry-keepers?ref=home");
  EXPECT_EQ(g.page.text, g.expected);
  EXPECT_EQ(g.page.title, "Lighthouse keepers return to Skerry Island | The Coastal Gazette");
  EXPECT_THAT(
      g.page.links,
      ElementsAre("https://gazette.example.com/privacy", "https://gazette.example.com/",
                  "https://gazette.example.com/news/", "https://gazette.example.com/sport/",
                  "https://gazette.example.com/weather/",
                  "https://gazette.example.com/authors/morag-henderson",
                  "https://social.example/share?u=skerry",
                  "https://gazette.example.com/news/2023/ferries",
                  "https://gazette.example.com/tags/lighthouses",
                  "https://gazette.example.com/tags/islands",
                  "https://gazette.example.com/news/2024/harbour-wall",
                  "https://gazette.example.com/news/2024/ferry-fares",
                  "https://gazette.example.com/about", "https://gazette.example.com/contact"));
  const PageMetadata& m = g.page.metadata;
  EXPECT_EQ(m.description,
            "After forty years of automation, two keepers move back to the Skerry light.");
  EXPECT_EQ(m.author, "Morag Henderson");
  EXPECT_EQ(m.lang, "en-GB");
  EXPECT_EQ(m.canonical_url, "https://gazette.example.com/news/2024/skerry-keepers");
  EXPECT_EQ(m.published_time, "2024-03-14T08:30:00Z");
  EXPECT_EQ(m.og.size(), 3u);
  EXPECT_EQ(m.og.at("og:type"), "article");
  ASSERT_EQ(g.page.headings.size(), 2u);
  EXPECT_EQ(g.page.headings[0].level, 1);
  EXPECT_EQ(g.page.headings[0].text, "Lighthouse keepers return to Skerry Island");
  EXPECT_EQ(g.page.headings[1].level, 2);
  EXPECT_EQ(g.page.headings[1].text, "Why bring keepers back?");
}

TEST(HtmlExtractorGoldenTest, MainElementWinsOverSmallerArticle) {
  const Golden g = RunGolden("main_element", "https://docs.example.org/install/");
  EXPECT_EQ(g.page.text, g.expected);
  EXPECT_EQ(g.page.title, "Installing jrvs \u2014 Documentation");
  EXPECT_THAT(g.page.links,
              ElementsAre("https://docs.example.org/", "https://docs.example.org/blog/",
                          "https://docs.example.org/docs/api", "https://docs.example.org/imprint"));
  ASSERT_EQ(g.page.headings.size(), 3u);
  EXPECT_EQ(g.page.headings[2].level, 3);
  EXPECT_EQ(g.page.headings[2].text, "Next steps");
  EXPECT_TRUE(g.page.metadata.lang.empty());
  EXPECT_TRUE(g.page.metadata.canonical_url.empty());
}

TEST(HtmlExtractorGoldenTest, DensestBlockBeatsLinkHeavySidebar) {
  const Golden g = RunGolden("no_semantic", "http://greenfingers.example/tomatoes.html");
  EXPECT_EQ(g.page.text, g.expected);
  EXPECT_EQ(g.page.title, "Growing tomatoes on a balcony - Green Fingers");
  EXPECT_EQ(g.page.links.size(), 15u);
  EXPECT_EQ(g.page.links.front(), "http://greenfingers.example/");
  EXPECT_EQ(g.page.links.back(), "http://greenfingers.example/terms");
}

TEST(HtmlExtractorGoldenTest, TablesAndLists) {
  const Golden g = RunGolden("tables_lists", "https://ferries.example/");
  EXPECT_EQ(g.page.text, g.expected);
  EXPECT_EQ(g.page.title, "Ferry timetable and fares");
  EXPECT_TRUE(g.page.links.empty());
  ASSERT_EQ(g.page.headings.size(), 2u);
  EXPECT_EQ(g.page.headings[1].text, "Contact");
}

TEST(HtmlExtractorGoldenTest, LinksResolvedFilteredAndDeduplicated) {
  const Golden g = RunGolden("links", "https://www.example.org/blog/post.html");
  EXPECT_EQ(g.page.text, g.expected);
  EXPECT_THAT(
      g.page.links,
      ElementsAre("https://cdn.example.net/docs/v2/index.html",
                  "https://cdn.example.net/docs/v2/guide/intro.html",
                  "https://cdn.example.net/docs/v1/changes.html", "https://cdn.example.net/about",
                  "https://static.example.net/logo.png", "https://other.example.com/Path?q=1",
                  "http://plain.example.com/", "https://cdn.example.net/docs/v2/?page=2",
                  "https://cdn.example.net/docs/v2/files/annual%20report%202024.pdf",
                  "https://cdn.example.net/docs/v2/wiki/Z%C3%BCrich",
                  "https://cdn.example.net/docs/v2/maps/area-1.html"));
}

TEST(HtmlExtractorGoldenTest, MetaTagsAndOpenGraph) {
  const Golden g = RunGolden("meta_tags", "https://www.cuisine.example.fr/desserts/index.html");
  EXPECT_EQ(g.page.text, g.expected);
  EXPECT_EQ(g.page.title, "Recette de la tarte Tatin");  // no <title>: og:title, cleaned
  const PageMetadata& m = g.page.metadata;
  EXPECT_EQ(m.description, "La vraie tarte Tatin, caramélisée et renversée.");
  EXPECT_EQ(m.author, "Jeanne Dupont");
  EXPECT_EQ(m.lang, "fr");
  EXPECT_EQ(m.published_time, "2023-11-02");
  EXPECT_EQ(m.canonical_url,
            "https://www.cuisine.example.fr/desserts/recettes/tarte-tatin?utm_source=x");
  EXPECT_EQ(m.og.size(), 5u);
  EXPECT_EQ(m.og.at("og:image"), "https://img.example.fr/tatin.jpg");  // first wins
  EXPECT_EQ(m.og.at("og:site_name"), "Cuisine Facile");                // key lower-cased
  EXPECT_EQ(m.og.at("og:locale"), "fr_FR");                            // name= works too
  EXPECT_EQ(m.og.count("twitter:card"), 0u);
}

TEST(HtmlExtractorGoldenTest, EntitiesAndNonAsciiText) {
  const Golden g = RunGolden("entities_unicode", "https://cafe.example.de/");
  EXPECT_EQ(g.page.text, g.expected);
  EXPECT_EQ(g.page.title, "Café & Crème – Menü");
  EXPECT_EQ(g.page.metadata.lang, "de");
  EXPECT_TRUE(text::IsValidUtf8(g.page.text));
}

// ---- title fallbacks ----

TEST(HtmlExtractorTest, TitleFallsBackToFirstH1ThenHost) {
  EXPECT_EQ(
      ExtractHtml("<body><h1>  Big\n heading </h1><p>x</p></body>", "https://a.example/").title,
      "Big heading");
  EXPECT_EQ(
      ExtractHtml("<title> \n </title><p>Just text.</p>", "https://Host.Example:8443/p").title,
      "host.example");
  EXPECT_EQ(ExtractHtml("<p>Just text.</p>", "file:///home/user/page.html").title, "");
  EXPECT_EQ(ExtractHtml("<p>Just text.</p>", "").title, "");
}

TEST(HtmlExtractorTest, SvgTitleIsNotThePageTitle) {
  const ExtractedPage page =
      ExtractHtml("<body><svg><title>icon</title></svg><h1>Real</h1></body>", "https://a.example/");
  EXPECT_EQ(page.title, "Real");
  EXPECT_EQ(page.text, "Real");
}

// ---- content selection and dropping ----

TEST(HtmlExtractorTest, EmptySemanticElementFallsBackToDensity) {
  const ExtractedPage page = ExtractHtml(
      "<main></main><div><a href='/a'>one link</a></div><div><p>The real content sits in a plain "
      "div on this page.</p></div>",
      "https://a.example/");
  EXPECT_EQ(page.text, "The real content sits in a plain div on this page.");
}

TEST(HtmlExtractorTest, LargestSemanticCandidateWins) {
  const ExtractedPage page = ExtractHtml(
      "<article><p>Short teaser.</p></article>"
      "<article><p>The long article body wins because it has more text.</p></article>"
      "<div role='main'><p>Tiny.</p></div>",
      "");
  EXPECT_EQ(page.text, "The long article body wins because it has more text.");
}

TEST(HtmlExtractorTest, HiddenAndNonContentElementsDropped) {
  const ExtractedPage page = ExtractHtml(
      "<article><p>keep 1</p>"
      "<p style='DISPLAY : None'>hidden by style</p>"
      "<p style='visibility:hidden'>invisible</p>"
      "<p aria-hidden='TRUE'>aria hidden</p>"
      "<p aria-hidden='false'>keep 2</p>"
      "<div role='navigation'>nav role</div>"
      "<dialog>closed dialog</dialog><dialog open>open dialog</dialog>"
      "<noscript>enable js</noscript><template><p>template</p></template>"
      "<iframe src='x'></iframe><select><option>opt</option></select>"
      "<textarea>typed</textarea><math><mi>x</mi></math>"
      "</article>",
      "");
  EXPECT_EQ(page.text, "keep 1\n\nkeep 2\n\nopen dialog");
}

TEST(HtmlExtractorTest, PageHeaderDroppedArticleHeaderKept) {
  const ExtractedPage page = ExtractHtml(
      "<header><p>Site banner text that is rather long, longer than the article itself is.</p>"
      "</header><article><header><h1>Headline</h1></header><p>Body.</p></article>",
      "");
  EXPECT_EQ(page.text, "Headline\n\nBody.");
}

TEST(HtmlExtractorTest, InlineElementsFlowAndWhitespaceCollapses) {
  const ExtractedPage page = ExtractHtml(
      "<article><p>  one <b>two</b><i> three</i>\n\t four<span>five</span> </p>"
      "<p>a<br>b<br><br>c</p></article>",
      "");
  EXPECT_EQ(page.text, "one two three fourfive\n\na\nb\n\nc");
}

TEST(HtmlExtractorTest, PreKeepsSpacingAndInteriorBlankLines) {
  const ExtractedPage page = ExtractHtml(
      "<article><p>Before</p><pre>\n\n  indented\tx\n\n\nlast  \n\n</pre><p>After</p>"
      "</article>",
      "");
  EXPECT_EQ(page.text, "Before\n\n  indented\tx\n\n\nlast\n\nAfter");
}

TEST(HtmlExtractorTest, ControlCharactersReplacedAndNbspCollapsed) {
  const ExtractedPage page = ExtractHtml(
      "<article><p>a\x01\x02"
      "b\xC2\xA0\xC2\xA0"
      "c\xC2\x85"
      "d\x7F"
      "e</p></article>",
      "");
  // gumbo replaces control characters with U+FFFD; NBSP collapses like a space.
  EXPECT_EQ(page.text, "a\uFFFD\uFFFDb c\uFFFDd\uFFFDe");
}

TEST(HtmlExtractorTest, OutputIsValidUtf8ForArbitraryBytes) {
  std::mt19937 rng(1234);
  for (int round = 0; round < 200; ++round) {
    std::string html = "<title>";
    const int n = 1 + static_cast<int>(rng() % 400);
    for (int i = 0; i < n; ++i) {
      const unsigned r = rng() % 16;
      if (r == 0) {
        html += "<p>";
      } else if (r == 1) {
        html += "<a href='x\xFF'>";
      } else {
        html.push_back(static_cast<char>(rng() & 0xFF));
      }
    }
    const ExtractedPage page = ExtractHtml(html, "https://fuzz.example/");
    ASSERT_TRUE(text::IsValidUtf8(page.text)) << "round " << round;
    ASSERT_TRUE(text::IsValidUtf8(page.title)) << "round " << round;
    for (const std::string& link : page.links) {
      ASSERT_TRUE(text::IsValidUtf8(link)) << link;
    }
  }
}

TEST(HtmlExtractorTest, RandomTagSoupKeepsLayoutInvariants) {
  // Random mixes of blocks, lists, tables, breaks and text (no <pre>, which may keep blank lines).
  static const char* kPieces[] = {
      "<p>",    "</p>",    "<div>",    "</div>",    "<ul>",      "</ul>",        "<li>",
      "</li>",  "<table>", "<tr>",     "<td>",      "</td>",     "</tr>",        "</table>",
      "<br>",   "<h2>",    "</h2>",    "<span>",    "</span>",   "<a href=x>",   "</a>",
      "<nav>",  "</nav>",  "<dl><dt>", "<dd>",      "</dl>",     "<blockquote>", "word",
      " word ", "\n",      "\u00a0",   "caf\u00e9", "<article>", "</article>",   "<th>"};
  std::mt19937 rng(99);
  for (int round = 0; round < 300; ++round) {
    std::string html;
    const int n = 1 + static_cast<int>(rng() % 120);
    for (int i = 0; i < n; ++i) html += kPieces[rng() % std::size(kPieces)];
    const std::string text = ExtractHtml(html, "").text;
    SCOPED_TRACE(html);
    ASSERT_TRUE(text::IsValidUtf8(text));
    if (text.empty()) continue;
    EXPECT_NE(text.front(), '\n');
    EXPECT_NE(text.front(), ' ');
    EXPECT_NE(text.back(), '\n');
    EXPECT_NE(text.back(), ' ');
    EXPECT_EQ(text.find(" \n"), std::string::npos);
    EXPECT_EQ(text.find("\n\n\n"), std::string::npos);
    // Two spaces in a row only as the indentation of a nested list item.
    std::size_t line_start = 0;
    while (line_start < text.size()) {
      std::size_t line_end = text.find('\n', line_start);
      if (line_end == std::string::npos) line_end = text.size();
      std::string_view line(text.data() + line_start, line_end - line_start);
      const std::size_t indent = line.find_first_not_of(' ');
      if (indent > 0 && indent != std::string_view::npos) {
        EXPECT_EQ(line.substr(indent, 2), "- ") << line;
      }
      if (indent != std::string_view::npos) {
        EXPECT_EQ(line.find("  ", indent), std::string_view::npos) << line;
      }
      line_start = line_end + 1;
    }
  }
}

// ---- links ----

TEST(HtmlExtractorTest, WithoutBaseOnlyAbsoluteLinksKept) {
  const ExtractedPage page = ExtractHtml(
      "<a href='relative.html'>r</a><a href='https://abs.example/x#y'>a</a>"
      "<a href='file:///etc/passwd'>f</a>",
      "");
  EXPECT_THAT(page.links, ElementsAre("https://abs.example/x"));
}

TEST(HtmlExtractorTest, FileBaseKeepsFileLinks) {
  const ExtractedPage page = ExtractHtml(
      "<a href='other.html#top'>o</a><a href='../up/index.html'>u</a><a href='mailto:x@y'>m</a>",
      "file:///srv/docs/a/page.html");
  EXPECT_THAT(page.links,
              ElementsAre("file:///srv/docs/a/other.html", "file:///srv/docs/up/index.html"));
}

TEST(HtmlExtractorTest, RelativeBaseHrefResolvesAgainstPageUrl) {
  const ExtractedPage page =
      ExtractHtml("<base href='/static/'><a href='img.png'>i</a>", "https://a.example/dir/page");
  EXPECT_THAT(page.links, ElementsAre("https://a.example/static/img.png"));
}

// ---- robustness ----

TEST(HtmlExtractorTest, EmptyAndTextOnlyInput) {
  const ExtractedPage empty = ExtractHtml("", "");
  EXPECT_EQ(empty.text, "");
  EXPECT_EQ(empty.title, "");
  EXPECT_TRUE(empty.links.empty());
  EXPECT_EQ(ExtractHtml("just words, no tags", "").text, "just words, no tags");
}

TEST(HtmlExtractorTest, DeepNestingIsFlattenedNotQuadratic) {
  // 100k unclosed <div>s would take gumbo minutes; the guard flattens everything past
  // kMaxHtmlNesting and keeps the text.
  std::string html;
  for (int i = 0; i < 100000; ++i) html += "<div>";
  html += "deep text";
  for (int i = 0; i < 100000; ++i) html += "</div>";
  html += "<p>after</p>";
  const ExtractedPage page = ExtractHtml(html, "");
  EXPECT_EQ(page.text, "deep text\n\nafter");
}

TEST(HtmlExtractorTest, NestingGuardKeepsStructureWithinTheLimit) {
  std::string html = "<article>";
  for (std::size_t i = 0; i < kMaxHtmlNesting + 10; ++i) html += "<div><span>w</span>";
  for (std::size_t i = 0; i < kMaxHtmlNesting + 10; ++i) html += "</div>";
  html += "<p>end</p></article>";
  const ExtractedPage page = ExtractHtml(html, "");
  // Every word survives; the divs that were kept still break lines.
  std::size_t words = 0;
  for (char c : page.text) words += c == 'w' ? 1 : 0;
  EXPECT_EQ(words, kMaxHtmlNesting + 10);
  EXPECT_NE(page.text.find("w\n\nw"), std::string::npos);
  EXPECT_EQ(page.text.substr(page.text.size() - 5), "\n\nend");
}

TEST(HtmlExtractorTest, RawTextAndCommentsDoNotCountTowardsNesting) {
  std::string html = "<script>";
  for (int i = 0; i < 2000; ++i) html += "<div>";
  html += "</script><!--";
  for (int i = 0; i < 2000; ++i) html += "<div>";
  html +=
      "--><article><div><p>intact</p></div></article>"
      "<div><p>This longer text is outside the article and is chosen only if the article "
      "tag was flattened away.</p></div>";
  const ExtractedPage page = ExtractHtml(html, "");
  EXPECT_EQ(page.text, "intact");
}

}  // namespace
}  // namespace jrvs::scrape
