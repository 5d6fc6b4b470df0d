#include "http/middleware.h"

#include <algorithm>
#include <array>
#include <unordered_map>

#include <spdlog/spdlog.h>

namespace jrvs::http {
namespace {

constexpr std::array<std::string_view, 8> kMethodLabels = {"GET",    "HEAD",  "POST",    "PUT",
                                                           "DELETE", "PATCH", "OPTIONS", "OTHER"};

size_t MethodIndex(std::string_view method) {
  for (size_t i = 0; i + 1 < kMethodLabels.size(); ++i) {
    if (kMethodLabels[i] == method) return i;
  }
  return kMethodLabels.size() - 1;
}

std::atomic<uint64_t> g_next_generation{1};

// Counter series looked up through the registry take a shared lock and build a label vector;
// each I/O thread remembers the ones it has used instead.
struct CounterCache {
  uint64_t generation = 0;
  std::unordered_map<uint64_t, Counter*> counters;
};
thread_local CounterCache t_counter_cache;

bool IsHeaderTokenList(std::string_view s) {
  if (s.empty() || s.size() > 512) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == ',' || c == ' ';
  });
}

}  // namespace

HttpMetrics::HttpMetrics(MetricsRegistry* registry, const std::vector<std::string>& patterns)
    : registry_(registry), generation_(g_next_generation.fetch_add(1)) {
  if (registry_ == nullptr) return;
  labels_.reserve(patterns.size() + 1);
  labels_.emplace_back("unmatched");
  for (const auto& p : patterns) labels_.push_back(p);
  requests_ = &registry_->AddCounter("http_requests_total", "HTTP requests answered.",
                                     {"route", "method", "status"});
  auto& durations = registry_->AddHistogram(
      "http_request_duration_seconds",
      "Time from a complete request header to the end of the response.", {"route"});
  durations_.reserve(labels_.size());
  for (const auto& label : labels_) durations_.push_back(&durations.WithLabels({label}));
  in_flight_ =
      &registry_
           ->AddGauge("http_requests_in_flight", "Requests received and not yet fully answered.")
           .Get();
  connections_ = &registry_->AddGauge("http_connections_active", "Open client connections.").Get();
  queue_depth_ =
      &registry_->AddGauge("http_worker_queue_depth", "Requests waiting for a worker thread.")
           .Get();
  slow_queue_depth_ = &registry_
                           ->AddGauge("http_slow_worker_queue_depth",
                                      "Slow requests and streams waiting for a slow worker.")
                           .Get();
}

void HttpMetrics::ConnectionOpened() {
  if (connections_ != nullptr) connections_->Add(1);
}

void HttpMetrics::ConnectionClosed() {
  if (connections_ != nullptr) connections_->Add(-1);
}

void HttpMetrics::RequestStarted() {
  if (in_flight_ != nullptr) in_flight_->Add(1);
}

Counter& HttpMetrics::RequestCounter(int route_id, std::string_view method, int status) {
  size_t label = static_cast<size_t>(route_id + 1);
  size_t method_index = MethodIndex(method);
  uint64_t key = (static_cast<uint64_t>(label) << 16) | (method_index << 12) |
                 static_cast<uint64_t>(status & 0xFFF);
  CounterCache& cache = t_counter_cache;
  if (cache.generation != generation_) {
    cache.counters.clear();
    cache.generation = generation_;
  }
  auto it = cache.counters.find(key);
  if (it != cache.counters.end()) return *it->second;
  Counter& counter =
      requests_->WithLabels({labels_[label], kMethodLabels[method_index], std::to_string(status)});
  cache.counters.emplace(key, &counter);
  return counter;
}

void HttpMetrics::RequestFinished(int route_id, std::string_view method, int status,
                                  double seconds) {
  if (registry_ == nullptr) return;
  if (in_flight_ != nullptr) in_flight_->Add(-1);
  if (route_id < -1 || static_cast<size_t>(route_id + 1) >= labels_.size()) route_id = -1;
  RequestCounter(route_id, method, status).Inc();
  durations_[static_cast<size_t>(route_id + 1)]->Observe(seconds);
}

CorsPolicy::CorsPolicy(std::vector<std::string> allowed_origins)
    : origins_(std::move(allowed_origins)) {
  any_ = std::find(origins_.begin(), origins_.end(), "*") != origins_.end();
}

bool CorsPolicy::Allows(std::string_view origin) const {
  if (origin.empty() || origins_.empty()) return false;
  return any_ || std::find(origins_.begin(), origins_.end(), origin) != origins_.end();
}

bool CorsPolicy::IsPreflight(std::string_view method, std::string_view origin,
                             std::string_view request_method) {
  return method == "OPTIONS" && !origin.empty() && !request_method.empty();
}

void CorsPolicy::AddResponseHeaders(
    std::string_view origin, std::vector<std::pair<std::string, std::string>>& headers) const {
  if (!Allows(origin)) return;
  if (any_) {
    headers.emplace_back("Access-Control-Allow-Origin", "*");
  } else {
    headers.emplace_back("Access-Control-Allow-Origin", std::string(origin));
    headers.emplace_back("Vary", "Origin");
  }
  headers.emplace_back("Access-Control-Expose-Headers", "X-Request-ID");
}

void CorsPolicy::AddPreflightHeaders(
    std::string_view origin, std::string_view allow, std::string_view requested_headers,
    std::vector<std::pair<std::string, std::string>>& headers) const {
  if (!Allows(origin)) return;
  AddResponseHeaders(origin, headers);
  headers.emplace_back("Access-Control-Allow-Methods", std::string(allow));
  headers.emplace_back("Access-Control-Allow-Headers",
                       IsHeaderTokenList(requested_headers)
                           ? std::string(requested_headers)
                           : std::string("Content-Type, Authorization, X-Request-ID"));
  headers.emplace_back("Access-Control-Max-Age", "600");
}

void LogAccess(const AccessLogEntry& e) {
  spdlog::info("{} {} {} {}B {:.2f}ms id={} from={}", e.method, e.target, e.status, e.bytes,
               e.duration_ms, e.request_id, e.remote_address);
}

}  // namespace jrvs::http
