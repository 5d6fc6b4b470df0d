#include "core/metrics.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace jrvs {
namespace {

TEST(MetricsTest, CounterWithLabelsRendersPrometheusText) {
  MetricsRegistry reg;
  auto& requests = reg.AddCounter("http_requests_total", "Requests.", {"route", "status"});
  requests.WithLabels({"/health", "200"}).Inc();
  requests.WithLabels({"/health", "200"}).Inc(2);
  requests.WithLabels({"/x\"y", "404"}).Inc();
  std::string text = reg.Render();
  EXPECT_NE(text.find("# TYPE http_requests_total counter"), std::string::npos);
  EXPECT_NE(text.find("http_requests_total{route=\"/health\",status=\"200\"} 3\n"),
            std::string::npos);
  EXPECT_NE(text.find("http_requests_total{route=\"/x\\\"y\",status=\"404\"} 1\n"),
            std::string::npos);
}

TEST(MetricsTest, SameNameReturnsSameFamily) {
  MetricsRegistry reg;
  auto& a = reg.AddCounter("c", "h");
  auto& b = reg.AddCounter("c", "h");
  EXPECT_EQ(&a, &b);
}

TEST(MetricsTest, HistogramBucketsAreCumulative) {
  MetricsRegistry reg;
  auto& h = reg.AddHistogram("lat_seconds", "Latency.", {}, {0.1, 1.0}).Get();
  h.Observe(0.05);
  h.Observe(0.5);
  h.Observe(0.5);
  h.Observe(5);
  std::string text = reg.Render();
  EXPECT_NE(text.find("lat_seconds_bucket{le=\"0.1\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("lat_seconds_bucket{le=\"1\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("lat_seconds_bucket{le=\"+Inf\"} 4\n"), std::string::npos) << text;
  EXPECT_NE(text.find("lat_seconds_count 4\n"), std::string::npos) << text;
  EXPECT_NE(text.find("lat_seconds_sum 6.05\n"), std::string::npos) << text;
}

TEST(MetricsTest, CollectorRunsBeforeRender) {
  MetricsRegistry reg;
  auto& g = reg.AddGauge("answer", "h").Get();
  reg.AddCollector([&] { g.Set(42); });
  EXPECT_NE(reg.Render().find("answer 42\n"), std::string::npos);
}

TEST(MetricsTest, ConcurrentIncrementsAreNotLost) {
  MetricsRegistry reg;
  auto& family = reg.AddCounter("n", "h", {"k"});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10000; ++i) family.WithLabels({t % 2 == 0 ? "a" : "b"}).Inc();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(family.WithLabels({"a"}).Value() + family.WithLabels({"b"}).Value(), 40000);
}

}  // namespace
}  // namespace jrvs
