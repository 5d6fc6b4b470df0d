// Handlers for scraping: POST /api/scrape, GET /api/jobs/{id}, DELETE /api/jobs/{id}.
//
// POST /api/scrape {url, depth?=0, max_pages?=1, same_host?=true, sitemap?=false}
//   - one page (depth 0 and max_pages 1): fetched, extracted and ingested before answering
//     (register the route on the slow pool: it waits on the network) ->
//     200 {success:true, document_id, title, chars, url, final_url, content_type, status}
//     where status is created | updated | unchanged (as for POST /api/rag/document);
//   - otherwise a background crawl (ScrapeJobs) -> 202 {job_id, state, status_url};
//     429 (Retry-After) when the registry is full.
//   Validation (400): url required and an absolute http(s) URL, depth 0..5, max_pages 1..1000.
//   A refused or failed fetch answers in the usual error shape
//   {"error":{"code","message","request_id","reason","upstream_status"?}} where reason is
//   FetchErrorName and the status is FetchError's mapping (HttpStatusForFetchError).
// GET /api/jobs/{id} -> {id, state, url, queued, done, failed, skipped, current_url,
//   results:[{url, document_id, title, status, error?}], created_at, started_at, finished_at}
//   (Unix ms; null until set); 404 for an unknown or expired id.
// DELETE /api/jobs/{id} asks a crawl to stop -> 202 with the job; 404 if unknown.
//
// Thread safety: handlers are const and may run concurrently.
#pragma once

#include <cstddef>

#include "api/http_types.h"
#include "api/page_ingester.h"
#include "api/scrape_jobs.h"
#include "core/metrics.h"
#include "scrape/fetcher.h"

namespace jrvs::api {

struct ScrapeApiOptions {
  int max_depth = 5;        // largest accepted depth
  size_t max_pages = 1000;  // largest accepted max_pages
  int crawl_workers = 4;    // concurrent fetches per crawl (the fetcher also limits per host)
};

// The HTTP status of /api/scrape for a fetch error (400, 403, 413, 415, 502, 504; 200 for kNone).
int HttpStatusForFetchError(scrape::FetchError e);

class ScrapeApi {
 public:
  // All must outlive the handlers.
  // With `metrics`, single-page outcomes are counted in scrape_pages_total{status}.
  ScrapeApi(scrape::Fetcher& fetcher, const PageIngester& ingester, ScrapeJobs& jobs,
            ScrapeApiOptions options = {}, MetricsRegistry* metrics = nullptr);

  Response Scrape(const Request& request) const;
  Response GetJob(const Request& request) const;
  Response CancelJob(const Request& request) const;

 private:
  scrape::Fetcher& fetcher_;
  const PageIngester& ingester_;
  ScrapeJobs& jobs_;
  ScrapeApiOptions options_;
  MetricFamily<Counter>* pages_total_ = nullptr;  // null without metrics
};

}  // namespace jrvs::api
