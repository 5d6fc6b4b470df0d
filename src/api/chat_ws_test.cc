// The /ws/chat conversation without sockets: a real ChatService (SQLite store, hash embedder,
// retriever) over a scripted fake LLM, and a sink that records frames.
#include "api/chat_ws.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <mutex>
#include <thread>

#include <boost/json.hpp>

#include "rag/hash_embedder.h"
#include "rag/index_manager.h"
#include "rag/retriever.h"
#include "store/sqlite_store.h"

namespace jrvs::api {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

// Streams `tokens`; with `wait_for_cancel` it instead waits (up to 10 s) for the cancel flag, like
// a model that has not produced its first token yet.
class ScriptedLlm final : public llm::LlmClient {
 public:
  std::vector<std::string> tokens = {"Hello", " there", " friend."};
  bool wait_for_cancel = false;
  std::atomic<bool> saw_cancel{false};
  std::atomic<int> calls{0};
  std::mutex mu;  // guards last_messages
  std::vector<llm::ChatMessage> last_messages;

  std::string_view provider() const override { return "ollama"; }
  Result<std::vector<llm::ModelInfo>> ListModels() override {
    return std::vector<llm::ModelInfo>{};
  }
  Result<llm::ChatResult> Chat(const llm::ChatRequest& request, const llm::TokenCallback& on_token,
                               const std::atomic<bool>* cancel) override {
    ++calls;
    {
      std::lock_guard lock(mu);
      last_messages = request.messages;
    }
    if (wait_for_cancel) {
      for (int i = 0; i < 2000 && !(cancel && cancel->load()); ++i) {
        std::this_thread::sleep_for(5ms);
      }
      saw_cancel = cancel && cancel->load();
      return Error(StatusCode::kCancelled, "cancelled");
    }
    llm::ChatResult result;
    for (const auto& t : tokens) {
      if (!on_token(t)) return Error(StatusCode::kCancelled, "cancelled by the token callback");
      result.text += t;
    }
    result.model = "scripted";
    return result;
  }
  llm::HealthReport Health() override { return {true, "ok"}; }
};

class RecordingSink final : public MessageSink {
 public:
  bool Send(std::string_view text) override {
    if (gone_flag.load()) return false;
    frames.emplace_back(text);
    return true;
  }
  const std::atomic<bool>& gone() const override { return gone_flag; }

  json::object Frame(size_t i) const { return json::parse(frames.at(i)).as_object(); }
  std::string Type(size_t i) const { return std::string(Frame(i).at("type").as_string()); }

  std::vector<std::string> frames;
  std::atomic<bool> gone_flag{false};
};

class ChatWsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "jrvs-chat-ws.XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    store::SqliteOptions store_options;
    store_options.path = (dir_ / "jrvs.db").string();
    auto store = store::SqliteStore::Open(store_options);
    ASSERT_TRUE(store) << store.error().ToString();
    store_ = std::move(*store);
    rag::IndexManagerOptions index_options;
    index_options.path = dir_ / "index" / "vectors.faiss";
    index_options.embedding_model = std::string(embedder_.model());
    index_options.faiss.dimension = embedder_.dimension();
    auto index = rag::IndexManager::Open(index_options, *store_);
    ASSERT_TRUE(index) << index.error().ToString();
    index_ = std::move(*index);
    retriever_ = std::make_unique<rag::HybridRetriever>(*store_, embedder_, *index_,
                                                        rag::RetrieverOptions{});
    chat_ = std::make_unique<rag::ChatService>(*store_, *retriever_, llm_, "scripted",
                                               rag::ChatServiceOptions{});
    socket_ = std::make_unique<ChatWebSocket>(*chat_);
  }
  void TearDown() override {
    socket_.reset();
    chat_.reset();
    retriever_.reset();
    index_.reset();
    store_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::filesystem::path dir_;
  ScriptedLlm llm_;
  rag::HashEmbedder embedder_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<rag::IndexManager> index_;
  std::unique_ptr<rag::HybridRetriever> retriever_;
  std::unique_ptr<rag::ChatService> chat_;
  std::unique_ptr<ChatWebSocket> socket_;
};

TEST_F(ChatWsTest, StreamsChunksThenSourcesThenDone) {
  auto conversation = socket_->Open(Request{});
  RecordingSink sink;
  conversation->OnMessage(R"({"message":"Say hello"})", sink);
  ASSERT_EQ(sink.frames.size(), 5u);
  EXPECT_EQ(sink.Type(0), "chunk");
  EXPECT_EQ(sink.Frame(0).at("content").as_string(), "Hello");
  EXPECT_EQ(sink.Frame(1).at("content").as_string(), " there");
  EXPECT_EQ(sink.Frame(2).at("content").as_string(), " friend.");
  EXPECT_EQ(sink.Type(3), "sources");
  EXPECT_TRUE(sink.Frame(3).at("sources").is_array());
  ASSERT_EQ(sink.Type(4), "done");
  json::object done = sink.Frame(4);
  EXPECT_EQ(done.at("response").as_string(), "Hello there friend.");
  EXPECT_EQ(done.at("model_used").as_string(), "scripted");
  EXPECT_FALSE(done.at("session_id").as_string().empty());
  EXPECT_TRUE(done.at("timings").as_object().contains("generation_ms"));
}

TEST_F(ChatWsTest, LaterMessagesContinueTheConnectionsSession) {
  auto conversation = socket_->Open(Request{});
  RecordingSink sink;
  conversation->OnMessage(R"({"message":"first question"})", sink);
  std::string session(sink.Frame(sink.frames.size() - 1).at("session_id").as_string());
  sink.frames.clear();
  conversation->OnMessage(R"({"message":"second question"})", sink);
  EXPECT_EQ(sink.Frame(sink.frames.size() - 1).at("session_id").as_string(), session);
  {
    // The model got the first turn as history.
    std::lock_guard lock(llm_.mu);
    bool saw_first = false;
    for (const auto& m : llm_.last_messages) {
      saw_first |= m.content.find("first question") != std::string::npos;
    }
    EXPECT_TRUE(saw_first);
  }
  sink.frames.clear();
  conversation->OnMessage(R"({"message":"third","session_id":"mine-1"})", sink);
  EXPECT_EQ(sink.Frame(sink.frames.size() - 1).at("session_id").as_string(), "mine-1");
  sink.frames.clear();
  conversation->OnMessage(R"({"message":"fourth"})", sink);
  EXPECT_EQ(sink.Frame(sink.frames.size() - 1).at("session_id").as_string(), "mine-1");
  // Another connection starts its own session.
  RecordingSink other;
  socket_->Open(Request{})->OnMessage(R"({"message":"hi"})", other);
  EXPECT_NE(other.Frame(other.frames.size() - 1).at("session_id").as_string(), "mine-1");
}

TEST_F(ChatWsTest, BadInputIsOneErrorFrameAndTheModelIsNotCalled) {
  auto conversation = socket_->Open(Request{});
  for (std::string bad :
       {std::string("not json"), std::string("[1]"), std::string(R"({"message":""})"),
        std::string(R"({"session_id":"s"})"), std::string(R"({"message":7})"),
        std::string(R"({"message":"hi","session_id":"bad id"})"),
        std::string(R"({"message":"hi","model":3})"),
        json::serialize(json::object{{"message", std::string(10001, 'a')}})}) {
    RecordingSink sink;
    conversation->OnMessage(bad, sink);
    ASSERT_EQ(sink.frames.size(), 1u) << bad;
    EXPECT_EQ(sink.Type(0), "error") << bad;
    EXPECT_EQ(sink.Frame(0).at("code").as_string(), "invalid_argument") << bad;
  }
  EXPECT_EQ(llm_.calls.load(), 0);
  RecordingSink sink;
  conversation->OnMessage(json::serialize(json::object{{"message", std::string(10000, 'a')}}),
                          sink);
  EXPECT_EQ(sink.Type(sink.frames.size() - 1), "done");
}

TEST_F(ChatWsTest, ClientGoneCancelsTheModelCallBeforeItsFirstToken) {
  llm_.wait_for_cancel = true;
  auto conversation = socket_->Open(Request{});
  RecordingSink sink;
  std::thread leaver([&] {
    std::this_thread::sleep_for(20ms);
    sink.gone_flag = true;
  });
  conversation->OnMessage(R"({"message":"a long answer please"})", sink);
  leaver.join();
  EXPECT_TRUE(llm_.saw_cancel.load());
  EXPECT_TRUE(sink.frames.empty());  // nothing sent to a client that is gone
}

}  // namespace
}  // namespace jrvs::api
