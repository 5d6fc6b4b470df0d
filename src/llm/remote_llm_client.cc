#include "llm/remote_llm_client.h"

#include <algorithm>
#include <chrono>
#include <thread>
#include <utility>

namespace jrvs::llm {
namespace {

constexpr int kMaxTimeoutMs = 86'400'000;
// HttpClient's own timeouts are backstops, this much later than the watchdog's, so that the
// watchdog (which knows tokens from bytes) is the one that names a timeout.
constexpr int kBackstopSlackMs = 1000;

Status OutOfRange(const std::string& field, int64_t value, std::string_view range) {
  return Status(StatusCode::kInvalidArgument, field + " must be in " + std::string(range) +
                                                  " (got " + std::to_string(value) + ")");
}

HttpClientOptions HttpOptions(int connect_ms, int first_byte_ms, int idle_gap_ms, int total_ms,
                              size_t max_response_bytes) {
  HttpClientOptions o;
  o.connect_timeout_ms = connect_ms;
  o.first_byte_timeout_ms = first_byte_ms;
  o.idle_gap_timeout_ms = idle_gap_ms;
  o.total_timeout_ms = total_ms;
  o.max_response_bytes = max_response_bytes;
  return o;
}

int64_t MsToNs(int64_t ms) { return ms * 1'000'000; }
double NsToMs(int64_t ns) { return static_cast<double>(ns) / 1e6; }

// Whether a failed attempt that delivered nothing may be tried again.
bool Retryable(const Status& s) { return s.code() == StatusCode::kUnavailable; }

// How a failed attempt counts for the circuit breaker.
CircuitBreaker::Outcome BreakerOutcome(const Status& s) {
  switch (s.code()) {
    case StatusCode::kOk:
      return CircuitBreaker::Outcome::kSuccess;
    case StatusCode::kCancelled:
      return CircuitBreaker::Outcome::kIgnored;
    case StatusCode::kUnavailable:
    case StatusCode::kDeadlineExceeded:
    case StatusCode::kInternal:
    case StatusCode::kResourceExhausted:
      return CircuitBreaker::Outcome::kFailure;
    default:  // the server answered; the request was at fault
      return CircuitBreaker::Outcome::kSuccess;
  }
}

void ReportToBreaker(CircuitBreaker::Permit* permit, const Status& s) {
  switch (BreakerOutcome(s)) {
    case CircuitBreaker::Outcome::kSuccess:
      permit->Success();
      break;
    case CircuitBreaker::Outcome::kFailure:
      permit->Failure(s.message());
      break;
    case CircuitBreaker::Outcome::kIgnored:
      permit->Ignore();
      break;
  }
}

}  // namespace

Status RemoteLlmOptions::Validate() const {
  if (!base_url.starts_with("http://") && !base_url.starts_with("https://")) {
    return Status(StatusCode::kInvalidArgument,
                  "base_url must start with http:// or https:// (got '" + base_url + "')");
  }
  if (default_model.empty()) {
    return Status(StatusCode::kInvalidArgument, "default_model must not be empty");
  }
  const LlmTimeouts& t = timeouts;
  for (auto [v, name] :
       {std::pair{t.connect_ms, "connect_ms"}, std::pair{t.first_token_ms, "first_token_ms"},
        std::pair{t.token_gap_ms, "token_gap_ms"}, std::pair{t.total_ms, "total_ms"},
        std::pair{t.control_ms, "control_ms"}, std::pair{t.health_ms, "health_ms"}}) {
    if (v < 1 || v > kMaxTimeoutMs)
      return OutOfRange(std::string("timeouts.") + name, v, "1..86400000");
  }
  if (retry.max_retries < 0 || retry.max_retries > 10) {
    return OutOfRange("retry.max_retries", retry.max_retries, "0..10");
  }
  if (retry.initial_backoff_ms < 0 || retry.initial_backoff_ms > 60000) {
    return OutOfRange("retry.initial_backoff_ms", retry.initial_backoff_ms, "0..60000");
  }
  if (retry.max_backoff_ms < retry.initial_backoff_ms || retry.max_backoff_ms > 60000) {
    return OutOfRange("retry.max_backoff_ms", retry.max_backoff_ms,
                      "retry.initial_backoff_ms..60000");
  }
  if (Status s = breaker.Validate(); !s.ok()) {
    return Status(StatusCode::kInvalidArgument, "breaker." + s.message());
  }
  if (max_response_bytes < 1024) {
    return OutOfRange("max_response_bytes", static_cast<int64_t>(max_response_bytes), ">= 1024");
  }
  return Status::Ok();
}

// Progress of one Chat call across its attempts.
struct RemoteLlmClient::CallState {
  int64_t delivered = 0;       // content tokens handed to on_token
  int64_t first_token_ns = 0;  // when the first one was (0: none yet)
  std::string text;            // everything delivered
};

RemoteLlmClient::RemoteLlmClient(std::string provider, RemoteLlmOptions options)
    : provider_(std::move(provider)),
      options_(std::move(options)),
      breaker_(provider_, options_.breaker, options_.clock, options_.metrics),
      metrics_(options_.metrics, provider_),
      chat_http_(HttpOptions(
          options_.timeouts.connect_ms, options_.timeouts.first_token_ms + kBackstopSlackMs,
          std::max(options_.timeouts.first_token_ms, options_.timeouts.token_gap_ms) +
              kBackstopSlackMs,
          options_.timeouts.total_ms + kBackstopSlackMs, options_.max_response_bytes)),
      control_http_(HttpOptions(options_.timeouts.connect_ms, options_.timeouts.control_ms,
                                options_.timeouts.control_ms, options_.timeouts.control_ms,
                                options_.max_response_bytes)),
      health_http_(HttpOptions(std::min(options_.timeouts.connect_ms, options_.timeouts.health_ms),
                               options_.timeouts.health_ms, options_.timeouts.health_ms,
                               options_.timeouts.health_ms, options_.max_response_bytes)) {}

RemoteLlmClient::~RemoteLlmClient() = default;

std::string RemoteLlmClient::Where() const { return provider_ + " at " + options_.base_url; }

bool RemoteLlmClient::SleepUnlessCancelled(int ms, const std::atomic<bool>* cancel) {
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < until) {
    if (cancel != nullptr && cancel->load()) return false;
    auto left = until - std::chrono::steady_clock::now();
    std::this_thread::sleep_for(
        std::min<std::chrono::steady_clock::duration>(left, std::chrono::milliseconds(10)));
  }
  return cancel == nullptr || !cancel->load();
}

Result<ChatResult> RemoteLlmClient::Chat(const ChatRequest& request, const TokenCallback& on_token,
                                         const std::atomic<bool>* cancel) {
  const int64_t start_ns = CallWatchdog::NowNs();
  const int64_t total_deadline_ns = start_ns + MsToNs(options_.timeouts.total_ms);
  const std::string model =
      request.options.model.empty() ? options_.default_model : request.options.model;
  const std::string body = ChatBody(request, model);

  CallState state;
  ChatResult result;
  Status last;
  std::string_view outcome;
  for (int attempt = 0;; ++attempt) {
    if (cancel != nullptr && cancel->load()) {
      last = Status(StatusCode::kCancelled, provider_ + " chat cancelled");
      break;
    }
    auto permit = breaker_.Acquire();
    if (!permit) {
      last = permit.error();
      outcome = "circuit_open";
      break;
    }
    ++result.attempts;
    last = Attempt(body, model, on_token, cancel, total_deadline_ns, &state, &result);
    ReportToBreaker(&*permit, last);
    if (last.ok()) break;
    if (state.delivered > 0 || !Retryable(last) || attempt >= options_.retry.max_retries) break;
    int backoff = options_.retry.initial_backoff_ms;
    for (int i = 0; i < attempt && backoff < options_.retry.max_backoff_ms; ++i) backoff *= 2;
    backoff = std::min(backoff, options_.retry.max_backoff_ms);
    if (CallWatchdog::NowNs() + MsToNs(backoff) >= total_deadline_ns) break;
    if (!SleepUnlessCancelled(backoff, cancel)) {
      last = Status(StatusCode::kCancelled, provider_ + " chat cancelled");
      break;
    }
  }
  if (outcome.empty()) outcome = LlmMetrics::OutcomeFor(last);
  metrics_.RecordOutcome(outcome);
  if (!last.ok()) return Error(std::move(last));

  const int64_t end_ns = CallWatchdog::NowNs();
  result.text = std::move(state.text);
  if (result.model.empty()) result.model = model;
  if (result.completion_tokens == 0) result.completion_tokens = state.delivered;
  result.total_ms = NsToMs(end_ns - start_ns);
  result.time_to_first_token_ms =
      state.first_token_ns != 0 ? NsToMs(state.first_token_ns - start_ns) : result.total_ms;
  metrics_.RecordAnswer(result.time_to_first_token_ms, result.total_ms, state.delivered);
  return result;
}

Status RemoteLlmClient::Attempt(const std::string& body, const std::string& model,
                                const TokenCallback& on_token, const std::atomic<bool>* cancel,
                                int64_t total_deadline_ns, CallState* state, ChatResult* result) {
  const LlmTimeouts& t = options_.timeouts;
  const std::string who = provider_ + " " + model;
  auto watch = watchdog_.Start(
      cancel, std::min(CallWatchdog::NowNs() + MsToNs(t.first_token_ms), total_deadline_ns),
      MsToNs(t.token_gap_ms), total_deadline_ns);
  std::unique_ptr<StreamParser> parser = NewStreamParser();
  std::vector<StreamDelta> deltas;
  Status stop;  // why the line handler ended the transfer itself

  // Delivers parsed deltas; false (with `stop` set) when the caller wants no more.
  auto deliver = [&]() -> bool {
    for (StreamDelta& d : deltas) {
      if (d.output || !d.content.empty()) watch->OnToken();
      if (d.content.empty()) continue;
      if (state->delivered == 0) state->first_token_ns = CallWatchdog::NowNs();
      ++state->delivered;
      state->text += d.content;
      if (on_token && !on_token(d.content)) {
        stop = Status(StatusCode::kCancelled, who + ": cancelled by the token callback");
        return false;
      }
    }
    return true;
  };
  auto on_line = [&](std::string_view line) -> bool {
    deltas.clear();
    Status s = parser->Feed(line, &deltas);
    if (!s.ok()) {
      stop = Status(s.code(), who + ": " + s.message());
      return false;
    }
    return deliver();
  };

  auto streamed =
      chat_http_.PostStream(ChatUrl(), body, RequestHeaders(), on_line, watch->stop_flag());
  if (!streamed) {
    if (!stop.ok()) return stop;
    const std::string after = " after " + std::to_string(state->delivered) + " tokens";
    switch (watch->reason()) {
      case CallWatchdog::Reason::kCancelled:
        return Status(StatusCode::kCancelled, who + ": cancelled");
      case CallWatchdog::Reason::kFirstToken:
        return Status(StatusCode::kDeadlineExceeded,
                      who + ": first-token timeout (" + std::to_string(t.first_token_ms) + " ms)");
      case CallWatchdog::Reason::kTokenGap:
        return Status(
            StatusCode::kDeadlineExceeded,
            who + ": token-gap timeout (" + std::to_string(t.token_gap_ms) + " ms)" + after);
      case CallWatchdog::Reason::kTotal:
        return Status(StatusCode::kDeadlineExceeded,
                      who + ": total timeout (" + std::to_string(t.total_ms) + " ms)" + after);
      case CallWatchdog::Reason::kNone:
        break;
    }
    return Status(streamed.error().code(), who + ": " + streamed.error().message());
  }
  deltas.clear();
  if (Status s = parser->End(&deltas); !s.ok()) return Status(s.code(), who + ": " + s.message());
  if (!deliver()) return stop;
  if (!parser->finished()) {
    return Status(StatusCode::kUnavailable,
                  who + ": truncated stream: it ended without the final message after " +
                      std::to_string(state->delivered) + " tokens");
  }
  parser->FillResult(result);
  return Status::Ok();
}

HealthReport RemoteLlmClient::Health() {
  CircuitStats stats = breaker_.stats();
  if (stats.state == CircuitState::kOpen) {
    return {false, Where() + ": circuit open after " + std::to_string(stats.consecutive_failures) +
                       " consecutive failures (" + stats.last_failure + "); next try in " +
                       std::to_string((stats.retry_after_ms + 999) / 1000) + " s"};
  }
  auto probe = ProbeHealth();
  if (!probe) return {false, Where() + ": " + probe.error().message()};
  return {true, *probe + "; circuit " + std::string(CircuitStateName(stats.state))};
}

Result<std::string> RemoteLlmClient::ControlRequest(std::string_view path, std::string_view body,
                                                    bool post) {
  auto permit = breaker_.Acquire();
  if (!permit) return Error(permit.error());
  std::string url = options_.base_url + std::string(path);
  auto response = post ? control_http_.PostJson(url, body, RequestHeaders())
                       : control_http_.Get(url, RequestHeaders());
  if (!response) {
    Status s(response.error().code(), provider_ + ": " + response.error().message());
    ReportToBreaker(&*permit, s);
    return Error(std::move(s));
  }
  if (response->status >= 300) {
    Status s = HttpErrorStatus(response->status, response->body, Where() + std::string(path));
    ReportToBreaker(&*permit, s);
    return Error(std::move(s));
  }
  permit->Success();
  return std::move(response->body);
}

}  // namespace jrvs::llm
