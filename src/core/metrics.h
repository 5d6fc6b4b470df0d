// Metrics registry rendered in the Prometheus text exposition format (version 0.0.4).
//
// A registry owns metric families (counter, gauge, histogram); a family owns one series per set
// of label values. Series references stay valid for the registry's lifetime, so hot paths can
// look a series up once and keep the reference. All methods are thread-safe: updates are lock-free
// atomics; looking up a series takes a shared lock (an exclusive one only on first creation).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

namespace jrvs {

class Counter {
 public:
  void Inc(double v = 1.0) { value_.fetch_add(v, std::memory_order_relaxed); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double v) { value_.fetch_add(v, std::memory_order_relaxed); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Histogram {
 public:
  // `bounds` are the upper bounds of the buckets, strictly increasing; +Inf is implied.
  explicit Histogram(std::vector<double> bounds);
  void Observe(double v);
  uint64_t Count() const { return count_.load(std::memory_order_relaxed); }
  double Sum() const { return sum_.load(std::memory_order_relaxed); }
  const std::vector<double>& bounds() const { return bounds_; }
  // Non-cumulative count of bucket i (i == bounds().size() is the +Inf bucket).
  uint64_t BucketCount(size_t i) const { return buckets_[i].load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
  std::atomic<uint64_t> count_{0};
  std::atomic<double> sum_{0.0};
};

// Latency buckets in seconds, 100 µs to 10 s.
std::vector<double> DefaultLatencyBuckets();

template <typename M>
class MetricFamily {
 public:
  MetricFamily(std::string name, std::string help, std::vector<std::string> label_names,
               std::function<std::unique_ptr<M>()> make)
      : name_(std::move(name)),
        help_(std::move(help)),
        label_names_(std::move(label_names)),
        make_(std::move(make)) {}

  // The series for these label values (one per label name, in order), created on first use.
  M& WithLabels(std::initializer_list<std::string_view> values);
  M& WithLabels(const std::vector<std::string>& values);
  // The series without labels.
  M& Get() { return WithLabels(std::vector<std::string>{}); }

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& label_names() const { return label_names_; }

  // Calls fn(label_values, series) for each series, in label order.
  void ForEach(const std::function<void(const std::vector<std::string>&, const M&)>& fn) const;

 private:
  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
  std::function<std::unique_ptr<M>()> make_;
  mutable std::shared_mutex mu_;  // guards series_ (the map, not the atomics inside)
  std::map<std::vector<std::string>, std::unique_ptr<M>> series_;
};

class MetricsRegistry {
 public:
  // Registering the same name twice returns the existing family (the kind must match).
  MetricFamily<Counter>& AddCounter(const std::string& name, const std::string& help,
                                    std::vector<std::string> label_names = {});
  MetricFamily<Gauge>& AddGauge(const std::string& name, const std::string& help,
                                std::vector<std::string> label_names = {});
  MetricFamily<Histogram>& AddHistogram(const std::string& name, const std::string& help,
                                        std::vector<std::string> label_names = {},
                                        std::vector<double> bounds = DefaultLatencyBuckets());

  // A callback run at every Render(), before rendering, to refresh gauges (e.g. memory use).
  void AddCollector(std::function<void()> collector);

  std::string Render() const;

 private:
  mutable std::mutex mu_;  // guards the three maps and collectors_
  std::map<std::string, std::unique_ptr<MetricFamily<Counter>>> counters_;
  std::map<std::string, std::unique_ptr<MetricFamily<Gauge>>> gauges_;
  std::map<std::string, std::unique_ptr<MetricFamily<Histogram>>> histograms_;
  std::vector<std::function<void()>> collectors_;
};

// ---- template implementation ----

template <typename M>
M& MetricFamily<M>::WithLabels(std::initializer_list<std::string_view> values) {
  std::vector<std::string> key;
  key.reserve(values.size());
  for (auto v : values) key.emplace_back(v);
  return WithLabels(key);
}

template <typename M>
M& MetricFamily<M>::WithLabels(const std::vector<std::string>& values) {
  {
    std::shared_lock lock(mu_);
    auto it = series_.find(values);
    if (it != series_.end()) return *it->second;
  }
  std::unique_lock lock(mu_);
  auto [it, inserted] = series_.try_emplace(values, nullptr);
  if (inserted) it->second = make_();
  return *it->second;
}

template <typename M>
void MetricFamily<M>::ForEach(
    const std::function<void(const std::vector<std::string>&, const M&)>& fn) const {
  std::shared_lock lock(mu_);
  for (const auto& [labels, series] : series_) fn(labels, *series);
}

}  // namespace jrvs
