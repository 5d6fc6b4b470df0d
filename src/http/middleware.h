// Cross-cutting request concerns of the HTTP server: Prometheus metrics, CORS and the access log.
// Each is a small class the connection code calls at fixed points (connection open/close, request
// start/finish, response headers), so the policies are testable without sockets.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/metrics.h"

namespace jrvs::http {

// Metrics of one server (names as in docs: http_requests_total{route,method,status},
// http_request_duration_seconds{route}, http_requests_in_flight, http_connections_active,
// http_worker_queue_depth, http_slow_worker_queue_depth). `route` is the matched route pattern, or
// "unmatched"; `method` is one of the standard methods or "OTHER", so no label takes unbounded
// values. With a null registry every method is a no-op. Thread-safe; the registry must outlive
// this.
class HttpMetrics {
 public:
  // `patterns[i]` is the label of route id i.
  HttpMetrics(MetricsRegistry* registry, const std::vector<std::string>& patterns);

  void ConnectionOpened();
  void ConnectionClosed();
  void RequestStarted();
  // `route_id` -1 = unmatched.
  void RequestFinished(int route_id, std::string_view method, int status, double seconds);
  // Gauges for the worker pools' queue depths (null without a registry).
  Gauge* queue_depth() { return queue_depth_; }
  Gauge* slow_queue_depth() { return slow_queue_depth_; }

 private:
  Counter& RequestCounter(int route_id, std::string_view method, int status);

  MetricsRegistry* registry_;
  uint64_t generation_;              // distinguishes this instance in the per-thread counter cache
  std::vector<std::string> labels_;  // [0] = "unmatched", [i + 1] = route i
  std::vector<Histogram*> durations_;  // per label
  MetricFamily<Counter>* requests_ = nullptr;
  Gauge* in_flight_ = nullptr;
  Gauge* connections_ = nullptr;
  Gauge* queue_depth_ = nullptr;
  Gauge* slow_queue_depth_ = nullptr;
};

// CORS for browser clients (the web page on another origin). Disabled with no allowed origins;
// "*" allows any origin (without credentials). Immutable after construction: thread-safe.
class CorsPolicy {
 public:
  explicit CorsPolicy(std::vector<std::string> allowed_origins);

  bool enabled() const { return !origins_.empty(); }
  bool Allows(std::string_view origin) const;

  // A preflight is an OPTIONS request carrying Origin and Access-Control-Request-Method.
  static bool IsPreflight(std::string_view method, std::string_view origin,
                          std::string_view request_method);

  // Headers for a response to an allowed `origin` (nothing if it is not allowed).
  void AddResponseHeaders(std::string_view origin,
                          std::vector<std::pair<std::string, std::string>>& headers) const;
  // Headers for a 204 preflight answer: allowed methods are the route's `allow` list; allowed
  // headers echo `requested_headers` when it is a plain token list, else a fixed safe list.
  void AddPreflightHeaders(std::string_view origin, std::string_view allow,
                           std::string_view requested_headers,
                           std::vector<std::pair<std::string, std::string>>& headers) const;

 private:
  std::vector<std::string> origins_;
  bool any_ = false;
};

// One access-log line, written at info level on spdlog's default logger.
struct AccessLogEntry {
  std::string_view method;
  std::string_view target;
  int status = 0;
  uint64_t bytes = 0;  // response body bytes sent
  double duration_ms = 0;
  std::string_view request_id;
  std::string_view remote_address;
};
void LogAccess(const AccessLogEntry& entry);

}  // namespace jrvs::http
