// HttpClient: outbound HTTP/1.1 for the LLM and embedding clients (libcurl behind a pimpl).
//
// Timeouts are enforced by the client itself, to the millisecond, and each failure names the
// timeout that fired:
//   connect     -> kDeadlineExceeded "connect timeout"   (TCP connect, connect_timeout_ms)
//   first byte  -> kDeadlineExceeded "first-byte timeout" (no response byte within
//                  first_byte_timeout_ms of the start of the call)
//   idle gap    -> kDeadlineExceeded "idle-gap timeout"  (after the first byte, no byte for
//                  idle_gap_timeout_ms; a stalled stream)
//   total       -> kDeadlineExceeded "total timeout"     (whole call, total_timeout_ms)
// Received bytes are noticed per header line and per body chunk, so a header sent slowly counts.
// Other failures: connection refused / host not found / reset / TLS -> kUnavailable; a response
// cut short (connection closed before the announced length or the final chunk) -> kUnavailable
// with "truncated response"; a cancelled call -> kCancelled; a body or line larger than
// max_response_bytes -> kInternal; a malformed URL -> kInvalidArgument.
//
// HTTP statuses: Get, Delete and PostJson return any complete response, whatever its status (the
// caller reads status and body, e.g. Ollama's {"error":...}). PostStream hands lines to the
// callback only for statuses below 400; for 400 and above it collects the body (bounded) and
// returns an error Status from HttpErrorStatus(): the status and the server's message, never lines.
//
// Connections: a mutex-guarded free list of transfer handles, each keeping its own keep-alive
// connection cache, so sequential calls (from any thread) reuse connections; concurrent calls
// use separate handles and connections. Redirects are not followed. Proxies follow libcurl's
// environment variables (http_proxy, ...), except that loopback hosts never use a proxy.
//
// Thread safety: all methods are const and may be called concurrently from any thread. A call
// blocks the calling thread until it completes, times out or is cancelled; run it on an I/O
// pool, never on a server I/O thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace jrvs::llm {

struct HttpClientOptions {
  int connect_timeout_ms = 2000;          // TCP (and TLS) connect, ms, > 0
  int first_byte_timeout_ms = 30000;      // from the start of a call to the first response byte, ms
  int idle_gap_timeout_ms = 30000;        // max gap between received bytes after the first, ms
  int total_timeout_ms = 300000;          // whole call, ms; >= each of the above is sensible
  size_t max_response_bytes = 64u << 20;  // cap on a buffered body and on one streamed line
  size_t max_idle_handles = 8;  // transfer handles (with their connections) kept for reuse
  std::string user_agent = "jrvs/" JRVS_VERSION;

  // kInvalidArgument naming the field when a value is out of range.
  Status Validate() const;
};

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpResponse {
  int status = 0;
  std::string body;
  HttpHeaders headers;  // names lower-cased, in arrival order
  // Value of the first header named `name` (lower case), or "" if absent.
  std::string Header(std::string_view name) const;
};

// Maps an HTTP error status to a Status: 400/422 -> kInvalidArgument, 401/403 ->
// kPermissionDenied, 404 -> kNotFound, 408/504 -> kDeadlineExceeded, 413 -> kPayloadTooLarge,
// 429 -> kResourceExhausted, 5xx and others -> kUnavailable. The message is
// "HTTP <status> from <what>: <server message>", where the server message is the "error" (or
// "error.message") field of a JSON body, else the start of the body.
Status HttpErrorStatus(int status, std::string_view body, std::string_view what);

class HttpClient {
 public:
  // Receives one line of a streamed body (without "\n" or "\r\n"; empty lines included, as SSE
  // separates events with them). Return false to stop the transfer: the call then returns
  // kCancelled.
  using LineCallback = std::function<bool(std::string_view line)>;

  explicit HttpClient(HttpClientOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  Result<HttpResponse> Get(std::string_view url, const HttpHeaders& headers = {}) const;

  // Sends DELETE (no body).
  Result<HttpResponse> Delete(std::string_view url, const HttpHeaders& headers = {}) const;

  // POSTs `body` with Content-Type: application/json.
  Result<HttpResponse> PostJson(std::string_view url, std::string_view body,
                                const HttpHeaders& headers = {}) const;

  // POSTs `body` (JSON) and calls `on_line` for each complete line of the response body as it
  // arrives (a final line without a newline is delivered at the end). Returns the HTTP status
  // (< 400). `cancel`, if not null, is polled at least every 20 ms and between lines; when it
  // becomes true the connection is closed and the call returns kCancelled.
  Result<int> PostStream(std::string_view url, std::string_view body, const HttpHeaders& headers,
                         const LineCallback& on_line,
                         const std::atomic<bool>* cancel = nullptr) const;

  const HttpClientOptions& options() const { return options_; }

 private:
  class Impl;
  HttpClientOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace jrvs::llm
