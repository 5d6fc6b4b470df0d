#include "scrape/host_limiter.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace jrvs::scrape {
namespace {

TEST(HostLimiterTest, NeverMoreThanTheLimitPerHost) {
  HostLimiter limiter(2, std::chrono::milliseconds(0));
  std::atomic<int> active{0};
  std::atomic<int> peak{0};
  std::atomic<int> other_host_seen{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      for (int j = 0; j < 20; ++j) {
        auto permit = limiter.Acquire("a.example", true);
        int now = ++active;
        int seen = peak.load();
        while (now > seen && !peak.compare_exchange_weak(seen, now)) {
        }
        // Another host is not held up by a.example's full slots.
        {
          auto other = limiter.Acquire("b.example", true);
          ++other_host_seen;
        }
        std::this_thread::yield();
        --active;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_LE(peak.load(), 2);
  EXPECT_GE(peak.load(), 1);
  EXPECT_EQ(other_host_seen.load(), 160);
  EXPECT_EQ(limiter.InFlight("a.example"), 0);
}

TEST(HostLimiterTest, PoliteStartsAreSpacedImpoliteOnesAreNot) {
  using Clock = HostLimiter::Clock;
  const auto gap = std::chrono::milliseconds(30);
  HostLimiter limiter(4, gap);
  std::vector<Clock::time_point> starts;
  for (int i = 0; i < 3; ++i) {
    auto permit = limiter.Acquire("h", true);
    starts.push_back(Clock::now());
  }
  for (size_t i = 1; i < starts.size(); ++i) {
    EXPECT_GE(starts[i] - starts[i - 1], gap);  // a lower bound: never flaky on a slow machine
  }
  // robots.txt-style acquires ignore the delay (and do not push it back).
  auto before = Clock::now();
  { auto permit = limiter.Acquire("h", false); }
  EXPECT_LT(Clock::now() - before, std::chrono::seconds(30));  // returns; no politeness wait
  EXPECT_EQ(limiter.InFlight("h"), 0);
}

}  // namespace
}  // namespace jrvs::scrape
