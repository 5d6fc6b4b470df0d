// WebSocket routes through a real server and a real client: messages answered in turn, the 426
// for a plain GET, the origin check, the session limit, the message size limit, idle timeout,
// a client that vanishes mid-answer (the handler sees gone()), handler exceptions, and Stop().
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "http/server.h"
#include "http/server_test_util.h"
#include "http/websocket_session.h"
#include "support/http_client.h"
#include "support/ws_client.h"

namespace jrvs::http {
namespace {

using jrvs::testing::HttpClient;
using jrvs::testing::WsClient;
using test::Eventually;
using test::StartServer;
using namespace std::chrono_literals;

using MessageFn = std::function<void(std::string_view, api::MessageSink&)>;

class FnConversation final : public api::WebSocketConversation {
 public:
  explicit FnConversation(MessageFn fn) : fn_(std::move(fn)) {}
  void OnMessage(std::string_view text, api::MessageSink& sink) override { fn_(text, sink); }

 private:
  MessageFn fn_;
};

Router WsRouter(MessageFn fn) {
  Router router;
  EXPECT_TRUE(
      router
          .AddWebSocket("/ws/test",
                        [fn](const api::Request&) { return std::make_unique<FnConversation>(fn); })
          .ok());
  EXPECT_TRUE(router
                  .Add("GET", "/ping",
                       [](const api::Request&) { return api::JsonResponse(R"({"ok":true})"); })
                  .ok());
  return router;
}

// Answers each message with two frames, so order across messages is visible.
void Echo(std::string_view text, api::MessageSink& sink) {
  sink.Send(std::string("a:").append(text));
  sink.Send(std::string("b:").append(text));
}

TEST(WebSocketSessionTest, AnswersMessagesInTurnAndAPlainGetWith426) {
  auto server = StartServer(WsRouter(Echo));
  WsClient ws("127.0.0.1", server->port());
  ASSERT_TRUE(ws.Connect("/ws/test").ok());
  EXPECT_EQ(ws.handshake_status(), 101);
  ASSERT_TRUE(ws.Send("one").ok());
  ASSERT_TRUE(ws.Send("two").ok());
  for (const char* want : {"a:one", "b:one", "a:two", "b:two"}) {
    auto got = ws.Receive();
    ASSERT_TRUE(got) << got.error().ToString();
    EXPECT_EQ(*got, want);
  }
  EXPECT_TRUE(ws.Close().ok());

  HttpClient http("127.0.0.1", server->port());
  auto plain = http.Get("/ws/test");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->status, 426);
  EXPECT_EQ(plain->Header("upgrade"), "websocket");
  // An upgrade on a plain route is answered as plain HTTP.
  auto ping = http.Get("/ping", {{"Upgrade", "websocket"}, {"Connection", "Upgrade"}});
  ASSERT_TRUE(ping);
  EXPECT_EQ(ping->status, 200);
}

TEST(WebSocketSessionTest, RefusesForeignOriginsButNotTheHostItself) {
  auto server = StartServer(WsRouter(Echo));
  std::string host = "127.0.0.1:" + std::to_string(server->port());
  WsClient evil("127.0.0.1", server->port());
  EXPECT_FALSE(evil.Connect("/ws/test", {{"Origin", "http://evil.example"}}).ok());
  EXPECT_EQ(evil.handshake_status(), 403);
  WsClient same("127.0.0.1", server->port());
  ASSERT_TRUE(same.Connect("/ws/test", {{"Origin", "http://" + host}}).ok());
  ASSERT_TRUE(same.Send("x").ok());
  EXPECT_EQ(same.Receive().value_or(""), "a:x");
}

TEST(WebSocketSessionTest, SessionLimitIsA503) {
  ServerOptions options;
  options.max_websocket_sessions = 1;
  auto server = StartServer(WsRouter(Echo), options);
  WsClient first("127.0.0.1", server->port());
  ASSERT_TRUE(first.Connect("/ws/test").ok());
  WsClient second("127.0.0.1", server->port());
  EXPECT_FALSE(second.Connect("/ws/test").ok());
  EXPECT_EQ(second.handshake_status(), 503);
  // The slot is free again once the first session ended.
  EXPECT_TRUE(first.Close().ok());
  EXPECT_TRUE(Eventually([&] {
    WsClient third("127.0.0.1", server->port());
    return third.Connect("/ws/test").ok();
  }));
}

TEST(WebSocketSessionTest, OversizedMessageClosesWith1009) {
  ServerOptions options;
  options.ws_max_message_bytes = 1024;
  auto server = StartServer(WsRouter(Echo), options);
  WsClient ws("127.0.0.1", server->port());
  ASSERT_TRUE(ws.Connect("/ws/test").ok());
  ASSERT_TRUE(ws.Send(std::string(1024, 'x')).ok());
  EXPECT_EQ(ws.Receive().value_or("").size(), 1026u);
  EXPECT_EQ(ws.Receive().value_or("").size(), 1026u);
  ASSERT_TRUE(ws.Send(std::string(1025, 'x')).ok());
  auto got = ws.Receive();
  ASSERT_FALSE(got);
  EXPECT_EQ(ws.close_code(), 1009);
}

TEST(WebSocketSessionTest, IdleSessionIsClosed) {
  ServerOptions options;
  options.ws_idle_timeout_ms = 100;
  auto server = StartServer(WsRouter(Echo), options);
  WsClient ws("127.0.0.1", server->port(), 10s);
  ASSERT_TRUE(ws.Connect("/ws/test").ok());
  auto got = ws.Receive();
  ASSERT_FALSE(got);
  // Closed by the server, not the client's own timeout.
  EXPECT_EQ(got.error().code(), StatusCode::kUnavailable) << got.error().ToString();
}

TEST(WebSocketSessionTest, ClientThatVanishesMidAnswerCancelsTheHandler) {
  std::atomic<bool> saw_gone{false};
  std::atomic<bool> send_failed{false};
  auto server = StartServer(WsRouter([&](std::string_view text, api::MessageSink& sink) {
    if (text != "wait") return Echo(text, sink);
    sink.Send("started");
    // A model call polling the cancel flag: gone() must turn true although nothing is written.
    for (int i = 0; i < 2000 && !sink.gone().load(); ++i) std::this_thread::sleep_for(5ms);
    saw_gone = sink.gone().load();
    send_failed = !sink.Send("too late");
  }));
  WsClient ws("127.0.0.1", server->port());
  ASSERT_TRUE(ws.Connect("/ws/test").ok());
  ASSERT_TRUE(ws.Send("wait").ok());
  EXPECT_EQ(ws.Receive().value_or(""), "started");
  ws.Abort();
  EXPECT_TRUE(Eventually([&] { return saw_gone.load(); }));
  EXPECT_TRUE(Eventually([&] { return send_failed.load(); }));
  // The server is fine: a new session works.
  WsClient next("127.0.0.1", server->port());
  ASSERT_TRUE(next.Connect("/ws/test").ok());
  ASSERT_TRUE(next.Send("y").ok());
  EXPECT_EQ(next.Receive().value_or(""), "a:y");
}

TEST(WebSocketSessionTest, HandlerExceptionIsAnErrorFrameAndTheSocketStaysUsable) {
  auto server = StartServer(WsRouter([](std::string_view text, api::MessageSink& sink) {
    if (text == "throw") throw std::runtime_error("secret detail");
    Echo(text, sink);
  }));
  WsClient ws("127.0.0.1", server->port());
  ASSERT_TRUE(ws.Connect("/ws/test").ok());
  ASSERT_TRUE(ws.Send("throw").ok());
  auto error = ws.Receive();
  ASSERT_TRUE(error);
  auto frame = test::Json(*error).as_object();
  EXPECT_EQ(test::Str(frame, "type"), "error");
  EXPECT_EQ(test::Str(frame, "code"), "internal");
  EXPECT_EQ(error->find("secret"), std::string::npos);
  ASSERT_TRUE(ws.Send("ok").ok());
  EXPECT_EQ(ws.Receive().value_or(""), "a:ok");
}

TEST(WebSocketSessionTest, TooManyWaitingMessagesGetAnErrorFrame) {
  test::Gate gate;
  auto server = StartServer(WsRouter([&](std::string_view text, api::MessageSink& sink) {
    if (text == "block") gate.Wait();
    Echo(text, sink);
  }));
  WsClient ws("127.0.0.1", server->port());
  ASSERT_TRUE(ws.Connect("/ws/test").ok());
  ASSERT_TRUE(ws.Send("block").ok());
  ASSERT_TRUE(gate.WaitArrivals(1));
  // The running message plus kMaxPendingMessages waiting are accepted; the next one is not.
  for (size_t i = 0; i < internal::WebSocketSession::kMaxPendingMessages + 1; ++i) {
    ASSERT_TRUE(ws.Send("m" + std::to_string(i)).ok());
  }
  auto refused = ws.Receive();
  ASSERT_TRUE(refused);
  EXPECT_EQ(test::Str(test::Json(*refused).as_object(), "code"), "unavailable") << *refused;
  gate.Open();
  EXPECT_EQ(ws.Receive().value_or(""), "a:block");
  EXPECT_EQ(ws.Receive().value_or(""), "b:block");
  for (size_t i = 0; i < internal::WebSocketSession::kMaxPendingMessages; ++i) {
    EXPECT_EQ(ws.Receive().value_or(""), "a:m" + std::to_string(i));
    EXPECT_EQ(ws.Receive().value_or(""), "b:m" + std::to_string(i));
  }
}

TEST(WebSocketSessionTest, StopClosesAnIdleSessionWithGoingAway) {
  auto server = StartServer(WsRouter(Echo));
  WsClient ws("127.0.0.1", server->port());
  ASSERT_TRUE(ws.Connect("/ws/test").ok());
  std::thread stopper([&] { server->Stop(); });
  auto got = ws.Receive();
  EXPECT_FALSE(got);
  EXPECT_EQ(ws.close_code(), 1001);
  stopper.join();
}

TEST(WebSocketSessionTest, StopDoesNotWaitTheGracePeriodForAClientThatNeverReads) {
  ServerOptions options;
  options.shutdown_grace_ms = 60'000;
  auto server = StartServer(WsRouter(Echo), options);
  WsClient ws("127.0.0.1", server->port());
  ASSERT_TRUE(ws.Connect("/ws/test").ok());
  // The client never answers the close: the close handshake's own short deadline ends it, not
  // the 60 s grace period (the bound below only tells those two apart).
  auto start = std::chrono::steady_clock::now();
  server->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 30s);
  EXPECT_FALSE(ws.Receive());
  EXPECT_EQ(ws.close_code(), 1001);
}

}  // namespace
}  // namespace jrvs::http
