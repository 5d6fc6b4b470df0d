// CircuitBreaker driven by a FakeClock: closed -> open -> half-open -> closed / open again.
#include "llm/circuit_breaker.h"

#include <utility>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/clock.h"
#include "core/metrics.h"

namespace jrvs::llm {
namespace {

using ::testing::HasSubstr;

CircuitBreakerOptions Options(int threshold, int open_ms) {
  CircuitBreakerOptions o;
  o.failure_threshold = threshold;
  o.open_ms = open_ms;
  return o;
}

// Takes a permit (which must be granted) and reports a failure on it.
void Fail(CircuitBreaker& b, std::string_view reason = "boom") {
  auto p = b.Acquire();
  ASSERT_TRUE(p) << p.error().ToString();
  p->Failure(reason);
}

void Succeed(CircuitBreaker& b) {
  auto p = b.Acquire();
  ASSERT_TRUE(p) << p.error().ToString();
  p->Success();
}

TEST(CircuitBreakerTest, OpensAfterConsecutiveFailuresOnly) {
  FakeClock clock;
  CircuitBreaker b("ollama", Options(3, 1000), &clock);
  Fail(b);
  Fail(b);
  Succeed(b);  // resets the run
  Fail(b);
  Fail(b);
  EXPECT_EQ(b.state(), CircuitState::kClosed);
  EXPECT_EQ(b.stats().consecutive_failures, 2);
  Fail(b, "HTTP 500 from x");
  EXPECT_EQ(b.state(), CircuitState::kOpen);
  CircuitStats s = b.stats();
  EXPECT_EQ(s.times_opened, 1u);
  EXPECT_EQ(s.failures, 5u);
  EXPECT_EQ(s.successes, 1u);
  EXPECT_EQ(s.retry_after_ms, 1000);
  EXPECT_EQ(s.last_failure, "HTTP 500 from x");
}

TEST(CircuitBreakerTest, OpenCircuitRefusesAtOnceUntilTheCoolDownEnds) {
  FakeClock clock;
  CircuitBreaker b("ollama", Options(1, 30000), &clock);
  Fail(b, "connection refused");
  auto refused = b.Acquire();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), StatusCode::kUnavailable);
  EXPECT_THAT(refused.error().message(), HasSubstr("circuit open for ollama"));
  EXPECT_THAT(refused.error().message(), HasSubstr("connection refused"));
  EXPECT_THAT(refused.error().message(), HasSubstr("next try in 30 s"));
  clock.AdvanceMs(29999);
  EXPECT_FALSE(b.Acquire());
  EXPECT_EQ(b.stats().rejected, 2u);
  EXPECT_EQ(b.stats().retry_after_ms, 1);
  clock.AdvanceMs(1);
  EXPECT_EQ(b.state(), CircuitState::kHalfOpen);
  EXPECT_EQ(b.stats().retry_after_ms, 0);
}

TEST(CircuitBreakerTest, HalfOpenLetsOneProbeThroughAndItsSuccessCloses) {
  FakeClock clock;
  CircuitBreaker b("openai", Options(2, 500), &clock);
  Fail(b);
  Fail(b);
  clock.AdvanceMs(500);
  auto probe = b.Acquire();
  ASSERT_TRUE(probe);
  EXPECT_TRUE(probe->probe());
  auto second = b.Acquire();  // the probe is still out
  ASSERT_FALSE(second);
  EXPECT_THAT(second.error().message(), HasSubstr("probe"));
  probe->Success();
  EXPECT_EQ(b.state(), CircuitState::kClosed);
  EXPECT_EQ(b.stats().consecutive_failures, 0);
  auto after = b.Acquire();
  ASSERT_TRUE(after);
  EXPECT_FALSE(after->probe());
}

TEST(CircuitBreakerTest, FailedProbeReopensForAnotherCoolDown) {
  FakeClock clock;
  CircuitBreaker b("ollama", Options(1, 1000), &clock);
  Fail(b);
  clock.AdvanceMs(1000);
  Fail(b, "still down");  // the probe
  EXPECT_EQ(b.state(), CircuitState::kOpen);
  EXPECT_EQ(b.stats().times_opened, 2u);
  EXPECT_EQ(b.stats().last_failure, "still down");
  clock.AdvanceMs(999);
  EXPECT_FALSE(b.Acquire());
  clock.AdvanceMs(1);
  EXPECT_TRUE(b.Acquire());
}

TEST(CircuitBreakerTest, DroppedProbeLetsTheNextCallerProbe) {
  FakeClock clock;
  CircuitBreaker b("ollama", Options(1, 100), &clock);
  Fail(b);
  clock.AdvanceMs(100);
  {
    auto probe = b.Acquire();
    ASSERT_TRUE(probe);
    EXPECT_FALSE(b.Acquire());
  }  // dropped unreported: neither success nor failure
  EXPECT_EQ(b.state(), CircuitState::kHalfOpen);
  auto next = b.Acquire();
  ASSERT_TRUE(next);
  EXPECT_TRUE(next->probe());
}

TEST(CircuitBreakerTest, ReportsFromCallsStartedBeforeOpeningAreIgnored) {
  FakeClock clock;
  CircuitBreaker b("ollama", Options(2, 100), &clock);
  auto slow_success = b.Acquire();
  auto slow_failure = b.Acquire();
  ASSERT_TRUE(slow_success && slow_failure);
  Fail(b);
  Fail(b);
  ASSERT_EQ(b.state(), CircuitState::kOpen);
  slow_success->Success();  // must not close the open circuit
  EXPECT_EQ(b.state(), CircuitState::kOpen);
  clock.AdvanceMs(100);
  auto probe = b.Acquire();
  ASSERT_TRUE(probe);
  probe->Success();
  slow_failure->Failure("late");  // must not count against the closed circuit
  EXPECT_EQ(b.stats().consecutive_failures, 0);
  EXPECT_EQ(b.state(), CircuitState::kClosed);
}

TEST(CircuitBreakerTest, PermitReportsOnceAndMovesCleanly) {
  FakeClock clock;
  CircuitBreaker b("ollama", Options(2, 100), &clock);
  auto p = b.Acquire();
  ASSERT_TRUE(p);
  CircuitBreaker::Permit moved = std::move(*p);
  moved.Failure("one");
  moved.Failure("two");      // no-op
  p->Failure("moved-from");  // no-op
  EXPECT_EQ(b.stats().failures, 1u);
  EXPECT_EQ(b.state(), CircuitState::kClosed);
}

TEST(CircuitBreakerTest, GaugeFollowsTheState) {
  FakeClock clock;
  MetricsRegistry registry;
  CircuitBreaker b("ollama", Options(1, 100), &clock, &registry);
  Gauge& gauge = registry.AddGauge("llm_circuit_state", "", {"provider"}).WithLabels({"ollama"});
  EXPECT_EQ(gauge.Value(), 0);
  Fail(b);
  EXPECT_EQ(gauge.Value(), 1);
  clock.AdvanceMs(100);
  auto probe = b.Acquire();
  ASSERT_TRUE(probe);
  EXPECT_EQ(gauge.Value(), 2);
  probe->Success();
  EXPECT_EQ(gauge.Value(), 0);
  EXPECT_THAT(registry.Render(), HasSubstr("llm_circuit_state{provider=\"ollama\"} 0"));
}

TEST(CircuitBreakerTest, StateNames) {
  EXPECT_EQ(CircuitStateName(CircuitState::kClosed), "closed");
  EXPECT_EQ(CircuitStateName(CircuitState::kOpen), "open");
  EXPECT_EQ(CircuitStateName(CircuitState::kHalfOpen), "half_open");
}

TEST(CircuitBreakerTest, OptionsValidationNamesTheField) {
  EXPECT_TRUE(CircuitBreakerOptions{}.Validate().ok());
  EXPECT_THAT(Options(0, 100).Validate().message(), HasSubstr("failure_threshold"));
  EXPECT_THAT(Options(5, 0).Validate().message(), HasSubstr("open_ms"));
  EXPECT_EQ(Options(5, 0).Validate().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace jrvs::llm
