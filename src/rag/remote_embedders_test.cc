// OllamaEmbedder and OpenAiEmbedder against the fake LLM server on loopback.
#include "rag/remote_embedders.h"

#include <cmath>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fakes/fake_llm_server.h"

namespace jrvs::rag {
namespace {

using jrvs::testing::FakeLlmOptions;
using jrvs::testing::FakeLlmServer;
using jrvs::testing::FakeMode;
using ::testing::HasSubstr;

constexpr size_t kDim = 24;

std::vector<std::string> Texts(size_t n) {
  std::vector<std::string> texts;
  for (size_t i = 0; i < n; ++i) texts.push_back("text number " + std::to_string(i));
  return texts;
}

double Norm(const std::vector<float>& v) {
  double s = 0;
  for (float x : v) s += static_cast<double>(x) * x;
  return std::sqrt(s);
}

// Each vector is unit length and equals the fake's embedding of its own text.
void ExpectFakeEmbeddings(const std::vector<std::vector<float>>& vectors,
                          const std::vector<std::string>& texts, size_t dim) {
  ASSERT_EQ(vectors.size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    ASSERT_EQ(vectors[i].size(), dim) << i;
    EXPECT_NEAR(Norm(vectors[i]), 1.0, 1e-5) << i;
    auto want = FakeLlmServer::FakeEmbedding(texts[i], dim);
    for (size_t j = 0; j < dim; ++j) ASSERT_NEAR(vectors[i][j], want[j], 1e-5) << i << "," << j;
  }
}

class RemoteEmbeddersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FakeLlmOptions options;
    options.embed_dim = kDim;
    options.models = {"nomic-embed-text:latest", "text-embedding-3-small"};
    server_ = std::make_unique<FakeLlmServer>(options);
    ASSERT_TRUE(server_->Start()) << server_->error();
  }

  OllamaEmbedderOptions Ollama(size_t dimension = kDim) const {
    OllamaEmbedderOptions o;
    o.base_url = server_->base_url();
    o.model = "nomic-embed-text";
    o.batch_size = 8;
    o.dimension = dimension;
    return o;
  }

  OpenAiEmbedderOptions OpenAi(size_t dimension = kDim) const {
    OpenAiEmbedderOptions o;
    o.base_url = server_->base_url();
    o.model = "text-embedding-3-small";
    o.batch_size = 8;
    o.dimension = dimension;
    return o;
  }

  std::unique_ptr<FakeLlmServer> server_;
};

// ---- Ollama ----

TEST_F(RemoteEmbeddersTest, OllamaEmbedsInBatchesInOrder) {
  auto embedder = OllamaEmbedder::Create(Ollama());
  ASSERT_TRUE(embedder) << embedder.error().ToString();
  EXPECT_EQ((*embedder)->model(), "ollama:nomic-embed-text");
  EXPECT_EQ((*embedder)->dimension(), kDim);
  EXPECT_EQ(server_->RequestCount("/api/embed"), 0u);  // a given dimension needs no probe

  auto texts = Texts(20);
  auto vectors = (*embedder)->Embed(texts);
  ASSERT_TRUE(vectors) << vectors.error().ToString();
  ExpectFakeEmbeddings(*vectors, texts, kDim);
  EXPECT_EQ(server_->RequestCount("/api/embed"), 3u);  // 8 + 8 + 4
  EXPECT_FALSE((*embedder)->uses_legacy_api());
  auto requests = server_->requests();
  ASSERT_FALSE(requests.empty());
  EXPECT_THAT(requests[0].body, HasSubstr(R"("input":["text number 0","text number 1",)"));
}

TEST_F(RemoteEmbeddersTest, OllamaEmptyInputSendsNothing) {
  auto embedder = OllamaEmbedder::Create(Ollama());
  ASSERT_TRUE(embedder);
  auto vectors = (*embedder)->Embed({});
  ASSERT_TRUE(vectors);
  EXPECT_TRUE(vectors->empty());
  EXPECT_TRUE(server_->requests().empty());
}

TEST_F(RemoteEmbeddersTest, OllamaLearnsDimensionFromAProbe) {
  auto embedder = OllamaEmbedder::Create(Ollama(0));
  ASSERT_TRUE(embedder) << embedder.error().ToString();
  EXPECT_EQ((*embedder)->dimension(), kDim);
  EXPECT_EQ(server_->RequestCount("/api/embed"), 1u);
}

TEST_F(RemoteEmbeddersTest, OllamaNormalisesWhatItReceives) {
  server_->SetEmbedScale(3.5f);  // the server's vectors are 3.5 units long
  auto embedder = OllamaEmbedder::Create(Ollama());
  ASSERT_TRUE(embedder);
  auto texts = Texts(3);
  auto vectors = (*embedder)->Embed(texts);
  ASSERT_TRUE(vectors) << vectors.error().ToString();
  ExpectFakeEmbeddings(*vectors, texts, kDim);
}

TEST_F(RemoteEmbeddersTest, OllamaFallsBackToTheOldApiAndRemembers) {
  server_->SetDisableEmbedApi(true);
  auto embedder = OllamaEmbedder::Create(Ollama());
  ASSERT_TRUE(embedder);
  auto texts = Texts(5);
  auto vectors = (*embedder)->Embed(texts);
  ASSERT_TRUE(vectors) << vectors.error().ToString();
  ExpectFakeEmbeddings(*vectors, texts, kDim);
  EXPECT_TRUE((*embedder)->uses_legacy_api());
  EXPECT_EQ(server_->RequestCount("/api/embed"), 1u);
  EXPECT_EQ(server_->RequestCount("/api/embeddings"), 5u);  // one text per request

  auto again = (*embedder)->Embed(Texts(2));
  ASSERT_TRUE(again);
  EXPECT_EQ(server_->RequestCount("/api/embed"), 1u);  // not asked again
  EXPECT_EQ(server_->RequestCount("/api/embeddings"), 7u);
}

TEST_F(RemoteEmbeddersTest, OllamaProbeWorksThroughTheOldApi) {
  server_->SetDisableEmbedApi(true);
  auto embedder = OllamaEmbedder::Create(Ollama(0));
  ASSERT_TRUE(embedder) << embedder.error().ToString();
  EXPECT_EQ((*embedder)->dimension(), kDim);
  EXPECT_TRUE((*embedder)->uses_legacy_api());
}

TEST_F(RemoteEmbeddersTest, OllamaMissingModelIsNotFoundWithoutFallback) {
  auto options = Ollama();
  options.model = "no-such-model";
  auto embedder = OllamaEmbedder::Create(options);
  ASSERT_TRUE(embedder);
  auto vectors = (*embedder)->Embed(Texts(2));
  ASSERT_FALSE(vectors);
  EXPECT_EQ(vectors.error().code(), StatusCode::kNotFound);
  EXPECT_THAT(vectors.error().message(), HasSubstr("not found"));
  EXPECT_FALSE((*embedder)->uses_legacy_api());
  EXPECT_EQ(server_->RequestCount("/api/embeddings"), 0u);
}

TEST_F(RemoteEmbeddersTest, OllamaDimensionMismatchIsInternal) {
  auto embedder = OllamaEmbedder::Create(Ollama(kDim + 8));
  ASSERT_TRUE(embedder);
  auto vectors = (*embedder)->Embed(Texts(2));
  ASSERT_FALSE(vectors);
  EXPECT_EQ(vectors.error().code(), StatusCode::kInternal);
  EXPECT_THAT(vectors.error().message(), HasSubstr("dimension mismatch"));
  EXPECT_THAT(vectors.error().message(), HasSubstr("has 24 floats, expected 32"));
}

TEST_F(RemoteEmbeddersTest, OllamaDimensionChangeAfterProbeIsInternal) {
  auto embedder = OllamaEmbedder::Create(Ollama(0));
  ASSERT_TRUE(embedder);
  server_->SetEmbedDim(12);  // e.g. the model behind the name was replaced
  auto vectors = (*embedder)->Embed(Texts(1));
  ASSERT_FALSE(vectors);
  EXPECT_EQ(vectors.error().code(), StatusCode::kInternal);
  EXPECT_THAT(vectors.error().message(), HasSubstr("dimension mismatch"));
}

TEST_F(RemoteEmbeddersTest, OllamaCountMismatchIsInternal) {
  server_->SetMode(FakeMode::kDropEmbedding);
  auto embedder = OllamaEmbedder::Create(Ollama());
  ASSERT_TRUE(embedder);
  auto vectors = (*embedder)->Embed(Texts(3));
  ASSERT_FALSE(vectors);
  EXPECT_EQ(vectors.error().code(), StatusCode::kInternal);
  EXPECT_THAT(vectors.error().message(), HasSubstr("2 embeddings for 3 texts"));
}

TEST_F(RemoteEmbeddersTest, OllamaServerErrorIsUnavailable) {
  server_->SetMode(FakeMode::kHttp500);
  auto embedder = OllamaEmbedder::Create(Ollama());
  ASSERT_TRUE(embedder);
  auto vectors = (*embedder)->Embed(Texts(1));
  ASSERT_FALSE(vectors);
  EXPECT_EQ(vectors.error().code(), StatusCode::kUnavailable);
  EXPECT_THAT(vectors.error().message(), HasSubstr("HTTP 500"));
  EXPECT_THAT(vectors.error().message(), HasSubstr("fake server error"));
}

TEST_F(RemoteEmbeddersTest, OllamaMalformedJsonIsInternal) {
  server_->SetMode(FakeMode::kMalformedJson);
  auto embedder = OllamaEmbedder::Create(Ollama());
  ASSERT_TRUE(embedder);
  auto vectors = (*embedder)->Embed(Texts(2));
  ASSERT_FALSE(vectors);
  EXPECT_EQ(vectors.error().code(), StatusCode::kInternal);
  EXPECT_THAT(vectors.error().message(), HasSubstr("malformed JSON"));
}

TEST_F(RemoteEmbeddersTest, OllamaServerDownIsUnavailable) {
  auto options = Ollama();
  server_->Stop();
  auto embedder = OllamaEmbedder::Create(options);
  ASSERT_TRUE(embedder);  // a configured dimension needs no server at start
  auto vectors = (*embedder)->Embed(Texts(1));
  ASSERT_FALSE(vectors);
  EXPECT_EQ(vectors.error().code(), StatusCode::kUnavailable);
  EXPECT_THAT(vectors.error().message(), HasSubstr("ollama:nomic-embed-text"));
  // Learning the dimension needs the server: Create fails the same way.
  auto probing = OllamaEmbedder::Create(Ollama(0));
  ASSERT_FALSE(probing);
  EXPECT_EQ(probing.error().code(), StatusCode::kUnavailable);
}

TEST_F(RemoteEmbeddersTest, OllamaTimeoutIsDeadlineExceeded) {
  server_->SetMode(FakeMode::kHang);
  auto options = Ollama();
  options.http.first_byte_timeout_ms = 200;
  auto embedder = OllamaEmbedder::Create(options);
  ASSERT_TRUE(embedder);
  auto vectors = (*embedder)->Embed(Texts(1));
  ASSERT_FALSE(vectors);
  EXPECT_EQ(vectors.error().code(), StatusCode::kDeadlineExceeded);
  EXPECT_THAT(vectors.error().message(), HasSubstr("first-byte timeout"));
}

TEST_F(RemoteEmbeddersTest, OllamaSendsKeepAlive) {
  auto options = Ollama();
  options.keep_alive = "10m";
  auto embedder = OllamaEmbedder::Create(options);
  ASSERT_TRUE(embedder);
  ASSERT_TRUE((*embedder)->Embed(Texts(1)));
  auto requests = server_->requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_THAT(requests[0].body, HasSubstr(R"("keep_alive":"10m")"));
}

TEST_F(RemoteEmbeddersTest, OllamaIsSafeToCallConcurrently) {
  auto embedder = OllamaEmbedder::Create(Ollama());
  ASSERT_TRUE(embedder);
  Embedder& e = **embedder;
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 5; ++round) {
        auto texts = Texts(10);
        texts[0] = "thread " + std::to_string(t);
        auto vectors = e.Embed(texts);
        if (!vectors || vectors->size() != texts.size()) {
          ++failures[t];
          continue;
        }
        auto want = FakeLlmServer::FakeEmbedding(texts[0], kDim);
        for (size_t j = 0; j < kDim; ++j) {
          if (std::abs((*vectors)[0][j] - want[j]) > 1e-5f) {
            ++failures[t];
            break;
          }
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(failures[t], 0) << "thread " << t;
  EXPECT_EQ(server_->RequestCount("/api/embed"), 4u * 5u * 2u);
}

TEST(RemoteEmbedderOptionsTest, ValidationNamesTheField) {
  OllamaEmbedderOptions o;
  EXPECT_TRUE(o.Validate().ok());
  o.batch_size = 0;
  EXPECT_THAT(o.Validate().message(), HasSubstr("batch_size"));
  o = {};
  o.base_url = "127.0.0.1:11434";
  EXPECT_THAT(o.Validate().message(), HasSubstr("base_url"));
  o = {};
  o.http.connect_timeout_ms = 0;
  EXPECT_THAT(o.Validate().message(), HasSubstr("http.connect_timeout_ms"));
  OpenAiEmbedderOptions a;
  EXPECT_TRUE(a.Validate().ok());
  a.model = "";
  EXPECT_THAT(a.Validate().message(), HasSubstr("model"));
  OllamaEmbedderOptions bad;
  bad.batch_size = 0;
  auto created = OllamaEmbedder::Create(bad);
  ASSERT_FALSE(created);
  EXPECT_EQ(created.error().code(), StatusCode::kInvalidArgument);
}

// ---- OpenAI-compatible ----

TEST_F(RemoteEmbeddersTest, OpenAiEmbedsInBatchesWithBearerKey) {
  auto options = OpenAi();
  options.api_key = "sk-test-123";
  auto embedder = OpenAiEmbedder::Create(options);
  ASSERT_TRUE(embedder) << embedder.error().ToString();
  EXPECT_EQ((*embedder)->model(), "openai:text-embedding-3-small");
  auto texts = Texts(17);
  auto vectors = (*embedder)->Embed(texts);
  ASSERT_TRUE(vectors) << vectors.error().ToString();
  ExpectFakeEmbeddings(*vectors, texts, kDim);
  EXPECT_EQ(server_->RequestCount("/v1/embeddings"), 3u);  // 8 + 8 + 1
  for (const auto& r : server_->requests()) {
    EXPECT_EQ(r.Header("authorization"), "Bearer sk-test-123");
  }
}

TEST_F(RemoteEmbeddersTest, OpenAiSendsNoAuthorizationWithoutKey) {
  auto embedder = OpenAiEmbedder::Create(OpenAi());
  ASSERT_TRUE(embedder);
  ASSERT_TRUE((*embedder)->Embed(Texts(1)));
  auto requests = server_->requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].Header("authorization"), "");
}

TEST_F(RemoteEmbeddersTest, OpenAiReordersByIndex) {
  server_->SetReverseEmbeddingOrder(true);
  auto embedder = OpenAiEmbedder::Create(OpenAi());
  ASSERT_TRUE(embedder);
  auto texts = Texts(6);
  auto vectors = (*embedder)->Embed(texts);
  ASSERT_TRUE(vectors) << vectors.error().ToString();
  ExpectFakeEmbeddings(*vectors, texts, kDim);
}

TEST_F(RemoteEmbeddersTest, OpenAiAcceptsBaseUrlEndingInV1AndLearnsDimension) {
  auto options = OpenAi(0);
  options.base_url = server_->base_url() + "/v1/";
  server_->SetEmbedScale(0.25f);
  auto embedder = OpenAiEmbedder::Create(options);
  ASSERT_TRUE(embedder) << embedder.error().ToString();
  EXPECT_EQ((*embedder)->dimension(), kDim);
  auto texts = Texts(2);
  auto vectors = (*embedder)->Embed(texts);
  ASSERT_TRUE(vectors);
  ExpectFakeEmbeddings(*vectors, texts, kDim);
  EXPECT_EQ(server_->RequestCount("/v1/embeddings"), 2u);
}

TEST_F(RemoteEmbeddersTest, OpenAiDimensionAndCountMismatchesAreInternal) {
  auto embedder = OpenAiEmbedder::Create(OpenAi(kDim * 2));
  ASSERT_TRUE(embedder);
  auto wrong_dim = (*embedder)->Embed(Texts(2));
  ASSERT_FALSE(wrong_dim);
  EXPECT_EQ(wrong_dim.error().code(), StatusCode::kInternal);
  EXPECT_THAT(wrong_dim.error().message(), HasSubstr("dimension mismatch"));

  server_->SetMode(FakeMode::kDropEmbedding);
  auto right_dim = OpenAiEmbedder::Create(OpenAi());
  ASSERT_TRUE(right_dim);
  auto wrong_count = (*right_dim)->Embed(Texts(4));
  ASSERT_FALSE(wrong_count);
  EXPECT_EQ(wrong_count.error().code(), StatusCode::kInternal);
  EXPECT_THAT(wrong_count.error().message(), HasSubstr("3 embeddings for 4 texts"));
}

TEST_F(RemoteEmbeddersTest, OpenAiErrorsMapToStatus) {
  auto embedder = OpenAiEmbedder::Create(OpenAi());
  ASSERT_TRUE(embedder);
  server_->SetMode(FakeMode::kHttp500);
  auto failed = (*embedder)->Embed(Texts(1));
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code(), StatusCode::kUnavailable);
  EXPECT_THAT(failed.error().message(), HasSubstr("HTTP 500"));

  server_->SetMode(FakeMode::kNormal);
  auto options = OpenAi();
  options.model = "gpt-nothing";
  auto missing = OpenAiEmbedder::Create(options);
  ASSERT_TRUE(missing);
  auto not_found = (*missing)->Embed(Texts(1));
  ASSERT_FALSE(not_found);
  EXPECT_EQ(not_found.error().code(), StatusCode::kNotFound);
  EXPECT_THAT(not_found.error().message(), HasSubstr("does not exist"));

  server_->Stop();
  auto down = (*embedder)->Embed(Texts(1));
  ASSERT_FALSE(down);
  EXPECT_EQ(down.error().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace jrvs::rag
