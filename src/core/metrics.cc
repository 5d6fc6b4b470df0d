#include "core/metrics.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

namespace jrvs {

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      buckets_(std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1)) {
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0);
}

void Histogram::Observe(double v) {
  size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin();
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

std::vector<double> DefaultLatencyBuckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.1,     0.25,   0.5,   1.0,    2.5,   5.0,  10.0};
}

namespace {

std::string EscapeLabel(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string EscapeHelp(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string FormatValue(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return fmt::format("{}", static_cast<int64_t>(v));
  return fmt::format("{}", v);
}

// `{a="x",b="y"}` with an optional extra label appended (used for histogram `le`).
std::string LabelSet(const std::vector<std::string>& names, const std::vector<std::string>& values,
                     std::string_view extra_name = {}, std::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty()) return {};
  std::string out = "{";
  bool first = true;
  for (size_t i = 0; i < names.size() && i < values.size(); ++i) {
    if (!first) out += ',';
    first = false;
    out += names[i];
    out += "=\"";
    out += EscapeLabel(values[i]);
    out += '"';
  }
  if (!extra_name.empty()) {
    if (!first) out += ',';
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out += '"';
  }
  out += '}';
  return out;
}

template <typename Map>
auto& FindOrAdd(Map& map, const std::string& name, auto make) {
  auto it = map.find(name);
  if (it == map.end()) it = map.emplace(name, make()).first;
  return *it->second;
}

}  // namespace

MetricFamily<Counter>& MetricsRegistry::AddCounter(const std::string& name, const std::string& help,
                                                   std::vector<std::string> label_names) {
  std::lock_guard lock(mu_);
  return FindOrAdd(counters_, name, [&] {
    return std::make_unique<MetricFamily<Counter>>(name, help, std::move(label_names),
                                                   [] { return std::make_unique<Counter>(); });
  });
}

MetricFamily<Gauge>& MetricsRegistry::AddGauge(const std::string& name, const std::string& help,
                                               std::vector<std::string> label_names) {
  std::lock_guard lock(mu_);
  return FindOrAdd(gauges_, name, [&] {
    return std::make_unique<MetricFamily<Gauge>>(name, help, std::move(label_names),
                                                 [] { return std::make_unique<Gauge>(); });
  });
}

MetricFamily<Histogram>& MetricsRegistry::AddHistogram(const std::string& name,
                                                       const std::string& help,
                                                       std::vector<std::string> label_names,
                                                       std::vector<double> bounds) {
  std::lock_guard lock(mu_);
  return FindOrAdd(histograms_, name, [&] {
    return std::make_unique<MetricFamily<Histogram>>(name, help, std::move(label_names), [bounds] {
      return std::make_unique<Histogram>(bounds);
    });
  });
}

void MetricsRegistry::AddCollector(std::function<void()> collector) {
  std::lock_guard lock(mu_);
  collectors_.push_back(std::move(collector));
}

std::string MetricsRegistry::Render() const {
  std::vector<std::function<void()>> collectors;
  {
    std::lock_guard lock(mu_);
    collectors = collectors_;
  }
  for (auto& c : collectors) c();

  std::lock_guard lock(mu_);
  std::string out;
  out.reserve(4096);
  auto header = [&](const auto& family, std::string_view type) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", family.name(), EscapeHelp(family.help()),
                       family.name(), type);
  };
  for (const auto& [name, family] : counters_) {
    header(*family, "counter");
    family->ForEach([&](const std::vector<std::string>& labels, const Counter& c) {
      out += name + LabelSet(family->label_names(), labels) + ' ' + FormatValue(c.Value()) + '\n';
    });
  }
  for (const auto& [name, family] : gauges_) {
    header(*family, "gauge");
    family->ForEach([&](const std::vector<std::string>& labels, const Gauge& g) {
      out += name + LabelSet(family->label_names(), labels) + ' ' + FormatValue(g.Value()) + '\n';
    });
  }
  for (const auto& [name, family] : histograms_) {
    header(*family, "histogram");
    family->ForEach([&](const std::vector<std::string>& labels, const Histogram& h) {
      uint64_t cumulative = 0;
      const auto& names = family->label_names();
      for (size_t i = 0; i < h.bounds().size(); ++i) {
        cumulative += h.BucketCount(i);
        out += name + "_bucket" + LabelSet(names, labels, "le", FormatValue(h.bounds()[i])) + ' ' +
               std::to_string(cumulative) + '\n';
      }
      cumulative += h.BucketCount(h.bounds().size());
      out += name + "_bucket" + LabelSet(names, labels, "le", "+Inf") + ' ' +
             std::to_string(cumulative) + '\n';
      out += name + "_sum" + LabelSet(names, labels) + ' ' + FormatValue(h.Sum()) + '\n';
      // _count is the +Inf bucket so the two always agree, even mid-update.
      out += name + "_count" + LabelSet(names, labels) + ' ' + std::to_string(cumulative) + '\n';
    });
  }
  return out;
}

}  // namespace jrvs
