// `jrvs serve`: starts the listener first (answering 503 on /health until ready), opens the
// runtime, registers the routes, and runs until SIGINT/SIGTERM, then drains and stops.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>

#include <atomic>
#include <cstdio>
#include <iostream>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "api/chat_api.h"
#include "api/chat_ws.h"
#include "api/knowledge_api.h"
#include "api/page_ingester.h"
#include "api/scrape_api.h"
#include "api/scrape_jobs.h"
#include "api/system_api.h"
#include "app/commands.h"
#include "app/runtime.h"
#include "core/logging.h"
#include "http/router.h"
#include "http/server.h"

namespace jrvs::app {

namespace {

http::ServerOptions ServerOptionsFrom(const Config& c) {
  http::ServerOptions o;
  o.host = c.server_host;
  o.port = static_cast<uint16_t>(c.server_port);
  o.io_threads = static_cast<int>(c.server_threads);
  o.worker_threads = static_cast<int>(c.server_workers);
  o.max_queued_requests = static_cast<size_t>(c.server_max_queued);
  o.body_limit_bytes = static_cast<size_t>(c.server_body_limit);
  o.slow_worker_threads = static_cast<int>(c.server_slow_workers);
  o.max_queued_slow_requests = static_cast<size_t>(c.server_max_queued_slow);
  o.max_websocket_sessions = static_cast<size_t>(c.server_ws_max_sessions);
  o.ws_max_message_bytes = static_cast<size_t>(c.server_ws_max_message_bytes);
  o.ws_idle_timeout_ms = c.server_ws_idle_timeout_ms;
  o.max_header_bytes = static_cast<size_t>(c.server_max_header_bytes);
  o.header_timeout_ms = c.server_header_timeout_ms;
  o.body_timeout_ms = c.server_body_timeout_ms;
  o.idle_timeout_ms = c.server_idle_timeout_ms;
  o.write_timeout_ms = c.server_write_timeout_ms;
  o.shutdown_grace_ms = c.server_shutdown_grace_ms;
  o.access_log = c.server_access_log;
  o.cors_allowed_origins.clear();
  size_t start = 0;
  const std::string& origins = c.server_cors_origins;
  while (start < origins.size()) {
    size_t comma = origins.find(',', start);
    if (comma == std::string::npos) comma = origins.size();
    std::string one = origins.substr(start, comma - start);
    one.erase(0, one.find_first_not_of(' '));
    one.erase(one.find_last_not_of(' ') + 1);
    if (!one.empty()) o.cors_allowed_origins.push_back(one);
    start = comma + 1;
  }
  return o;
}

// SIGINT/SIGTERM are caught by a handler that writes the signal number to a pipe, which the
// main thread reads. Blocking the signals and calling sigwait() is not enough: libraries start
// threads before main (OpenBLAS's pool does), and a signal delivered to one of those would kill
// the process with the default action.
int g_stop_pipe[2] = {-1, -1};

extern "C" void OnStopSignal(int signo) {
  unsigned char b = static_cast<unsigned char>(signo);
  [[maybe_unused]] auto n = ::write(g_stop_pipe[1], &b, 1);
}

bool InstallStopHandlers() {
  if (::pipe2(g_stop_pipe, O_CLOEXEC) != 0) return false;
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  return ::sigaction(SIGINT, &sa, nullptr) == 0 && ::sigaction(SIGTERM, &sa, nullptr) == 0;
}

// Blocks until SIGINT or SIGTERM arrives; returns its number.
int WaitForStopSignal() {
  unsigned char b = 0;
  while (true) {
    ssize_t n = ::read(g_stop_pipe[0], &b, 1);
    if (n == 1) return b;
    if (n < 0 && errno == EINTR) continue;
    return SIGTERM;
  }
}

}  // namespace

int RunServe(const Config& config) {
  if (auto s = InitLogging(config.log_level); !s.ok()) {
    std::cerr << "jrvs: log.level: " << s.message() << "\n";
    return kExitUsage;
  }
  if (!InstallStopHandlers()) {
    spdlog::critical("cannot install signal handlers");
    return kExitFailure;
  }

  // Readiness flag read by /health: false until every component is open.
  std::atomic<bool> ready{false};

  auto runtime = Runtime::Open(config);
  if (!runtime) {
    spdlog::critical("cannot start: {}", runtime.error().message());
    return kExitFailure;
  }
  Runtime& rt = **runtime;
  api::RegisterProcessMetrics(rt.metrics());
  if (Status s = rt.OpenKnowledge(/*background_save=*/true); !s.ok()) {
    spdlog::critical("cannot start: {}", s.message());
    return kExitFailure;
  }
  if (Status s = rt.EnableMemorySearch(); !s.ok()) {
    spdlog::critical("cannot start: {}", s.message());
    return kExitFailure;
  }
  if (Status s = rt.OpenChat(); !s.ok()) {
    spdlog::critical("cannot start: {}", s.message());
    return kExitFailure;
  }

  api::SystemApiDeps deps;
  deps.store = &rt.store();
  deps.metrics = &rt.metrics();
  deps.ready = &ready;
  deps.current_model = [&rt] { return rt.chat().current_model(); };
  // The LLM is not critical: with it down, chat still answers (extractive fallback, or errors
  // for an explicit provider) and search, ingest and history keep working.
  deps.checks.push_back({"llm",
                         [&rt] {
                           llm::HealthReport h = rt.llm_health();
                           return api::CheckResult{h.ok, h.detail, 0};
                         },
                         /*critical=*/false});
  deps.index_info = [&rt] { return rt.KnowledgeStats(); };
  api::SystemApiOptions sys_options;
  sys_options.history_default_limit = config.history_default_limit;
  sys_options.history_max_limit = config.history_max_limit;
  auto system = std::make_shared<api::SystemApi>(std::move(deps), sys_options);

  http::Router router;
  Status routes_ok;
  auto route = [&](std::string_view method, std::string_view pattern, api::Handler handler,
                   http::RouteOptions options = {}) {
    Status s = router.Add(method, pattern, std::move(handler), options);
    if (!s.ok() && routes_ok.ok()) routes_ok = s;
  };
  http::RouteOptions inline_route;
  inline_route.run_on_io_thread = true;
  auto bind = [system](api::Response (api::SystemApi::*fn)(const api::Request&) const) {
    return [system, fn](const api::Request& r) { return ((*system).*fn)(r); };
  };
  // /health runs inline: it only reads cached check results (refreshed every 250 ms).
  route("GET", "/health", bind(&api::SystemApi::Health), inline_route);
  route("GET", "/api/health", bind(&api::SystemApi::Health), inline_route);
  route("GET", "/metrics", bind(&api::SystemApi::Metrics), inline_route);
  route("GET", "/api/stats", bind(&api::SystemApi::Stats));
  route("GET", "/api/history/{session_id}", bind(&api::SystemApi::GetHistory));
  route("DELETE", "/api/history/{session_id}", bind(&api::SystemApi::DeleteHistory));

  api::KnowledgeApiOptions kb_options;
  kb_options.context_budget_bytes = static_cast<size_t>(config.retrieval_context_budget);
  auto kb =
      std::make_shared<api::KnowledgeApi>(rt.store(), rt.ingest(), rt.retriever(), kb_options);
  auto kb_bind = [kb](api::Response (api::KnowledgeApi::*fn)(const api::Request&) const) {
    return [kb, fn](const api::Request& r) { return ((*kb).*fn)(r); };
  };
  // Ingestion waits for its group commit: on the slow pool, the writes of many concurrent
  // requests share one transaction, where the workers (one per core) would send two at a time.
  http::RouteOptions commit_route;
  commit_route.slow = true;
  route("POST", "/api/rag/document", kb_bind(&api::KnowledgeApi::AddDocument), commit_route);
  route("POST", "/api/rag/retrieve", kb_bind(&api::KnowledgeApi::Retrieve));
  route("GET", "/api/search", kb_bind(&api::KnowledgeApi::Search));
  route("GET", "/api/documents", kb_bind(&api::KnowledgeApi::ListDocuments));
  route("GET", "/api/documents/{id}", kb_bind(&api::KnowledgeApi::GetDocument));
  route("DELETE", "/api/documents/{id}", kb_bind(&api::KnowledgeApi::DeleteDocument));
  route("POST", "/api/documents/upload", kb_bind(&api::KnowledgeApi::Upload));

  // Chat and model routes wait on the LLM: the slow pool keeps them away from the workers
  // that search and ingest need.
  auto chat = std::make_shared<api::ChatApi>(rt.chat());
  auto chat_bind = [chat](api::Response (api::ChatApi::*fn)(const api::Request&) const) {
    return [chat, fn](const api::Request& r) { return ((*chat).*fn)(r); };
  };
  http::RouteOptions slow_route;
  slow_route.slow = true;
  // With llm.provider = extractive a chat never waits: it is CPU work like a search, and on the
  // slow pool 50 concurrent chats would be 50 threads time-slicing 2 cores (measured: most of
  // the CPU went to context switches and P95 rose with it). It then runs on the workers.
  // (Streamed answers still run on the slow pool, as every stream does.)
  http::RouteOptions chat_route = slow_route;
  chat_route.slow = config.llm_provider != "extractive";
  route("POST", "/api/chat", chat_bind(&api::ChatApi::Chat), chat_route);
  route("GET", "/api/models", chat_bind(&api::ChatApi::ListModels), slow_route);
  route("POST", "/api/models/switch/{name}", chat_bind(&api::ChatApi::SwitchModel), slow_route);
  // WS /ws/chat streams tokens over a WebSocket; each message runs on the slow pool too.
  auto chat_ws = std::make_shared<api::ChatWebSocket>(rt.chat());
  if (Status s = router.AddWebSocket("/ws/chat",
                                     [chat_ws](const api::Request& r) { return chat_ws->Open(r); });
      !s.ok() && routes_ok.ok()) {
    routes_ok = s;
  }

  // Scraping: a single page waits on the network, so it runs on the slow pool; crawls run on
  // the job registry's own threads and answer 202 at once.
  if (Status s = rt.OpenScraper(); !s.ok()) {
    spdlog::critical("cannot start: {}", s.message());
    return kExitFailure;
  }
  auto page_ingester = std::make_shared<api::PageIngester>(rt.store(), rt.ingest());
  auto scrape_jobs =
      std::make_shared<api::ScrapeJobs>(rt.fetcher(), *page_ingester, api::ScrapeJobsOptions{},
                                        SystemClock::Instance(), &rt.metrics());
  auto scrape = std::make_shared<api::ScrapeApi>(rt.fetcher(), *page_ingester, *scrape_jobs,
                                                 api::ScrapeApiOptions{}, &rt.metrics());
  // The handlers own what ScrapeApi refers to, so it lives as long as the routes.
  auto scrape_bind = [scrape, scrape_jobs, page_ingester](
                         api::Response (api::ScrapeApi::*fn)(const api::Request&) const) {
    return [scrape, scrape_jobs, page_ingester, fn](const api::Request& r) {
      return ((*scrape).*fn)(r);
    };
  };
  route("POST", "/api/scrape", scrape_bind(&api::ScrapeApi::Scrape), slow_route);
  route("GET", "/api/jobs/{id}", scrape_bind(&api::ScrapeApi::GetJob));
  route("DELETE", "/api/jobs/{id}", scrape_bind(&api::ScrapeApi::CancelJob));

  if (!routes_ok.ok()) {
    spdlog::critical("route table: {}", routes_ok.message());
    return kExitFailure;
  }
  http::Server server(ServerOptionsFrom(config), std::move(router), &rt.metrics());
  if (auto s = server.Start(); !s.ok()) {
    spdlog::critical("cannot listen on {}:{}: {}", config.server_host, config.server_port,
                     s.message());
    return kExitFailure;
  }
  ready.store(true, std::memory_order_release);
  // The one line scripts and tests wait for; the port is the real one when 0 was asked.
  std::cout << fmt::format("jrvs listening on http://{}:{}", config.server_host, server.port())
            << std::endl;
  spdlog::info("jrvs {} serving on {}:{} with data in {}", JRVS_VERSION, config.server_host,
               server.port(), config.data_dir);

  int signo = WaitForStopSignal();
  spdlog::info("received {}, stopping (grace {} ms)", signo == SIGINT ? "SIGINT" : "SIGTERM",
               config.server_shutdown_grace_ms);
  ready.store(false, std::memory_order_release);
  server.Stop();
  server.Wait();
  spdlog::info("stopped");
  return kExitOk;
}

}  // namespace jrvs::app
