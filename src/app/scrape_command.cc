// `jrvs scrape URL [--depth N] [--max-pages N] [--any-host] [--sitemap]`: crawls a page or a site
// into the knowledge base on the data directory, with a live progress line and a summary.
// Like `jrvs ingest`, it must not run against a data directory a `jrvs serve` is using (use
// POST /api/scrape then). A re-run skips pages that did not change (validators and content
// hashes remembered in the documents' metadata; see scrape/crawler.h).
#include <iostream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "api/page_ingester.h"
#include "app/commands.h"
#include "app/progress.h"
#include "app/runtime.h"
#include "scrape/crawler.h"

namespace jrvs::app {

int RunScrape(const Config& config, const ScrapeCommandOptions& options) {
  scrape::CrawlOptions crawl;
  crawl.max_depth = options.depth;
  crawl.max_pages = static_cast<size_t>(std::max(options.max_pages, 0));
  crawl.same_host = options.same_host;
  crawl.use_sitemap = options.sitemap;
  if (Status s = crawl.Validate(); !s.ok()) {
    std::cerr << "jrvs: " << s.message() << "\n";
    return kExitUsage;
  }
  if (scrape::CanonicalUrl(options.url).empty()) {
    std::cerr << "jrvs: not an absolute http(s) URL: " << options.url << "\n";
    return kExitUsage;
  }
  auto runtime = Runtime::Open(config);
  if (!runtime) {
    std::cerr << "jrvs: " << runtime.error().message() << "\n";
    return kExitFailure;
  }
  Runtime& rt = **runtime;
  if (Status s = rt.OpenKnowledge(/*background_save=*/false); !s.ok()) {
    std::cerr << "jrvs: " << s.message() << "\n";
    return kExitFailure;
  }
  if (Status s = rt.OpenScraper(); !s.ok()) {
    std::cerr << "jrvs: " << s.message() << "\n";
    return s.code() == StatusCode::kInvalidArgument ? kExitUsage : kExitFailure;
  }

  api::PageIngester ingester(rt.store(), rt.ingest());
  scrape::Crawler crawler(rt.fetcher(), crawl);
  Progress progress("scrape", 1, "pages", "pages");
  // Called under the crawler's lock, one call at a time: Progress needs no lock of its own.
  scrape::ProgressCallback on_progress = [&progress](const scrape::CrawlProgress& p,
                                                     const scrape::PageReport*) {
    const size_t finished = p.done + p.failed + p.skipped;
    progress.SetTotal(p.queued);  // grows as links are discovered
    progress.Update(finished, finished, p.current_url);
  };
  scrape::CrawlReport report = crawler.Run(
      options.url, [&ingester](const scrape::CrawledPage& p) { return ingester.Sink(p); },
      ingester.MakePriorLookup(), on_progress);
  progress.Finish();
  if (Status s = rt.SaveIndex(); !s.ok()) {
    std::cerr << "jrvs: " << s.message() << "\n";
    return kExitFailure;
  }

  size_t added = 0, updated = 0, unchanged = 0, failed = 0, skipped = 0;
  for (const auto& page : report.pages) {
    switch (page.status) {
      case scrape::PageStatus::kAdded:
        ++added;
        break;
      case scrape::PageStatus::kUpdated:
        ++updated;
        break;
      case scrape::PageStatus::kUnchanged:
        ++unchanged;
        break;
      case scrape::PageStatus::kSkipped:
        ++skipped;
        std::cerr << "skipped: " << page.url << ": " << page.error << "\n";
        break;
      case scrape::PageStatus::kFailed:
        ++failed;
        std::cerr << "failed: " << page.url << ": " << page.error << "\n";
        break;
    }
  }
  std::cout << fmt::format("{} pages: {} added, {} updated, {} unchanged, {} failed, {} skipped\n",
                           report.pages.size(), added, updated, unchanged, failed, skipped);
  // Nothing scraped (every page failed or was refused) is a failure for scripts.
  return added + updated + unchanged > 0 ? kExitOk : kExitFailure;
}

}  // namespace jrvs::app
