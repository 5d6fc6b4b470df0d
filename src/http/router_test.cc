#include "http/router.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "http/request_id.h"
#include "http/target.h"

namespace jrvs::http {
namespace {

api::Handler Named(std::string name) {
  return [name](const api::Request&) { return api::JsonResponse("\"" + name + "\""); };
}

// Runs the matched handler and returns its body, or "" if nothing matched.
std::string Call(const Router& router, std::string_view method, std::string_view path,
                 std::map<std::string, std::string>* params = nullptr) {
  RouteMatch m = router.Match(method, path, params);
  if (m.kind != RouteMatch::Kind::kFound) return "";
  return (*m.handler)(api::Request{}).body;
}

TEST(RouterTest, MatchesLiteralRoutesAndReportsPattern) {
  Router router;
  ASSERT_TRUE(router.Add("GET", "/health", Named("health")).ok());
  ASSERT_TRUE(router.Add("GET", "/api/health", Named("api-health")).ok());
  EXPECT_EQ(Call(router, "GET", "/health"), "\"health\"");
  EXPECT_EQ(Call(router, "GET", "/api/health"), "\"api-health\"");
  RouteMatch m = router.Match("GET", "/api/health", nullptr);
  EXPECT_EQ(m.pattern, "/api/health");
  EXPECT_EQ(router.pattern(m.route_id), "/api/health");
  EXPECT_EQ(router.route_count(), 2u);
}

TEST(RouterTest, CapturesDecodedParameters) {
  Router router;
  ASSERT_TRUE(router.Add("GET", "/api/history/{session_id}", Named("history")).ok());
  std::map<std::string, std::string> params;
  EXPECT_EQ(Call(router, "GET", "/api/history/abc", &params), "\"history\"");
  EXPECT_EQ(params["session_id"], "abc");
  params.clear();
  // An encoded slash stays inside its segment; %20 decodes to a space.
  EXPECT_EQ(Call(router, "GET", "/api/history/a%20b%2Fc", &params), "\"history\"");
  EXPECT_EQ(params["session_id"], "a b/c");
  RouteMatch m = router.Match("GET", "/api/history/xyz", nullptr);
  EXPECT_EQ(m.pattern, "/api/history/{session_id}");
}

TEST(RouterTest, SeveralParametersInOrder) {
  Router router;
  ASSERT_TRUE(router.Add("GET", "/a/{x}/b/{y}", Named("xy")).ok());
  std::map<std::string, std::string> params;
  EXPECT_EQ(Call(router, "GET", "/a/1/b/2", &params), "\"xy\"");
  EXPECT_EQ(params["x"], "1");
  EXPECT_EQ(params["y"], "2");
  EXPECT_EQ(Call(router, "GET", "/a/1/b"), "");
  EXPECT_EQ(Call(router, "GET", "/a/1/b/2/3"), "");
}

TEST(RouterTest, ExactSegmentsWinOverParameters) {
  Router router;
  ASSERT_TRUE(router.Add("GET", "/api/documents/{id}", Named("by-id")).ok());
  ASSERT_TRUE(router.Add("GET", "/api/documents/stats", Named("stats")).ok());
  EXPECT_EQ(Call(router, "GET", "/api/documents/stats"), "\"stats\"");
  EXPECT_EQ(Call(router, "GET", "/api/documents/42"), "\"by-id\"");
}

TEST(RouterTest, BacktracksFromLiteralToParameter) {
  Router router;
  ASSERT_TRUE(router.Add("GET", "/a/b/x", Named("literal")).ok());
  ASSERT_TRUE(router.Add("GET", "/a/{p}/c", Named("param")).ok());
  std::map<std::string, std::string> params;
  EXPECT_EQ(Call(router, "GET", "/a/b/c", &params), "\"param\"");
  EXPECT_EQ(params["p"], "b");
  EXPECT_EQ(Call(router, "GET", "/a/b/x"), "\"literal\"");
}

TEST(RouterTest, MethodOnLessSpecificRouteStillMatches) {
  Router router;
  ASSERT_TRUE(router.Add("GET", "/api/documents/stats", Named("stats")).ok());
  ASSERT_TRUE(router.Add("DELETE", "/api/documents/{id}", Named("delete")).ok());
  std::map<std::string, std::string> params;
  EXPECT_EQ(Call(router, "DELETE", "/api/documents/stats", &params), "\"delete\"");
  EXPECT_EQ(params["id"], "stats");
}

TEST(RouterTest, UnknownPathIsNotFound) {
  Router router;
  ASSERT_TRUE(router.Add("GET", "/health", Named("health")).ok());
  RouteMatch m = router.Match("GET", "/nope", nullptr);
  EXPECT_EQ(m.kind, RouteMatch::Kind::kNotFound);
  EXPECT_EQ(m.route_id, -1);
  EXPECT_TRUE(m.pattern.empty());
  EXPECT_EQ(router.Match("GET", "/health/", nullptr).kind, RouteMatch::Kind::kNotFound);
  EXPECT_EQ(router.Match("GET", "", nullptr).kind, RouteMatch::Kind::kNotFound);
  EXPECT_EQ(router.Match("GET", "*", nullptr).kind, RouteMatch::Kind::kNotFound);
}

TEST(RouterTest, WrongMethodIsMethodNotAllowedWithAllowList) {
  Router router;
  ASSERT_TRUE(router.Add("GET", "/api/history/{session_id}", Named("get")).ok());
  ASSERT_TRUE(router.Add("DELETE", "/api/history/{session_id}", Named("delete")).ok());
  RouteMatch m = router.Match("POST", "/api/history/x", nullptr);
  EXPECT_EQ(m.kind, RouteMatch::Kind::kMethodNotAllowed);
  EXPECT_EQ(m.allow, "GET, HEAD, DELETE");
  EXPECT_EQ(m.pattern, "/api/history/{session_id}");
  EXPECT_EQ(Call(router, "DELETE", "/api/history/x"), "\"delete\"");
}

TEST(RouterTest, HeadFallsBackToGet) {
  Router router;
  ASSERT_TRUE(router.Add("GET", "/health", Named("get")).ok());
  EXPECT_EQ(Call(router, "HEAD", "/health"), "\"get\"");
  ASSERT_TRUE(router.Add("HEAD", "/health", Named("head")).ok());
  EXPECT_EQ(Call(router, "HEAD", "/health"), "\"head\"");
  EXPECT_EQ(router.Match("POST", "/health", nullptr).allow, "GET, HEAD");
}

TEST(RouterTest, RootPath) {
  Router router;
  ASSERT_TRUE(router.Add("GET", "/", Named("root")).ok());
  EXPECT_EQ(Call(router, "GET", "/"), "\"root\"");
  EXPECT_EQ(Call(router, "GET", "/x"), "");
}

TEST(RouterTest, RejectsMalformedRegistrations) {
  Router router;
  EXPECT_EQ(router.Add("get", "/x", Named("x")).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(router.Add("GET", "x", Named("x")).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(router.Add("GET", "/a/{}", Named("x")).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(router.Add("GET", "/a/{b-c}", Named("x")).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(router.Add("GET", "/a/x{b}", Named("x")).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(router.Add("GET", "/a", api::Handler()).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(router.Add("GET", "/a/{id}", Named("x")).ok());
  EXPECT_EQ(router.Add("GET", "/a/{id}", Named("y")).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(router.Add("PUT", "/a/{other}", Named("y")).code(), StatusCode::kInvalidArgument);
  // A failed Add leaves the router unchanged.
  EXPECT_EQ(router.route_count(), 1u);
  EXPECT_EQ(Call(router, "GET", "/a/1"), "\"x\"");
}

TEST(RouterTest, RunOnIoThreadOptionIsReturned) {
  Router router;
  ASSERT_TRUE(router.Add("GET", "/health", Named("h"), {.run_on_io_thread = true}).ok());
  ASSERT_TRUE(router.Add("GET", "/slow", Named("s")).ok());
  EXPECT_TRUE(router.Match("GET", "/health", nullptr).options.run_on_io_thread);
  EXPECT_FALSE(router.Match("GET", "/slow", nullptr).options.run_on_io_thread);
}

TEST(TargetTest, SplitsAndDecodesPathAndQuery) {
  ParsedTarget t;
  ASSERT_TRUE(ParseTarget("/api/search?query=hello+world&limit=5&q=%C3%A9t%C3%A9&flag", &t).ok());
  EXPECT_EQ(t.path, "/api/search");
  EXPECT_EQ(t.encoded_path, "/api/search");
  ASSERT_EQ(t.query.size(), 4u);
  EXPECT_EQ(t.query[0], (std::pair<std::string, std::string>{"query", "hello world"}));
  EXPECT_EQ(t.query[1], (std::pair<std::string, std::string>{"limit", "5"}));
  EXPECT_EQ(t.query[2].second, "\xC3\xA9t\xC3\xA9");
  EXPECT_EQ(t.query[3], (std::pair<std::string, std::string>{"flag", ""}));

  ASSERT_TRUE(ParseTarget("/a%20b/c%2Fd", &t).ok());
  EXPECT_EQ(t.path, "/a b/c/d");
  EXPECT_EQ(t.encoded_path, "/a%20b/c%2Fd");
  EXPECT_TRUE(t.query.empty());

  ASSERT_TRUE(ParseTarget("http://example.com/x?y=1", &t).ok());
  EXPECT_EQ(t.path, "/x");
  ASSERT_TRUE(ParseTarget("http://example.com", &t).ok());
  EXPECT_EQ(t.path, "/");
}

TEST(TargetTest, RejectsMalformedTargets) {
  ParsedTarget t;
  EXPECT_FALSE(ParseTarget("/a%zz", &t).ok());
  EXPECT_FALSE(ParseTarget("no-slash", &t).ok());
  EXPECT_FALSE(ParseTarget("", &t).ok());
}

TEST(RequestIdTest, ValidatesIncomingIds) {
  EXPECT_TRUE(IsValidRequestId("abc-123_X.y"));
  EXPECT_TRUE(IsValidRequestId(std::string(64, 'a')));
  EXPECT_FALSE(IsValidRequestId(std::string(65, 'a')));
  EXPECT_FALSE(IsValidRequestId(""));
  EXPECT_FALSE(IsValidRequestId("has space"));
  EXPECT_FALSE(IsValidRequestId("quote\""));
}

TEST(RequestIdTest, GeneratesDistinctHexIds) {
  std::string a = NewRequestId();
  std::string b = NewRequestId();
  EXPECT_EQ(a.size(), 32u);
  EXPECT_NE(a, b);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_TRUE(IsValidRequestId(a));
}

TEST(RouterTest, WebSocketRoutesCarryTheirUpgradeHandlerAndAnswer426Otherwise) {
  Router router;
  int opened = 0;
  ASSERT_TRUE(router
                  .AddWebSocket("/ws/{room}",
                                [&opened](const api::Request&) {
                                  ++opened;
                                  return std::unique_ptr<api::WebSocketConversation>();
                                })
                  .ok());
  ASSERT_TRUE(router.Add("POST", "/ws/{room}", Named("post")).ok());
  ASSERT_TRUE(router.Add("GET", "/plain", Named("plain")).ok());
  RouteMatch m = router.Match("GET", "/ws/chat", nullptr);
  ASSERT_EQ(m.kind, RouteMatch::Kind::kFound);
  ASSERT_NE(m.websocket, nullptr);
  (*m.websocket)(api::Request{});
  EXPECT_EQ(opened, 1);
  api::Response plain = (*m.handler)(api::Request{});
  EXPECT_EQ(plain.status, 426);
  // Other methods on the same pattern and other routes have no upgrade handler.
  EXPECT_EQ(router.Match("POST", "/ws/chat", nullptr).websocket, nullptr);
  EXPECT_EQ(router.Match("GET", "/plain", nullptr).websocket, nullptr);
  EXPECT_EQ(router.AddWebSocket("/ws/{room}", nullptr).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(router.AddWebSocket("no-slash", nullptr).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace jrvs::http
