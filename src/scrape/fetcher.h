// Fetcher: the seam between the crawler (and /api/scrape) and the network.
//
// Fetch() gets one URL and answers with the final URL after redirects, the body converted to
// UTF-8, and the validators the crawler needs to skip unchanged pages on a re-crawl. Every
// expected failure (refused by the SSRF guard or robots.txt, timeout, too large, wrong type,
// HTTP error) is a value in FetchResult, never an exception.
//
// The production implementation is CurlFetcher (curl_fetcher.h). Tests of the crawler use fakes
// of this seam or the real CurlFetcher against a fixture site on 127.0.0.1 with
// allow_private = true.
//
// Thread safety: Fetch() may be called concurrently from several threads.
#pragma once

#include <cstdint>
#include <string>

namespace jrvs::scrape {

// Why a fetch did not produce a page. Each maps to one HTTP status of /api/scrape.
enum class FetchError {
  kNone = 0,
  kInvalidUrl,        // not an absolute http(s) URL                           -> 400
  kBlocked,           // SSRF guard, allow/deny lists, or a redirect to such     -> 403
  kRobotsDisallowed,  // robots.txt disallows our user agent                 -> 403
  kDns,               // the host does not resolve                              -> 502
  kConnect,           // connection refused or connect timeout                  -> 502
  kTimeout,           // total timeout                                          -> 504
  kTooLarge,          // body over the cap                                      -> 413
  kUnsupportedType,   // content type not HTML, XHTML, plain text or PDF       -> 415
  kTooManyRedirects,  // more than the redirect limit                         -> 502
  kHttpStatus,        // the server answered 4xx/5xx (status in http_status)    -> 502
  kNotModified,       // 304 to a conditional request (not an error for a crawl)
  kOther,             // anything else (TLS, protocol)                          -> 502
};

// Short stable name of an error ("blocked", "robots_disallowed", ...), for JSON and logs.
const char* FetchErrorName(FetchError e);

struct FetchRequest {
  std::string url;
  // Validators from an earlier fetch of the same URL; when set, sent as If-None-Match /
  // If-Modified-Since, and a 304 answer is reported as FetchError::kNotModified.
  std::string if_none_match;
  std::string if_modified_since;
  // Also accept application/xml and text/xml (a sitemap); the body is then UTF-8 text.
  bool accept_xml = false;
};

struct FetchResult {
  FetchError error = FetchError::kNone;
  std::string message;       // human-readable reason when error != kNone
  int http_status = 0;       // last HTTP status seen (0 if none)
  std::string final_url;     // after redirects
  std::string content_type;  // media type only, lower case ("text/html", "application/pdf")
  std::string charset;       // the charset the body was converted from ("utf-8" if it already was)
  std::string body;          // UTF-8 text for text types; raw bytes for application/pdf
  std::string etag;          // validators to send on the next fetch of this URL
  std::string last_modified;
  double elapsed_ms = 0;

  bool ok() const { return error == FetchError::kNone; }
};

class Fetcher {
 public:
  virtual ~Fetcher() = default;
  virtual FetchResult Fetch(const FetchRequest& request) = 0;
};

}  // namespace jrvs::scrape
