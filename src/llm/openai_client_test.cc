// OpenAiClient against the fake LLM server's OpenAI-compatible routes (SSE streaming).
#include "llm/openai_client.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <boost/json.hpp>

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

constexpr const char* kReply = "Paris is the capital of France, on the Seine.";

class OpenAiClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = StartFakeServer(kReply);
    ASSERT_NE(server_->port(), 0);
  }

  OpenAiClientOptions Options() const {
    return FastOptions<OpenAiClientOptions>(server_->base_url());
  }

  std::unique_ptr<OpenAiClient> Make(const OpenAiClientOptions& options) {
    return MakeClient<OpenAiClient>(options);
  }

  jrvs::testing::RecordedRequest LastRequest(std::string_view path) const {
    auto requests = server_->requests();
    for (auto it = requests.rbegin(); it != requests.rend(); ++it) {
      if (it->path == path) return *it;
    }
    return {};
  }

  std::unique_ptr<FakeLlmServer> server_;
};

TEST_F(OpenAiClientTest, StreamsTokensInOrderWithUsage) {
  auto client = Make(Options());
  TokenRecorder tokens;
  auto r = client->Chat(SimpleRequest("capital of france"), tokens.Callback(), nullptr);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_THAT(tokens.tokens(), ElementsAreArray(FakeLlmServer::Tokenize(kReply)));
  EXPECT_EQ(tokens.Joined(), kReply);
  EXPECT_EQ(r->text, kReply);
  EXPECT_EQ(r->model, kFakeModel);
  EXPECT_EQ(r->done_reason, "stop");
  EXPECT_EQ(r->prompt_tokens, 6);  // "You are terse." + "capital of france"
  EXPECT_EQ(r->completion_tokens, static_cast<int64_t>(FakeLlmServer::Tokenize(kReply).size()));
  EXPECT_EQ(r->attempts, 1);
  EXPECT_EQ(client->provider(), "openai");
}

TEST_F(OpenAiClientTest, SendsTheOpenAiRequestShape) {
  OpenAiClientOptions options = Options();
  options.api_key = "sk-test-123";
  options.base_url = server_->base_url() + "/v1/";  // a "/v1" suffix is accepted
  auto client = Make(options);
  ChatRequest request = SimpleRequest("hi");
  request.options.temperature = 0.5;
  request.options.max_tokens = 64;
  request.options.num_ctx = 8192;  // not part of this API
  ASSERT_TRUE(client->Chat(request, nullptr, nullptr));
  auto sent = LastRequest("/v1/chat/completions");
  EXPECT_EQ(sent.Header("authorization"), "Bearer sk-test-123");
  json::object body = json::parse(sent.body).as_object();
  EXPECT_EQ(body.at("model").as_string(), kFakeModel);
  EXPECT_TRUE(body.at("stream").as_bool());
  EXPECT_TRUE(body.at("stream_options").at("include_usage").as_bool());
  EXPECT_DOUBLE_EQ(body.at("temperature").as_double(), 0.5);
  EXPECT_EQ(body.at("max_tokens").as_int64(), 64);
  EXPECT_FALSE(body.contains("num_ctx"));
  EXPECT_FALSE(body.contains("options"));
  EXPECT_EQ(body.at("messages").as_array().size(), 2u);
  // Control requests carry the key too.
  ASSERT_TRUE(client->ListModels());
  EXPECT_EQ(LastRequest("/v1/models").Header("authorization"), "Bearer sk-test-123");
}

TEST_F(OpenAiClientTest, WithoutUsageTheStreamedTokensAreCounted) {
  OpenAiClientOptions options = Options();
  options.include_usage = false;
  auto client = Make(options);
  auto r = client->Chat(SimpleRequest(), nullptr, nullptr);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_FALSE(
      json::parse(LastRequest("/v1/chat/completions").body).as_object().contains("stream_options"));
  EXPECT_EQ(r->prompt_tokens, 0);
  EXPECT_EQ(r->completion_tokens, static_cast<int64_t>(FakeLlmServer::Tokenize(kReply).size()));
  EXPECT_EQ(LastRequest("/v1/chat/completions").Header("authorization"), "");
}

TEST_F(OpenAiClientTest, ListsModels) {
  auto client = Make(Options());
  auto models = client->ListModels();
  ASSERT_TRUE(models) << models.error().ToString();
  ASSERT_EQ(models->size(), 2u);
  EXPECT_EQ((*models)[0].name, "llama3.2:1b");
  EXPECT_EQ((*models)[0].size, 0);
  EXPECT_EQ((*models)[0].modified_at, "2025-01-01T00:00:00Z");
  EXPECT_EQ(json::parse((*models)[0].details_json).at("owned_by").as_string(), "fake");

  // DescribeModel finds it in the list.
  auto info = client->DescribeModel("nomic-embed-text:latest");
  ASSERT_TRUE(info) << info.error().ToString();
  EXPECT_EQ(info->name, "nomic-embed-text:latest");
  EXPECT_EQ(client->DescribeModel("gpt-9").error().code(), StatusCode::kNotFound);
}

TEST_F(OpenAiClientTest, HealthProbesTheModelList) {
  auto client = Make(Options());
  HealthReport up = client->Health();
  EXPECT_TRUE(up.ok) << up.detail;
  EXPECT_THAT(up.detail, HasSubstr("2 models"));
  server_->SetMode(FakeMode::kHttp500);
  HealthReport down = client->Health();
  EXPECT_FALSE(down.ok);
  EXPECT_THAT(down.detail, HasSubstr("HTTP 500"));
}

TEST_F(OpenAiClientTest, RetriesA500BeforeTheFirstTokenOnly) {
  auto client = Make(Options());
  server_->FailNext(FakeMode::kHttp500, 1);
  auto r = client->Chat(SimpleRequest(), nullptr, nullptr);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->attempts, 2);
  EXPECT_EQ(r->text, kReply);
  EXPECT_EQ(server_->RequestCount("/v1/chat/completions"), 2u);

  server_->ClearRequests();
  server_->SetMode(FakeMode::kTruncate);
  server_->SetTruncateAfterTokens(2);
  TokenRecorder tokens;
  auto cut = client->Chat(SimpleRequest(), tokens.Callback(), nullptr);
  ASSERT_FALSE(cut);
  EXPECT_EQ(cut.error().code(), StatusCode::kUnavailable);
  EXPECT_THAT(cut.error().message(), HasSubstr("truncated"));
  EXPECT_EQ(tokens.size(), 2u);
  EXPECT_EQ(server_->RequestCount("/v1/chat/completions"), 1u);
}

TEST_F(OpenAiClientTest, ServerErrorsOpenTheBreaker) {
  OpenAiClientOptions options = Options();
  options.retry.max_retries = 0;
  options.breaker.failure_threshold = 2;
  auto client = Make(options);
  server_->SetMode(FakeMode::kHttp500);
  for (int i = 0; i < 2; ++i) {
    auto r = client->Chat(SimpleRequest(), nullptr, nullptr);
    ASSERT_FALSE(r);
    EXPECT_THAT(r.error().message(), HasSubstr("HTTP 500"));
  }
  auto refused = client->Chat(SimpleRequest(), nullptr, nullptr);
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().message(), HasSubstr("circuit open"));
  EXPECT_EQ(server_->RequestCount("/v1/chat/completions"), 2u);
}

TEST_F(OpenAiClientTest, MalformedEventIsAnInternalError) {
  server_->SetMode(FakeMode::kMalformedJson);
  auto client = Make(Options());
  auto r = client->Chat(SimpleRequest(), nullptr, nullptr);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), StatusCode::kInternal);
  EXPECT_THAT(r.error().message(), HasSubstr("malformed SSE event"));
  EXPECT_EQ(server_->RequestCount("/v1/chat/completions"), 1u);
}

TEST_F(OpenAiClientTest, HangingServerHitsTheFirstTokenTimeout) {
  server_->SetMode(FakeMode::kHang);
  OpenAiClientOptions options = Options();
  options.timeouts.first_token_ms = 300;
  auto client = Make(options);
  auto start = std::chrono::steady_clock::now();
  auto r = client->Chat(SimpleRequest(), nullptr, nullptr);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), StatusCode::kDeadlineExceeded);
  EXPECT_THAT(r.error().message(), HasSubstr("first-token timeout (300 ms)"));
  EXPECT_LT(SecondsSince(start), 10.0);
  EXPECT_TRUE(server_->WaitForClientDisconnects(1, std::chrono::seconds(5)));
}

TEST_F(OpenAiClientTest, StalledStreamHitsTheTokenGapTimeout) {
  server_->SetTokenDelayMs(3000);
  OpenAiClientOptions options = Options();
  options.timeouts.token_gap_ms = 300;
  auto client = Make(options);
  TokenRecorder tokens;
  auto r = client->Chat(SimpleRequest(), tokens.Callback(), nullptr);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), StatusCode::kDeadlineExceeded);
  EXPECT_THAT(r.error().message(), HasSubstr("token-gap timeout (300 ms)"));
  EXPECT_EQ(tokens.size(), 1u);
}

TEST_F(OpenAiClientTest, CancelFlagStopsTheUpstreamRequest) {
  server_->SetTokenDelayMs(1000);
  auto client = Make(Options());
  std::atomic<bool> cancel{false};
  TokenRecorder tokens;
  std::thread canceller([&] {
    while (tokens.size() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    cancel = true;
  });
  auto r = client->Chat(SimpleRequest(), tokens.Callback(), &cancel);
  canceller.join();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), StatusCode::kCancelled);
  EXPECT_EQ(tokens.size(), 1u);
  EXPECT_TRUE(server_->WaitForClientDisconnects(1, std::chrono::seconds(5)));
}

TEST_F(OpenAiClientTest, CallbackReturningFalseStopsTheUpstreamRequest) {
  server_->SetTokenDelayMs(500);
  auto client = Make(Options());
  TokenRecorder tokens;
  auto r = client->Chat(SimpleRequest(), tokens.Callback(/*stop_after=*/1), nullptr);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), StatusCode::kCancelled);
  EXPECT_EQ(tokens.size(), 1u);
  EXPECT_TRUE(server_->WaitForClientDisconnects(1, std::chrono::seconds(5)));
}

TEST(OpenAiClientOptionsTest, DefaultsAndValidation) {
  OpenAiClientOptions options;
  EXPECT_TRUE(options.Validate().ok());
  EXPECT_EQ(options.base_url, "http://127.0.0.1:1234");
  options.timeouts.token_gap_ms = -5;
  auto r = OpenAiClient::Create(options);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(), HasSubstr("timeouts.token_gap_ms"));
}

}  // namespace
}  // namespace jrvs::llm
