// OllamaClient against the fake LLM server on loopback: streaming, metadata, model listing,
// timeouts, retries before the first token only, cancellation, the circuit breaker, metrics.
#include "llm/ollama_client.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "core/clock.h"
#include "core/metrics.h"
#include "fakes/fake_llm_server.h"
#include "llm/llm_test_util.h"

namespace jrvs::llm {
namespace {

using jrvs::testing::FakeLlmServer;
using jrvs::testing::FakeMode;
using llm::testing::FastOptions;
using llm::testing::kFakeModel;
using llm::testing::MakeClient;
using llm::testing::SecondsSince;
using llm::testing::SimpleRequest;
using llm::testing::StartFakeServer;
using llm::testing::TokenRecorder;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
namespace json = boost::json;
using SteadyClock = std::chrono::steady_clock;

constexpr const char* kReply = "The quick brown fox jumps over the lazy dog.";

class OllamaClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = StartFakeServer(kReply);
    ASSERT_NE(server_->port(), 0);
  }

  OllamaClientOptions Options() const {
    return FastOptions<OllamaClientOptions>(server_->base_url());
  }

  std::unique_ptr<OllamaClient> Make(const OllamaClientOptions& options) {
    return MakeClient<OllamaClient>(options);
  }

  json::object LastChatBody() const {
    auto requests = server_->requests();
    for (auto it = requests.rbegin(); it != requests.rend(); ++it) {
      if (it->path == "/api/chat") return json::parse(it->body).as_object();
    }
    return {};
  }

  std::unique_ptr<FakeLlmServer> server_;
};

TEST_F(OllamaClientTest, StreamsTokensInOrderAndReportsMetadata) {
  auto client = Make(Options());
  TokenRecorder tokens;
  auto r = client->Chat(SimpleRequest("why is the sky blue"), tokens.Callback(), nullptr);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_THAT(tokens.tokens(), ElementsAreArray(FakeLlmServer::Tokenize(kReply)));
  EXPECT_EQ(tokens.Joined(), kReply);
  EXPECT_EQ(r->text, kReply);
  EXPECT_EQ(r->model, kFakeModel);
  EXPECT_EQ(r->done_reason, "stop");
  EXPECT_EQ(r->prompt_tokens, 8);  // "You are terse." + "why is the sky blue", in words
  EXPECT_EQ(r->completion_tokens, static_cast<int64_t>(FakeLlmServer::Tokenize(kReply).size()));
  EXPECT_EQ(r->attempts, 1);
  EXPECT_TRUE(r->warning.empty());
  EXPECT_GE(r->total_ms, r->time_to_first_token_ms);
  EXPECT_GT(r->time_to_first_token_ms, 0);
  EXPECT_EQ(client->provider(), "ollama");
}

TEST_F(OllamaClientTest, SendsMessagesAndModelOptions) {
  OllamaClientOptions options = Options();
  options.keep_alive = "5m";
  auto client = Make(options);
  ChatRequest request = SimpleRequest("hi");
  request.options.temperature = 0.25;
  request.options.num_ctx = 4096;
  request.options.max_tokens = 128;
  ASSERT_TRUE(client->Chat(request, nullptr, nullptr));
  json::object body = LastChatBody();
  EXPECT_EQ(body.at("model").as_string(), kFakeModel);
  EXPECT_TRUE(body.at("stream").as_bool());
  EXPECT_EQ(body.at("keep_alive").as_string(), "5m");
  const json::array& messages = body.at("messages").as_array();
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[0].at("role").as_string(), "system");
  EXPECT_EQ(messages[1].at("content").as_string(), "hi");
  const json::object& o = body.at("options").as_object();
  EXPECT_DOUBLE_EQ(o.at("temperature").as_double(), 0.25);
  EXPECT_EQ(o.at("num_ctx").as_int64(), 4096);
  EXPECT_EQ(o.at("num_predict").as_int64(), 128);

  // A per-request keep_alive wins; a bare number of seconds goes out as a number.
  request.options = ChatOptions();
  request.options.keep_alive = "-1";
  ASSERT_TRUE(client->Chat(request, nullptr, nullptr));
  body = LastChatBody();
  EXPECT_EQ(body.at("keep_alive").as_int64(), -1);
  EXPECT_FALSE(body.contains("options"));
}

TEST_F(OllamaClientTest, ExplicitModelIsUsedAndUnknownModelIsNotFoundWithoutRetry) {
  auto client = Make(Options());
  ChatRequest request = SimpleRequest();
  request.options.model = "nomic-embed-text";  // known to the fake (":latest" implied)
  auto ok = client->Chat(request, nullptr, nullptr);
  ASSERT_TRUE(ok) << ok.error().ToString();
  EXPECT_EQ(ok->model, "nomic-embed-text");

  server_->ClearRequests();
  request.options.model = "no-such-model";
  auto missing = client->Chat(request, nullptr, nullptr);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), StatusCode::kNotFound);
  EXPECT_THAT(missing.error().message(), HasSubstr("no-such-model"));
  EXPECT_EQ(server_->RequestCount("/api/chat"), 1u);             // a 4xx is not retried
  EXPECT_EQ(client->breaker().stats().consecutive_failures, 0);  // the server is fine
}

TEST_F(OllamaClientTest, ListsModelsWithSizesAndDetails) {
  auto client = Make(Options());
  auto models = client->ListModels();
  ASSERT_TRUE(models) << models.error().ToString();
  ASSERT_EQ(models->size(), 2u);
  EXPECT_EQ((*models)[0].name, "llama3.2:1b");
  EXPECT_EQ((*models)[1].name, "nomic-embed-text:latest");
  EXPECT_EQ((*models)[0].size, 1'000'000'000);
  EXPECT_EQ((*models)[0].modified_at, "2025-01-01T00:00:00Z");
  json::value details = json::parse((*models)[0].details_json);
  EXPECT_EQ(details.at("family").as_string(), "llama");
  EXPECT_EQ(details.at("parameter_size").as_string(), "1.2B");
}

TEST_F(OllamaClientTest, DescribesAModelThroughShow) {
  auto client = Make(Options());
  auto info = client->DescribeModel("llama3.2:1b");
  ASSERT_TRUE(info) << info.error().ToString();
  EXPECT_EQ(info->name, "llama3.2:1b");
  json::value details = json::parse(info->details_json);
  EXPECT_EQ(details.at("details").at("quantization_level").as_string(), "Q4_K_M");
  EXPECT_EQ(details.at("model_info").at("llama.context_length").as_int64(), 131072);
  EXPECT_EQ(details.at("capabilities").at(0).as_string(), "completion");
  EXPECT_EQ(server_->RequestCount("/api/show"), 1u);

  auto missing = client->DescribeModel("nope");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), StatusCode::kNotFound);
}

TEST_F(OllamaClientTest, HealthReportsTheVersionAndADownServer) {
  auto client = Make(Options());
  HealthReport up = client->Health();
  EXPECT_TRUE(up.ok) << up.detail;
  EXPECT_THAT(up.detail, HasSubstr("ollama 0.6.2-fake"));
  EXPECT_THAT(up.detail, HasSubstr("circuit closed"));
  EXPECT_EQ(server_->RequestCount("/api/version"), 1u);
  server_->Stop();
  HealthReport down = client->Health();
  EXPECT_FALSE(down.ok);
  EXPECT_THAT(down.detail, HasSubstr("cannot connect"));
}

TEST_F(OllamaClientTest, ServerErrorIsUnavailableAndCountsTowardsTheBreaker) {
  OllamaClientOptions options = Options();
  options.retry.max_retries = 0;
  options.breaker.failure_threshold = 3;
  auto client = Make(options);
  server_->SetMode(FakeMode::kHttp500);
  for (int i = 0; i < 3; ++i) {
    auto r = client->Chat(SimpleRequest(), nullptr, nullptr);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), StatusCode::kUnavailable);
    EXPECT_THAT(r.error().message(), HasSubstr("HTTP 500"));
    EXPECT_THAT(r.error().message(), HasSubstr("fake server error"));
  }
  EXPECT_EQ(server_->RequestCount("/api/chat"), 3u);
  EXPECT_EQ(client->breaker().state(), CircuitState::kOpen);

  // Open: refused at once, without reaching the server; Health says so without a request.
  auto refused = client->Chat(SimpleRequest(), nullptr, nullptr);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), StatusCode::kUnavailable);
  EXPECT_THAT(refused.error().message(), HasSubstr("circuit open"));
  EXPECT_EQ(server_->RequestCount("/api/chat"), 3u);
  HealthReport health = client->Health();
  EXPECT_FALSE(health.ok);
  EXPECT_THAT(health.detail, HasSubstr("circuit open"));
  EXPECT_EQ(server_->RequestCount("/api/version"), 0u);
  EXPECT_FALSE(client->ListModels());
  EXPECT_EQ(server_->RequestCount("/api/tags"), 0u);
}

TEST_F(OllamaClientTest, BreakerHalfOpensAfterTheCoolDownAndASuccessClosesIt) {
  FakeClock clock;
  OllamaClientOptions options = Options();
  options.retry.max_retries = 0;
  options.breaker.failure_threshold = 2;
  options.breaker.open_ms = 30000;
  options.clock = &clock;
  auto client = Make(options);
  server_->SetMode(FakeMode::kHttp500);
  EXPECT_FALSE(client->Chat(SimpleRequest(), nullptr, nullptr));
  EXPECT_FALSE(client->Chat(SimpleRequest(), nullptr, nullptr));
  ASSERT_EQ(client->breaker().state(), CircuitState::kOpen);
  server_->SetMode(FakeMode::kNormal);
  EXPECT_FALSE(client->Chat(SimpleRequest(), nullptr, nullptr));  // still open
  clock.AdvanceMs(30000);
  EXPECT_EQ(client->breaker().state(), CircuitState::kHalfOpen);
  auto probe = client->Chat(SimpleRequest(), nullptr, nullptr);
  ASSERT_TRUE(probe) << probe.error().ToString();
  EXPECT_EQ(probe->text, kReply);
  EXPECT_EQ(client->breaker().state(), CircuitState::kClosed);
  EXPECT_EQ(server_->RequestCount("/api/chat"), 3u);
}

TEST_F(OllamaClientTest, FailedProbeReopensTheBreaker) {
  FakeClock clock;
  OllamaClientOptions options = Options();
  options.retry.max_retries = 2;
  options.breaker.failure_threshold = 1;
  options.breaker.open_ms = 1000;
  options.clock = &clock;
  auto client = Make(options);
  server_->SetMode(FakeMode::kHttp500);
  auto first = client->Chat(SimpleRequest(), nullptr, nullptr);
  ASSERT_FALSE(first);
  // The first failure opened the circuit, so the retry met it open and stopped there.
  EXPECT_THAT(first.error().message(), HasSubstr("circuit open"));
  EXPECT_EQ(server_->RequestCount("/api/chat"), 1u);
  clock.AdvanceMs(1000);
  EXPECT_FALSE(client->Chat(SimpleRequest(), nullptr, nullptr));  // the probe fails
  EXPECT_EQ(server_->RequestCount("/api/chat"), 2u);
  EXPECT_EQ(client->breaker().state(), CircuitState::kOpen);
  EXPECT_EQ(client->breaker().stats().times_opened, 2u);
}

TEST_F(OllamaClientTest, RetriesA500BeforeTheFirstToken) {
  auto client = Make(Options());
  server_->FailNext(FakeMode::kHttp500, 1);
  TokenRecorder tokens;
  auto r = client->Chat(SimpleRequest(), tokens.Callback(), nullptr);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->attempts, 2);
  EXPECT_EQ(r->text, kReply);
  EXPECT_EQ(tokens.Joined(), kReply);  // nothing from the failed attempt
  EXPECT_EQ(server_->RequestCount("/api/chat"), 2u);
  EXPECT_EQ(client->breaker().stats().failures, 1u);
  EXPECT_EQ(client->breaker().stats().consecutive_failures, 0);
}

TEST_F(OllamaClientTest, GivesUpAfterMaxRetries) {
  auto client = Make(Options());  // max_retries 2
  server_->FailNext(FakeMode::kHttp500, 10);
  auto r = client->Chat(SimpleRequest(), nullptr, nullptr);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), StatusCode::kUnavailable);
  EXPECT_EQ(server_->RequestCount("/api/chat"), 3u);
}

TEST_F(OllamaClientTest, ConnectionRefusedIsRetriedThenUnavailable) {
  auto client = Make(Options());
  server_->Stop();
  auto r = client->Chat(SimpleRequest(), nullptr, nullptr);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), StatusCode::kUnavailable);
  EXPECT_THAT(r.error().message(), HasSubstr("cannot connect"));
  EXPECT_EQ(client->breaker().stats().failures, 3u);  // three attempts, each counted
}

TEST_F(OllamaClientTest, StreamCutBeforeAnyTokenIsRetried) {
  server_->SetTruncateAfterTokens(0);
  server_->FailNext(FakeMode::kTruncate, 1);
  auto client = Make(Options());
  auto r = client->Chat(SimpleRequest(), nullptr, nullptr);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->attempts, 2);
  EXPECT_EQ(r->text, kReply);
}

TEST_F(OllamaClientTest, StreamCutAfterTokensIsAnErrorAndNotRetried) {
  server_->SetMode(FakeMode::kTruncate);
  server_->SetTruncateAfterTokens(3);
  auto client = Make(Options());
  TokenRecorder tokens;
  auto r = client->Chat(SimpleRequest(), tokens.Callback(), nullptr);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), StatusCode::kUnavailable);
  EXPECT_THAT(r.error().message(), HasSubstr("truncated"));
  EXPECT_EQ(tokens.size(), 3u);
  EXPECT_EQ(server_->RequestCount("/api/chat"), 1u);
  EXPECT_EQ(client->breaker().stats().failures, 1u);
}

TEST_F(OllamaClientTest, MalformedStreamIsAnInternalErrorAndNotRetried) {
  server_->SetMode(FakeMode::kMalformedJson);
  auto client = Make(Options());
  TokenRecorder tokens;
  auto r = client->Chat(SimpleRequest(), tokens.Callback(), nullptr);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), StatusCode::kInternal);
  EXPECT_THAT(r.error().message(), HasSubstr("malformed"));
  EXPECT_EQ(tokens.size(), 0u);
  EXPECT_EQ(server_->RequestCount("/api/chat"), 1u);
}

TEST_F(OllamaClientTest, HangingServerHitsTheFirstTokenTimeout) {
  server_->SetMode(FakeMode::kHang);
  OllamaClientOptions options = Options();
  options.timeouts.first_token_ms = 300;
  auto client = Make(options);
  auto start = SteadyClock::now();
  auto r = client->Chat(SimpleRequest(), nullptr, nullptr);
  double elapsed = SecondsSince(start);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), StatusCode::kDeadlineExceeded);
  EXPECT_THAT(r.error().message(), HasSubstr("first-token timeout (300 ms)"));
  EXPECT_GE(elapsed, 0.29);
  EXPECT_LT(elapsed, 10.0);
  EXPECT_EQ(server_->RequestCount("/api/chat"), 1u);  // a timeout is not retried
  EXPECT_TRUE(server_->WaitForClientDisconnects(1, std::chrono::seconds(5)));
}

TEST_F(OllamaClientTest, BytesWithoutATokenDoNotSatisfyTheFirstTokenTimeout) {
  // The header trickles in one line every 200 ms: the connection is busy, but no token comes
  // within 400 ms. HttpClient's byte timers stay happy; the token deadline fires.
  server_->SetMode(FakeMode::kSlowHeaders);
  server_->SetSlowHeadersMs(200);
  OllamaClientOptions options = Options();
  options.timeouts.first_token_ms = 400;
  auto client = Make(options);
  auto r = client->Chat(SimpleRequest(), nullptr, nullptr);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), StatusCode::kDeadlineExceeded);
  EXPECT_THAT(r.error().message(), HasSubstr("first-token timeout (400 ms)"));
}

TEST_F(OllamaClientTest, StalledStreamHitsTheTokenGapTimeout) {
  server_->SetTokenDelayMs(3000);
  OllamaClientOptions options = Options();
  options.timeouts.token_gap_ms = 300;
  auto client = Make(options);
  TokenRecorder tokens;
  auto r = client->Chat(SimpleRequest(), tokens.Callback(), nullptr);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), StatusCode::kDeadlineExceeded);
  EXPECT_THAT(r.error().message(), HasSubstr("token-gap timeout (300 ms) after 1 tokens"));
  EXPECT_EQ(tokens.size(), 1u);
  EXPECT_EQ(server_->RequestCount("/api/chat"), 1u);
  EXPECT_TRUE(server_->WaitForClientDisconnects(1, std::chrono::seconds(5)));
}

TEST_F(OllamaClientTest, SteadyButLongAnswerHitsTheTotalTimeout) {
  server_->SetTokenDelayMs(150);  // nine tokens, ~1.2 s
  OllamaClientOptions options = Options();
  options.timeouts.total_ms = 400;
  auto client = Make(options);
  TokenRecorder tokens;
  auto r = client->Chat(SimpleRequest(), tokens.Callback(), nullptr);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), StatusCode::kDeadlineExceeded);
  EXPECT_THAT(r.error().message(), HasSubstr("total timeout (400 ms)"));
  EXPECT_GE(tokens.size(), 1u);
  EXPECT_LT(tokens.size(), FakeLlmServer::Tokenize(kReply).size());
}

TEST_F(OllamaClientTest, CancelFlagStopsTheUpstreamRequest) {
  server_->SetTokenDelayMs(1000);  // the whole reply would take ~8 s
  auto client = Make(Options());
  std::atomic<bool> cancel{false};
  TokenRecorder tokens;
  std::thread canceller([&] {
    while (tokens.size() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    cancel = true;
  });
  auto start = SteadyClock::now();
  auto r = client->Chat(SimpleRequest(), tokens.Callback(), &cancel);
  double elapsed = SecondsSince(start);
  canceller.join();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), StatusCode::kCancelled) << r.error().ToString();
  EXPECT_EQ(tokens.size(), 1u);
  EXPECT_LT(elapsed, 5.0);
  EXPECT_TRUE(server_->WaitForClientDisconnects(1, std::chrono::seconds(5)));
  EXPECT_EQ(client->breaker().stats().failures, 0u);  // a cancel is not the server's fault
  EXPECT_EQ(server_->RequestCount("/api/chat"), 1u);
}

TEST_F(OllamaClientTest, CallbackReturningFalseStopsTheUpstreamRequest) {
  server_->SetTokenDelayMs(500);
  auto client = Make(Options());
  TokenRecorder tokens;
  auto r = client->Chat(SimpleRequest(), tokens.Callback(/*stop_after=*/2), nullptr);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), StatusCode::kCancelled);
  EXPECT_THAT(r.error().message(), HasSubstr("token callback"));
  EXPECT_EQ(tokens.size(), 2u);
  EXPECT_TRUE(server_->WaitForClientDisconnects(1, std::chrono::seconds(5)));
  EXPECT_EQ(server_->RequestCount("/api/chat"), 1u);
}

TEST_F(OllamaClientTest, CancelledBeforeStartMakesNoRequest) {
  auto client = Make(Options());
  std::atomic<bool> cancel{true};
  auto r = client->Chat(SimpleRequest(), nullptr, &cancel);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), StatusCode::kCancelled);
  EXPECT_EQ(server_->RequestCount("/api/chat"), 0u);
}

TEST_F(OllamaClientTest, ConcurrentChatsEachGetTheWholeAnswer) {
  server_->SetTokenDelayMs(5);
  auto client = Make(Options());
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      TokenRecorder tokens;
      auto r = client->Chat(SimpleRequest(), tokens.Callback(), nullptr);
      if (r && r->text == kReply && tokens.Joined() == kReply) ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 4);
}

TEST_F(OllamaClientTest, RecordsRequestOutcomesAndTimings) {
  MetricsRegistry registry;
  OllamaClientOptions options = Options();
  options.metrics = &registry;
  options.retry.max_retries = 0;
  auto client = Make(options);
  ASSERT_TRUE(client->Chat(SimpleRequest(), nullptr, nullptr));
  server_->SetMode(FakeMode::kHttp500);
  ASSERT_FALSE(client->Chat(SimpleRequest(), nullptr, nullptr));
  std::string text = registry.Render();
  EXPECT_THAT(text, HasSubstr("llm_requests_total{provider=\"ollama\",outcome=\"ok\"} 1"));
  EXPECT_THAT(text, HasSubstr("llm_requests_total{provider=\"ollama\",outcome=\"unavailable\"} 1"));
  EXPECT_THAT(text, HasSubstr("llm_time_to_first_token_seconds_count{provider=\"ollama\"} 1"));
  EXPECT_THAT(text, HasSubstr("llm_tokens_per_second_count{provider=\"ollama\"} 1"));
  EXPECT_THAT(text, HasSubstr("llm_circuit_state{provider=\"ollama\"} 0"));
}

TEST(OllamaClientOptionsTest, InvalidOptionsAreRejectedByName) {
  OllamaClientOptions options;
  EXPECT_TRUE(options.Validate().ok());
  EXPECT_EQ(options.base_url, "http://127.0.0.1:11434");
  options.timeouts.first_token_ms = 0;
  auto r = OllamaClient::Create(options);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(r.error().message(), HasSubstr("timeouts.first_token_ms"));
  options = {};
  options.base_url = "ftp://x";
  EXPECT_THAT(OllamaClient::Create(options).error().message(), HasSubstr("base_url"));
  options = {};
  options.retry.max_retries = 11;
  EXPECT_THAT(options.Validate().message(), HasSubstr("retry.max_retries"));
  options = {};
  options.breaker.failure_threshold = 0;
  EXPECT_THAT(options.Validate().message(), HasSubstr("breaker.failure_threshold"));
  options = {};
  options.default_model.clear();
  EXPECT_THAT(options.Validate().message(), HasSubstr("default_model"));
}

}  // namespace
}  // namespace jrvs::llm
