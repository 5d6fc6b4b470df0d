// Status and Result<T>: expected failures as values (STYLE.md "Errors and ownership").
//
// A small fixed set of codes, each mapped once to an HTTP status by HttpStatusFor(). Status is a
// cheap value type; an OK status carries no message. Thread safety: plain value semantics.
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include <tl/expected.hpp>

namespace jrvs {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,     // 400: the caller sent something malformed
  kNotFound,            // 404
  kMethodNotAllowed,    // 405
  kAlreadyExists,       // 409
  kFailedPrecondition,  // 409: the state does not allow it now
  kPermissionDenied,    // 403
  kPayloadTooLarge,     // 413
  kResourceExhausted,   // 429: rate limited or a per-client quota
  kCancelled,           // 499: the client went away
  kInternal,            // 500: a bug or an unexpected library failure
  kUnavailable,         // 503: overloaded, not ready, or a dependency down
  kDeadlineExceeded,    // 504
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// Result<T> holds a T or a non-OK Status.
template <typename T>
using Result = tl::expected<T, Status>;

// Shorthand for `return Error(StatusCode::kNotFound, "...")` inside functions returning Result.
inline tl::unexpected<Status> Error(StatusCode code, std::string message) {
  return tl::unexpected<Status>(Status(code, std::move(message)));
}
inline tl::unexpected<Status> Error(Status status) {
  return tl::unexpected<Status>(std::move(status));
}

// Lower-case snake name used in JSON error bodies, e.g. "invalid_argument".
std::string_view StatusCodeName(StatusCode code);

// The one mapping from codes to HTTP status numbers.
int HttpStatusFor(StatusCode code);

}  // namespace jrvs
