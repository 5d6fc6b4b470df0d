// CurlFetcher: the production Fetcher (fetcher.h), on libcurl.
//
// One Fetch() walks the redirect chain by hand (libcurl's own following is off) so that EVERY
// hop passes the SSRF guard (ssrf_guard.h) and robots.txt before a byte is sent:
//   guard check -> robots.txt (fetched once per origin, cached) -> per-host slot and politeness
//   delay (host_limiter.h) -> one transfer pinned to the checked addresses.
// Pinning: the checked addresses are handed to libcurl with CURLOPT_RESOLVE (no second DNS
// lookup, so no DNS-rebinding window), every socket libcurl opens is checked against them
// (CURLOPT_OPENSOCKETFUNCTION), and the connected address is checked once more after the
// transfer (a connection reused from the handle's cache). Proxies are never used, whatever the
// environment says: a proxy would connect to addresses we did not check.
//
// Limits: connect and total timeouts (the total covers all hops of one Fetch; waiting for a
// per-host slot does not count); a body cap enforced on the decoded bytes as they arrive and
// up front from Content-Length (the transfer is aborted, not drained); at most max_redirects
// redirects (the next one is kTooManyRedirects). Types: text/html, application/xhtml+xml,
// text/plain and application/pdf are accepted (checked when the header arrives, so a video is
// not downloaded to be refused); a missing Content-Type is sniffed ("%PDF-", markup, UTF-8
// text). Text is converted to UTF-8 (charset.h); PDF bodies are returned as raw bytes with an
// empty charset. Compressed transfer is requested (Accept-Encoding: every encoding libcurl
// supports). Validators: If-None-Match / If-Modified-Since are sent on every hop of a
// conditional request and a 304 becomes kNotModified; ETag and Last-Modified are returned.
//
// final_url is the normalised form of the last hop's URL (lower-case host, canonical IP
// spelling, no userinfo, no fragment, "/" for an empty path).
//
// robots.txt (respect_robots): looked up for each hop's origin (scheme://host:port) through the
// same guarded path, with its own redirects, any content type, a 512 KiB cap and its own
// timeout budget (not taken from the page's). 2xx -> its
// rules for our product token (robots.h); 4xx -> allow all; 5xx, unreachable, blocked or over
// the cap -> allow all, cached for at most a minute so a recovered server is read again soon.
//
// Connections: each thread that calls Fetch() keeps one libcurl easy handle (and so its
// connection and TLS session cache) for reuse across fetches; it is freed when the thread ends.
//
// Thread safety: Fetch() may be called concurrently from any number of threads (the Fetcher
// contract). It blocks the calling thread; run it on an I/O pool, never on a server I/O thread.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "scrape/fetcher.h"
#include "scrape/ssrf_guard.h"

namespace jrvs::scrape {

// Mirrors the scrape.* configuration keys (docs/OPERATIONS.md), plus test seams.
struct CurlFetcherOptions {
  bool allow_private = false;            // scrape.allow_private: lift the non-public address check
  std::vector<std::string> allow_hosts;  // scrape.allow_hosts: exact or ".suffix"; empty = any
  std::vector<std::string> deny_hosts;   // scrape.deny_hosts: exact or ".suffix"
  int connect_timeout_ms = 5000;         // scrape.connect_timeout_ms: TCP+TLS connect, > 0
  int timeout_ms = 15000;                // scrape.timeout_ms: whole fetch incl. redirects, > 0
  size_t max_bytes = 5u << 20;           // scrape.max_bytes: decoded body cap, > 0
  int max_redirects = 5;                 // scrape.max_redirects: redirects followed, 0..20
  int per_host_concurrency = 2;          // scrape.per_host_concurrency: requests per host, >= 1
  int politeness_ms = 250;               // scrape.politeness_ms: gap between request starts to a
                                         // host, ms, >= 0 (0 for a single-page /api/scrape is ok)
  bool respect_robots = true;            // scrape.respect_robots
  std::string user_agent = "jrvs/" JRVS_VERSION;  // scrape.user_agent; robots token = before '/'
  int robots_ttl_ms = 3600000;                    // how long a fetched robots.txt is used, ms, >= 0
  // Address ranges exempt from the non-public check ("127.0.0.1/32"); see ssrf_guard.h. Not a
  // config key: tests use it to reach a fixture site while other private addresses stay shut.
  std::vector<std::string> allow_addresses;
  // Name resolution for the guard; empty = getaddrinfo (tests inject names).
  std::function<std::vector<IpAddress>(const std::string& host)> resolve;

  // kInvalidArgument naming the key when a value is out of range.
  Status Validate() const;
};

class CurlFetcher : public Fetcher {
 public:
  // `options` must pass Validate() (checked again here; out-of-range values are clamped).
  explicit CurlFetcher(CurlFetcherOptions options = {});
  ~CurlFetcher() override;
  CurlFetcher(const CurlFetcher&) = delete;
  CurlFetcher& operator=(const CurlFetcher&) = delete;

  FetchResult Fetch(const FetchRequest& request) override;

  const CurlFetcherOptions& options() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace jrvs::scrape
