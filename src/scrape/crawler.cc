#include "scrape/crawler.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_set>

#include <fmt/format.h>
#include <boost/url.hpp>

#include "core/sha256.h"
#include "core/text.h"

namespace jrvs::scrape {

namespace urls = boost::urls;

namespace {

bool IsHtml(std::string_view type) {
  return type == "text/html" || type == "application/xhtml+xml";
}

// A fetch the fetcher refused on policy rather than a failure of the site or the network.
bool IsPolicyRefusal(FetchError e) {
  return e == FetchError::kRobotsDisallowed || e == FetchError::kBlocked ||
         e == FetchError::kUnsupportedType;
}

std::string FetchErrorText(const FetchResult& f) {
  std::string text = FetchErrorName(f.error);
  if (!f.message.empty()) text.append(": ").append(f.message);
  return text;
}

void DecodeXmlEntities(std::string& s) {
  static constexpr std::pair<std::string_view, char> kEntities[] = {
      {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    bool replaced = false;
    if (s[i] == '&') {
      for (const auto& [name, c] : kEntities) {
        if (std::string_view(s).substr(i, name.size()) == name) {
          out.push_back(c);
          i += name.size();
          replaced = true;
          break;
        }
      }
    }
    if (!replaced) out.push_back(s[i++]);
  }
  s = std::move(out);
}

// `ref` resolved against the absolute URL `base` (sitemaps may hold root-relative <loc>s);
// "" if either does not parse.
std::string ResolveAgainst(std::string_view base, std::string_view ref) {
  auto b = urls::parse_uri(base);
  auto r = urls::parse_uri_reference(text::TrimAscii(ref));
  if (!b || !r) return {};
  urls::url out;
  if (!urls::resolve(*b, *r, out)) return {};
  return std::string(out.buffer());
}

}  // namespace

std::string CanonicalUrl(std::string_view url) {
  auto parsed = urls::parse_uri(text::TrimAscii(url));
  if (!parsed) return {};
  const urls::url_view& u = *parsed;
  std::string scheme = text::AsciiLower(u.scheme());
  if (scheme != "http" && scheme != "https") return {};
  if (!u.has_authority() || u.encoded_host().empty()) return {};
  std::string out = scheme;
  out.append("://");
  if (u.has_userinfo()) out.append(u.encoded_userinfo()).push_back('@');
  out.append(text::AsciiLower(u.encoded_host()));
  std::string_view port = u.port();
  bool default_port =
      port.empty() || (scheme == "http" && port == "80") || (scheme == "https" && port == "443");
  if (!default_port) out.append(":").append(port);
  std::string_view path = u.encoded_path();
  out.append(path.empty() ? std::string_view("/") : path);
  if (u.has_query()) out.append("?").append(u.encoded_query());
  return out;
}

std::string UrlHost(std::string_view url) {
  auto parsed = urls::parse_uri(text::TrimAscii(url));
  if (!parsed || !parsed->has_authority()) return {};
  return text::AsciiLower(parsed->encoded_host());
}

const char* PageStatusName(PageStatus s) {
  switch (s) {
    case PageStatus::kAdded:
      return "added";
    case PageStatus::kUpdated:
      return "updated";
    case PageStatus::kUnchanged:
      return "unchanged";
    case PageStatus::kSkipped:
      return "skipped";
    case PageStatus::kFailed:
      return "failed";
  }
  return "failed";
}

Status CrawlOptions::Validate() const {
  if (max_depth < 0 || max_depth > 5) {
    return Status(StatusCode::kInvalidArgument, "'depth' must be between 0 and 5");
  }
  if (max_pages < 1 || max_pages > 100000) {
    return Status(StatusCode::kInvalidArgument, "'max_pages' must be between 1 and 100000");
  }
  if (workers < 1 || workers > 32) {
    return Status(StatusCode::kInvalidArgument, "crawl workers must be between 1 and 32");
  }
  return Status::Ok();
}

std::vector<std::string> ParseSitemap(std::string_view xml) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (true) {
    size_t open = xml.find("<loc>", pos);
    if (open == std::string_view::npos) break;
    size_t start = open + 5;
    size_t close = xml.find("</loc>", start);
    if (close == std::string_view::npos) break;
    std::string loc(text::TrimAscii(xml.substr(start, close - start)));
    DecodeXmlEntities(loc);
    if (!loc.empty()) out.push_back(std::move(loc));
    pos = close + 6;
  }
  return out;
}

namespace {

// Fills page.page from the fetched body according to its type.
void ExtractInto(CrawledPage& page) {
  const std::string& type = page.fetch.content_type;
  if (IsHtml(type)) {
    page.page = ExtractHtml(page.fetch.body, page.final_url);
  } else if (type.rfind("text/", 0) == 0) {
    page.page.text = page.fetch.body;
  }
}

}  // namespace

CrawledPage FetchPage(Fetcher& fetcher, std::string_view url) {
  CrawledPage page;
  page.url = CanonicalUrl(url);
  if (page.url.empty()) page.url = std::string(url);
  FetchRequest request;
  request.url = page.url;
  page.fetch = fetcher.Fetch(request);
  page.final_url = page.fetch.final_url.empty() ? page.url : page.fetch.final_url;
  if (page.fetch.ok()) ExtractInto(page);
  return page;
}

Crawler::Crawler(Fetcher& fetcher, CrawlOptions options)
    : fetcher_(fetcher), options_(std::move(options)) {}

namespace {

// The state of one Run(), shared by its worker threads.
class CrawlRun {
 public:
  CrawlRun(Fetcher& fetcher, const CrawlOptions& options, const PageSink& sink,
           const PriorLookup& prior, const ProgressCallback& progress,
           const std::atomic<bool>* cancel)
      : fetcher_(fetcher),
        options_(options),
        sink_(sink),
        prior_(prior),
        progress_(progress),
        cancel_(cancel) {
    for (const auto& h : options_.allow_hosts) hosts_.insert(text::AsciiLower(h));
  }

  CrawlReport Run(std::string_view start_url) {
    std::string start = CanonicalUrl(start_url);
    if (start.empty()) {
      PageReport r;
      r.url = std::string(start_url);
      r.status = PageStatus::kFailed;
      r.error = std::string(FetchErrorName(FetchError::kInvalidUrl));
      report_.pages.push_back(std::move(r));
      report_.totals.queued = 1;
      report_.totals.failed = 1;
      return std::move(report_);
    }
    if (options_.allow_hosts.empty() && options_.same_host) hosts_.insert(UrlHost(start));
    any_host_ = options_.allow_hosts.empty() && !options_.same_host;
    start_ = start;
    {
      std::lock_guard lock(mu_);
      AdmitLocked(start, 0);
    }
    if (options_.use_sitemap) SeedFromSitemap(start);

    int threads = std::max(1, options_.workers);
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) pool.emplace_back([this] { Work(); });
    for (auto& t : pool) t.join();
    report_.cancelled = Cancelled();
    report_.totals.current_url.clear();
    return std::move(report_);
  }

 private:
  struct Item {
    std::string url;
    int depth = 0;
  };

  bool Cancelled() const { return cancel_ && cancel_->load(std::memory_order_relaxed); }

  bool InScopeLocked(const std::string& canonical) const {
    if (any_host_) return true;
    return hosts_.count(UrlHost(canonical)) > 0;
  }

  // Caller holds mu_.
  void AdmitLocked(const std::string& url, int depth) {
    std::string canonical = CanonicalUrl(url);
    if (canonical.empty() || depth > options_.max_depth || !InScopeLocked(canonical)) return;
    if (seen_.count(canonical) > 0 || report_.totals.queued >= options_.max_pages) return;
    seen_.insert(canonical);
    frontier_.push_back({std::move(canonical), depth});
    ++report_.totals.queued;
  }

  void SeedFromSitemap(const std::string& start) {
    urls::url u(*urls::parse_uri(start));
    u.set_encoded_path("/sitemap.xml");
    u.remove_query();
    FetchRequest request;
    request.url = std::string(u.buffer());
    request.accept_xml = true;
    FetchResult f = fetcher_.Fetch(request);
    if (!f.ok()) return;
    std::string base = f.final_url.empty() ? request.url : f.final_url;
    std::lock_guard lock(mu_);
    for (const auto& loc : ParseSitemap(f.body)) {
      AdmitLocked(ResolveAgainst(base, loc), std::min(1, options_.max_depth));
    }
  }

  void Work() {
    while (true) {
      Item item;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return !frontier_.empty() || in_flight_ == 0 || Cancelled(); });
        if (Cancelled() || frontier_.empty()) {
          cv_.notify_all();
          return;
        }
        item = std::move(frontier_.front());
        frontier_.pop_front();
        ++in_flight_;
        report_.totals.current_url = item.url;
        if (progress_) progress_(report_.totals, nullptr);
      }
      std::vector<std::string> links;
      std::string final_url;
      PageReport page = Process(item, links, final_url);
      {
        std::lock_guard lock(mu_);
        if (item.depth == 0 && item.url == start_ && options_.allow_hosts.empty() &&
            options_.same_host && !final_url.empty()) {
          // The start page's redirect target (http -> https, bare -> www) is the same site.
          hosts_.insert(UrlHost(final_url));
        }
        if (!final_url.empty()) {
          std::string canonical_final = CanonicalUrl(final_url);
          if (!canonical_final.empty()) seen_.insert(canonical_final);
        }
        for (const auto& link : links) AdmitLocked(link, item.depth + 1);
        switch (page.status) {
          case PageStatus::kFailed:
            ++report_.totals.failed;
            break;
          case PageStatus::kSkipped:
            ++report_.totals.skipped;
            break;
          default:
            ++report_.totals.done;
        }
        report_.pages.push_back(std::move(page));
        --in_flight_;
        if (progress_) progress_(report_.totals, &report_.pages.back());
      }
      cv_.notify_all();
    }
  }

  PageReport Process(const Item& item, std::vector<std::string>& links, std::string& final_url) {
    PageReport report;
    report.url = item.url;
    std::optional<PriorPage> prior;
    if (options_.skip_unchanged && prior_) prior = prior_(item.url);

    CrawledPage page;
    page.url = item.url;
    page.depth = item.depth;
    FetchRequest request;
    request.url = item.url;
    if (prior) {
      request.if_none_match = prior->etag;
      request.if_modified_since = prior->last_modified;
    }
    page.fetch = fetcher_.Fetch(request);
    page.final_url = page.fetch.final_url.empty() ? item.url : page.fetch.final_url;
    final_url = page.final_url;
    bool follow = item.depth < options_.max_depth;

    if (page.fetch.error == FetchError::kNotModified && prior) {
      report.status = PageStatus::kUnchanged;
      report.document_id = prior->document_id;
      report.title = prior->title;
      if (follow) links = prior->links;
      return report;
    }
    if (!page.fetch.ok()) {
      report.status =
          IsPolicyRefusal(page.fetch.error) ? PageStatus::kSkipped : PageStatus::kFailed;
      report.error = FetchErrorText(page.fetch);
      return report;
    }
    ExtractInto(page);
    if (follow) links = page.page.links;
    if (prior && !prior->content_hash.empty() && page.fetch.content_type != "application/pdf" &&
        Sha256Hex(page.page.text) == prior->content_hash) {
      report.status = PageStatus::kUnchanged;
      report.document_id = prior->document_id;
      report.title = prior->title;
      return report;
    }
    SinkResult stored = sink_(page);
    report.status = stored.status;
    report.document_id = stored.document_id;
    report.title = std::move(stored.title);
    report.error = std::move(stored.error);
    return report;
  }

  Fetcher& fetcher_;
  const CrawlOptions& options_;
  const PageSink& sink_;
  const PriorLookup& prior_;
  const ProgressCallback& progress_;
  const std::atomic<bool>* cancel_;
  std::string start_;
  bool any_host_ = false;

  std::mutex mu_;  // guards everything below
  std::condition_variable cv_;
  std::deque<Item> frontier_;
  std::unordered_set<std::string> seen_;   // canonical URLs admitted (and redirect targets)
  std::unordered_set<std::string> hosts_;  // hosts in scope (unless any_host_)
  size_t in_flight_ = 0;
  CrawlReport report_;
};

}  // namespace

CrawlReport Crawler::Run(std::string_view start_url, const PageSink& sink, const PriorLookup& prior,
                         const ProgressCallback& progress, const std::atomic<bool>* cancel) const {
  CrawlRun run(fetcher_, options_, sink, prior, progress, cancel);
  return run.Run(start_url);
}

}  // namespace jrvs::scrape
