// Serialises the status line and header block of an HTTP/1.x response. The server writes it with
// the body in one gathered write; formatting by hand into a reused buffer keeps the hot path free
// of per-field allocations. Thread-safe: pure functions (the Date value is cached per thread).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "api/http_types.h"

namespace jrvs::http {

struct ResponseHeadInfo {
  unsigned version = 11;        // 10 or 11: the request's HTTP version
  int status = 200;             // 100..999 (anything else is sent as 500)
  std::string_view request_id;  // sent as X-Request-ID
  bool keep_alive = true;       // false: "Connection: close" (1.1); true: keep-alive (1.0)
  // Exactly one framing: a Content-Length, chunked transfer encoding, or neither (1xx, 204, 304,
  // or a HEAD answer for a streamed route).
  std::optional<uint64_t> content_length;
  bool chunked = false;
};

// Appends the head (ending with the blank line) to `out`. Content-Type and the extra headers come
// from `response`. A handler's Content-Length, Transfer-Encoding and Connection headers are skipped
// (the server owns framing), and headers with a bad name or CR/LF/NUL in the value are dropped so
// nothing can be injected; returns how many were dropped as unsafe.
int AppendResponseHead(const api::Response& response, const ResponseHeadInfo& info,
                       std::string* out);

// True for a header name that is an RFC 9110 token and a value without CR, LF or NUL.
bool IsSafeHeader(std::string_view name, std::string_view value);

// True for statuses that never carry a body (1xx, 204, 304).
inline bool IsBodilessStatus(int status) { return status < 200 || status == 204 || status == 304; }

}  // namespace jrvs::http
