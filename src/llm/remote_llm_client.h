// RemoteLlmClient: what OllamaClient and OpenAiClient share — streaming over HttpClient,
// token-level timeouts, retries before the first token, a circuit breaker and metrics. The
// subclasses supply the wire format (request body, stream parser, model listing, health probe).
//
// Chat, step by step:
//   1. Take a circuit-breaker permit; an open circuit fails at once with kUnavailable
//      "circuit open ...".
//   2. POST the request and stream the answer; each content token goes to on_token as it is
//      parsed.
//   3. Timeouts (LlmTimeouts) end an attempt with kDeadlineExceeded naming the one that fired:
//      "connect timeout", "first-token timeout" (no token within first_token_ms of the start of
//      the attempt), "token-gap timeout" (no token for token_gap_ms after one came), "total
//      timeout" (the whole call, retries included, past total_ms).
//   4. A failed attempt that delivered no token and failed with kUnavailable (connection refused
//      or reset, HTTP 5xx, a stream cut short or an error event before any token) is retried
//      after a backoff (RetryPolicy), while the total timeout allows. Nothing is retried once a
//      token was delivered, nor after a timeout, a 4xx, a malformed response or a cancel.
//   5. The breaker counts kUnavailable, kDeadlineExceeded, kInternal (malformed) and
//      kResourceExhausted (429) as failures, other answers from the server (4xx included) as
//      successes, and cancellations as neither.
// A stream that ends cleanly but without the protocol's final message is kUnavailable
// "... truncated ...", never a partial success; a line that is not valid JSON is kInternal.
// "Tokens" for the timeouts include reasoning ("thinking") output, which is not delivered.
//
// ListModels and DescribeModel go through the breaker too (no retries); Health does not: an open
// circuit reports unhealthy at once, otherwise Health probes the server with health_ms.
//
// Thread safety: all public methods may be called concurrently.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/metrics.h"
#include "core/status.h"
#include "llm/call_watchdog.h"
#include "llm/circuit_breaker.h"
#include "llm/http_client.h"
#include "llm/llm_client.h"
#include "llm/llm_metrics.h"
#include "llm/stream_parser.h"

namespace jrvs::llm {

struct LlmTimeouts {
  int connect_ms = 2000;       // TCP connect, ms
  int first_token_ms = 60000;  // start of an attempt to the first token (model load included), ms
  int token_gap_ms = 30000;    // longest silence between tokens once the answer streams, ms
  int total_ms = 600000;       // a whole Chat call, retries and backoff included, ms
  int control_ms = 10000;      // a whole ListModels / DescribeModel request, ms
  int health_ms = 2000;        // a whole Health probe, ms
  // Every field must be in 1..86'400'000.
};

struct RetryPolicy {
  int max_retries = 2;           // extra attempts after the first, 0..10 (before any token only)
  int initial_backoff_ms = 250;  // wait before the first retry, ms, 0..60000
  int max_backoff_ms = 2000;     // the wait doubles per retry up to this, ms, >= initial
};

struct RemoteLlmOptions {
  std::string base_url;       // server root, http:// or https://
  std::string default_model;  // used when ChatOptions::model is empty; must not be empty
  LlmTimeouts timeouts;
  RetryPolicy retry;
  CircuitBreakerOptions breaker;
  size_t max_response_bytes = 16u << 20;  // cap on a response body and on one streamed line
  MetricsRegistry* metrics = nullptr;     // optional; not owned, must outlive the client
  const Clock* clock = nullptr;           // the breaker's time; null = SystemClock

  // kInvalidArgument naming the field ("timeouts.first_token_ms", ...) when out of range.
  Status Validate() const;
};

class RemoteLlmClient : public LlmClient {
 public:
  ~RemoteLlmClient() override;

  std::string_view provider() const override { return provider_; }
  Result<ChatResult> Chat(const ChatRequest& request, const TokenCallback& on_token,
                          const std::atomic<bool>* cancel) override;
  HealthReport Health() override;

  const CircuitBreaker& breaker() const { return breaker_; }
  const RemoteLlmOptions& options() const { return options_; }

 protected:
  // `options` must be valid (Validate()); base_url without trailing slashes.
  RemoteLlmClient(std::string provider, RemoteLlmOptions options);

  // ---- the wire format ----
  virtual std::string ChatUrl() const = 0;
  virtual std::string ChatBody(const ChatRequest& request, const std::string& model) const = 0;
  virtual std::unique_ptr<StreamParser> NewStreamParser() const = 0;
  // Headers for every request (e.g. a bearer token). Default: none.
  virtual HttpHeaders RequestHeaders() const { return {}; }
  // Probes the server within health_ms (health_http()); the detail for a healthy server.
  virtual Result<std::string> ProbeHealth() = 0;

  // A GET (empty body) or POST of `body` to base_url + path with the control timeouts, through
  // the breaker; the body of a 2xx answer, else the error Status (HttpErrorStatus for >= 400).
  Result<std::string> ControlRequest(std::string_view path, std::string_view body = {},
                                     bool post = false);
  const HttpClient& health_http() const { return health_http_; }
  // "<provider> at <base_url>" for messages.
  std::string Where() const;

 private:
  struct CallState;
  Status Attempt(const std::string& body, const std::string& model, const TokenCallback& on_token,
                 const std::atomic<bool>* cancel, int64_t total_deadline_ns, CallState* state,
                 ChatResult* result);
  // Sleeps `ms`; false if `cancel` became true meanwhile.
  static bool SleepUnlessCancelled(int ms, const std::atomic<bool>* cancel);

  const std::string provider_;
  const RemoteLlmOptions options_;
  CircuitBreaker breaker_;
  LlmMetrics metrics_;
  HttpClient chat_http_;
  HttpClient control_http_;
  HttpClient health_http_;
  CallWatchdog watchdog_;
};

}  // namespace jrvs::llm
