// CircuitBreaker: stops calling a backend that keeps failing, and answers at once instead.
//
//   closed    -- calls go through; `failure_threshold` consecutive failures open the circuit.
//   open      -- for `open_ms`, Acquire() fails at once with kUnavailable "circuit open ...".
//   half_open -- after the cool-down, one call (the probe) is let through, others are still
//                refused; the probe's success closes the circuit, its failure opens it again
//                for another `open_ms`, and a probe that ends neither way (cancelled) lets the
//                next caller probe.
//
// A caller takes a Permit before each call and reports the outcome on it; a Permit dropped
// without a report counts as neither (kIgnored). Reports from calls that started before the
// circuit last opened are ignored, so a slow old call cannot close or re-open it.
//
// Time comes from the Clock seam (monotonic), so tests drive it with a FakeClock. With a
// MetricsRegistry the breaker keeps the gauge llm_circuit_state{provider} (0 closed, 1 open,
// 2 half_open) up to date on every transition.
//
// Thread safety: every method may be called concurrently; one mutex, held briefly, never
// across the call being protected.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/metrics.h"
#include "core/status.h"

namespace jrvs::llm {

struct CircuitBreakerOptions {
  int failure_threshold = 5;  // consecutive failures that open the circuit, 1..1000
  int open_ms = 30000;        // cool-down before a probe is let through, ms, 1..86'400'000

  // kInvalidArgument naming the field when a value is out of range.
  Status Validate() const;
};

enum class CircuitState { kClosed, kOpen, kHalfOpen };

// "closed", "open", "half_open".
std::string_view CircuitStateName(CircuitState state);

struct CircuitStats {
  CircuitState state = CircuitState::kClosed;
  int consecutive_failures = 0;
  int64_t retry_after_ms = 0;  // open: ms until the next probe may go; otherwise 0
  uint64_t successes = 0;      // reported successes (all states)
  uint64_t failures = 0;       // reported failures (all states)
  uint64_t rejected = 0;       // calls refused because the circuit was open
  uint64_t times_opened = 0;   // transitions to open (from closed or from a failed probe)
  std::string last_failure;    // the reason given with the latest counted failure
};

class CircuitBreaker {
 public:
  enum class Outcome { kSuccess, kFailure, kIgnored };

  // Leave to make one call; report how it went with Success(), Failure() or Ignore() (once;
  // later reports are no-ops). Move-only; destroying an unreported permit is Ignore().
  class Permit {
   public:
    Permit(Permit&& other) noexcept;
    Permit& operator=(Permit&& other) noexcept;
    Permit(const Permit&) = delete;
    Permit& operator=(const Permit&) = delete;
    ~Permit();

    void Success() { Report(Outcome::kSuccess, {}); }
    void Failure(std::string_view reason) { Report(Outcome::kFailure, reason); }
    void Ignore() { Report(Outcome::kIgnored, {}); }
    // True for the one call let through while half-open.
    bool probe() const { return probe_; }

   private:
    friend class CircuitBreaker;
    Permit(CircuitBreaker* breaker, bool probe, uint64_t generation)
        : breaker_(breaker), probe_(probe), generation_(generation) {}
    void Report(Outcome outcome, std::string_view reason);

    CircuitBreaker* breaker_;  // null once reported or moved from
    bool probe_;
    uint64_t generation_;
  };

  // `name` labels the metrics and messages (the provider, e.g. "ollama"). `clock` defaults to
  // SystemClock::Instance(); `clock` and `metrics` must outlive the breaker. Options must be
  // valid (Validate()).
  explicit CircuitBreaker(std::string name, CircuitBreakerOptions options = {},
                          const Clock* clock = nullptr, MetricsRegistry* metrics = nullptr);
  CircuitBreaker(const CircuitBreaker&) = delete;
  CircuitBreaker& operator=(const CircuitBreaker&) = delete;

  // A permit, or kUnavailable "circuit open ..." at once (open, or half-open with the probe
  // already taken).
  Result<Permit> Acquire();

  // The state as a caller would meet it now: an open circuit whose cool-down has passed reads
  // half_open (its next Acquire() is the probe).
  CircuitState state() const;
  CircuitStats stats() const;
  const std::string& name() const { return name_; }
  const CircuitBreakerOptions& options() const { return options_; }

 private:
  void Report(const Permit& permit, Outcome outcome, std::string_view reason);
  // Requires mu_. Changes state_ and the gauge.
  void SetStateLocked(CircuitState state);
  int64_t NowMs() const;
  CircuitState EffectiveStateLocked(int64_t now_ms) const;

  const std::string name_;
  const CircuitBreakerOptions options_;
  const Clock* const clock_;
  Gauge* state_gauge_ = nullptr;  // llm_circuit_state{provider}; null without a registry

  mutable std::mutex mu_;  // guards everything below
  CircuitState state_ = CircuitState::kClosed;
  int consecutive_failures_ = 0;
  int64_t opened_at_ms_ = 0;  // when the circuit last opened (monotonic ms)
  bool probe_in_flight_ = false;
  uint64_t generation_ = 0;  // bumped on every transition to open
  uint64_t successes_ = 0;
  uint64_t failures_ = 0;
  uint64_t rejected_ = 0;
  std::string last_failure_;
};

}  // namespace jrvs::llm
