// FixtureSite: a real HTTP/1.1 web site on 127.0.0.1:<port 0> for fetcher, crawler and scrape
// tests (STYLE.md "Tests": fakes of external servers on loopback). It serves a directory of
// fixture pages (tests/data/site), pages added at runtime, scripted routes and a few built-in
// routes, on its own thread. It never touches the internet and stops in its destructor, also
// while a /slow answer or a delayed route is still pending.
//
// Resolution order for a request path (the part of the target before '?'):
//   1. a scripted route (SetRoute) for the path;
//   2. a page added with SetFile for the path;
//   3. the built-in routes:
//        /redirect?to=URL       302 to URL (percent-decoded)
//        /redirect-chain?n=K    K hops of 302 (n=K-1, ... n=0), then a small HTML page
//        /big                   6 MiB text/html body with Content-Length;
//                               /big?chunked=1 sends it chunked, without Content-Length
//        /slow?ms=M             200 text/html header at once, then the body after M ms
//                               (default 3000)
//   4. a file under root_dir: "/" and paths ending in "/" map to index.html. Content type from
//      the extension (.html/.htm text/html; charset=utf-8, .txt text/plain; charset=utf-8,
//      .pdf application/pdf, .xml application/xml, .png image/png, else
//      application/octet-stream). A sidecar file "<name>.headers" holding "Name: value" lines
//      adds or replaces response headers (used for a latin-1 charset in the header and for a
//      page sent with a wrong content type); sidecars themselves are not served.
//   5. 404.
// Files (root_dir and SetFile) carry an ETag (quoted hash of the content) and a Last-Modified
// (file mtime, or the SetFile time) and answer 304 to a matching If-None-Match or to an
// If-Modified-Since not older than Last-Modified. HEAD is answered like GET without a body.
// No compression.
//
// Thread safety: every public method may be called from any thread while the site runs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace jrvs::testing {

class FixtureSite {
 public:
  struct Options {
    std::string root_dir;  // files served by path; "/" -> index.html; empty = no files
  };

  // Starts listening on 127.0.0.1 with an ephemeral port; nullptr if it cannot listen.
  static std::unique_ptr<FixtureSite> Start(Options options);
  ~FixtureSite();
  FixtureSite(const FixtureSite&) = delete;
  FixtureSite& operator=(const FixtureSite&) = delete;

  uint16_t port() const;
  std::string Url(std::string_view path) const;  // "http://127.0.0.1:<port><path>"

  // Number of requests seen for a path (the target before '?'), for robots caching,
  // conditional-request and crawl tests.
  size_t Requests(std::string_view path) const;

  // Scripted routes override files and built-ins: status, headers, body, and an optional delay
  // before answering. A route without a Content-Type header is sent as text/html; charset=utf-8.
  struct Route {
    int status = 200;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    int delay_ms = 0;
  };
  void SetRoute(std::string path, Route route);

  // Adds or replaces a page at runtime (with ETag / Last-Modified like a file).
  void SetFile(std::string path, std::string body, std::string content_type);

 private:
  class Impl;
  explicit FixtureSite(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace jrvs::testing
