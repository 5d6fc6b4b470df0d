// HTML extraction throughput (scrape::ExtractHtml): pages/s (items_per_second) and MB/s
// (bytes_per_second) on the boilerplate-heavy news fixture and on a synthetic ~200 KB page from a
// fixed generator, with and without a <main> element (the latter exercises the density scoring).
// BM_GumboParseOnly is the floor: gumbo's parse and free of the same page, without our passes.
//
//   build/release/bench/extract_bench --benchmark_min_time=2
#include <gumbo.h>

#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "scrape/html_extractor.h"

namespace {

std::filesystem::path DataDir() {
  if (const char* env = std::getenv("JRVS_TEST_DATA_DIR"); env != nullptr && *env != '\0') {
    return env;
  }
  return std::filesystem::path(__FILE__).parent_path() / "../tests/data";
}

std::string NewsFixture() {
  std::ifstream in(DataDir() / "html" / "news_article.html", std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A realistic page of about `target_bytes`: head with meta tags, styles and scripts; a header with
// a 30-link menu; a 40-link sidebar; an article of paragraphs (with inline links and emphasis),
// lists and a table; a footer. Deterministic: raw mt19937 output with a fixed seed.
std::string SyntheticPage(std::size_t target_bytes, bool with_main) {
  static const std::vector<std::string> kWords = {
      "harbour", "island", "ferry",   "lighthouse",  "keeper",       "storm",        "tide",
      "seabird", "colony", "village", "council",     "timetable",    "summer",       "winter",
      "the",     "a",      "of",      "and",         "to",           "in",           "is",
      "was",     "for",    "on",      "caf\xC3\xA9", "na\xC3\xAFve", "\xE2\x80\x94", "&amp;",
      "&nbsp;",  "wind",   "boat",    "pier"};
  std::mt19937 rng(42);
  auto word = [&] { return kWords[rng() % kWords.size()]; };
  auto sentence = [&](std::string* out) {
    const unsigned n = 8 + rng() % 14;
    for (unsigned i = 0; i < n; ++i) {
      if (i > 0) out->push_back(' ');
      const unsigned r = rng() % 20;
      if (r == 0) {
        *out += "<a href=\"/story/" + std::to_string(rng() % 1000) + "\">" + word() + "</a>";
      } else if (r == 1) {
        *out += "<em>" + word() + "</em>";
      } else {
        *out += word();
      }
    }
    *out += ". ";
  };

  std::string html =
      "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<title>Synthetic benchmark page</title>"
      "<meta name=\"description\" content=\"A generated page for extraction benchmarks.\">"
      "<meta property=\"og:title\" content=\"Synthetic\"><link rel=\"canonical\" href=\"/s\">"
      "<style>body{margin:0}.nav a{color:#333}</style>"
      "<script>var analytics = {id: 'UA-1', queue: []}; function track(e){analytics.queue."
      "push(e);}</script></head><body><header><nav class=\"nav\"><ul>";
  for (int i = 0; i < 30; ++i) {
    html += "<li><a href=\"/section/" + std::to_string(i) + "\">" + word() + "</a></li>";
  }
  html += "</ul></nav></header><div class=\"wrap\"><div class=\"sidebar\">";
  for (int i = 0; i < 40; ++i) {
    html += "<div class=\"item\"><a href=\"/related/" + std::to_string(i) + "\">" + word() + " " +
            word() + "</a></div>";
  }
  html += with_main ? "</div><main><article><h1>Synthetic story</h1>"
                    : "</div><div class=\"content\"><div class=\"title\">Synthetic story</div>";
  const std::size_t footer_reserve = 600;
  int block = 0;
  while (html.size() + footer_reserve < target_bytes) {
    const unsigned kind = (block++ % 9);
    if (kind == 4) {
      html += "<h2>";
      html += word();
      html += " ";
      html += word();
      html += "</h2>";
    } else if (kind == 6) {
      html += "<ul>";
      for (int i = 0; i < 4; ++i) {
        html += "<li>";
        sentence(&html);
        html += "</li>";
      }
      html += "</ul>";
    } else if (kind == 8) {
      html += "<table><tr><th>Route</th><th>Departs</th><th>Arrives</th></tr>";
      for (int i = 0; i < 5; ++i) {
        html += "<tr><td>" + word() + "</td><td>0" + std::to_string(rng() % 10) + ":" +
                std::to_string(10 + rng() % 50) + "</td><td>" + word() + "</td></tr>";
      }
      html += "</table>";
    } else {
      html += "<p>";
      for (int s = 0; s < 4; ++s) sentence(&html);
      html += "</p>";
    }
  }
  html += with_main ? "</article></main>" : "</div>";
  html +=
      "</div><footer><p>&copy; 2024 Synthetic News. All rights reserved.</p>"
      "<a href=\"/about\">About</a> <a href=\"/contact\">Contact</a> "
      "<a href=\"/privacy\">Privacy</a></footer><script src=\"/app.js\"></script></body></html>";
  return html;
}

void RunExtract(benchmark::State& state, const std::string& html) {
  for (auto _ : state) {
    jrvs::scrape::ExtractedPage page = jrvs::scrape::ExtractHtml(html, "https://bench.example/a/b");
    benchmark::DoNotOptimize(page.text.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(html.size()));
  state.counters["page_bytes"] = static_cast<double>(html.size());
}

void BM_ExtractNewsFixture(benchmark::State& state) {
  const std::string html = NewsFixture();
  if (html.empty()) {
    state.SkipWithError("tests/data/html/news_article.html not found (set JRVS_TEST_DATA_DIR)");
    return;
  }
  RunExtract(state, html);
}
BENCHMARK(BM_ExtractNewsFixture);

void BM_ExtractSynthetic200K(benchmark::State& state) {
  RunExtract(state, SyntheticPage(200 * 1024, /*with_main=*/state.range(0) != 0));
}
BENCHMARK(BM_ExtractSynthetic200K)->ArgName("with_main")->Arg(1)->Arg(0);

void BM_GumboParseOnly200K(benchmark::State& state) {
  const std::string html = SyntheticPage(200 * 1024, true);
  GumboOptions options = kGumboDefaultOptions;
  options.max_errors = 0;
  for (auto _ : state) {
    GumboOutput* output = gumbo_parse_with_options(&options, html.data(), html.size());
    benchmark::DoNotOptimize(output);
    gumbo_destroy_output(&options, output);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(html.size()));
}
BENCHMARK(BM_GumboParseOnly200K);

}  // namespace
