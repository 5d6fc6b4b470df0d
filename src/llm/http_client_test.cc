// HttpClient against the fake LLM server on loopback: round trips, line streaming, connection
// reuse, every timeout, cancellation and truncation.
#include "llm/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "fakes/fake_llm_server.h"

namespace jrvs::llm {
namespace {

using jrvs::testing::FakeLlmOptions;
using jrvs::testing::FakeLlmServer;
using jrvs::testing::FakeMode;
using ::testing::HasSubstr;
using ::testing::StartsWith;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;

constexpr const char* kModel = "llama3.2:1b";
constexpr const char* kReply = "The quick brown fox jumps over the lazy dog.";

std::string ChatBody(bool stream) {
  return json::serialize(json::object{
      {"model", kModel},
      {"stream", stream},
      {"messages", json::array{json::object{{"role", "user"}, {"content", "hello"}}}}});
}

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

class HttpClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FakeLlmOptions options;
    options.reply = kReply;
    options.threads = 2;  // exercises the fake's strands as well
    server_ = std::make_unique<FakeLlmServer>(options);
    ASSERT_TRUE(server_->Start()) << server_->error();
  }

  std::string Url(std::string_view path) const { return server_->base_url() + std::string(path); }

  // Streams and collects the lines; the Result of PostStream goes to *result.
  std::vector<std::string> Stream(const HttpClient& client, std::string_view path,
                                  const std::string& body, Result<int>* result,
                                  const std::atomic<bool>* cancel = nullptr) {
    std::vector<std::string> lines;
    *result = client.PostStream(
        Url(path), body, {},
        [&](std::string_view line) {
          lines.emplace_back(line);
          return true;
        },
        cancel);
    return lines;
  }

  std::unique_ptr<FakeLlmServer> server_;
};

TEST_F(HttpClientTest, GetReturnsStatusBodyAndHeaders) {
  HttpClient client;
  auto r = client.Get(Url("/api/tags"));
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_THAT(r->Header("content-type"), HasSubstr("application/json"));
  json::value v = json::parse(r->body);
  ASSERT_EQ(v.at("models").as_array().size(), 2u);
  EXPECT_EQ(v.at("models").at(0).at("name").as_string(), kModel);
  auto requests = server_->requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "GET");
  EXPECT_EQ(requests[0].path, "/api/tags");
  EXPECT_THAT(requests[0].Header("user-agent"), StartsWith("jrvs/"));
}

TEST_F(HttpClientTest, PostJsonSendsBodyAndHeaders) {
  HttpClient client;
  std::string body = ChatBody(false);
  auto r = client.PostJson(Url("/api/chat"), body, {{"X-Trace", "abc"}});
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->status, 200);
  json::value v = json::parse(r->body);
  EXPECT_EQ(v.at("message").at("content").as_string(), kReply);
  EXPECT_TRUE(v.at("done").as_bool());
  auto requests = server_->requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].body, body);
  EXPECT_EQ(requests[0].Header("content-type"), "application/json");
  EXPECT_EQ(requests[0].Header("x-trace"), "abc");
  EXPECT_EQ(requests[0].Header("expect"), "");
}

TEST_F(HttpClientTest, DeleteSendsTheVerbAndTheReusedHandleForgetsIt) {
  HttpClient client;
  auto r = client.Delete(Url("/api/history/s1"));
  ASSERT_TRUE(r) << r.error().ToString();
  r = client.Get(Url("/api/tags"));  // same connection and handle
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->status, 200);
  auto requests = server_->requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].method, "DELETE");
  EXPECT_EQ(requests[0].path, "/api/history/s1");
  EXPECT_EQ(requests[1].method, "GET");
}

TEST_F(HttpClientTest, HttpErrorsAreResponsesForGetAndPost) {
  HttpClient client;
  auto not_found = client.Get(Url("/no/such/route"));
  ASSERT_TRUE(not_found) << not_found.error().ToString();
  EXPECT_EQ(not_found->status, 404);
  EXPECT_EQ(not_found->body, "404 page not found");

  server_->SetMode(FakeMode::kHttp500);
  auto failed = client.PostJson(Url("/api/chat"), ChatBody(false));
  ASSERT_TRUE(failed) << failed.error().ToString();
  EXPECT_EQ(failed->status, 500);
  Status s = HttpErrorStatus(failed->status, failed->body, "ollama");
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_EQ(s.message(), "HTTP 500 from ollama: fake server error");
}

TEST_F(HttpClientTest, NdjsonStreamArrivesLineByLineInOrder) {
  HttpClient client;
  Result<int> result;
  auto lines = Stream(client, "/api/chat", ChatBody(true), &result);
  ASSERT_TRUE(result) << result.error().ToString();
  EXPECT_EQ(*result, 200);
  auto tokens = FakeLlmServer::Tokenize(kReply);
  ASSERT_EQ(lines.size(), tokens.size() + 1);
  std::string text;
  for (size_t i = 0; i < tokens.size(); ++i) {
    json::value v = json::parse(lines[i]);
    EXPECT_EQ(v.at("message").at("content").as_string(), tokens[i]) << "line " << i;
    EXPECT_FALSE(v.at("done").as_bool());
    text += v.at("message").at("content").as_string();
  }
  EXPECT_EQ(text, kReply);
  json::value last = json::parse(lines.back());
  EXPECT_TRUE(last.at("done").as_bool());
  EXPECT_EQ(last.at("eval_count").as_int64(), static_cast<int64_t>(tokens.size()));
}

TEST_F(HttpClientTest, SseStreamKeepsEventsAndSeparators) {
  HttpClient client;
  Result<int> result;
  auto lines = Stream(client, "/v1/chat/completions", ChatBody(true), &result);
  ASSERT_TRUE(result) << result.error().ToString();
  auto tokens = FakeLlmServer::Tokenize(kReply);
  // Each event is "data: ..." followed by an empty line: tokens, the stop chunk, [DONE].
  ASSERT_EQ(lines.size(), 2 * (tokens.size() + 2));
  std::string text;
  for (size_t i = 0; i < lines.size(); i += 2) {
    ASSERT_THAT(lines[i], StartsWith("data: "));
    EXPECT_EQ(lines[i + 1], "");
    if (i / 2 < tokens.size()) {
      json::value v = json::parse(lines[i].substr(6));
      text += v.at("choices").at(0).at("delta").at("content").as_string();
    }
  }
  EXPECT_EQ(text, kReply);
  EXPECT_EQ(lines[lines.size() - 2], "data: [DONE]");
}

TEST_F(HttpClientTest, LinesAreDeliveredAsTheyArrive) {
  // The server waits 200 ms before each token after the first: at least 1.6 s pass between the
  // first line and the last. A client that buffered the body would deliver them together.
  server_->SetTokenDelayMs(200);
  HttpClient client;
  std::vector<Clock::time_point> arrivals;
  auto result = client.PostStream(Url("/api/chat"), ChatBody(true), {}, [&](std::string_view) {
    arrivals.push_back(Clock::now());
    return true;
  });
  ASSERT_TRUE(result) << result.error().ToString();
  ASSERT_EQ(arrivals.size(), FakeLlmServer::Tokenize(kReply).size() + 1);
  EXPECT_GE(std::chrono::duration<double>(arrivals.back() - arrivals.front()).count(), 1.0);
}

TEST_F(HttpClientTest, ReusesConnectionsAcrossCallsAndThreads) {
  HttpClient client;
  for (int i = 0; i < 5; ++i) {
    auto r = client.Get(Url("/api/version"));
    ASSERT_TRUE(r) << r.error().ToString();
    ASSERT_EQ(r->status, 200);
  }
  ASSERT_TRUE(client.PostJson(Url("/api/chat"), ChatBody(false)));
  Result<int> streamed;
  Stream(client, "/api/chat", ChatBody(true), &streamed);
  ASSERT_TRUE(streamed);
  std::thread other([&] { EXPECT_TRUE(client.Get(Url("/api/tags"))); });
  other.join();
  EXPECT_EQ(server_->connections_accepted(), 1);
  EXPECT_EQ(server_->RequestCount("/api/version"), 5u);
}

TEST_F(HttpClientTest, ConcurrentCallsUseSeparateConnectionsThenReuseThem) {
  server_->SetTtftMs(300);  // keeps the four calls overlapping
  HttpClient client;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      if (auto r = client.PostJson(Url("/api/chat"), ChatBody(false)); r && r->status == 200) {
        ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 4);
  EXPECT_EQ(server_->max_in_flight(), 4);
  EXPECT_EQ(server_->connections_accepted(), 4);
  server_->SetTtftMs(0);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(client.Get(Url("/api/version")));
  EXPECT_EQ(server_->connections_accepted(), 4);
}

TEST_F(HttpClientTest, ConnectionRefusedIsUnavailable) {
  std::string url = Url("/api/tags");
  server_->Stop();  // nothing listens on the port any more
  HttpClient client;
  auto r = client.Get(url);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), StatusCode::kUnavailable) << r.error().ToString();
  EXPECT_THAT(r.error().message(), HasSubstr("cannot connect"));
}

// A listener whose accept queue is full: the kernel drops further SYNs, so connecting hangs.
class FullListener {
 public:
  FullListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(fd_, 0) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      return;
    }
    port_ = ntohs(addr.sin_port);
    for (int i = 0; i < 4; ++i) {  // fill the queue; these connects complete or stay pending
      int c = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
      ::connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
      fillers_.push_back(c);
    }
  }
  ~FullListener() {
    for (int c : fillers_) ::close(c);
    if (fd_ >= 0) ::close(fd_);
  }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::vector<int> fillers_;
};

TEST(HttpClientConnectTest, UnansweredConnectHitsConnectTimeout) {
  FullListener listener;
  ASSERT_NE(listener.port(), 0);
  HttpClientOptions options;
  options.connect_timeout_ms = 300;
  HttpClient client(options);
  auto start = Clock::now();
  auto r = client.Get("http://127.0.0.1:" + std::to_string(listener.port()) + "/");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), StatusCode::kDeadlineExceeded) << r.error().ToString();
  EXPECT_THAT(r.error().message(), HasSubstr("connect timeout (300 ms)"));
  EXPECT_GE(SecondsSince(start), 0.29);
}

TEST_F(HttpClientTest, HangingServerHitsFirstByteTimeout) {
  server_->SetMode(FakeMode::kHang);
  HttpClientOptions options;
  options.first_byte_timeout_ms = 300;
  HttpClient client(options);
  auto start = Clock::now();
  auto r = client.PostJson(Url("/api/chat"), ChatBody(false));
  double elapsed = SecondsSince(start);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), StatusCode::kDeadlineExceeded);
  EXPECT_THAT(r.error().message(), HasSubstr("first-byte timeout (300 ms)"));
  EXPECT_GE(elapsed, 0.29);
  EXPECT_LT(elapsed, 10.0);
  // The client hung up, and the server noticed.
  EXPECT_TRUE(server_->WaitForClientDisconnects(1, std::chrono::seconds(5)));
}

TEST_F(HttpClientTest, StalledStreamHitsIdleGapTimeout) {
  server_->SetTokenDelayMs(2000);
  HttpClientOptions options;
  options.idle_gap_timeout_ms = 300;
  HttpClient client(options);
  Result<int> result;
  auto lines = Stream(client, "/api/chat", ChatBody(true), &result);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code(), StatusCode::kDeadlineExceeded);
  EXPECT_THAT(result.error().message(), HasSubstr("idle-gap timeout (300 ms)"));
  EXPECT_EQ(lines.size(), 1u);  // the first token came at once, the second never in time
}

TEST_F(HttpClientTest, SteadyButLongStreamHitsTotalTimeout) {
  server_->SetTokenDelayMs(150);  // nine tokens: ~1.2 s in all, no gap near the gap timeout
  HttpClientOptions options;
  options.total_timeout_ms = 400;
  options.idle_gap_timeout_ms = 5000;
  HttpClient client(options);
  Result<int> result;
  auto lines = Stream(client, "/api/chat", ChatBody(true), &result);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code(), StatusCode::kDeadlineExceeded);
  EXPECT_THAT(result.error().message(), HasSubstr("total timeout (400 ms)"));
  EXPECT_GE(lines.size(), 1u);
  EXPECT_LT(lines.size(), FakeLlmServer::Tokenize(kReply).size() + 1);
}

TEST_F(HttpClientTest, SlowHeadersCountAsReceivedBytes) {
  server_->SetMode(FakeMode::kSlowHeaders);
  server_->SetSlowHeadersMs(100);
  HttpClientOptions options;
  options.first_byte_timeout_ms = 250;  // less than the whole header takes (~500 ms)
  options.idle_gap_timeout_ms = 1000;
  HttpClient client(options);
  auto ok = client.Get(Url("/api/version"));
  ASSERT_TRUE(ok) << ok.error().ToString();
  EXPECT_EQ(ok->status, 200);

  server_->SetSlowHeadersMs(600);
  options.idle_gap_timeout_ms = 200;
  HttpClient impatient(options);
  auto r = impatient.Get(Url("/api/version"));
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(), HasSubstr("idle-gap timeout"));
}

TEST_F(HttpClientTest, CancelFlagEndsStreamAndClosesConnection) {
  server_->SetTokenDelayMs(1000);  // the whole reply would take ~8 s
  HttpClient client;
  std::atomic<bool> cancel{false};
  std::atomic<int> lines{0};
  std::thread canceller([&] {
    while (lines.load() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    cancel = true;
  });
  auto start = Clock::now();
  auto result = client.PostStream(
      Url("/api/chat"), ChatBody(true), {},
      [&](std::string_view) {
        ++lines;
        return true;
      },
      &cancel);
  double elapsed = SecondsSince(start);
  canceller.join();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code(), StatusCode::kCancelled) << result.error().ToString();
  EXPECT_EQ(lines.load(), 1);
  EXPECT_LT(elapsed, 5.0);
  EXPECT_TRUE(server_->WaitForClientDisconnects(1, std::chrono::seconds(5)));
  EXPECT_TRUE(server_->WaitForIdle(std::chrono::seconds(5)));
}

TEST_F(HttpClientTest, CallbackReturningFalseStopsTheTransfer) {
  server_->SetTokenDelayMs(500);
  HttpClient client;
  int calls = 0;
  auto start = Clock::now();
  auto result = client.PostStream(Url("/api/chat"), ChatBody(true), {},
                                  [&](std::string_view) { return ++calls < 2; });
  double elapsed = SecondsSince(start);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code(), StatusCode::kCancelled);
  EXPECT_THAT(result.error().message(), HasSubstr("line callback"));
  EXPECT_EQ(calls, 2);
  EXPECT_LT(elapsed, 3.0);  // well before the ~4 s the full reply takes
  EXPECT_TRUE(server_->WaitForClientDisconnects(1, std::chrono::seconds(5)));
}

TEST_F(HttpClientTest, TruncatedStreamIsAnError) {
  server_->SetMode(FakeMode::kTruncate);
  server_->SetTruncateAfterTokens(3);
  HttpClient client;
  Result<int> result;
  auto lines = Stream(client, "/api/chat", ChatBody(true), &result);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code(), StatusCode::kUnavailable);
  EXPECT_THAT(result.error().message(), HasSubstr("truncated"));
  EXPECT_EQ(lines.size(), 3u);
}

TEST_F(HttpClientTest, TruncatedBodyIsAnError) {
  server_->SetMode(FakeMode::kTruncate);
  HttpClient client;
  auto r = client.PostJson(Url("/api/chat"), ChatBody(false));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), StatusCode::kUnavailable);
  EXPECT_THAT(r.error().message(), HasSubstr("truncated"));
}

TEST_F(HttpClientTest, StreamErrorStatusBecomesStatusWithoutLines) {
  HttpClient client;
  std::string body =
      json::serialize(json::object{{"model", "missing-model"}, {"messages", json::array{}}});
  Result<int> result;
  auto lines = Stream(client, "/api/chat", body, &result);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code(), StatusCode::kNotFound);
  EXPECT_THAT(result.error().message(), HasSubstr("HTTP 404"));
  EXPECT_THAT(result.error().message(), HasSubstr("model \"missing-model\" not found"));
  EXPECT_TRUE(lines.empty());
}

TEST_F(HttpClientTest, OversizedResponseIsRejected) {
  HttpClientOptions options;
  options.max_response_bytes = 64;
  HttpClient client(options);
  auto r = client.Get(Url("/api/tags"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), StatusCode::kInternal);
  EXPECT_THAT(r.error().message(), HasSubstr("max_response_bytes"));
  // A streamed line longer than the limit is rejected too.
  Result<int> result;
  Stream(client, "/api/chat", ChatBody(true), &result);
  ASSERT_FALSE(result);
  EXPECT_THAT(result.error().message(), HasSubstr("max_response_bytes"));
}

TEST_F(HttpClientTest, ServerStopEndsAHangingCall) {
  server_->SetMode(FakeMode::kHang);
  HttpClient client;  // default timeouts: 30 s to the first byte
  Result<HttpResponse> r;
  std::thread caller([&] { r = client.Get(Url("/api/tags")); });
  while (server_->in_flight() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  auto start = Clock::now();
  server_->Stop();
  caller.join();
  EXPECT_LT(SecondsSince(start), 10.0);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), StatusCode::kUnavailable) << r.error().ToString();
}

TEST(HttpClientStandaloneTest, MalformedUrlIsInvalidArgument) {
  HttpClient client;
  auto r = client.Get("ftp://127.0.0.1:1/x");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument) << r.error().ToString();
}

TEST(HttpClientStandaloneTest, UrlCredentialsAreNotEchoedInErrors) {
  HttpClientOptions options;
  options.connect_timeout_ms = 500;
  HttpClient client(options);
  // Port 1 on loopback: nothing listens there.
  auto r = client.Get("http://user:secret@127.0.0.1:1/x");
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(), ::testing::Not(HasSubstr("secret")));
  EXPECT_THAT(r.error().message(), HasSubstr("http://127.0.0.1:1/x"));
}

TEST(HttpClientOptionsTest, ValidationNamesTheField) {
  EXPECT_TRUE(HttpClientOptions{}.Validate().ok());
  HttpClientOptions options;
  options.idle_gap_timeout_ms = 0;
  Status s = options.Validate();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("idle_gap_timeout_ms"));
  options = {};
  options.max_response_bytes = 0;
  EXPECT_THAT(options.Validate().message(), HasSubstr("max_response_bytes"));
}

TEST(HttpErrorStatusTest, MapsCodesAndExtractsServerMessages) {
  Status ollama = HttpErrorStatus(404, R"({"error":"model \"x\" not found"})", "ollama chat");
  EXPECT_EQ(ollama.code(), StatusCode::kNotFound);
  EXPECT_EQ(ollama.message(), "HTTP 404 from ollama chat: model \"x\" not found");
  Status openai =
      HttpErrorStatus(401, R"({"error":{"message":"bad key","type":"auth"}})", "openai");
  EXPECT_EQ(openai.code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(openai.message(), "HTTP 401 from openai: bad key");
  EXPECT_EQ(HttpErrorStatus(429, "", "x").code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(HttpErrorStatus(400, "", "x").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(HttpErrorStatus(503, "  overloaded\n", "x").message(), "HTTP 503 from x: overloaded");
}

}  // namespace
}  // namespace jrvs::llm
