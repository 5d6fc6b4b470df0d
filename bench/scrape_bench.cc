// Scraping end to end, through the production wiring (app::Runtime: CurlFetcher from the
// scrape.* config, SQLite store, hash embedder, vector index, ingest pipeline) against the
// loopback FixtureSite (tests/fakes), so no internet and no fake at the seam:
//
// - BM_ScrapeOnePage: fetch + extract + ingest of one new ~3 KB article page (the single-page
//   path of POST /api/scrape). Every iteration is a page never seen before, so it is always a
//   full ingest. Reports p50_ms / p95_ms; the page is searchable when the iteration ends (checked
//   once after the loop through the retriever).
// - BM_CrawlSite: a crawl of a generated site of kSitePages pages (a hub linking to all, each page
//   linking to a few siblings) with depth 2, politeness off, into an empty data directory each
//   iteration. Reports pages_per_s.
//
//   build/release/bench/scrape_bench --benchmark_min_time=2
#include <unistd.h>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "api/page_ingester.h"
#include "app/config.h"
#include "app/runtime.h"
#include "fakes/fixture_site.h"
#include "scrape/crawler.h"

namespace {

using namespace jrvs;

constexpr int kSitePages = 300;

// Deterministic article text of about `words` words (fixed seed per page number).
std::string Article(int n, int words) {
  static const std::vector<std::string> kWords = {
      "harbour", "island", "ferry",   "lighthouse", "keeper",    "storm",  "tide",
      "seabird", "colony", "village", "council",    "timetable", "summer", "winter",
      "the",     "a",      "of",      "and",        "to",        "in",     "is",
      "was",     "for",    "on",      "wind",       "boat",      "pier",   "gull"};
  std::mt19937 rng(static_cast<uint32_t>(n) * 7919u + 1);
  std::string out;
  for (int i = 0; i < words; ++i) {
    if (i > 0) out += (i % 15 == 0) ? ". " : " ";
    out += kWords[rng() % kWords.size()];
  }
  return out + ".";
}

std::string PageHtml(const std::string& title, const std::string& text,
                     const std::vector<std::string>& links) {
  std::string html = fmt::format(
      "<!DOCTYPE html><html><head><title>{}</title></head><body><nav><a "
      "href=\"/site/index.html\">Home</a></nav>"
      "<main><h1>{}</h1>",
      title, title);
  for (size_t p = 0; p < text.size(); p += 600) {
    html += "<p>" + text.substr(p, 600) + "</p>";
  }
  for (const auto& l : links) html += fmt::format("<a href=\"{}\">{}</a> ", l, l);
  return html + "</main><footer>footer</footer></body></html>";
}

// A Runtime on a fresh temporary data directory, with the scraper open.
struct Env {
  std::filesystem::path dir;
  std::unique_ptr<app::Runtime> runtime;

  Env() {
    dir = std::filesystem::temp_directory_path() /
          fmt::format("jrvs_scrape_bench_{}_{}", ::getpid(), counter++);
    std::filesystem::remove_all(dir);
    app::Config c;
    c.data_dir = dir.string();
    c.scrape_allow_private = true;  // the fixture site is on 127.0.0.1
    c.scrape_politeness_ms = 0;
    c.scrape_per_host_concurrency = 4;
    auto rt = app::Runtime::Open(c);
    if (!rt) throw std::runtime_error(rt.error().message());
    runtime = std::move(*rt);
    if (Status s = runtime->OpenKnowledge(false); !s.ok()) throw std::runtime_error(s.message());
    if (Status s = runtime->OpenScraper(); !s.ok()) throw std::runtime_error(s.message());
  }
  ~Env() {
    runtime.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  static inline int counter = 0;
};

std::unique_ptr<testing::FixtureSite> StartSite() {
  auto site = testing::FixtureSite::Start({});
  if (!site) throw std::runtime_error("cannot start the fixture site");
  return site;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

void BM_ScrapeOnePage(benchmark::State& state) {
  spdlog::set_level(spdlog::level::warn);
  auto site = StartSite();
  Env env;
  api::PageIngester ingester(env.runtime->store(), env.runtime->ingest());
  std::vector<double> ms;
  int n = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::string path = fmt::format("/one/{}.html", n);
    site->SetFile(path, PageHtml(fmt::format("Page {}", n), Article(n, 450), {}),
                  "text/html; charset=utf-8");
    ++n;
    state.ResumeTiming();
    auto t0 = std::chrono::steady_clock::now();
    scrape::CrawledPage page = scrape::FetchPage(env.runtime->fetcher(), site->Url(path));
    if (!page.fetch.ok()) {
      state.SkipWithError(scrape::FetchErrorName(page.fetch.error));
      return;
    }
    auto stored = ingester.Ingest(page);
    if (!stored) {
      state.SkipWithError(stored.error().message().c_str());
      return;
    }
    ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  // Searchable at once: the last page is found by its title words.
  auto hits = env.runtime->retriever().SearchDocuments(fmt::format("Page {}", n - 1), 5,
                                                       std::nullopt, nullptr);
  if (!hits || hits->empty()) state.SkipWithError("scraped page not found by search");
  state.counters["p50_ms"] = Percentile(ms, 0.50);
  state.counters["p95_ms"] = Percentile(ms, 0.95);
  state.SetItemsProcessed(static_cast<int64_t>(ms.size()));
}
BENCHMARK(BM_ScrapeOnePage)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_CrawlSite(benchmark::State& state) {
  spdlog::set_level(spdlog::level::warn);
  auto site = StartSite();
  std::vector<std::string> all;
  for (int i = 0; i < kSitePages; ++i) all.push_back(fmt::format("/site/p{}.html", i));
  site->SetFile("/site/index.html", PageHtml("Hub", Article(100000, 60), all),
                "text/html; charset=utf-8");
  for (int i = 0; i < kSitePages; ++i) {
    std::vector<std::string> siblings;
    for (int k = 1; k <= 3; ++k) siblings.push_back(all[(i + k * 37) % kSitePages]);
    site->SetFile(all[i], PageHtml(fmt::format("Page {}", i), Article(i, 300), siblings),
                  "text/html; charset=utf-8");
  }
  size_t pages = 0;
  double seconds = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto env = std::make_unique<Env>();
    api::PageIngester ingester(env->runtime->store(), env->runtime->ingest());
    scrape::CrawlOptions options;
    options.max_depth = 2;
    options.max_pages = kSitePages + 1;
    options.workers = 4;
    scrape::Crawler crawler(env->runtime->fetcher(), options);
    state.ResumeTiming();
    auto t0 = std::chrono::steady_clock::now();
    scrape::CrawlReport report =
        crawler.Run(site->Url("/site/index.html"),
                    [&ingester](const scrape::CrawledPage& p) { return ingester.Sink(p); });
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    pages += report.totals.done;
    if (report.totals.done != static_cast<size_t>(kSitePages) + 1) {
      std::string why =
          fmt::format("crawl stored {} of {} pages ({} failed, {} skipped)", report.totals.done,
                      kSitePages + 1, report.totals.failed, report.totals.skipped);
      for (const auto& p : report.pages) {
        if (!p.error.empty()) {
          why += "; first error: " + p.error;
          break;
        }
      }
      state.SkipWithError(why.c_str());
      break;
    }
    state.PauseTiming();
    env.reset();
    state.ResumeTiming();
  }
  state.counters["pages_per_s"] = seconds > 0 ? static_cast<double>(pages) / seconds : 0;
  state.SetItemsProcessed(static_cast<int64_t>(pages));
}
BENCHMARK(BM_CrawlSite)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);

}  // namespace
