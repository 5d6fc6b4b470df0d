// FallbackClient: an OllamaClient against the fake server with the ExtractiveClient behind it.
#include "llm/fallback_client.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/metrics.h"
#include "fakes/fake_llm_server.h"
#include "llm/extractive_client.h"
#include "llm/llm_test_util.h"
#include "llm/ollama_client.h"

namespace jrvs::llm {
namespace {

using jrvs::testing::FakeLlmServer;
using jrvs::testing::FakeMode;
using llm::testing::FastOptions;
using llm::testing::MakeClient;
using llm::testing::SecondsSince;
using llm::testing::StartFakeServer;
using llm::testing::TokenRecorder;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr const char* kReply = "The answer from the model.";
constexpr const char* kExtractiveAnswer = "The reactor core is cooled by heavy water. [1]";

class FallbackClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = StartFakeServer(kReply);
    ASSERT_NE(server_->port(), 0);
  }

  std::unique_ptr<FallbackClient> Make(FallbackOptions fallback_options = {},
                                       int first_token_ms = 5000, int failure_threshold = 5) {
    auto options = FastOptions<OllamaClientOptions>(server_->base_url());
    options.timeouts.first_token_ms = first_token_ms;
    options.retry.max_retries = 1;
    options.breaker.failure_threshold = failure_threshold;
    auto primary = MakeClient<OllamaClient>(options);
    if (!primary) return nullptr;
    return std::make_unique<FallbackClient>(std::move(primary),
                                            std::make_unique<ExtractiveClient>(), fallback_options);
  }

 public:
  static ChatRequest Request() {
    ChatRequest r;
    r.messages = {{"system", "Context: [1] Reactor notes"}, {"user", "How is the reactor cooled?"}};
    r.query = "How is the reactor cooled?";
    r.passages = {{1, "Reactor notes", std::nullopt,
                   "The reactor core is cooled by heavy water. The control room is upstairs."}};
    return r;
  }

 protected:
  std::unique_ptr<FakeLlmServer> server_;
};

TEST_F(FallbackClientTest, HealthyPrimaryAnswers) {
  auto client = Make();
  TokenRecorder tokens;
  auto r = client->Chat(Request(), tokens.Callback(), nullptr);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->text, kReply);
  EXPECT_EQ(tokens.Joined(), kReply);
  EXPECT_EQ(r->model, "llama3.2:1b");
  EXPECT_TRUE(r->warning.empty());
  EXPECT_EQ(client->provider(), "auto");
}

TEST_F(FallbackClientTest, DownPrimaryFallsBackToExtractiveWithAWarning) {
  MetricsRegistry registry;
  FallbackOptions fallback_options;
  fallback_options.metrics = &registry;
  auto client = Make(fallback_options);
  server_->Stop();
  TokenRecorder tokens;
  auto r = client->Chat(Request(), tokens.Callback(), nullptr);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->text, kExtractiveAnswer);
  EXPECT_EQ(tokens.Joined(), kExtractiveAnswer);
  EXPECT_EQ(r->model, "extractive");
  EXPECT_THAT(r->warning, StartsWith("LLM unavailable ("));
  EXPECT_THAT(r->warning, HasSubstr("cannot connect"));
  EXPECT_THAT(r->warning, HasSubstr("answered from the knowledge base without a model"));
  EXPECT_GE(r->total_ms, r->time_to_first_token_ms);
  EXPECT_THAT(registry.Render(),
              HasSubstr("llm_requests_total{provider=\"auto\",outcome=\"fallback\"} 1"));
}

TEST_F(FallbackClientTest, HangingPrimaryFallsBackAfterTheFirstTokenTimeout) {
  server_->SetMode(FakeMode::kHang);
  auto client = Make({}, /*first_token_ms=*/300);
  auto start = std::chrono::steady_clock::now();
  auto r = client->Chat(Request(), nullptr, nullptr);
  double elapsed = SecondsSince(start);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->text, kExtractiveAnswer);
  EXPECT_THAT(r->warning, HasSubstr("first-token timeout (300 ms)"));
  EXPECT_GE(elapsed, 0.29);
  EXPECT_LT(elapsed, 10.0);
  EXPECT_GE(r->time_to_first_token_ms, 290);  // counted from the start of the call
}

TEST_F(FallbackClientTest, ServerErrorsFallBackAndAnOpenCircuitFallsBackAtOnce) {
  server_->SetMode(FakeMode::kHttp500);
  auto client = Make({}, 5000, /*failure_threshold=*/2);
  auto first = client->Chat(Request(), nullptr, nullptr);  // two attempts: opens the circuit
  ASSERT_TRUE(first) << first.error().ToString();
  EXPECT_THAT(first->warning, HasSubstr("HTTP 500"));
  EXPECT_EQ(server_->RequestCount("/api/chat"), 2u);
  auto second = client->Chat(Request(), nullptr, nullptr);
  ASSERT_TRUE(second);
  EXPECT_THAT(second->warning, HasSubstr("circuit open"));
  EXPECT_EQ(second->text, kExtractiveAnswer);
  EXPECT_EQ(server_->RequestCount("/api/chat"), 2u);  // the open circuit sent nothing
}

TEST_F(FallbackClientTest, FailureAfterTokensIsReturnedToTheCaller) {
  server_->SetMode(FakeMode::kTruncate);
  server_->SetTruncateAfterTokens(2);
  auto client = Make();
  TokenRecorder tokens;
  auto r = client->Chat(Request(), tokens.Callback(), nullptr);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), StatusCode::kUnavailable);
  EXPECT_THAT(r.error().message(), HasSubstr("truncated"));
  EXPECT_EQ(tokens.Joined(), "The answer");  // what the model streamed, nothing appended
  EXPECT_EQ(server_->RequestCount("/api/chat"), 1u);
}

TEST_F(FallbackClientTest, FailureAfterTokensCanAppendTheExtractiveAnswer) {
  server_->SetMode(FakeMode::kTruncate);
  server_->SetTruncateAfterTokens(2);
  FallbackOptions fallback_options;
  fallback_options.append_after_partial = true;
  auto client = Make(fallback_options);
  TokenRecorder tokens;
  auto r = client->Chat(Request(), tokens.Callback(), nullptr);
  ASSERT_TRUE(r) << r.error().ToString();
  std::string expected = std::string("The answer\n\n") + kExtractiveAnswer;
  EXPECT_EQ(r->text, expected);
  EXPECT_EQ(tokens.Joined(), expected);
  EXPECT_THAT(r->warning, StartsWith("LLM stopped after 2 tokens ("));
  EXPECT_THAT(r->warning, HasSubstr("truncated"));
}

TEST_F(FallbackClientTest, NoFallbackWhenDisabled) {
  FallbackOptions fallback_options;
  fallback_options.fallback_on_error = false;
  auto client = Make(fallback_options);
  server_->Stop();
  auto r = client->Chat(Request(), nullptr, nullptr);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), StatusCode::kUnavailable);
}

TEST_F(FallbackClientTest, CancelledCallIsNotAnsweredByTheFallback) {
  server_->SetTokenDelayMs(1000);
  auto client = Make();
  std::atomic<bool> cancel{false};
  TokenRecorder tokens;
  std::thread canceller([&] {
    while (tokens.size() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    cancel = true;
  });
  auto r = client->Chat(Request(), tokens.Callback(), &cancel);
  canceller.join();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), StatusCode::kCancelled);
  EXPECT_EQ(tokens.Joined(), "The");
  EXPECT_TRUE(server_->WaitForClientDisconnects(1, std::chrono::seconds(5)));

  // Cancelled before the primary could answer at all: still no fallback.
  server_->SetMode(FakeMode::kHang);
  std::atomic<bool> cancel_early{false};
  std::thread early([&] {
    while (server_->in_flight() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    cancel_early = true;
  });
  TokenRecorder none;
  auto r2 = client->Chat(Request(), none.Callback(), &cancel_early);
  early.join();
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error().code(), StatusCode::kCancelled);
  EXPECT_EQ(none.size(), 0u);
}

TEST_F(FallbackClientTest, ModelsAndHealth) {
  auto client = Make();
  auto models = client->ListModels();
  ASSERT_TRUE(models) << models.error().ToString();
  ASSERT_EQ(models->size(), 3u);
  EXPECT_EQ((*models)[0].name, "llama3.2:1b");
  EXPECT_EQ((*models)[2].name, "extractive");
  EXPECT_TRUE(client->DescribeModel("extractive"));
  EXPECT_EQ(server_->RequestCount("/api/show"), 0u);
  EXPECT_TRUE(client->DescribeModel("llama3.2:1b"));
  EXPECT_EQ(server_->RequestCount("/api/show"), 1u);
  EXPECT_TRUE(client->Health().ok);

  server_->Stop();
  models = client->ListModels();
  ASSERT_TRUE(models);
  ASSERT_EQ(models->size(), 1u);
  EXPECT_EQ((*models)[0].name, "extractive");
  HealthReport health = client->Health();
  EXPECT_FALSE(health.ok);
  EXPECT_THAT(health.detail, HasSubstr("chat falls back to extractive answers"));
}

// A primary at the seam whose health the test sets, counting the chats it is asked for.
class SwitchablePrimary final : public LlmClient {
 public:
  std::string_view provider() const override { return "switchable"; }
  Result<std::vector<ModelInfo>> ListModels() override { return std::vector<ModelInfo>{}; }
  Result<ChatResult> Chat(const ChatRequest&, const TokenCallback& on_token,
                          const std::atomic<bool>*) override {
    ++chats;
    if (on_token) on_token(kReply);
    ChatResult r;
    r.text = kReply;
    return r;
  }
  HealthReport Health() override { return {up.load(), up.load() ? "up" : "connection refused"}; }

  std::atomic<bool> up{true};
  std::atomic<int> chats{0};
};

TEST(FallbackClientHealthTest, APrimaryFoundDownIsSkippedUntilItIsFoundUpAgain) {
  auto owned = std::make_unique<SwitchablePrimary>();
  SwitchablePrimary* primary = owned.get();
  FallbackClient client(std::move(owned), std::make_unique<ExtractiveClient>());
  const ChatRequest request = FallbackClientTest::Request();

  auto r = client.Chat(request, nullptr, nullptr);  // never probed: the primary is tried
  ASSERT_TRUE(r);
  EXPECT_EQ(r->text, kReply);
  EXPECT_EQ(primary->chats.load(), 1);

  primary->up = false;
  EXPECT_FALSE(client.Health().ok);
  r = client.Chat(request, nullptr, nullptr);
  ASSERT_TRUE(r);
  EXPECT_EQ(primary->chats.load(), 1);  // not asked
  EXPECT_THAT(r->text, HasSubstr("heavy water"));
  EXPECT_THAT(r->warning, StartsWith("LLM unavailable (last health check: connection refused)"));

  primary->up = true;
  EXPECT_TRUE(client.Health().ok);
  r = client.Chat(request, nullptr, nullptr);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->text, kReply);
  EXPECT_EQ(primary->chats.load(), 2);
}

TEST(FallbackClientHealthTest, SkippingCanBeTurnedOff) {
  auto owned = std::make_unique<SwitchablePrimary>();
  SwitchablePrimary* primary = owned.get();
  FallbackOptions options;
  options.skip_unhealthy_primary = false;
  FallbackClient client(std::move(owned), std::make_unique<ExtractiveClient>(), options);
  primary->up = false;
  EXPECT_FALSE(client.Health().ok);
  auto r = client.Chat(FallbackClientTest::Request(), nullptr, nullptr);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->text, kReply);
  EXPECT_EQ(primary->chats.load(), 1);
}

}  // namespace
}  // namespace jrvs::llm
