// End-to-end: WS /ws/chat through the real binary — tokens from a (fake) Ollama arrive as separate
// chunk frames, the done frame carries the session, a second message on the same socket continues
// that session, bad input is an error frame on a socket that stays usable, the extractive
// provider answers, and a client that vanishes mid-answer cancels the model call.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "fakes/fake_llm_server.h"
#include "server_util.h"
#include "support/ws_client.h"

namespace jrvs::testing {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

void AddBees(ApiClient& client) {
  auto r = client.Request(
      "POST", "/api/rag/document",
      R"({"title":"Bees","url":"https://example.org/bees","content":"Honey bees communicate the direction of flowers with a waggle dance. The angle of the dance encodes the bearing of the sun. Bees also use scent."})");
  ASSERT_EQ(r.status, 201) << r.body;
}

// The frames of one answer, up to and including "done" or "error".
struct Turn {
  std::vector<std::string> chunks;
  json::object sources;
  json::object done;
  json::object error;
  std::string Text() const {
    std::string text;
    for (const auto& c : chunks) text += c;
    return text;
  }
};

Turn ReadTurn(WsClient& ws) {
  Turn turn;
  for (int i = 0; i < 1000; ++i) {
    auto frame = ws.Receive();
    if (!frame) {
      ADD_FAILURE() << "no frame: " << frame.error().ToString();
      return turn;
    }
    json::value v = ParseJson(*frame);
    if (!v.is_object()) return turn;
    const json::object& o = v.as_object();
    std::string type(o.at("type").as_string());
    if (type == "chunk") {
      turn.chunks.emplace_back(o.at("content").as_string());
    } else if (type == "sources") {
      turn.sources = o;
    } else if (type == "done") {
      turn.done = o;
      return turn;
    } else if (type == "error") {
      turn.error = o;
      return turn;
    } else {
      ADD_FAILURE() << "unexpected frame " << *frame;
    }
  }
  return turn;
}

std::string Str(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  return it == o.end() || !it->value().is_string() ? "<missing>"
                                                   : std::string(it->value().as_string());
}

TEST(WsChatE2E, TokensStreamAsChunkFramesAndTheSocketKeepsItsSession) {
  FakeLlmOptions options;
  options.reply = "Bees dance a waggle dance [1] to point at flowers.";
  options.token_delay_ms = 5;
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

  WsClient ws("127.0.0.1", server->port());
  ASSERT_TRUE(ws.Connect("/ws/chat").ok());
  ASSERT_TRUE(ws.Send(R"({"message":"How do bees communicate?"})").ok());
  Turn first = ReadTurn(ws);
  ASSERT_TRUE(first.error.empty()) << json::serialize(first.error);
  // Real streaming: one frame per model token at least, and together they are the answer.
  EXPECT_GE(first.chunks.size(), FakeLlmServer::Tokenize(options.reply).size());
  EXPECT_EQ(first.Text(), options.reply);
  EXPECT_EQ(Str(first.done, "response"), options.reply);
  EXPECT_EQ(Str(first.done, "model_used"), "llama3.2:1b");
  ASSERT_FALSE(first.sources.empty());
  EXPECT_FALSE(first.sources.at("sources").as_array().empty());
  ASSERT_TRUE(first.done.contains("timings"));
  EXPECT_TRUE(first.done.at("timings").as_object().contains("generation_ms"));
  std::string session = Str(first.done, "session_id");
  ASSERT_FALSE(session.empty());

  // A second message without session_id continues the socket's session: the model sees the
  // first turn as history and the store has both.
  ASSERT_TRUE(ws.Send(R"({"message":"And what about scent?"})").ok());
  Turn second = ReadTurn(ws);
  ASSERT_TRUE(second.error.empty()) << json::serialize(second.error);
  EXPECT_EQ(Str(second.done, "session_id"), session);
  EXPECT_NE(llm.requests().back().body.find("How do bees communicate?"), std::string::npos);
  auto history = ParseJson(client.Request("GET", "/api/history/" + session).body);
  EXPECT_EQ(history.at("count").as_int64(), 2);

  // An explicit session_id is honoured.
  ASSERT_TRUE(ws.Send(R"({"message":"Hello","session_id":"ws-s2"})").ok());
  EXPECT_EQ(Str(ReadTurn(ws).done, "session_id"), "ws-s2");
  EXPECT_TRUE(ws.Close().ok());
}

TEST(WsChatE2E, BadInputIsAnErrorFrameAndTheExtractiveProviderAnswers) {
  TempDir dir;
  auto server = ServerProcess::Start(dir.path(), {}, {{"JRVS_LLM_PROVIDER", "extractive"}});
  ASSERT_TRUE(server);
  auto client = server->Client();
  AddBees(client);
  WsClient ws("127.0.0.1", server->port());
  ASSERT_TRUE(ws.Connect("/ws/chat").ok());
  for (std::string bad :
       {std::string("not json"), std::string(R"({"message":""})"),
        std::string(R"({"message":"hi","session_id":"bad id"})"), std::string(R"({"message":42})"),
        json::serialize(json::object{{"message", std::string(10001, 'a')}})}) {
    ASSERT_TRUE(ws.Send(bad).ok());
    Turn turn = ReadTurn(ws);
    EXPECT_EQ(Str(turn.error, "code"), "invalid_argument") << bad;
    EXPECT_TRUE(turn.chunks.empty());
  }
  ASSERT_TRUE(ws.Send(R"({"message":"How do bees communicate direction?"})").ok());
  Turn turn = ReadTurn(ws);
  ASSERT_TRUE(turn.error.empty()) << json::serialize(turn.error);
  EXPECT_EQ(Str(turn.done, "model_used"), "extractive");
  EXPECT_NE(turn.Text().find("waggle dance"), std::string::npos) << turn.Text();
  EXPECT_EQ(turn.Text(), Str(turn.done, "response"));

  // A plain GET is told to upgrade; a foreign page's origin is refused.
  EXPECT_EQ(client.Request("GET", "/ws/chat").status, 426);
  WsClient foreign("127.0.0.1", server->port());
  EXPECT_FALSE(foreign.Connect("/ws/chat", {{"Origin", "https://evil.example"}}).ok());
  EXPECT_EQ(foreign.handshake_status(), 403);

  // Shutdown with a WebSocket open (the client reading, as a browser would): it is closed with
  // 1001 and jrvs exits cleanly.
  bool received = true;
  std::thread reader([&] { received = static_cast<bool>(ws.Receive()); });
  EXPECT_EQ(server->Stop(), 0);
  reader.join();
  EXPECT_FALSE(received);
  EXPECT_EQ(ws.close_code(), 1001);
}

TEST(WsChatE2E, ClientThatVanishesMidAnswerCancelsTheModelCall) {
  FakeLlmOptions options;
  options.ttft_ms = 20000;  // the model is still thinking when the client leaves
  FakeLlmServer llm(options);
  ASSERT_TRUE(llm.Start()) << llm.error();
  TempDir dir;
  auto server = ServerProcess::Start(dir.path(), {},
                                     {{"JRVS_LLM_PROVIDER", "ollama"},
                                      {"JRVS_LLM_OLLAMA_URL", llm.base_url()},
                                      {"JRVS_LLM_MODEL", "llama3.2:1b"}});
  ASSERT_TRUE(server);
  {
    WsClient ws("127.0.0.1", server->port());
    ASSERT_TRUE(ws.Connect("/ws/chat").ok());
    ASSERT_TRUE(ws.Send(R"({"message":"Tell me a long story"})").ok());
    for (int i = 0; i < 1000 && llm.RequestCount("/api/chat") < 1; ++i) {
      std::this_thread::sleep_for(10ms);
    }
    ASSERT_EQ(llm.RequestCount("/api/chat"), 1u);
    ws.Abort();
  }
  // Before the first token, so only the socket's close can have told jrvs to cancel.
  EXPECT_TRUE(llm.WaitForClientDisconnects(1, 10s));
  llm.SetTtftMs(0);
  auto client = server->Client();
  auto r = client.Request("POST", "/api/chat", R"({"message":"still there?"})");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(client.Request("GET", "/health").status, 200);
}

}  // namespace
}  // namespace jrvs::testing
