#include "api/system_api.h"

#include <charconv>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "core/process_stats.h"

namespace jrvs::api {

namespace json = boost::json;

namespace {

double ElapsedMs(const Clock& clock, int64_t start_ns) {
  return static_cast<double>(clock.MonotonicNs() - start_ns) / 1e6;
}

double Round2(double v) { return static_cast<double>(static_cast<int64_t>(v * 100 + 0.5)) / 100; }

}  // namespace

bool IsValidSessionId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

Result<int64_t> IntQueryParam(const Request& request, std::string_view name, int64_t fallback,
                              int64_t min, int64_t max) {
  auto raw = request.QueryParam(name);
  if (!raw || raw->empty()) return fallback;
  int64_t value = 0;
  auto [ptr, ec] = std::from_chars(raw->data(), raw->data() + raw->size(), value);
  if (ec != std::errc() || ptr != raw->data() + raw->size()) {
    return Error(StatusCode::kInvalidArgument, fmt::format("'{}' must be an integer", name));
  }
  if (value < min || value > max) {
    return Error(StatusCode::kInvalidArgument,
                 fmt::format("'{}' must be between {} and {}", name, min, max));
  }
  return value;
}

SystemApi::SystemApi(SystemApiDeps deps, SystemApiOptions options)
    : deps_(std::move(deps)), options_(options) {
  if (deps_.clock == nullptr) deps_.clock = &SystemClock::Instance();
}

Response SystemApi::Health(const Request& request) const {
  (void)request;
  const int64_t now = deps_.clock->MonotonicNs();
  const bool ready = deps_.ready == nullptr || deps_.ready->load(std::memory_order_acquire);
  std::shared_ptr<const HealthSnapshot> snapshot;
  {
    std::lock_guard lock(health_mu_);
    snapshot = health_;
  }
  if (snapshot && snapshot->ready == ready &&
      now - snapshot->at_ns < options_.health_cache_ms * 1'000'000) {
    return snapshot->response;
  }
  auto fresh = std::make_shared<HealthSnapshot>();
  fresh->at_ns = now;
  fresh->ready = ready;
  fresh->response = ComputeHealth(ready);
  Response response = fresh->response;
  std::lock_guard lock(health_mu_);
  health_ = std::move(fresh);
  return response;
}

Response SystemApi::ComputeHealth(bool ready) const {
  const Clock& clock = *deps_.clock;
  bool healthy = true;
  json::object checks;

  int64_t start = clock.MonotonicNs();
  Status db = deps_.store->Ping();
  json::object db_check{{"ok", db.ok()},
                        {"detail", db.ok() ? "ok" : "database unavailable"},
                        {"latency_ms", Round2(ElapsedMs(clock, start))}};
  checks["database"] = std::move(db_check);
  healthy = healthy && db.ok();

  for (const auto& check : deps_.checks) {
    int64_t t0 = clock.MonotonicNs();
    CheckResult r = check.run();
    checks[check.name] = json::object{
        {"ok", r.ok}, {"detail", r.detail}, {"latency_ms", Round2(ElapsedMs(clock, t0))}};
    if (check.critical && !r.ok) healthy = false;
  }

  std::string status = !ready ? "starting" : (healthy ? "healthy" : "degraded");
  json::object root{
      {"status", status},
      {"model", deps_.current_model ? deps_.current_model() : std::string()},
      {"version", JRVS_VERSION},
      {"uptime_seconds",
       Round2(static_cast<double>(clock.NowUnixMs()) / 1000.0 - ProcessStartTimeSeconds())},
      {"checks", std::move(checks)},
  };
  return JsonResponse(json::serialize(root), (ready && healthy) ? 200 : 503);
}

Response SystemApi::Stats(const Request& request) const {
  auto stats = deps_.store->Stats();
  if (!stats) return ErrorResponse(stats.error(), request.request_id);
  IndexInfo index = deps_.index_info ? deps_.index_info() : IndexInfo{};
  json::object vector_store{
      {"total_vectors", index.total_vectors},
      {"dimension", index.dimension},
      {"index_size_mb", Round2(index.index_size_mb)},
      {"documents_count", stats->documents},
      {"index_type", index.index_type},
  };
  json::object root{
      {"vector_store", std::move(vector_store)},
      {"embedding_cache_size", index.embedding_cache_size},
      {"embedding_dimension", index.embedding_dimension},
      {"documents", stats->documents},
      {"chunks", stats->chunks},
      {"conversations", stats->conversations},
      {"sessions", stats->sessions},
      {"database_size_bytes", stats->database_bytes},
      {"uptime_seconds",
       Round2(static_cast<double>(deps_.clock->NowUnixMs()) / 1000.0 - ProcessStartTimeSeconds())},
      {"memory_rss_bytes", ResidentMemoryBytes()},
      {"model", deps_.current_model ? deps_.current_model() : std::string()},
  };
  return JsonResponse(json::serialize(root));
}

Response SystemApi::GetHistory(const Request& request) const {
  std::string_view session = request.PathParam("session_id");
  if (!IsValidSessionId(session)) {
    return ErrorResponse(StatusCode::kInvalidArgument,
                         "session_id must match ^[A-Za-z0-9_-]{1,128}$", request.request_id);
  }
  auto limit = IntQueryParam(request, "limit", options_.history_default_limit, 1,
                             options_.history_max_limit);
  if (!limit) return ErrorResponse(limit.error(), request.request_id);
  auto turns = deps_.store->ListConversations(session, static_cast<int>(*limit));
  if (!turns) return ErrorResponse(turns.error(), request.request_id);

  json::array history;
  history.reserve(turns->size());
  for (const auto& t : *turns) {
    boost::system::error_code ec;
    json::value sources = json::parse(t.sources_json, ec);
    if (ec) sources = json::array();
    history.push_back(json::object{
        {"id", t.id},
        {"user_message", t.user_message},
        {"ai_response", t.ai_response},
        {"model_used", t.model_used},
        {"context_used", !t.context_used.empty()},
        {"sources", std::move(sources)},
        {"timestamp", t.created_at_ms / 1000.0},
        {"created_at_ms", t.created_at_ms},
        {"latency_ms", Round2(t.latency_ms)},
    });
  }
  json::object root{{"session_id", session},
                    {"count", static_cast<int64_t>(history.size())},
                    {"history", std::move(history)}};
  return JsonResponse(json::serialize(root));
}

Response SystemApi::DeleteHistory(const Request& request) const {
  std::string_view session = request.PathParam("session_id");
  if (!IsValidSessionId(session)) {
    return ErrorResponse(StatusCode::kInvalidArgument,
                         "session_id must match ^[A-Za-z0-9_-]{1,128}$", request.request_id);
  }
  auto deleted = deps_.store->DeleteSession(session);
  if (!deleted) return ErrorResponse(deleted.error(), request.request_id);
  json::object root{{"session_id", session}, {"deleted", *deleted}, {"success", true}};
  return JsonResponse(json::serialize(root));
}

Response SystemApi::Metrics(const Request& request) const {
  (void)request;
  Response r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = deps_.metrics->Render();
  return r;
}

void RegisterProcessMetrics(MetricsRegistry& registry) {
  auto& rss =
      registry.AddGauge("process_resident_memory_bytes", "Resident memory size in bytes.").Get();
  auto& fds = registry.AddGauge("process_open_fds", "Number of open file descriptors.").Get();
  auto& start =
      registry.AddGauge("process_start_time_seconds", "Start time since the Unix epoch.").Get();
  auto& cpu =
      registry.AddGauge("process_cpu_seconds_total", "User and system CPU time in seconds.").Get();
  start.Set(ProcessStartTimeSeconds());
  registry.AddCollector([&rss, &fds, &cpu] {
    rss.Set(static_cast<double>(ResidentMemoryBytes()));
    fds.Set(static_cast<double>(OpenFileDescriptors()));
    cpu.Set(ProcessCpuSeconds());
  });
}

}  // namespace jrvs::api
