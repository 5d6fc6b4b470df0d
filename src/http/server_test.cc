// The server over real loopback sockets: request/response round trips, keep-alive, pipelining,
// routing errors, the exception firewall and request ids.
#include "http/server.h"

#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

#include "http/server_test_util.h"
#include "support/http_client.h"

namespace jrvs::http {
namespace {

using jrvs::testing::HttpClient;
using jrvs::testing::RawConnection;
using test::ErrorOf;
using test::Json;
using test::StartServer;
using test::Str;
using namespace std::chrono_literals;

// Echoes what the server handed to the handler.
api::Response Describe(const api::Request& r) {
  boost::json::object o;
  o["method"] = r.method;
  o["target"] = r.target;
  o["path"] = r.path;
  boost::json::array query;
  for (const auto& [k, v] : r.query) query.push_back(boost::json::array{k.c_str(), v.c_str()});
  o["query"] = std::move(query);
  boost::json::object params;
  for (const auto& [k, v] : r.path_params) params[k] = v;
  o["params"] = std::move(params);
  o["custom"] = std::string(r.Header("x-custom").value_or("<none>"));
  o["body"] = r.body;
  o["request_id"] = r.request_id;
  o["remote"] = r.remote_address;
  return api::JsonResponse(boost::json::serialize(o));
}

Router TestRouter() {
  Router router;
  EXPECT_TRUE(router
                  .Add("GET", "/json",
                       [](const api::Request&) { return api::JsonResponse(R"({"status":"ok"})"); })
                  .ok());
  EXPECT_TRUE(router
                  .Add("GET", "/inline",
                       [](const api::Request&) { return api::JsonResponse(R"({"inline":true})"); },
                       {.run_on_io_thread = true})
                  .ok());
  EXPECT_TRUE(router
                  .Add("POST", "/echo",
                       [](const api::Request& r) {
                         boost::json::value in = boost::json::parse(r.body);
                         boost::json::object out;
                         out["got"] = in.at("x");
                         out["content_type"] = std::string(r.Header("content-type").value_or(""));
                         return api::JsonResponse(boost::json::serialize(out), 201);
                       })
                  .ok());
  EXPECT_TRUE(router.Add("GET", "/api/history/{session_id}", Describe).ok());
  EXPECT_TRUE(router
                  .Add("GET", "/id/{n}",
                       [](const api::Request& r) {
                         // Later requests are faster, so out-of-order processing would reorder
                         // answers.
                         int n = std::stoi(std::string(r.PathParam("n")));
                         std::this_thread::sleep_for(std::chrono::milliseconds(40 / n));
                         std::string body = "\"";
                         body += r.PathParam("n");
                         body += '"';
                         return api::JsonResponse(std::move(body));
                       })
                  .ok());
  EXPECT_TRUE(router
                  .Add("GET", "/throw",
                       [](const api::Request&) -> api::Response {
                         throw std::runtime_error("secret database password is hunter2");
                       })
                  .ok());
  EXPECT_TRUE(
      router.Add("GET", "/throw-int", [](const api::Request&) -> api::Response { throw 42; }).ok());
  EXPECT_TRUE(router
                  .Add("GET", "/headers",
                       [](const api::Request&) {
                         api::Response r = api::JsonResponse("{}");
                         r.content_type = "application/vnd.test+json";
                         r.headers.emplace_back("X-Extra", "yes");
                         r.headers.emplace_back("X-Evil", "a\r\nSet-Cookie: injected=1");
                         r.headers.emplace_back("Content-Length", "9999");
                         return r;
                       })
                  .ok());
  return router;
}

TEST(ServerTest, JsonRoundTrip) {
  auto server = StartServer(TestRouter());
  HttpClient client("127.0.0.1", server->port());
  auto r = client.Post("/echo", R"({"x":[1,"two",{"three":3}]})");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(r->Header("content-type"), "application/json");
  EXPECT_EQ(r->Header("server"), "jrvs");
  auto body = Json(r->body).as_object();
  EXPECT_EQ(boost::json::serialize(body.at("got")), R"([1,"two",{"three":3}])");
  EXPECT_EQ(Str(body, "content_type"), "application/json");
  EXPECT_EQ(r->Header("content-length"), std::to_string(r->body.size()));
}

TEST(ServerTest, HandlerSeesDecodedPathQueryHeadersAndPeer) {
  auto server = StartServer(TestRouter());
  HttpClient client("127.0.0.1", server->port());
  auto r =
      client.Get("/api/history/a%20b%2Fc?limit=5&q=hello+world&q=%C3%A9", {{"X-Custom", "Value"}});
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  ASSERT_EQ(r->status, 200) << r->body;
  auto body = Json(r->body).as_object();
  EXPECT_EQ(Str(body, "method"), "GET");
  EXPECT_EQ(Str(body, "target"), "/api/history/a%20b%2Fc?limit=5&q=hello+world&q=%C3%A9");
  EXPECT_EQ(Str(body, "path"), "/api/history/a b/c");
  EXPECT_EQ(Str(body.at("params").as_object(), "session_id"), "a b/c");
  EXPECT_EQ(boost::json::serialize(body.at("query")),
            R"([["limit","5"],["q","hello world"],["q","é"]])");
  EXPECT_EQ(Str(body, "custom"), "Value");  // looked up by lower-case name
  EXPECT_EQ(Str(body, "remote").rfind("127.0.0.1:", 0), 0u) << Str(body, "remote");
  EXPECT_EQ(Str(body, "request_id"), r->Header("x-request-id"));
}

TEST(ServerTest, KeepAliveReusesOneConnection) {
  auto server = StartServer(TestRouter());
  HttpClient client("127.0.0.1", server->port());
  uint16_t first_port = 0;
  for (int i = 0; i < 5; ++i) {
    auto r = client.Get(i % 2 ? "/json" : "/inline");
    ASSERT_TRUE(r.has_value()) << r.error().ToString();
    EXPECT_EQ(r->status, 200);
    EXPECT_TRUE(r->keep_alive);
    if (i == 0) first_port = client.local_port();
    EXPECT_EQ(client.local_port(), first_port) << "request " << i << " used a new connection";
  }
  EXPECT_NE(first_port, 0);
}

TEST(ServerTest, PipelinedRequestsAreAnsweredInOrder) {
  auto server = StartServer(TestRouter());
  RawConnection raw("127.0.0.1", server->port());
  ASSERT_TRUE(raw.Connect().ok());
  std::string batch;
  for (int i = 1; i <= 4; ++i) {
    batch += "GET /id/" + std::to_string(i) + " HTTP/1.1\r\nHost: t\r\n";
    if (i == 4) batch += "Connection: close\r\n";
    batch += "\r\n";
  }
  ASSERT_TRUE(raw.Send(batch).ok());  // all four in one write
  auto result = raw.ReadUntilClose(10s);
  EXPECT_TRUE(result.closed);
  size_t pos = 0;
  for (int i = 1; i <= 4; ++i) {
    size_t status = result.data.find("HTTP/1.1 200 OK", pos);
    ASSERT_NE(status, std::string::npos) << "response " << i << " missing:\n" << result.data;
    size_t body = result.data.find("\"" + std::to_string(i) + "\"", status);
    ASSERT_NE(body, std::string::npos) << "response " << i << " out of order:\n" << result.data;
    pos = body;
  }

  // The same through the client: send three, then read three.
  HttpClient client("127.0.0.1", server->port());
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(client.Send("GET", "/id/" + std::to_string(i)).ok());
  for (int i = 1; i <= 3; ++i) {
    auto r = client.Receive();
    ASSERT_TRUE(r.has_value()) << r.error().ToString();
    EXPECT_EQ(r->body, "\"" + std::to_string(i) + "\"");
  }
}

TEST(ServerTest, HeadAnswersHeadersOnly) {
  auto server = StartServer(TestRouter());
  HttpClient client("127.0.0.1", server->port());
  auto get = client.Get("/json");
  ASSERT_TRUE(get.has_value());
  auto head = client.Request("HEAD", "/json");
  ASSERT_TRUE(head.has_value()) << head.error().ToString();
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->body, "");
  EXPECT_EQ(head->Header("content-length"), std::to_string(get->body.size()));
  // Framing is intact: the connection still works.
  auto again = client.Get("/json");
  ASSERT_TRUE(again.has_value()) << again.error().ToString();
  EXPECT_EQ(again->body, get->body);
}

TEST(ServerTest, NotFoundAndMethodNotAllowedUseTheErrorFormat) {
  auto server = StartServer(TestRouter());
  HttpClient client("127.0.0.1", server->port());
  auto missing = client.Get("/nope");
  ASSERT_TRUE(missing.has_value());
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(missing->Header("content-type"), "application/json");
  auto error = ErrorOf(missing->body);
  EXPECT_EQ(Str(error, "code"), "not_found");
  EXPECT_EQ(Str(error, "request_id"), missing->Header("x-request-id"));
  EXPECT_NE(Str(error, "message"), "<missing>");

  auto wrong = client.Request("DELETE", "/json");
  ASSERT_TRUE(wrong.has_value());
  EXPECT_EQ(wrong->status, 405);
  EXPECT_EQ(wrong->Header("allow"), "GET, HEAD");
  error = ErrorOf(wrong->body);
  EXPECT_EQ(Str(error, "code"), "method_not_allowed");
  EXPECT_EQ(Str(error, "request_id"), wrong->Header("x-request-id"));
  EXPECT_TRUE(wrong->keep_alive);
}

TEST(ServerTest, HandlerExceptionsBecomeOpaque500s) {
  auto server = StartServer(TestRouter());
  HttpClient client("127.0.0.1", server->port());
  for (const char* target : {"/throw", "/throw-int"}) {
    auto r = client.Get(target, {{"X-Request-ID", "trace-me-1"}});
    ASSERT_TRUE(r.has_value()) << r.error().ToString();
    EXPECT_EQ(r->status, 500);
    auto error = ErrorOf(r->body);
    EXPECT_EQ(Str(error, "code"), "internal");
    EXPECT_EQ(Str(error, "message"), "internal error");
    EXPECT_EQ(Str(error, "request_id"), "trace-me-1");
    EXPECT_EQ(r->body.find("hunter2"), std::string::npos);
    EXPECT_EQ(r->body.find("secret"), std::string::npos);
  }
  auto after = client.Get("/json");  // the server and the connection survive
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->status, 200);
}

TEST(ServerTest, RequestIdIsHonouredOrGenerated) {
  auto server = StartServer(TestRouter());
  HttpClient client("127.0.0.1", server->port());
  auto honoured = client.Get("/json", {{"X-Request-ID", "abc-123_X.y"}});
  ASSERT_TRUE(honoured.has_value());
  EXPECT_EQ(honoured->Header("x-request-id"), "abc-123_X.y");

  for (std::string bad : {std::string("has space"), std::string(65, 'a'), std::string("")}) {
    auto r = client.Get("/json", {{"X-Request-ID", bad}});
    ASSERT_TRUE(r.has_value());
    EXPECT_NE(r->Header("x-request-id"), bad);
    EXPECT_EQ(r->Header("x-request-id").size(), 32u);
  }
  auto a = client.Get("/json");
  auto b = client.Get("/json");
  ASSERT_TRUE(a.has_value() && b.has_value());
  EXPECT_EQ(a->Header("x-request-id").size(), 32u);
  EXPECT_NE(a->Header("x-request-id"), b->Header("x-request-id"));
}

TEST(ServerTest, ResponseHeadersAreSanitised) {
  auto server = StartServer(TestRouter());
  HttpClient client("127.0.0.1", server->port());
  auto r = client.Get("/headers");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->Header("content-type"), "application/vnd.test+json");
  EXPECT_EQ(r->Header("x-extra"), "yes");
  EXPECT_FALSE(r->HasHeader("x-evil"));
  EXPECT_FALSE(r->HasHeader("set-cookie"));
  EXPECT_EQ(r->Header("content-length"), "2");
  EXPECT_EQ(r->body, "{}");
}

TEST(ServerTest, ConnectionCloseIsHonoured) {
  auto server = StartServer(TestRouter());
  HttpClient client("127.0.0.1", server->port());
  auto r = client.Get("/json", {{"Connection", "close"}});
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->keep_alive);
  EXPECT_EQ(r->Header("connection"), "close");

  RawConnection raw("127.0.0.1", server->port());
  ASSERT_TRUE(raw.Connect().ok());
  ASSERT_TRUE(raw.Send("GET /json HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").ok());
  auto result = raw.ReadUntilClose(10s);
  EXPECT_TRUE(result.closed);
  EXPECT_EQ(result.data.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << result.data;
}

TEST(ServerTest, Http10ClosesUnlessKeepAliveAsked) {
  auto server = StartServer(TestRouter());
  RawConnection raw("127.0.0.1", server->port());
  ASSERT_TRUE(raw.Connect().ok());
  ASSERT_TRUE(raw.Send("GET /json HTTP/1.0\r\n\r\n").ok());
  auto result = raw.ReadUntilClose(10s);
  EXPECT_TRUE(result.closed);
  EXPECT_EQ(result.data.rfind("HTTP/1.0 200 OK\r\n", 0), 0u) << result.data;
  EXPECT_NE(result.data.find(R"({"status":"ok"})"), std::string::npos);

  RawConnection kept("127.0.0.1", server->port());
  ASSERT_TRUE(kept.Connect().ok());
  ASSERT_TRUE(kept.Send("GET /json HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").ok());
  auto first = kept.ReadUntil(R"({"status":"ok"})", 10s);
  EXPECT_NE(first.data.find("Connection: keep-alive"), std::string::npos) << first.data;
  ASSERT_TRUE(kept.Send("GET /json HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").ok());
  auto second = kept.ReadUntil(R"({"status":"ok"})", 10s);
  EXPECT_FALSE(second.closed);
  EXPECT_EQ(second.data.rfind("HTTP/1.0 200 OK\r\n", 0), 0u) << second.data;
}

TEST(ServerTest, ExpectContinueGetsInterimResponse) {
  auto server = StartServer(TestRouter());
  RawConnection raw("127.0.0.1", server->port());
  ASSERT_TRUE(raw.Connect().ok());
  std::string body = R"({"x":7})";
  ASSERT_TRUE(raw.Send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                       "Expect: 100-continue\r\nContent-Length: " +
                       std::to_string(body.size()) + "\r\n\r\n")
                  .ok());
  auto interim = raw.ReadUntil("\r\n\r\n", 10s);
  EXPECT_EQ(interim.data, "HTTP/1.1 100 Continue\r\n\r\n");
  ASSERT_TRUE(raw.Send(body).ok());
  auto final_response = raw.ReadUntil(R"("got":7)", 10s);
  EXPECT_EQ(final_response.data.rfind("HTTP/1.1 201 Created\r\n", 0), 0u) << final_response.data;
}

TEST(ServerTest, StartFailsWhenThePortIsTaken) {
  auto first = StartServer(TestRouter());
  ServerOptions options;
  options.port = first->port();
  Server second(options, TestRouter(), nullptr);
  Status s = second.Start();
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
  EXPECT_NE(s.message().find(std::to_string(first->port())), std::string::npos);
  second.Stop();  // harmless on a server that never started
  second.Wait();
}

TEST(ServerTest, InvalidOptionsAreRejectedByName) {
  ServerOptions options;
  options.io_threads = -1;
  Server server(options, Router(), nullptr);
  Status s = server.Start();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("server.io_threads"), std::string::npos) << s.message();

  ServerOptions timeouts;
  timeouts.header_timeout_ms = 0;
  EXPECT_NE(ValidateServerOptions(timeouts).message().find("header_timeout_ms"), std::string::npos);
  EXPECT_TRUE(ValidateServerOptions(ServerOptions{}).ok());
}

}  // namespace
}  // namespace jrvs::http
