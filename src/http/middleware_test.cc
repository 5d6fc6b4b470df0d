// CORS and metrics, as policies and through a running server.
#include "http/middleware.h"

#include <gtest/gtest.h>

#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include "http/server.h"
#include "http/server_test_util.h"
#include "support/http_client.h"

namespace jrvs::http {
namespace {

using jrvs::testing::HttpClient;
using jrvs::testing::RawConnection;
using test::StartServer;
using namespace std::chrono_literals;

// Replaces spdlog's default logger for the test's lifetime and collects what is logged.
class LogCapture {
 public:
  LogCapture() : previous_(spdlog::default_logger()), sink_(std::make_shared<Sink>()) {
    auto logger = std::make_shared<spdlog::logger>("capture", sink_);
    logger->set_level(spdlog::level::info);
    logger->set_pattern("%l %v");
    spdlog::set_default_logger(logger);
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }
  std::string text() { return sink_->text(); }

 private:
  class Sink : public spdlog::sinks::base_sink<std::mutex> {
   public:
    std::string text() {
      std::lock_guard lock(mutex_);
      return text_;
    }

   protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
      spdlog::memory_buf_t formatted;
      formatter_->format(msg, formatted);
      text_.append(formatted.data(), formatted.size());
    }
    void flush_() override {}

   private:
    std::string text_;  // guarded by mutex_ (the base sink's)
  };
  std::shared_ptr<spdlog::logger> previous_;
  std::shared_ptr<Sink> sink_;
};

Router SmallRouter() {
  Router router;
  EXPECT_TRUE(router
                  .Add("GET", "/json",
                       [](const api::Request&) { return api::JsonResponse(R"({"status":"ok"})"); })
                  .ok());
  EXPECT_TRUE(router
                  .Add("POST", "/json",
                       [](const api::Request&) { return api::JsonResponse(R"({"posted":true})"); })
                  .ok());
  EXPECT_TRUE(router
                  .Add("GET", "/api/history/{session_id}",
                       [](const api::Request&) { return api::JsonResponse("[]"); })
                  .ok());
  EXPECT_TRUE(router
                  .Add("GET", "/inline",
                       [](const api::Request&) { return api::JsonResponse("{}"); },
                       {.run_on_io_thread = true})
                  .ok());
  EXPECT_TRUE(router
                  .Add("GET", "/throw",
                       [](const api::Request&) -> api::Response {
                         throw std::runtime_error("boom: table users is locked");
                       })
                  .ok());
  return router;
}

TEST(AccessLogTest, OneLinePerRequestWhenEnabled) {
  LogCapture capture;
  ServerOptions options;
  options.access_log = true;
  auto server = StartServer(SmallRouter(), options);
  HttpClient client("127.0.0.1", server->port());
  ASSERT_TRUE(client.Get("/json?x=1", {{"X-Request-ID", "log-me"}}).has_value());
  EXPECT_TRUE(test::Eventually([&] {
    std::string text = capture.text();
    return text.find("info GET /json?x=1 200 15B ") != std::string::npos &&
           text.find("ms id=log-me from=127.0.0.1:") != std::string::npos;
  })) << capture.text();
  // The firewall logs what the client never sees, with the request id to match them up.
  auto r = client.Get("/throw", {{"X-Request-ID", "log-500"}});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(r->body.find("locked"), std::string::npos);
  EXPECT_TRUE(test::Eventually([&] {
    return capture.text().find(
               "error request log-500: handler for GET /throw threw: boom: table "
               "users is locked") != std::string::npos;
  })) << capture.text();
}

TEST(AccessLogTest, SilentWhenDisabled) {
  LogCapture capture;
  auto server = StartServer(SmallRouter());
  HttpClient client("127.0.0.1", server->port());
  ASSERT_TRUE(client.Get("/json", {{"X-Request-ID", "quiet"}}).has_value());
  ASSERT_TRUE(client.Get("/json").has_value());  // the first is logged (if at all) by now
  EXPECT_EQ(capture.text().find("id=quiet"), std::string::npos) << capture.text();
}

TEST(CorsPolicyTest, AllowsListedOriginsOnly) {
  CorsPolicy off({});
  EXPECT_FALSE(off.enabled());
  EXPECT_FALSE(off.Allows("http://a.example"));

  CorsPolicy listed({"http://a.example"});
  EXPECT_TRUE(listed.enabled());
  EXPECT_TRUE(listed.Allows("http://a.example"));
  EXPECT_FALSE(listed.Allows("http://b.example"));
  EXPECT_FALSE(listed.Allows(""));
  std::vector<std::pair<std::string, std::string>> headers;
  listed.AddResponseHeaders("http://a.example", headers);
  EXPECT_EQ(headers[0], (std::pair<std::string, std::string>{"Access-Control-Allow-Origin",
                                                             "http://a.example"}));
  EXPECT_EQ(headers[1], (std::pair<std::string, std::string>{"Vary", "Origin"}));

  CorsPolicy any({"*"});
  EXPECT_TRUE(any.Allows("http://whatever.example"));
  headers.clear();
  any.AddPreflightHeaders("http://x", "GET, HEAD", "content-type\r\nevil: 1", headers);
  std::map<std::string, std::string> m(headers.begin(), headers.end());
  EXPECT_EQ(m["Access-Control-Allow-Origin"], "*");
  EXPECT_EQ(m["Access-Control-Allow-Methods"], "GET, HEAD");
  // A requested-headers value that is not a plain token list is not echoed.
  EXPECT_EQ(m["Access-Control-Allow-Headers"], "Content-Type, Authorization, X-Request-ID");
}

TEST(CorsTest, OffByDefault) {
  auto server = StartServer(SmallRouter());
  HttpClient client("127.0.0.1", server->port());
  auto r = client.Get("/json", {{"Origin", "http://a.example"}});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_FALSE(r->HasHeader("access-control-allow-origin"));
  auto preflight =
      client.Request("OPTIONS", "/json", "",
                     {{"Origin", "http://a.example"}, {"Access-Control-Request-Method", "POST"}});
  ASSERT_TRUE(preflight.has_value());
  EXPECT_EQ(preflight->status, 405);
  EXPECT_FALSE(preflight->HasHeader("access-control-allow-origin"));
}

TEST(CorsTest, AllowedOriginGetsHeadersAndPreflight) {
  ServerOptions options;
  options.cors_allowed_origins = {"http://a.example"};
  auto server = StartServer(SmallRouter(), options);
  HttpClient client("127.0.0.1", server->port());

  auto allowed = client.Get("/json", {{"Origin", "http://a.example"}});
  ASSERT_TRUE(allowed.has_value());
  EXPECT_EQ(allowed->Header("access-control-allow-origin"), "http://a.example");
  EXPECT_EQ(allowed->Header("vary"), "Origin");
  EXPECT_EQ(allowed->Header("access-control-expose-headers"), "X-Request-ID");

  auto other = client.Get("/json", {{"Origin", "http://evil.example"}});
  ASSERT_TRUE(other.has_value());
  EXPECT_EQ(other->status, 200);
  EXPECT_FALSE(other->HasHeader("access-control-allow-origin"));

  // Errors carry CORS headers too, so the browser lets the page read them.
  auto missing = client.Get("/nope", {{"Origin", "http://a.example"}});
  ASSERT_TRUE(missing.has_value());
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(missing->Header("access-control-allow-origin"), "http://a.example");

  auto preflight =
      client.Request("OPTIONS", "/json", "",
                     {{"Origin", "http://a.example"},
                      {"Access-Control-Request-Method", "POST"},
                      {"Access-Control-Request-Headers", "content-type, x-request-id"}});
  ASSERT_TRUE(preflight.has_value());
  EXPECT_EQ(preflight->status, 204);
  EXPECT_EQ(preflight->body, "");
  EXPECT_EQ(preflight->Header("access-control-allow-origin"), "http://a.example");
  EXPECT_EQ(preflight->Header("access-control-allow-methods"), "GET, HEAD, POST");
  EXPECT_EQ(preflight->Header("access-control-allow-headers"), "content-type, x-request-id");
  EXPECT_EQ(preflight->Header("access-control-max-age"), "600");

  auto unknown =
      client.Request("OPTIONS", "/nope", "",
                     {{"Origin", "http://a.example"}, {"Access-Control-Request-Method", "GET"}});
  ASSERT_TRUE(unknown.has_value());
  EXPECT_EQ(unknown->status, 404);
}

TEST(CorsTest, WildcardAllowsAnyOrigin) {
  ServerOptions options;
  options.cors_allowed_origins = {"*"};
  auto server = StartServer(SmallRouter(), options);
  HttpClient client("127.0.0.1", server->port());
  auto r = client.Get("/json", {{"Origin", "http://anything.example"}});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->Header("access-control-allow-origin"), "*");
  EXPECT_FALSE(r->HasHeader("vary"));
}

TEST(MetricsMiddlewareTest, CountsByRoutePatternMethodAndStatus) {
  MetricsRegistry metrics;
  auto server = StartServer(SmallRouter(), {}, &metrics);
  HttpClient client("127.0.0.1", server->port());
  for (const char* target : {"/api/history/alice", "/api/history/bob", "/api/history/carol"}) {
    auto r = client.Get(target);
    ASSERT_TRUE(r.has_value());
    ASSERT_EQ(r->status, 200);
  }
  ASSERT_TRUE(client.Get("/nope/1").has_value());
  ASSERT_TRUE(client.Get("/nope/2").has_value());
  ASSERT_TRUE(client.Request("DELETE", "/json").has_value());
  ASSERT_TRUE(client.Request("BREW", "/json").has_value());
  ASSERT_TRUE(client.Get("/inline").has_value());

  // The server records a request just after writing its response: poll.
  auto& requests = metrics.AddCounter("http_requests_total", "", {"route", "method", "status"});
  auto count_is = [&](std::initializer_list<std::string_view> labels, double v) {
    return test::Eventually([&] { return requests.WithLabels(labels).Value() == v; });
  };
  EXPECT_TRUE(count_is({"/api/history/{session_id}", "GET", "200"}, 3.0));
  EXPECT_TRUE(count_is({"unmatched", "GET", "404"}, 2.0));
  EXPECT_TRUE(count_is({"/json", "DELETE", "405"}, 1.0));
  EXPECT_TRUE(count_is({"/json", "OTHER", "405"}, 1.0));
  EXPECT_TRUE(count_is({"/inline", "GET", "200"}, 1.0));

  std::string text = metrics.Render();
  EXPECT_NE(text.find("http_requests_total{route=\"/api/history/{session_id}\",method=\"GET\","
                      "status=\"200\"} 3\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("http_request_duration_seconds_count{route=\"/api/history/{session_id}\"} 3"),
            std::string::npos)
      << text;
  // Raw paths never become labels.
  EXPECT_EQ(text.find("alice"), std::string::npos);
  EXPECT_EQ(text.find("/nope"), std::string::npos);

  auto& in_flight = metrics.AddGauge("http_requests_in_flight", "").Get();
  EXPECT_TRUE(test::Eventually([&] { return in_flight.Value() == 0.0; }));
  EXPECT_EQ(metrics.AddGauge("http_connections_active", "").Get().Value(), 1.0);
  client.Close();
  auto& connections = metrics.AddGauge("http_connections_active", "").Get();
  EXPECT_TRUE(test::Eventually([&] { return connections.Value() == 0.0; }));
  EXPECT_NE(text.find("http_worker_queue_depth 0"), std::string::npos) << text;
}

TEST(MetricsMiddlewareTest, EarlyErrorsAreCountedAsUnmatched) {
  MetricsRegistry metrics;
  ServerOptions options;
  options.body_limit_bytes = 16;
  auto server = StartServer(SmallRouter(), options, &metrics);
  RawConnection raw("127.0.0.1", server->port());
  ASSERT_TRUE(raw.Connect().ok());
  ASSERT_TRUE(raw.Send("NOT HTTP\r\n\r\n").ok());
  EXPECT_TRUE(raw.ReadUntilClose(10s).closed);
  HttpClient client("127.0.0.1", server->port());
  auto r = client.Post("/json", std::string(100, 'x'));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 413);
  auto& requests = metrics.AddCounter("http_requests_total", "", {"route", "method", "status"});
  EXPECT_TRUE(test::Eventually([&] {
    return requests.WithLabels({"unmatched", "OTHER", "400"}).Value() == 1.0;
  }));
  EXPECT_TRUE(test::Eventually([&] {
    return requests.WithLabels({"unmatched", "POST", "413"}).Value() == 1.0;
  })) << metrics.Render();
  auto& in_flight = metrics.AddGauge("http_requests_in_flight", "").Get();
  EXPECT_TRUE(test::Eventually([&] { return in_flight.Value() == 0.0; }));
}

}  // namespace
}  // namespace jrvs::http
