// End-to-end: chat through the real binary — the extractive default, a (fake) Ollama with
// streaming over SSE, dangling citations removed, history stored, models listed and switched,
// the fallback when the model is down, and /health staying fast while chats wait on a slow model.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include <fmt/format.h>

#include "fakes/fake_llm_server.h"
#include "server_util.h"

namespace jrvs::testing {
namespace {

namespace json = boost::json;

void AddBees(ApiClient& client) {
  auto r = client.Request(
      "POST", "/api/rag/document",
      R"({"title":"Bees","url":"https://example.org/bees","content":"Honey bees communicate the direction of flowers with a waggle dance. The angle of the dance encodes the bearing of the sun. Bees also use scent."})");
  ASSERT_EQ(r.status, 201) << r.body;
}

TEST(ChatE2E, ExtractiveAnswerWithCitationsAndHistory) {
  TempDir dir;
  auto server = ServerProcess::Start(dir.path(), {}, {{"JRVS_LLM_PROVIDER", "extractive"}});
  ASSERT_TRUE(server);
  auto client = server->Client();
  AddBees(client);
  auto r =
      client.Request("POST", "/api/chat", R"({"message":"How do bees communicate direction?"})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto body = ParseJson(r.body);
  std::string response(body.at("response").as_string());
  EXPECT_NE(response.find("waggle dance"), std::string::npos) << response;
  EXPECT_NE(response.find("[1]"), std::string::npos) << response;
  EXPECT_EQ(body.at("model_used").as_string(), "extractive");
  EXPECT_TRUE(body.at("context_used").as_bool());
  ASSERT_FALSE(body.at("sources").as_array().empty());
  EXPECT_EQ(body.at("sources").as_array()[0].at("n").as_int64(), 1);
  std::string session(body.at("session_id").as_string());
  EXPECT_FALSE(session.empty());
  EXPECT_TRUE(body.at("timings").as_object().contains("retrieval_ms"));

  auto history = ParseJson(client.Request("GET", "/api/history/" + session).body);
  ASSERT_EQ(history.at("count").as_int64(), 1);
  EXPECT_EQ(history.at("history").as_array()[0].at("ai_response").as_string(), response);

  EXPECT_EQ(client.Request("POST", "/api/chat", R"({"session_id":"x"})").status, 400);
  EXPECT_EQ(client.Request("POST", "/api/chat", R"({"message":"hi","session_id":"bad id"})").status,
            400);
  EXPECT_EQ(client
                .Request("POST", "/api/chat",
                         json::serialize(json::object{{"message", std::string(10001, 'a')}}))
                .status,
            400);
  EXPECT_EQ(client.Request("POST", "/api/chat", "[1,2]").status, 400);
}

TEST(ChatE2E, OllamaStreamsOverSseAndDanglingCitationsAreDropped) {
  FakeLlmOptions options;
  options.reply = "Bees dance [1], not [9].";
  FakeLlmServer llm(options);
  ASSERT_TRUE(llm.Start()) << llm.error();
  TempDir dir;
  auto server = ServerProcess::Start(dir.path(), {},
                                     {{"JRVS_LLM_PROVIDER", "ollama"},
                                      {"JRVS_LLM_OLLAMA_URL", llm.base_url()},
                                      {"JRVS_LLM_MODEL", "llama3.2:1b"}});
  ASSERT_TRUE(server);
  auto client = server->Client();
  AddBees(client);

  auto r = client.Request("POST", "/api/chat",
                          R"({"message":"How do bees communicate?","session_id":"s1"})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto body = ParseJson(r.body);
  EXPECT_EQ(body.at("response").as_string(), "Bees dance [1], not .");
  EXPECT_EQ(body.at("model_used").as_string(), "llama3.2:1b");
  // The model got the numbered context and the question.
  bool saw_context = false;
  for (const auto& req : llm.requests()) {
    if (req.path == "/api/chat" &&
        req.body.find("[1] Bees (https://example.org/bees)") != std::string::npos) {
      saw_context = true;
    }
  }
  EXPECT_TRUE(saw_context);

  auto sse = client.Request("POST", "/api/chat",
                            R"({"message":"And again?","session_id":"s1","stream":true})");
  ASSERT_EQ(sse.status, 200);
  EXPECT_NE(sse.Header("content-type").find("text/event-stream"), std::string::npos);
  EXPECT_NE(sse.body.find("event: token\ndata: {\"content\":\"Bees\"}"), std::string::npos)
      << sse.body;
  EXPECT_NE(sse.body.find("event: sources"), std::string::npos);
  EXPECT_NE(sse.body.find("event: done"), std::string::npos);
  EXPECT_EQ(sse.body.find("[9]"), std::string::npos);
  // The second turn sent the first one as history.
  EXPECT_NE(llm.requests().back().body.find("How do bees communicate?"), std::string::npos);
  EXPECT_EQ(ParseJson(client.Request("GET", "/api/history/s1").body).at("count").as_int64(), 2);

  auto models = ParseJson(client.Request("GET", "/api/models").body);
  ASSERT_EQ(models.at("models").as_array().size(), 2u);
  // Both turns were counted for the model that answered them.
  ASSERT_EQ(models.at("usage").as_array().size(), 1u);
  EXPECT_EQ(models.at("usage").as_array()[0].at("name").as_string(), "llama3.2:1b");
  EXPECT_EQ(models.at("usage").as_array()[0].at("usage_count").as_int64(), 2);
  EXPECT_EQ(models.at("current").as_string(), "llama3.2:1b");
  auto sw = client.Request("POST", "/api/models/switch/nomic");
  ASSERT_EQ(sw.status, 200) << sw.body;
  EXPECT_EQ(ParseJson(sw.body).at("current").as_string(), "nomic-embed-text:latest");
  EXPECT_EQ(client.Request("POST", "/api/models/switch/gpt").status, 400);
}

TEST(ChatE2E, FallsBackToExtractiveWhenTheModelIsDown) {
  TempDir dir;
  auto server = ServerProcess::Start(
      dir.path(), {},
      {{"JRVS_LLM_PROVIDER", "auto"}, {"JRVS_LLM_OLLAMA_URL", "http://127.0.0.1:9"}});
  ASSERT_TRUE(server);
  auto client = server->Client();
  AddBees(client);
  auto r =
      client.Request("POST", "/api/chat", R"({"message":"What does the dance angle encode?"})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto body = ParseJson(r.body);
  EXPECT_EQ(body.at("model_used").as_string(), "extractive");
  EXPECT_NE(std::string(body.at("response").as_string()).find("sun"), std::string::npos);
  EXPECT_EQ(client.Request("GET", "/api/models").status, 200);
}

TEST(ChatE2E, HealthAndSearchStayFastWhileChatsWaitOnASlowModel) {
  FakeLlmOptions options;
  options.ttft_ms = 8000;  // the chats stay parked on the model for the whole check below
  FakeLlmServer llm(options);
  ASSERT_TRUE(llm.Start()) << llm.error();
  TempDir dir;
  auto server = ServerProcess::Start(dir.path(), {},
                                     {{"JRVS_LLM_PROVIDER", "ollama"},
                                      {"JRVS_LLM_OLLAMA_URL", llm.base_url()},
                                      {"JRVS_LLM_MODEL", "llama3.2:1b"}});
  ASSERT_TRUE(server);
  {
    auto client = server->Client();
    AddBees(client);
  }
  constexpr int kChats = 12;
  std::atomic<int> ok{0};
  std::vector<std::thread> chats;
  for (int i = 0; i < kChats; ++i) {
    chats.emplace_back([&, i] {
      ApiClient c(server->port());
      auto r = c.Request("POST", "/api/chat",
                         fmt::format(R"({{"message":"question {}","stream":true}})", i));
      if (r.status == 200) ++ok;
    });
  }
  // Wait until the chats are parked on the model.
  for (int i = 0; i < 200 && llm.in_flight() < kChats; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(llm.in_flight(), kChats);
  auto client = server->Client();
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(client.Request("GET", "/health").status, 200);
    EXPECT_EQ(client.Request("GET", "/api/search?q=bees").status, 200);
    EXPECT_EQ(client.Request("POST", "/api/rag/retrieve", R"({"query":"dance"})").status, 200);
  }
  // Causal, not timed: every answer above arrived while all chats were still waiting on the
  // model (none of them has had its first token yet).
  EXPECT_EQ(llm.in_flight(), kChats);
  for (auto& t : chats) t.join();
  EXPECT_EQ(ok.load(), kChats);
}

}  // namespace
}  // namespace jrvs::testing
