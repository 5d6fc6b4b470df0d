// Handlers for the system routes: GET /health and /api/health, GET /api/stats,
// GET/DELETE /api/history/{session_id}, GET /metrics. Pure Request -> Response functions over the
// Store seam and the metrics registry; thread-safe (they only read shared state or call
// thread-safe components).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "api/http_types.h"
#include "core/clock.h"
#include "core/metrics.h"
#include "store/store.h"

namespace jrvs::api {

// The outcome of one health check.
struct CheckResult {
  bool ok = true;
  std::string detail;  // short, safe to show ("ok", "circuit open", ...)
  double latency_ms = 0;
};

// What the vector index and embedder report for /api/stats (zeros until they exist).
struct IndexInfo {
  int64_t total_vectors = 0;
  int64_t dimension = 0;
  double index_size_mb = 0;
  std::string index_type = "none";
  int64_t embedding_cache_size = 0;
  int64_t embedding_dimension = 0;
};

struct SystemApiOptions {
  int64_t history_default_limit = 50;  // turns returned without ?limit=
  int64_t history_max_limit = 1000;    // largest accepted ?limit=
  // How long a /health answer (its checks) is reused, in ms; 0 = run the checks every time.
  // Keeps /health cheap enough to run on the I/O thread under any request rate.
  int64_t health_cache_ms = 250;
};

struct SystemApiDeps {
  store::Store* store = nullptr;             // required
  MetricsRegistry* metrics = nullptr;        // required
  const Clock* clock = nullptr;              // null: SystemClock
  const std::atomic<bool>* ready = nullptr;  // null: always ready; false -> /health 503 "starting"
  std::function<std::string()> current_model;  // model named by /health ("" if none)
  std::function<IndexInfo()> index_info;       // null: zeros
  // Extra named checks shown in /health (e.g. "index", "llm"); `critical` ones turn it 503.
  struct NamedCheck {
    std::string name;
    std::function<CheckResult()> run;
    bool critical = true;
  };
  std::vector<NamedCheck> checks;
};

class SystemApi {
 public:
  SystemApi(SystemApiDeps deps, SystemApiOptions options);

  Response Health(const Request& request) const;
  Response Stats(const Request& request) const;
  Response GetHistory(const Request& request) const;
  Response DeleteHistory(const Request& request) const;
  Response Metrics(const Request& request) const;

 private:
  Response ComputeHealth(bool ready) const;

  SystemApiDeps deps_;
  SystemApiOptions options_;
  struct HealthSnapshot {
    int64_t at_ns = 0;
    bool ready = false;
    Response response;
  };
  mutable std::mutex health_mu_;  // guards health_ (the pointer; snapshots are immutable)
  mutable std::shared_ptr<const HealthSnapshot> health_;
};

// True if `id` matches ^[A-Za-z0-9_-]{1,128}$ (the session id rule of the chat API).
bool IsValidSessionId(std::string_view id);

// Parses an optional integer query parameter within [min, max]; InvalidArgument naming `name`.
Result<int64_t> IntQueryParam(const Request& request, std::string_view name, int64_t fallback,
                              int64_t min, int64_t max);

// Registers process gauges (resident memory, open fds, start time, CPU seconds) refreshed at
// every /metrics scrape.
void RegisterProcessMetrics(MetricsRegistry& registry);

}  // namespace jrvs::api
