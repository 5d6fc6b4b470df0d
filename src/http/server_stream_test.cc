// Streaming responses: chunked delivery as the producer writes, back-pressure, and the producer
// learning that the client left or the server is stopping.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "http/server.h"
#include "http/server_test_util.h"
#include "support/http_client.h"

namespace jrvs::http {
namespace {

using jrvs::testing::HttpClient;
using test::StartServer;
using namespace std::chrono_literals;

// Chunks the client received, shared with the producer so it can check delivery in order.
class Received {
 public:
  void Add(std::string_view chunk) {
    std::lock_guard lock(mu_);
    chunks_.emplace_back(chunk);
    cv_.notify_all();
  }
  bool WaitCount(size_t n, std::chrono::milliseconds limit) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, limit, [&] { return chunks_.size() >= n; });
  }
  std::vector<std::string> chunks() {
    std::lock_guard lock(mu_);
    return chunks_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> chunks_;
};

// What a producer observed, reported back to the test thread.
struct ProducerReport {
  std::promise<void> done;
  std::atomic<bool> write_failed{false};
  std::atomic<bool> saw_gone{false};
  std::atomic<bool> in_order{true};
  std::atomic<int> writes{0};
};

TEST(ServerStreamTest, ChunksArriveAsTheyAreWritten) {
  Received received;
  ProducerReport report;
  Router router;
  ASSERT_TRUE(router
                  .Add("GET", "/stream",
                       [&](const api::Request&) {
                         api::Response r;
                         r.content_type = "text/event-stream";
                         r.headers.emplace_back("Cache-Control", "no-cache");
                         r.stream = [&](api::StreamSink& sink) {
                           for (size_t i = 0; i < 5; ++i) {
                             if (!sink.Write("data: " + std::to_string(i) + "\n\n")) {
                               report.write_failed = true;
                             }
                             // The next chunk is written only once the client has this one, so the
                             // client cannot be receiving a buffered-up body at the end.
                             if (!received.WaitCount(i + 1, 10s)) report.in_order = false;
                           }
                           report.done.set_value();
                         };
                         return r;
                       })
                  .ok());
  ASSERT_TRUE(
      router.Add("GET", "/json", [](const api::Request&) { return api::JsonResponse("{}"); }).ok());
  auto server = StartServer(std::move(router));
  HttpClient client("127.0.0.1", server->port());
  auto r = client.Stream("GET", "/stream", "", {}, [&](std::string_view chunk) {
    received.Add(chunk);
    return true;
  });
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->Header("transfer-encoding"), "chunked");
  EXPECT_EQ(r->Header("content-type"), "text/event-stream");
  EXPECT_EQ(r->Header("cache-control"), "no-cache");
  EXPECT_EQ(r->Header("x-request-id").size(), 32u);
  EXPECT_EQ(received.chunks(),
            (std::vector<std::string>{"data: 0\n\n", "data: 1\n\n", "data: 2\n\n", "data: 3\n\n",
                                      "data: 4\n\n"}));
  EXPECT_TRUE(report.in_order);
  EXPECT_FALSE(report.write_failed);
  // The connection stays usable after a completed stream.
  uint16_t port = client.local_port();
  auto after = client.Get("/json");
  ASSERT_TRUE(after.has_value()) << after.error().ToString();
  EXPECT_EQ(after->status, 200);
  EXPECT_EQ(client.local_port(), port);
}

TEST(ServerStreamTest, ProducerLearnsTheClientLeftFromWrite) {
  ProducerReport report;
  Router router;
  ASSERT_TRUE(router
                  .Add("GET", "/ticks",
                       [&](const api::Request&) {
                         api::Response r;
                         r.content_type = "application/x-ndjson";
                         r.stream = [&](api::StreamSink& sink) {
                           auto deadline = std::chrono::steady_clock::now() + 10s;
                           while (std::chrono::steady_clock::now() < deadline) {
                             ++report.writes;
                             if (!sink.Write("{\"tick\":true}\n")) {
                               report.write_failed = true;
                               break;
                             }
                             std::this_thread::sleep_for(5ms);
                           }
                           report.saw_gone = sink.ClientGone();
                           report.done.set_value();
                         };
                         return r;
                       })
                  .ok());
  auto server = StartServer(std::move(router));
  HttpClient client("127.0.0.1", server->port());
  int seen = 0;
  auto r = client.Stream("GET", "/ticks", "", {}, [&](std::string_view) { return ++seen < 3; });
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(seen, 3);
  EXPECT_FALSE(client.connected());
  ASSERT_EQ(report.done.get_future().wait_for(15s), std::future_status::ready);
  EXPECT_TRUE(report.write_failed);
  EXPECT_TRUE(report.saw_gone);
}

TEST(ServerStreamTest, ProducerCanPollClientGoneWithoutWriting) {
  ProducerReport report;
  Router router;
  ASSERT_TRUE(router
                  .Add("GET", "/think",
                       [&](const api::Request&) {
                         api::Response r;
                         r.stream = [&](api::StreamSink& sink) {
                           sink.Write("thinking\n");
                           // A producer waiting on a slow model polls instead of writing.
                           auto deadline = std::chrono::steady_clock::now() + 10s;
                           while (std::chrono::steady_clock::now() < deadline &&
                                  !sink.ClientGone()) {
                             std::this_thread::sleep_for(5ms);
                           }
                           report.saw_gone = sink.ClientGone();
                           report.done.set_value();
                         };
                         return r;
                       })
                  .ok());
  auto server = StartServer(std::move(router));
  HttpClient client("127.0.0.1", server->port());
  auto r = client.Stream("GET", "/think", "", {}, [](std::string_view) { return false; });
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  ASSERT_EQ(report.done.get_future().wait_for(15s), std::future_status::ready);
  EXPECT_TRUE(report.saw_gone);
}

TEST(ServerStreamTest, StopEndsStreams) {
  ProducerReport report;
  Router router;
  ASSERT_TRUE(router
                  .Add("GET", "/forever",
                       [&](const api::Request&) {
                         api::Response r;
                         r.stream = [&](api::StreamSink& sink) {
                           auto deadline = std::chrono::steady_clock::now() + 20s;
                           while (std::chrono::steady_clock::now() < deadline) {
                             if (!sink.Write("x")) {
                               report.write_failed = true;
                               break;
                             }
                             std::this_thread::sleep_for(10ms);
                           }
                           report.saw_gone = sink.ClientGone();
                           report.done.set_value();
                         };
                         return r;
                       })
                  .ok());
  ServerOptions options;
  options.shutdown_grace_ms = 100;
  auto server = StartServer(std::move(router), options);
  std::promise<void> first_chunk;
  std::atomic<bool> signalled{false};
  auto client = std::async(std::launch::async, [&] {
    HttpClient c("127.0.0.1", server->port());
    return c.Stream("GET", "/forever", "", {}, [&](std::string_view) {
      if (!signalled.exchange(true)) first_chunk.set_value();
      return true;
    });
  });
  ASSERT_EQ(first_chunk.get_future().wait_for(10s), std::future_status::ready);
  auto stopper = std::async(std::launch::async, [&] { server->Stop(); });
  ASSERT_EQ(report.done.get_future().wait_for(15s), std::future_status::ready);
  EXPECT_TRUE(report.write_failed);
  EXPECT_TRUE(report.saw_gone);
  EXPECT_EQ(stopper.wait_for(10s), std::future_status::ready);
  ASSERT_EQ(client.wait_for(10s), std::future_status::ready);
  EXPECT_FALSE(client.get().has_value());  // the body was cut, not completed
}

TEST(ServerStreamTest, ThrowingProducerTruncatesTheBody) {
  Router router;
  ASSERT_TRUE(router
                  .Add("GET", "/broken",
                       [](const api::Request&) {
                         api::Response r;
                         r.stream = [](api::StreamSink& sink) {
                           sink.Write("partial");
                           throw std::runtime_error("model crashed");
                         };
                         return r;
                       })
                  .ok());
  auto server = StartServer(std::move(router));
  HttpClient client("127.0.0.1", server->port());
  std::vector<std::string> chunks;
  auto r = client.Stream("GET", "/broken", "", {}, [&](std::string_view c) {
    chunks.emplace_back(c);
    return true;
  });
  EXPECT_FALSE(r.has_value());  // no terminating chunk: the client sees a truncated body
  EXPECT_EQ(chunks, std::vector<std::string>{"partial"});
}

TEST(ServerStreamTest, HeadOnStreamingRouteSendsNoBody) {
  std::atomic<bool> produced{false};
  Router router;
  ASSERT_TRUE(router
                  .Add("GET", "/stream",
                       [&](const api::Request&) {
                         api::Response r;
                         r.stream = [&](api::StreamSink& sink) {
                           produced = true;
                           sink.Write("body");
                         };
                         return r;
                       })
                  .ok());
  auto server = StartServer(std::move(router));
  HttpClient client("127.0.0.1", server->port());
  auto r = client.Request("HEAD", "/stream");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "");
  EXPECT_FALSE(produced);
}

}  // namespace
}  // namespace jrvs::http
