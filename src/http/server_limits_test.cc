// The server under hostile or heavy conditions: size limits, malformed requests, slow and idle
// clients, a full worker queue, and graceful or forced shutdown.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <string>
#include <thread>

#include "http/server.h"
#include "http/server_test_util.h"
#include "support/http_client.h"

namespace jrvs::http {
namespace {

using jrvs::testing::HttpClient;
using jrvs::testing::RawConnection;
using test::ErrorOf;
using test::Gate;
using test::StartServer;
using test::Str;
using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

Router EchoRouter() {
  Router router;
  EXPECT_TRUE(router
                  .Add("POST", "/echo",
                       [](const api::Request& r) {
                         return api::JsonResponse("{\"size\":" + std::to_string(r.body.size()) +
                                                  "}");
                       })
                  .ok());
  EXPECT_TRUE(router
                  .Add("GET", "/json",
                       [](const api::Request&) { return api::JsonResponse(R"({"status":"ok"})"); })
                  .ok());
  return router;
}

TEST(ServerLimitsTest, TooLargeBodyIs413JsonThenClose) {
  ServerOptions options;
  options.body_limit_bytes = 1024;
  auto server = StartServer(EchoRouter(), options);
  HttpClient client("127.0.0.1", server->port());
  auto ok = client.Post("/echo", std::string(1024, 'a'));
  ASSERT_TRUE(ok.has_value()) << ok.error().ToString();
  EXPECT_EQ(ok->body, R"({"size":1024})");

  auto r = client.Post("/echo", std::string(64 * 1024, 'a'));
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->status, 413);
  EXPECT_FALSE(r->keep_alive);
  auto error = ErrorOf(r->body);
  EXPECT_EQ(Str(error, "code"), "payload_too_large");
  EXPECT_EQ(Str(error, "request_id"), r->Header("x-request-id"));
}

TEST(ServerLimitsTest, TooLargeChunkedBodyIs413) {
  ServerOptions options;
  options.body_limit_bytes = 1024;
  auto server = StartServer(EchoRouter(), options);
  RawConnection raw("127.0.0.1", server->port());
  ASSERT_TRUE(raw.Connect().ok());
  std::string chunk(1500, 'b');
  char size_line[32];
  std::snprintf(size_line, sizeof size_line, "%zx\r\n", chunk.size());
  ASSERT_TRUE(raw.Send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" +
                       std::string(size_line) + chunk + "\r\n0\r\n\r\n")
                  .ok());
  auto result = raw.ReadUntilClose(10s);
  EXPECT_TRUE(result.closed);
  EXPECT_EQ(result.data.rfind("HTTP/1.1 413 ", 0), 0u) << result.data;
  EXPECT_NE(result.data.find("\"code\":\"payload_too_large\""), std::string::npos);
}

TEST(ServerLimitsTest, MalformedRequestsAre400JsonThenClose) {
  auto server = StartServer(EchoRouter());
  for (const char* garbage : {"NOT A REQUEST\r\n\r\n", "GET /json HTTX/1.1\r\n\r\n",
                              "GET /json HTTP/1.1\r\nBad Header Name: x\r\n\r\n",
                              "POST /echo HTTP/1.1\r\nContent-Length: nope\r\n\r\n"}) {
    RawConnection raw("127.0.0.1", server->port());
    ASSERT_TRUE(raw.Connect().ok());
    ASSERT_TRUE(raw.Send(garbage).ok());
    auto result = raw.ReadUntilClose(10s);
    EXPECT_TRUE(result.closed) << garbage;
    EXPECT_EQ(result.data.rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u) << garbage << " ->\n"
                                                                        << result.data;
    EXPECT_NE(result.data.find(R"({"error":{"code":"invalid_argument")"), std::string::npos)
        << result.data;
    EXPECT_NE(result.data.find("X-Request-ID: "), std::string::npos);
  }
}

TEST(ServerLimitsTest, ConnectionIsReleasedWhenClientNeverClosesAfterAnError) {
  MetricsRegistry metrics;
  auto server = StartServer(EchoRouter(), {}, &metrics);  // default (long) timeouts
  Gauge& connections = metrics.AddGauge("http_connections_active", "").Get();
  RawConnection raw("127.0.0.1", server->port());
  ASSERT_TRUE(raw.Connect().ok());
  ASSERT_TRUE(raw.Send("NOT HTTP\r\n\r\n").ok());
  EXPECT_TRUE(raw.ReadUntilClose(10s).closed);  // the server's FIN after the 400
  // The client keeps its end open; the server stops draining after its short linger.
  EXPECT_TRUE(test::Eventually([&] { return connections.Value() == 0.0; }, 5s));
}

TEST(ServerLimitsTest, MalformedTargetIs400) {
  auto server = StartServer(EchoRouter());
  HttpClient client("127.0.0.1", server->port());
  auto r = client.Get("/json%zz");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(Str(ErrorOf(r->body), "code"), "invalid_argument");
}

TEST(ServerLimitsTest, OversizedHeaderIs431) {
  ServerOptions options;
  options.max_header_bytes = 1024;
  auto server = StartServer(EchoRouter(), options);
  HttpClient client("127.0.0.1", server->port());
  auto r = client.Get("/json", {{"X-Big", std::string(4096, 'h')}});
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->status, 431);
  EXPECT_FALSE(r->keep_alive);
  EXPECT_EQ(Str(ErrorOf(r->body), "code"), "invalid_argument");
}

TEST(ServerLimitsTest, SlowLorisIsCutOffAfterHeaderTimeout) {
  ServerOptions options;
  options.header_timeout_ms = 300;
  auto server = StartServer(EchoRouter(), options);
  RawConnection raw("127.0.0.1", server->port());
  ASSERT_TRUE(raw.Connect().ok());
  auto start = SteadyClock::now();
  ASSERT_TRUE(raw.Send("GET /json HTTP/1.1\r\nHost: t\r\n").ok());
  // Dribble one header byte every 50 ms, for up to 10 s, never finishing the header.
  bool closed = false;
  for (int i = 0; i < 200 && !closed; ++i) {
    if (!raw.Send("x").ok()) {
      closed = true;
      break;
    }
    closed = raw.ReadUntilClose(50ms).closed;
  }
  auto elapsed = SteadyClock::now() - start;
  EXPECT_TRUE(closed) << "the server kept a never-finished header open";
  EXPECT_LT(elapsed, 5s);
}

TEST(ServerLimitsTest, SilentConnectionIsCutOffAfterHeaderTimeout) {
  ServerOptions options;
  options.header_timeout_ms = 300;
  auto server = StartServer(EchoRouter(), options);
  RawConnection raw("127.0.0.1", server->port());
  ASSERT_TRUE(raw.Connect().ok());
  auto result = raw.ReadUntilClose(10s);
  EXPECT_TRUE(result.closed);
  EXPECT_EQ(result.data, "");
}

TEST(ServerLimitsTest, IdleKeepAliveConnectionIsClosedAfterIdleTimeout) {
  ServerOptions options;
  options.idle_timeout_ms = 300;
  auto server = StartServer(EchoRouter(), options);
  RawConnection raw("127.0.0.1", server->port());
  ASSERT_TRUE(raw.Connect().ok());
  ASSERT_TRUE(raw.Send("GET /json HTTP/1.1\r\nHost: t\r\n\r\n").ok());
  auto response = raw.ReadUntil(R"({"status":"ok"})", 10s);
  ASSERT_FALSE(response.closed);
  auto start = SteadyClock::now();
  auto rest = raw.ReadUntilClose(10s);
  auto elapsed = SteadyClock::now() - start;
  EXPECT_TRUE(rest.closed);
  EXPECT_EQ(rest.data, "");
  EXPECT_GE(elapsed, 150ms);  // not closed right after the response: keep-alive held
  EXPECT_LT(elapsed, 5s);
}

TEST(ServerLimitsTest, FullWorkerQueueAnswers503Fast) {
  Gate gate;
  Router router;
  ASSERT_TRUE(router
                  .Add("GET", "/block",
                       [&gate](const api::Request&) {
                         gate.Wait();
                         return api::JsonResponse(R"({"unblocked":true})");
                       })
                  .ok());
  ASSERT_TRUE(router
                  .Add("GET", "/health",
                       [](const api::Request&) { return api::JsonResponse(R"({"status":"ok"})"); },
                       {.run_on_io_thread = true})
                  .ok());
  MetricsRegistry metrics;
  ServerOptions options;
  options.worker_threads = 1;
  options.max_queued_requests = 1;
  auto server = StartServer(std::move(router), options, &metrics);
  Gauge& depth = metrics.AddGauge("http_worker_queue_depth", "").Get();

  auto running = std::async(std::launch::async,
                            [&] { return HttpClient("127.0.0.1", server->port()).Get("/block"); });
  ASSERT_TRUE(gate.WaitArrivals(1));  // the only worker is now busy
  auto queued = std::async(std::launch::async,
                           [&] { return HttpClient("127.0.0.1", server->port()).Get("/block"); });
  ASSERT_TRUE(test::Eventually([&] { return depth.Value() == 1.0; }));

  HttpClient client("127.0.0.1", server->port());
  auto rejected = client.Get("/block");
  ASSERT_TRUE(rejected.has_value()) << rejected.error().ToString();
  EXPECT_EQ(rejected->status, 503);
  EXPECT_EQ(rejected->Header("retry-after"), "1");
  EXPECT_EQ(Str(ErrorOf(rejected->body), "code"), "unavailable");
  // I/O threads are not blocked by the stuck workers: inline routes still answer.
  auto health = client.Get("/health");
  ASSERT_TRUE(health.has_value());
  EXPECT_EQ(health->status, 200);

  gate.Open();
  auto first = running.get();
  auto second = queued.get();
  ASSERT_TRUE(first.has_value() && second.has_value());
  EXPECT_EQ(first->status, 200);
  EXPECT_EQ(second->status, 200);
  EXPECT_EQ(depth.Value(), 0.0);
}

TEST(ServerLimitsTest, SlowRoutesCannotStarveFastOnes) {
  Gate gate;
  Router router;
  ASSERT_TRUE(router
                  .Add("POST", "/llm",
                       [&gate](const api::Request&) {
                         gate.Wait();
                         return api::JsonResponse(R"({"answer":42})");
                       },
                       {.slow = true})
                  .ok());
  ASSERT_TRUE(router
                  .Add("GET", "/search",
                       [](const api::Request&) { return api::JsonResponse(R"({"results":[]})"); })
                  .ok());
  ASSERT_TRUE(router
                  .Add("GET", "/stream",
                       [](const api::Request&) {
                         api::Response r;
                         r.stream = [](api::StreamSink& sink) { sink.Write("x"); };
                         return r;
                       })
                  .ok());
  ServerOptions options;
  options.worker_threads = 1;
  options.slow_worker_threads = 1;
  options.max_queued_slow_requests = 0;
  auto server = StartServer(std::move(router), options);
  auto llm = std::async(std::launch::async,
                        [&] { return HttpClient("127.0.0.1", server->port()).Post("/llm", "{}"); });
  ASSERT_TRUE(gate.WaitArrivals(1));  // the only slow worker is stuck on the "model"
  HttpClient client("127.0.0.1", server->port());
  for (int i = 0; i < 3; ++i) {  // the regular worker is untouched
    auto r = client.Get("/search");
    ASSERT_TRUE(r.has_value()) << r.error().ToString();
    EXPECT_EQ(r->status, 200);
  }
  auto second = client.Post("/llm", "{}");
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->status, 503);
  // Streams run on the slow pool too: full, so a fast 503 before any body is sent.
  auto stream = client.Get("/stream");
  ASSERT_TRUE(stream.has_value()) << stream.error().ToString();
  EXPECT_EQ(stream->status, 503);
  EXPECT_EQ(Str(ErrorOf(stream->body), "code"), "unavailable");
  gate.Open();
  auto first = llm.get();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->status, 200);
}

TEST(ServerLimitsTest, GracefulStopLetsInFlightRequestFinish) {
  Gate gate;
  Router router;
  ASSERT_TRUE(router
                  .Add("GET", "/slow",
                       [&gate](const api::Request&) {
                         gate.Wait(5s);
                         std::this_thread::sleep_for(200ms);
                         return api::JsonResponse(R"({"finished":true})");
                       })
                  .ok());
  ASSERT_TRUE(
      router.Add("GET", "/json", [](const api::Request&) { return api::JsonResponse("{}"); }).ok());
  ServerOptions options;
  options.shutdown_grace_ms = 10'000;
  auto server = StartServer(std::move(router), options);
  uint16_t port = server->port();

  // An idle keep-alive connection is closed at once by Stop().
  RawConnection idle("127.0.0.1", port);
  ASSERT_TRUE(idle.Connect().ok());
  ASSERT_TRUE(idle.Send("GET /json HTTP/1.1\r\nHost: t\r\n\r\n").ok());
  ASSERT_FALSE(idle.ReadUntil("{}", 10s).closed);

  auto in_flight =
      std::async(std::launch::async, [&] { return HttpClient("127.0.0.1", port).Get("/slow"); });
  ASSERT_TRUE(gate.WaitArrivals(1));
  auto stopper = std::async(std::launch::async, [&] { server->Stop(); });
  EXPECT_TRUE(idle.ReadUntilClose(5s).closed);
  gate.Open();
  auto r = in_flight.get();
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, R"({"finished":true})");
  EXPECT_FALSE(r->keep_alive);  // told the connection closes
  EXPECT_EQ(stopper.wait_for(10s), std::future_status::ready);
  server->Wait();

  RawConnection late("127.0.0.1", port);
  EXPECT_FALSE(late.Connect().ok()) << "still accepting after Stop()";
  server->Stop();  // idempotent
}

TEST(ServerLimitsTest, StopCutsRequestsStillRunningAfterGrace) {
  Gate gate;
  Router router;
  ASSERT_TRUE(router
                  .Add("GET", "/stuck",
                       [&gate](const api::Request&) {
                         gate.Wait();
                         return api::JsonResponse("{}");
                       })
                  .ok());
  ServerOptions options;
  options.shutdown_grace_ms = 100;
  auto server = StartServer(std::move(router), options);
  auto client = std::async(std::launch::async,
                           [&] { return HttpClient("127.0.0.1", server->port()).Get("/stuck"); });
  ASSERT_TRUE(gate.WaitArrivals(1));
  auto stopper = std::async(std::launch::async, [&] { server->Stop(); });
  // After the grace period the connection is shut: the client gets no response.
  ASSERT_EQ(client.wait_for(10s), std::future_status::ready);
  EXPECT_FALSE(client.get().has_value());
  gate.Open();  // Stop() still waits for the handler thread to return
  EXPECT_EQ(stopper.wait_for(10s), std::future_status::ready);
}

TEST(ServerLimitsTest, StopFromAHandlerThreadDoesNotDeadlock) {
  std::atomic<Server*> self{nullptr};
  Router router;
  ASSERT_TRUE(router
                  .Add("POST", "/shutdown",
                       [&self](const api::Request&) {
                         self.load()->Stop();
                         return api::JsonResponse(R"({"stopping":true})");
                       })
                  .ok());
  ServerOptions options;
  options.shutdown_grace_ms = 5'000;
  auto server = StartServer(std::move(router), options);
  self = server.get();
  HttpClient client("127.0.0.1", server->port());
  auto r = client.Post("/shutdown", "{}");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_FALSE(r->keep_alive);
  auto waited = std::async(std::launch::async, [&] { server->Wait(); });
  EXPECT_EQ(waited.wait_for(10s), std::future_status::ready);
}

}  // namespace
}  // namespace jrvs::http
