#include "llm/circuit_breaker.h"

#include <utility>

namespace jrvs::llm {

Status CircuitBreakerOptions::Validate() const {
  if (failure_threshold < 1 || failure_threshold > 1000) {
    return Status(StatusCode::kInvalidArgument, "failure_threshold must be in 1..1000 (got " +
                                                    std::to_string(failure_threshold) + ")");
  }
  if (open_ms < 1 || open_ms > 86'400'000) {
    return Status(StatusCode::kInvalidArgument,
                  "open_ms must be in 1..86400000 (got " + std::to_string(open_ms) + ")");
  }
  return Status::Ok();
}

std::string_view CircuitStateName(CircuitState state) {
  switch (state) {
    case CircuitState::kClosed:
      return "closed";
    case CircuitState::kOpen:
      return "open";
    case CircuitState::kHalfOpen:
      return "half_open";
  }
  return "closed";
}

// ---- Permit ----

CircuitBreaker::Permit::Permit(Permit&& other) noexcept
    : breaker_(std::exchange(other.breaker_, nullptr)),
      probe_(other.probe_),
      generation_(other.generation_) {}

CircuitBreaker::Permit& CircuitBreaker::Permit::operator=(Permit&& other) noexcept {
  if (this != &other) {
    Ignore();
    breaker_ = std::exchange(other.breaker_, nullptr);
    probe_ = other.probe_;
    generation_ = other.generation_;
  }
  return *this;
}

CircuitBreaker::Permit::~Permit() { Ignore(); }

void CircuitBreaker::Permit::Report(Outcome outcome, std::string_view reason) {
  if (breaker_ == nullptr) return;
  CircuitBreaker* breaker = std::exchange(breaker_, nullptr);
  breaker->Report(*this, outcome, reason);
}

// ---- CircuitBreaker ----

CircuitBreaker::CircuitBreaker(std::string name, CircuitBreakerOptions options, const Clock* clock,
                               MetricsRegistry* metrics)
    : name_(std::move(name)),
      options_(options),
      clock_(clock != nullptr ? clock : &SystemClock::Instance()) {
  if (metrics != nullptr) {
    state_gauge_ =
        &metrics
             ->AddGauge("llm_circuit_state",
                        "LLM circuit breaker state: 0 closed, 1 open, 2 half-open", {"provider"})
             .WithLabels({name_});
    state_gauge_->Set(0);
  }
}

int64_t CircuitBreaker::NowMs() const { return clock_->MonotonicNs() / 1'000'000; }

void CircuitBreaker::SetStateLocked(CircuitState state) {
  state_ = state;
  if (state_gauge_ != nullptr) state_gauge_->Set(static_cast<double>(static_cast<int>(state)));
}

CircuitState CircuitBreaker::EffectiveStateLocked(int64_t now_ms) const {
  if (state_ == CircuitState::kOpen && now_ms - opened_at_ms_ >= options_.open_ms) {
    return CircuitState::kHalfOpen;
  }
  return state_;
}

Result<CircuitBreaker::Permit> CircuitBreaker::Acquire() {
  std::lock_guard lock(mu_);
  int64_t now = NowMs();
  if (state_ == CircuitState::kClosed) return Permit(this, false, generation_);
  if (EffectiveStateLocked(now) == CircuitState::kHalfOpen && !probe_in_flight_) {
    SetStateLocked(CircuitState::kHalfOpen);
    probe_in_flight_ = true;
    return Permit(this, true, generation_);
  }
  ++rejected_;
  std::string message = "circuit open for " + name_ + " after " +
                        std::to_string(consecutive_failures_) + " consecutive failures";
  if (!last_failure_.empty()) message += " (last: " + last_failure_ + ")";
  if (state_ == CircuitState::kOpen) {
    int64_t wait_ms = options_.open_ms - (now - opened_at_ms_);
    message += "; next try in " + std::to_string((wait_ms + 999) / 1000) + " s";
  } else {
    message += "; a probe request is in flight";
  }
  return Error(StatusCode::kUnavailable, std::move(message));
}

void CircuitBreaker::Report(const Permit& permit, Outcome outcome, std::string_view reason) {
  std::lock_guard lock(mu_);
  if (outcome == Outcome::kSuccess) ++successes_;
  if (outcome == Outcome::kFailure) ++failures_;
  if (permit.generation_ != generation_) return;  // started before the circuit last opened
  if (permit.probe_) {
    probe_in_flight_ = false;
    if (state_ != CircuitState::kHalfOpen) return;
    if (outcome == Outcome::kSuccess) {
      consecutive_failures_ = 0;
      SetStateLocked(CircuitState::kClosed);
    } else if (outcome == Outcome::kFailure) {
      ++consecutive_failures_;
      last_failure_ = std::string(reason);
      opened_at_ms_ = NowMs();
      ++generation_;
      SetStateLocked(CircuitState::kOpen);
    }
    return;
  }
  if (state_ != CircuitState::kClosed) return;
  if (outcome == Outcome::kSuccess) {
    consecutive_failures_ = 0;
  } else if (outcome == Outcome::kFailure) {
    ++consecutive_failures_;
    last_failure_ = std::string(reason);
    if (consecutive_failures_ >= options_.failure_threshold) {
      opened_at_ms_ = NowMs();
      ++generation_;
      SetStateLocked(CircuitState::kOpen);
    }
  }
}

CircuitState CircuitBreaker::state() const {
  std::lock_guard lock(mu_);
  return EffectiveStateLocked(NowMs());
}

CircuitStats CircuitBreaker::stats() const {
  std::lock_guard lock(mu_);
  int64_t now = NowMs();
  CircuitStats s;
  s.state = EffectiveStateLocked(now);
  s.consecutive_failures = consecutive_failures_;
  if (s.state == CircuitState::kOpen) s.retry_after_ms = options_.open_ms - (now - opened_at_ms_);
  s.successes = successes_;
  s.failures = failures_;
  s.rejected = rejected_;
  s.times_opened = generation_;
  s.last_failure = last_failure_;
  return s;
}

}  // namespace jrvs::llm
