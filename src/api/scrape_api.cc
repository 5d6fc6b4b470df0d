#include "api/scrape_api.h"

#include <fmt/format.h>
#include <boost/json.hpp>

#include "api/json_body.h"
#include "rag/ingest_pipeline.h"
#include "scrape/crawler.h"

namespace jrvs::api {

namespace json = boost::json;

namespace {

// The error code for each status /api/scrape answers a fetch error with; the same names as
// StatusCodeName where one exists.
const char* CodeForHttpStatus(int status) {
  switch (status) {
    case 400:
      return "invalid_argument";
    case 403:
      return "permission_denied";
    case 413:
      return "payload_too_large";
    case 415:
      return "unsupported_media_type";
    case 504:
      return "deadline_exceeded";
    default:
      return "bad_gateway";
  }
}

Response FetchErrorResponse(const scrape::FetchResult& f, std::string_view request_id) {
  int status = HttpStatusForFetchError(f.error);
  json::object error{
      {"code", CodeForHttpStatus(status)},
      {"message", f.message.empty() ? std::string(scrape::FetchErrorName(f.error)) : f.message},
      {"request_id", request_id},
      {"reason", scrape::FetchErrorName(f.error)}};
  if (f.http_status > 0) error["upstream_status"] = f.http_status;
  return JsonResponse(json::serialize(json::object{{"error", std::move(error)}}), status);
}

json::value MsOrNull(int64_t ms) { return ms > 0 ? json::value(ms) : json::value(nullptr); }

json::object JobJson(const JobSnapshot& job) {
  json::array results;
  for (const auto& r : job.results) {
    json::object item{
        {"url", r.url},
        {"document_id", r.document_id > 0 ? json::value(r.document_id) : json::value(nullptr)},
        {"title", r.title},
        {"status", scrape::PageStatusName(r.status)}};
    if (!r.error.empty()) item["error"] = r.error;
    results.push_back(std::move(item));
  }
  return json::object{{"id", job.id},
                      {"state", JobStateName(job.state)},
                      {"url", job.url},
                      {"queued", job.progress.queued},
                      {"done", job.progress.done},
                      {"failed", job.progress.failed},
                      {"skipped", job.progress.skipped},
                      {"current_url", job.progress.current_url},
                      {"results", std::move(results)},
                      {"created_at", MsOrNull(job.created_at_ms)},
                      {"started_at", MsOrNull(job.started_at_ms)},
                      {"finished_at", MsOrNull(job.finished_at_ms)}};
}

}  // namespace

int HttpStatusForFetchError(scrape::FetchError e) {
  using scrape::FetchError;
  switch (e) {
    case FetchError::kNone:
      return 200;
    case FetchError::kInvalidUrl:
      return 400;
    case FetchError::kBlocked:
    case FetchError::kRobotsDisallowed:
      return 403;
    case FetchError::kTimeout:
      return 504;
    case FetchError::kTooLarge:
      return 413;
    case FetchError::kUnsupportedType:
      return 415;
    case FetchError::kDns:
    case FetchError::kConnect:
    case FetchError::kTooManyRedirects:
    case FetchError::kHttpStatus:
    case FetchError::kNotModified:
    case FetchError::kOther:
      return 502;
  }
  return 502;
}

ScrapeApi::ScrapeApi(scrape::Fetcher& fetcher, const PageIngester& ingester, ScrapeJobs& jobs,
                     ScrapeApiOptions options, MetricsRegistry* metrics)
    : fetcher_(fetcher), ingester_(ingester), jobs_(jobs), options_(options) {
  if (metrics != nullptr) pages_total_ = &ScrapePagesCounter(*metrics);
}

Response ScrapeApi::Scrape(const Request& request) const {
  const std::string& rid = request.request_id;
  auto body = JsonBody::Parse(request.body);
  if (!body) return ErrorResponse(body.error(), rid);
  auto url = body->String("url");
  if (!url) return ErrorResponse(url.error(), rid);
  if (!*url || (*url)->empty()) {
    return ErrorResponse(StatusCode::kInvalidArgument, "'url' is required", rid);
  }
  if (scrape::CanonicalUrl(**url).empty()) {
    return ErrorResponse(StatusCode::kInvalidArgument, "'url' must be an absolute http(s) URL",
                         rid);
  }
  auto depth = body->Int("depth");
  if (!depth) return ErrorResponse(depth.error(), rid);
  auto max_pages = body->Int("max_pages");
  if (!max_pages) return ErrorResponse(max_pages.error(), rid);
  auto same_host = body->Bool("same_host");
  if (!same_host) return ErrorResponse(same_host.error(), rid);
  auto sitemap = body->Bool("sitemap");
  if (!sitemap) return ErrorResponse(sitemap.error(), rid);
  int64_t d = depth->value_or(0);
  int64_t n = max_pages->value_or(1);
  if (d < 0 || d > options_.max_depth) {
    return ErrorResponse(StatusCode::kInvalidArgument,
                         fmt::format("'depth' must be between 0 and {}", options_.max_depth), rid);
  }
  if (n < 1 || n > static_cast<int64_t>(options_.max_pages)) {
    return ErrorResponse(StatusCode::kInvalidArgument,
                         fmt::format("'max_pages' must be between 1 and {}", options_.max_pages),
                         rid);
  }

  if (d == 0 && n == 1 && !sitemap->value_or(false)) {
    auto count = [this](const char* status) {
      if (pages_total_) pages_total_->WithLabels({status}).Inc();
    };
    scrape::CrawledPage page = scrape::FetchPage(fetcher_, **url);
    if (!page.fetch.ok()) {
      count(HttpStatusForFetchError(page.fetch.error) == 403 ||
                    page.fetch.error == scrape::FetchError::kUnsupportedType
                ? "skipped"
                : "failed");
      return FetchErrorResponse(page.fetch, rid);
    }
    auto stored = ingester_.Ingest(page);
    if (!stored) {
      count("failed");
      return ErrorResponse(stored.error(), rid);
    }
    switch (stored->outcome) {
      case store::PutDocumentResult::Outcome::kCreated:
        count("added");
        break;
      case store::PutDocumentResult::Outcome::kUpdated:
        count("updated");
        break;
      case store::PutDocumentResult::Outcome::kUnchanged:
        count("unchanged");
        break;
    }
    json::object root{{"success", true},
                      {"document_id", stored->document_id},
                      {"title", stored->title},
                      {"chars", static_cast<int64_t>(stored->chars)},
                      {"url", page.url},
                      {"final_url", page.final_url},
                      {"content_type", page.fetch.content_type},
                      {"status", rag::OutcomeName(stored->outcome)}};
    return JsonResponse(json::serialize(root));
  }

  scrape::CrawlOptions crawl;
  crawl.max_depth = static_cast<int>(d);
  crawl.max_pages = static_cast<size_t>(n);
  crawl.same_host = same_host->value_or(true);
  crawl.use_sitemap = sitemap->value_or(false);
  crawl.workers = options_.crawl_workers;
  auto id = jobs_.Start(**url, std::move(crawl));
  if (!id) {
    Response r = ErrorResponse(id.error(), rid);
    if (id.error().code() == StatusCode::kResourceExhausted) {
      r.headers.emplace_back("Retry-After", "5");
    }
    return r;
  }
  json::object root{{"success", true},
                    {"job_id", *id},
                    {"state", "queued"},
                    {"status_url", std::string("/api/jobs/").append(*id)}};
  return JsonResponse(json::serialize(root), 202);
}

Response ScrapeApi::GetJob(const Request& request) const {
  auto job = jobs_.Get(std::string(request.PathParam("id")));
  if (!job) return ErrorResponse(job.error(), request.request_id);
  return JsonResponse(json::serialize(JobJson(*job)));
}

Response ScrapeApi::CancelJob(const Request& request) const {
  std::string id(request.PathParam("id"));
  if (Status s = jobs_.Cancel(id); !s.ok()) return ErrorResponse(s, request.request_id);
  auto job = jobs_.Get(id);
  if (!job) return ErrorResponse(job.error(), request.request_id);
  return JsonResponse(json::serialize(JobJson(*job)), 202);
}

}  // namespace jrvs::api
