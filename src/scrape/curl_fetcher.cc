#include "scrape/curl_fetcher.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <optional>

#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>

#include "scrape/charset.h"
#include "scrape/curl_transfer.h"
#include "scrape/host_limiter.h"
#include "scrape/robots.h"

namespace jrvs::scrape {
namespace {

constexpr size_t kRobotsMaxBytes = 512 * 1024;  // RFC 9309 asks parsers to read >= 500 KiB
constexpr int kRobotsFailureTtlMs = 60000;      // 5xx/unreachable answers are retried soon
constexpr int kMaxRedirectsLimit = 20;

std::atomic<uint64_t> next_owner_id{1};

bool IsRedirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

std::string Origin(const CheckedUrl& t) {
  return t.scheme + "://" + (t.addresses.front().v6 && t.host_is_ip ? "[" + t.host + "]" : t.host) +
         ":" + std::to_string(t.port);
}

// Path and query of a normalised URL from the guard ("http://h:1/a?b" -> "/a?b").
std::string PathOf(const std::string& url) {
  auto slash = url.find('/', url.find("://") + 3);
  return slash == std::string::npos ? "/" : url.substr(slash);
}

// Resolves a Location header against the URL it came from. Absolute http(s) locations are
// taken as they are (the guard parses them itself); relative ones are resolved by Boost.URL.
std::optional<std::string> ResolveLocation(const std::string& base, std::string location) {
  while (!location.empty() && std::isspace(static_cast<unsigned char>(location.back()))) {
    location.pop_back();
  }
  if (location.empty()) return std::nullopt;
  std::string lower = location.substr(0, 8);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower.rfind("http://", 0) == 0 || lower.rfind("https://", 0) == 0) return location;
  if (location.rfind("//", 0) == 0) return base.substr(0, base.find(':') + 1) + location;
  if (lower.find(':') != std::string::npos && lower.find(':') < lower.find('/')) {
    return location;  // another scheme: the guard refuses it with a clear message
  }
  auto base_url = boost::urls::parse_uri(base);
  auto ref = boost::urls::parse_uri_reference(location);
  if (!base_url || !ref) return std::nullopt;
  boost::urls::url out;
  if (!boost::urls::resolve(*base_url, *ref, out)) return std::nullopt;
  out.remove_fragment();
  return std::string(out.buffer());
}

FetchResult Failure(FetchError error, std::string message) {
  FetchResult r;
  r.error = error;
  r.message = std::move(message);
  return r;
}

}  // namespace

Status CurlFetcherOptions::Validate() const {
  auto bad = [](const char* key, const std::string& why) {
    return Status(StatusCode::kInvalidArgument, std::string(key).append(": ").append(why));
  };
  if (connect_timeout_ms <= 0) return bad("scrape.connect_timeout_ms", "must be > 0");
  if (timeout_ms <= 0) return bad("scrape.timeout_ms", "must be > 0");
  if (max_bytes == 0) return bad("scrape.max_bytes", "must be > 0");
  if (max_redirects < 0 || max_redirects > kMaxRedirectsLimit) {
    return bad("scrape.max_redirects", "must be 0..20");
  }
  if (per_host_concurrency < 1) return bad("scrape.per_host_concurrency", "must be >= 1");
  if (politeness_ms < 0) return bad("scrape.politeness_ms", "must be >= 0");
  if (robots_ttl_ms < 0) return bad("robots_ttl_ms", "must be >= 0");
  if (user_agent.empty()) return bad("scrape.user_agent", "must not be empty");
  for (const auto& cidr : allow_addresses) {
    if (!SsrfGuard::ValidateCidr(cidr)) return bad("allow_addresses", "bad range " + cidr);
  }
  return Status::Ok();
}

class CurlFetcher::Impl {
 public:
  explicit Impl(CurlFetcherOptions options)
      : options_(Clamp(std::move(options))),
        guard_(GuardOptions(options_)),
        limiter_(options_.per_host_concurrency, std::chrono::milliseconds(options_.politeness_ms)),
        agent_token_(RobotsAgentToken(options_.user_agent)),
        owner_id_(next_owner_id++) {}

  FetchResult Fetch(const FetchRequest& request);
  const CurlFetcherOptions& options() const { return options_; }

 private:
  static CurlFetcherOptions Clamp(CurlFetcherOptions o) {
    o.connect_timeout_ms = std::max(1, o.connect_timeout_ms);
    o.timeout_ms = std::max(1, o.timeout_ms);
    o.max_bytes = std::max<size_t>(1, o.max_bytes);
    o.max_redirects = std::clamp(o.max_redirects, 0, kMaxRedirectsLimit);
    o.per_host_concurrency = std::max(1, o.per_host_concurrency);
    o.politeness_ms = std::max(0, o.politeness_ms);
    o.robots_ttl_ms = std::max(0, o.robots_ttl_ms);
    if (o.user_agent.empty()) o.user_agent = "jrvs/" JRVS_VERSION;
    return o;
  }
  static SsrfGuardOptions GuardOptions(const CurlFetcherOptions& o) {
    SsrfGuardOptions g;
    g.allow_private = o.allow_private;
    g.allow_hosts = o.allow_hosts;
    g.deny_hosts = o.deny_hosts;
    g.allow_addresses = o.allow_addresses;
    g.resolve = o.resolve;
    return g;
  }

  // One exchange with the host's slot held.
  TransferResult Exchange(const CheckedUrl& target, std::vector<std::string> headers,
                          size_t max_bytes, bool any_type, bool xml, int timeout_ms, bool polite) {
    HostLimiter::Permit permit = limiter_.Acquire(target.host, polite);
    TransferRequest req;
    req.target = &target;
    req.headers = std::move(headers);
    req.max_bytes = max_bytes;
    req.accept_any_type = any_type;
    req.accept_xml = xml;
    req.connect_timeout_ms = options_.connect_timeout_ms;
    req.timeout_ms = timeout_ms;
    req.user_agent = options_.user_agent;
    req.owner_id = owner_id_;
    return RunTransfer(req);
  }

  RobotsCache::Entry FetchRobots(const CheckedUrl& page);
  bool RobotsAllowed(const CheckedUrl& target) {
    if (!options_.respect_robots) return true;
    RobotsRules rules = robots_.Get(Origin(target), [&] { return FetchRobots(target); });
    return rules.Allowed(PathOf(target.url));
  }

  const CurlFetcherOptions options_;
  const SsrfGuard guard_;
  HostLimiter limiter_;
  RobotsCache robots_;
  const std::string agent_token_;
  const uint64_t owner_id_;
};

RobotsCache::Entry CurlFetcher::Impl::FetchRobots(const CheckedUrl& page) {
  using std::chrono::milliseconds;
  milliseconds ttl(options_.robots_ttl_ms);
  milliseconds failure_ttl(std::min(options_.robots_ttl_ms, kRobotsFailureTtlMs));
  std::string url = Origin(page) + "/robots.txt";
  for (int hop = 0; hop <= options_.max_redirects; ++hop) {
    GuardVerdict v = guard_.Check(url);
    if (!v.ok()) return {RobotsRules::AllowAll(), failure_ttl};
    TransferResult r = Exchange(v.target, {}, kRobotsMaxBytes, /*any_type=*/true, /*xml=*/false,
                                options_.timeout_ms, /*polite=*/false);
    if (r.error != FetchError::kNone) return {RobotsRules::AllowAll(), failure_ttl};
    if (IsRedirect(r.status) && !r.location.empty()) {
      auto next = ResolveLocation(v.target.url, r.location);
      if (!next) break;
      url = *next;
      continue;
    }
    if (r.status >= 200 && r.status < 300) {
      return {RobotsRules::Parse(SanitizeUtf8(r.body), agent_token_), ttl};
    }
    if (r.status >= 400 && r.status < 500) return {RobotsRules::AllowAll(), ttl};
    break;  // 5xx and the rest
  }
  return {RobotsRules::AllowAll(), failure_ttl};
}

FetchResult CurlFetcher::Impl::Fetch(const FetchRequest& request) {
  auto start = std::chrono::steady_clock::now();
  auto finish = [&](FetchResult r) {
    r.elapsed_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    return r;
  };
  std::vector<std::string> conditional;
  if (!request.if_none_match.empty()) {
    conditional.push_back("If-None-Match: " + request.if_none_match);
  }
  if (!request.if_modified_since.empty()) {
    conditional.push_back("If-Modified-Since: " + request.if_modified_since);
  }

  std::string url = request.url;
  double spent_ms = 0;  // time in transfers; waiting for a host slot does not count
  for (int hop = 0;; ++hop) {
    GuardVerdict v = guard_.Check(url);
    if (!v.ok()) {
      if (hop > 0) v.message = "redirect to " + url + " refused: " + v.message;
      return finish(Failure(v.error, v.message));
    }
    const CheckedUrl& target = v.target;
    if (!RobotsAllowed(target)) {
      return finish(Failure(FetchError::kRobotsDisallowed,
                            "robots.txt of " + Origin(target) + " disallows " + target.url));
    }
    int remaining = options_.timeout_ms - static_cast<int>(spent_ms);
    if (remaining <= 0) return finish(Failure(FetchError::kTimeout, "total timeout"));
    TransferResult r = Exchange(target, conditional, options_.max_bytes, /*any_type=*/false,
                                request.accept_xml, remaining, /*polite=*/true);
    spent_ms += r.elapsed_ms;

    FetchResult out;
    out.http_status = r.status;
    out.final_url = target.url;
    if (r.error != FetchError::kNone) {
      out.error = r.error;
      out.message = r.message;
      return finish(std::move(out));
    }
    if (IsRedirect(r.status) && !r.location.empty()) {
      if (hop >= options_.max_redirects) {
        out.error = FetchError::kTooManyRedirects;
        out.message = "more than " + std::to_string(options_.max_redirects) + " redirects";
        return finish(std::move(out));
      }
      auto next = ResolveLocation(target.url, r.location);
      if (!next) {
        out.error = FetchError::kOther;
        out.message = "bad redirect location: " + r.location;
        return finish(std::move(out));
      }
      url = *next;
      continue;
    }
    if (r.status == 304 && !conditional.empty()) {
      out.error = FetchError::kNotModified;
      out.message = "not modified";
      out.etag = r.etag.empty() ? request.if_none_match : r.etag;
      out.last_modified = r.last_modified.empty() ? request.if_modified_since : r.last_modified;
      return finish(std::move(out));
    }
    if (r.status < 200 || r.status >= 300) {
      out.error = FetchError::kHttpStatus;
      out.message = "HTTP " + std::to_string(r.status);
      return finish(std::move(out));
    }

    std::string type = MediaType(r.content_type);
    if (type.empty()) type = SniffMediaType(r.body);
    if (!IsAcceptedType(type, request.accept_xml)) {
      out.error = FetchError::kUnsupportedType;
      out.message = type.empty()
                        ? std::string("unknown content type")
                        : std::string("content type ").append(type).append(" is not scraped");
      return finish(std::move(out));
    }
    out.content_type = type;
    out.etag = r.etag;
    out.last_modified = r.last_modified;
    if (type == "application/pdf") {
      out.body = std::move(r.body);
    } else {
      bool html = type == "text/html" || type == "application/xhtml+xml";
      DecodedText text = DecodeToUtf8(r.body, r.content_type, html);
      out.body = std::move(text.text);
      out.charset = std::move(text.charset);
    }
    return finish(std::move(out));
  }
}

CurlFetcher::CurlFetcher(CurlFetcherOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}
CurlFetcher::~CurlFetcher() = default;

FetchResult CurlFetcher::Fetch(const FetchRequest& request) { return impl_->Fetch(request); }

const CurlFetcherOptions& CurlFetcher::options() const { return impl_->options(); }

}  // namespace jrvs::scrape
