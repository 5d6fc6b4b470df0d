// Crawler: walks a web site breadth-first from a start URL through the Fetcher seam and hands
// every page it gets to a caller-supplied sink (which stores it).
//
// Scope and limits:
// - Links come from ExtractedPage::links of HTML pages (plain text and PDF pages have none).
//   A link at depth d+1 is followed only if d+1 <= max_depth; the start URL is depth 0.
// - At most max_pages URLs are ever admitted (fetched or refused); a URL is admitted once, by its
//   canonical form (CanonicalUrl below), so link loops terminate.
// - same_host (default): only the start URL's host, plus the host its first redirect landed on
//   (http://example.com -> https://www.example.com stays in scope). allow_hosts, when not empty,
//   replaces that rule with an explicit host list; with neither, any host is followed. The
//   fetcher still applies its own SSRF guard, deny/allow lists and robots.txt to every request.
// - use_sitemap: also fetches <scheme>://<host>/sitemap.xml of the start URL and admits its <loc>
//   URLs (relative ones resolved against the sitemap's URL) as depth-1 seeds (depth 0 when
//   max_depth is 0; if the fetcher refuses the file, e.g. its content type, nothing is seeded and
//   the crawl goes on).
//
// Re-crawl: before fetching a URL the crawler asks `prior` (optional) what the store remembers
// about it (ETag, Last-Modified, content hash, outbound links). The validators go out as
// If-None-Match / If-Modified-Since; a 304 is reported "unchanged" without calling the sink, and
// the remembered links are followed instead of the page's (which were not sent). A 200 whose
// extracted text hashes (SHA-256, hex — the store's content_hash) to the remembered hash is also
// "unchanged". The sink stores the validators and links (see CrawledPage) so the next crawl can
// use them.
//
// Why a sink: scrape/ sits below rag/ and store/ (DESIGN.md §2), so the crawler cannot ingest or
// load PDFs itself. It extracts HTML (ExtractHtml) and plain text, passes PDFs through as bytes,
// and the api/app layer's sink turns a CrawledPage into an ingested document (api/page_ingester).
//
// Threads: Run() uses `workers` threads (fetches are I/O bound; the fetcher enforces per-host
// concurrency and politeness) and returns when the frontier is exhausted or `cancel` is set
// (in-flight pages finish; nothing new starts). The sink and `prior` are called from those
// worker threads, concurrently: they must be thread-safe. `progress` is called under the
// crawler's lock, one call at a time (so a non-thread-safe progress line works): it must be
// quick and must not block on the crawl. A Crawler object
// holds no state between runs; Run() may be called concurrently on one object.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "scrape/fetcher.h"
#include "scrape/html_extractor.h"

namespace jrvs::scrape {

// The form under which URLs are deduplicated: lower-case scheme and host, default port (80 for
// http, 443 for https) dropped, fragment dropped, empty path -> "/", query kept verbatim.
// Empty if `url` is not an absolute http(s) URL with a host.
std::string CanonicalUrl(std::string_view url);

// The lower-case host of an absolute URL ("" if none).
std::string UrlHost(std::string_view url);

struct CrawlOptions {
  int max_depth = 0;      // link hops from the start URL, 0..5 (0: the start page only)
  size_t max_pages = 1;   // URLs admitted in total, >= 1
  bool same_host = true;  // follow links on the start host only (ignored if allow_hosts is set)
  std::vector<std::string> allow_hosts;  // lower-case hosts to follow; empty: see same_host
  bool use_sitemap = false;              // seed from /sitemap.xml of the start host
  int workers = 4;                       // concurrent fetches, 1..32
  bool skip_unchanged = true;            // send validators and compare content hashes (see top)

  // InvalidArgument naming the field when a value is out of range.
  Status Validate() const;
};

// What the store remembers about a URL from an earlier crawl.
struct PriorPage {
  int64_t document_id = 0;
  std::string title;
  std::string etag;
  std::string last_modified;
  std::string content_hash;        // hex SHA-256 of the stored content
  std::vector<std::string> links;  // outbound links recorded at that crawl
};

// One fetched page for the sink.
struct CrawledPage {
  std::string url;        // canonical URL that was requested
  std::string final_url;  // after redirects
  int depth = 0;
  // The fetch: content_type, body (UTF-8 text, or raw bytes for application/pdf), etag,
  // last_modified, http_status.
  FetchResult fetch;
  // HTML: title, main text, links, metadata. text/plain: text = body, title empty.
  // application/pdf: empty (the sink loads the bytes).
  ExtractedPage page;
};

// The sink's verdict on one page.
enum class PageStatus { kAdded, kUpdated, kUnchanged, kSkipped, kFailed };
const char* PageStatusName(PageStatus s);  // "added", "updated", "unchanged", "skipped", "failed"

struct SinkResult {
  PageStatus status = PageStatus::kAdded;  // kAdded, kUpdated, kUnchanged or kFailed
  int64_t document_id = 0;
  std::string title;
  std::string error;  // when kFailed
};

using PageSink = std::function<SinkResult(const CrawledPage&)>;
using PriorLookup = std::function<std::optional<PriorPage>(const std::string& canonical_url)>;

// One admitted URL's outcome. kSkipped: the fetcher refused it on policy (robots.txt, blocked,
// unsupported content type); kUnchanged: a 304 or an identical content hash; kFailed: network,
// HTTP and sink errors.
struct PageReport {
  std::string url;
  PageStatus status = PageStatus::kFailed;
  int64_t document_id = 0;  // 0 when nothing is stored
  std::string title;
  std::string error;  // FetchErrorName or the sink's message; empty on success
};

struct CrawlProgress {
  size_t queued = 0;   // URLs admitted so far
  size_t done = 0;     // pages stored or found unchanged
  size_t failed = 0;   // pages that failed
  size_t skipped = 0;  // pages refused by policy (robots.txt, blocked, unsupported type)
  std::string current_url;
};

// Called when a page starts (finished == nullptr; current_url is that page) and when it ends
// (finished points at its report, valid only during the call).
using ProgressCallback =
    std::function<void(const CrawlProgress& totals, const PageReport* finished)>;

struct CrawlReport {
  std::vector<PageReport> pages;  // in completion order
  CrawlProgress totals;
  bool cancelled = false;
};

class Crawler {
 public:
  // `fetcher` must outlive the crawler. `options` must be valid (Validate()).
  Crawler(Fetcher& fetcher, CrawlOptions options);

  // Crawls from `start_url`. `prior`, `progress` and `cancel` may be null/empty.
  CrawlReport Run(std::string_view start_url, const PageSink& sink, const PriorLookup& prior = {},
                  const ProgressCallback& progress = {},
                  const std::atomic<bool>* cancel = nullptr) const;

  const CrawlOptions& options() const { return options_; }

 private:
  Fetcher& fetcher_;
  CrawlOptions options_;
};

// Fetches and extracts one URL (no links followed, no validators): the single-page path of
// POST /api/scrape. The result's fetch.error says why it failed, if it did.
CrawledPage FetchPage(Fetcher& fetcher, std::string_view url);

// The <loc> URLs of a sitemap (or sitemap index) document, in order; entities &amp; decoded.
std::vector<std::string> ParseSitemap(std::string_view xml);

}  // namespace jrvs::scrape
