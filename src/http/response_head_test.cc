#include "http/response_head.h"

#include <gtest/gtest.h>

#include <string>

namespace jrvs::http {
namespace {

std::string Head(const api::Response& response, const ResponseHeadInfo& info,
                 int* dropped = nullptr) {
  std::string out = "prefix|";  // appended to, never overwritten
  int n = AppendResponseHead(response, info, &out);
  if (dropped != nullptr) *dropped = n;
  EXPECT_EQ(out.rfind("prefix|", 0), 0u);
  return out.substr(7);
}

TEST(ResponseHeadTest, StatusLineStandardHeadersAndLength) {
  api::Response r = api::JsonResponse(R"({"ok":true})", 201);
  ResponseHeadInfo info;
  info.status = r.status;
  info.request_id = "req-1";
  info.content_length = r.body.size();
  std::string head = Head(r, info);
  EXPECT_EQ(head.rfind("HTTP/1.1 201 Created\r\nServer: jrvs\r\nDate: ", 0), 0u) << head;
  EXPECT_NE(head.find(" GMT\r\n"), std::string::npos);
  EXPECT_NE(head.find("\r\nContent-Type: application/json\r\n"), std::string::npos);
  EXPECT_NE(head.find("\r\nX-Request-ID: req-1\r\n"), std::string::npos);
  EXPECT_NE(head.find("\r\nContent-Length: 11\r\n"), std::string::npos);
  EXPECT_EQ(head.find("Connection:"), std::string::npos);  // 1.1 keep-alive is the default
  EXPECT_EQ(head.substr(head.size() - 4), "\r\n\r\n");
}

TEST(ResponseHeadTest, ConnectionHeaderFollowsVersionAndKeepAlive) {
  api::Response r;
  ResponseHeadInfo info;
  info.content_length = 0;
  info.keep_alive = false;
  EXPECT_NE(Head(r, info).find("\r\nConnection: close\r\n"), std::string::npos);
  info.version = 10;
  std::string http10 = Head(r, info);
  EXPECT_EQ(http10.rfind("HTTP/1.0 200 OK\r\n", 0), 0u);
  EXPECT_EQ(http10.find("Connection:"), std::string::npos);  // 1.0 closes by default
  info.keep_alive = true;
  EXPECT_NE(Head(r, info).find("\r\nConnection: keep-alive\r\n"), std::string::npos);
}

TEST(ResponseHeadTest, ChunkedAndUnframed) {
  api::Response r;
  r.content_type = "text/event-stream";
  ResponseHeadInfo info;
  info.chunked = true;
  std::string chunked = Head(r, info);
  EXPECT_NE(chunked.find("\r\nTransfer-Encoding: chunked\r\n"), std::string::npos);
  EXPECT_EQ(chunked.find("Content-Length"), std::string::npos);
  info.chunked = false;
  info.status = 204;
  r.content_type.clear();
  std::string empty = Head(r, info);
  EXPECT_EQ(empty.rfind("HTTP/1.1 204 No Content\r\n", 0), 0u);
  EXPECT_EQ(empty.find("Content-Length"), std::string::npos);
  EXPECT_EQ(empty.find("Content-Type"), std::string::npos);
}

TEST(ResponseHeadTest, HandlerHeadersCannotBreakFramingOrInject) {
  api::Response r;
  r.headers = {{"X-Fine", "1"},
               {"Content-Length", "999"},
               {"transfer-encoding", "chunked"},
               {"Connection", "upgrade"},
               {"X-Split", "a\r\nSet-Cookie: x=1"},
               {"Bad Name", "v"},
               {"X-Nul", std::string("a\0b", 3)},
               {"Set-Cookie", "a=1"},
               {"Set-Cookie", "b=2"}};
  ResponseHeadInfo info;
  info.content_length = 5;
  int dropped = 0;
  std::string head = Head(r, info, &dropped);
  EXPECT_EQ(dropped, 3);
  EXPECT_NE(head.find("\r\nX-Fine: 1\r\n"), std::string::npos);
  EXPECT_NE(head.find("\r\nContent-Length: 5\r\n"), std::string::npos);
  EXPECT_EQ(head.find("999"), std::string::npos);
  EXPECT_EQ(head.find("chunked"), std::string::npos);
  EXPECT_EQ(head.find("upgrade"), std::string::npos);
  EXPECT_EQ(head.find("x=1"), std::string::npos);
  EXPECT_EQ(head.find("Bad Name"), std::string::npos);
  EXPECT_NE(head.find("\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n"), std::string::npos);
}

TEST(ResponseHeadTest, UnusualStatuses) {
  api::Response r;
  ResponseHeadInfo info;
  info.status = 499;
  EXPECT_EQ(Head(r, info).rfind("HTTP/1.1 499 Client Closed Request\r\n", 0), 0u);
  info.status = 299;
  EXPECT_EQ(Head(r, info).rfind("HTTP/1.1 299 Status\r\n", 0), 0u);
  info.status = 42;
  EXPECT_EQ(Head(r, info).rfind("HTTP/1.1 500 Internal Server Error\r\n", 0), 0u);
}

TEST(ResponseHeadTest, SafeHeaderRule) {
  EXPECT_TRUE(IsSafeHeader("X-Request-ID", "abc"));
  EXPECT_TRUE(IsSafeHeader("x!#$%&'*+-.^_`|~", ""));
  EXPECT_FALSE(IsSafeHeader("", "v"));
  EXPECT_FALSE(IsSafeHeader("X:Y", "v"));
  EXPECT_FALSE(IsSafeHeader("X", "a\nb"));
  EXPECT_TRUE(IsBodilessStatus(204));
  EXPECT_TRUE(IsBodilessStatus(304));
  EXPECT_TRUE(IsBodilessStatus(101));
  EXPECT_FALSE(IsBodilessStatus(200));
}

}  // namespace
}  // namespace jrvs::http
