#include "rag/hash_embedder.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <thread>
#include <vector>

namespace jrvs::rag {
namespace {

std::vector<float> Embed(HashEmbedder& embedder, std::string_view text) {
  auto v = embedder.EmbedOne(text);
  EXPECT_TRUE(v.has_value());
  return v.value_or(std::vector<float>{});
}

float Norm(const std::vector<float>& v) { return std::sqrt(DotProduct(v, v)); }

float Similarity(HashEmbedder& embedder, std::string_view a, std::string_view b) {
  return DotProduct(Embed(embedder, a), Embed(embedder, b));
}

TEST(HashEmbedderOptionsTest, Validate) {
  EXPECT_TRUE(HashEmbedderOptions{}.Validate().ok());
  EXPECT_EQ(HashEmbedderOptions{}.dimension, 384u);
  HashEmbedderOptions o;
  o.dimension = 8;
  EXPECT_EQ(o.Validate().code(), StatusCode::kInvalidArgument);
  o = {};
  o.word_weight = -1;
  EXPECT_EQ(o.Validate().code(), StatusCode::kInvalidArgument);
  o = {};
  o.word_weight = o.bigram_weight = o.char_ngram_weight = 0;
  EXPECT_EQ(o.Validate().code(), StatusCode::kInvalidArgument);
  o = {};
  o.char_ngram = 7;
  EXPECT_EQ(o.Validate().code(), StatusCode::kInvalidArgument);
  o = {};
  o.probes = 0;
  EXPECT_EQ(o.Validate().code(), StatusCode::kInvalidArgument);
}

TEST(HashEmbedderTest, ModelNameCarriesDimensionAndSettings) {
  HashEmbedder defaults;
  EXPECT_EQ(defaults.model(), "hash-v1-384");
  EXPECT_EQ(defaults.dimension(), 384u);
  HashEmbedderOptions small;
  small.dimension = 128;
  EXPECT_EQ(HashEmbedder(small).model(), "hash-v1-128");
  HashEmbedderOptions tuned;
  tuned.bigram_weight = 0.5f;
  std::string name(HashEmbedder(tuned).model());
  EXPECT_EQ(name.rfind("hash-v1-384-", 0), 0u) << name;
  EXPECT_EQ(name.size(), std::string("hash-v1-384-").size() + 8);
  EXPECT_EQ(HashEmbedder(tuned).model(), name);  // stable
  tuned.char_ngram = 4;
  EXPECT_NE(HashEmbedder(tuned).model(), name);
}

TEST(HashEmbedderTest, GoldenComponents) {
  // Computed once with this implementation and written here: any change to tokenising, stemming,
  // hashing or weighting that changes vectors must bump the model version ("hash-v1").
  HashEmbedder embedder;
  std::vector<float> v = Embed(embedder, "The quick brown fox jumps over the lazy dog.");
  ASSERT_EQ(v.size(), 384u);
  const std::vector<std::pair<size_t, float>> golden = {
      {0, -0.2297246f},  {1, 0.0827671f},   {21, -0.2297246f}, {30, -0.0251651f},
      {47, -0.3124918f}, {258, 0.2297246f}, {383, 0.0f},
  };
  for (const auto& [index, value] : golden) EXPECT_NEAR(v[index], value, 1e-5) << index;
  int nonzero = 0;
  for (float x : v) nonzero += x != 0.0f;
  EXPECT_EQ(nonzero, 65);
}

TEST(HashEmbedderTest, DeterministicAcrossInstancesAndBatches) {
  HashEmbedder a;
  HashEmbedder b;
  const std::vector<std::string> texts = {"Installing packages on Debian with apt",
                                          "Ünïcödé text, 東京タワー and emoji \U0001F600", "",
                                          "the and of"};
  auto batch = a.Embed(texts);
  ASSERT_TRUE(batch.has_value());
  ASSERT_EQ(batch->size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    EXPECT_EQ((*batch)[i], Embed(b, texts[i])) << texts[i];
    EXPECT_EQ((*batch)[i], Embed(a, texts[i])) << texts[i];
  }
}

TEST(HashEmbedderTest, ThreadsGetTheSameVectors) {
  HashEmbedder embedder;
  std::vector<std::string> texts;
  for (int i = 0; i < 50; ++i) {
    texts.push_back("document number " + std::to_string(i) + " about topic " +
                    std::to_string(i % 7) + " with some shared words");
  }
  auto expected = embedder.Embed(texts);
  ASSERT_TRUE(expected.has_value());
  std::vector<std::vector<std::vector<float>>> results(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 20; ++round) {
        auto r = embedder.Embed(texts);
        if (r) results[t] = std::move(*r);
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(results[t], *expected) << t;
}

TEST(HashEmbedderTest, VectorsHaveUnitNorm) {
  HashEmbedder embedder;
  for (std::string_view text :
       {"a", "Hello", "How do I install the package on Debian?", "x y z x y z x y z",
        "Ünïcödé 東京タワー", "to be or not to be", "1 2 3 4 5 6 7 8 9 10",
        "A much longer text that repeats repeats repeats a word and has many other words too."}) {
    std::vector<float> v = Embed(embedder, text);
    ASSERT_EQ(v.size(), 384u);
    EXPECT_NEAR(Norm(v), 1.0f, 1e-5) << text;
  }
}

TEST(HashEmbedderTest, HugeTextThenSmallTextsStayCorrect) {
  // A huge text grows (then releases) the per-thread buffers; later texts are unaffected.
  HashEmbedder embedder;
  std::vector<float> small_before = Embed(embedder, "install the package on debian");
  std::string huge;
  for (int i = 0; huge.size() < (2u << 20); ++i) huge += "word" + std::to_string(i % 5000) + " ";
  std::vector<float> v = Embed(embedder, huge);
  EXPECT_NEAR(Norm(v), 1.0f, 1e-4);
  EXPECT_EQ(Embed(embedder, huge), v);
  EXPECT_EQ(Embed(embedder, "install the package on debian"), small_before);
}

TEST(HashEmbedderTest, TextWithoutWordsGivesTheZeroVector) {
  HashEmbedder embedder;
  for (std::string_view text : {"", "   ", "?!... ---", "\U0001F600 \u2192"}) {
    std::vector<float> v = Embed(embedder, text);
    ASSERT_EQ(v.size(), 384u);
    EXPECT_EQ(Norm(v), 0.0f) << text;
  }
}

TEST(HashEmbedderTest, OnlyStopWordsStillHaveASignal) {
  HashEmbedder embedder;
  EXPECT_NEAR(Norm(Embed(embedder, "to be or not to be")), 1.0f, 1e-5);
  EXPECT_GT(Similarity(embedder, "to be or not to be", "Not to be, or to be"), 0.9f);
}

TEST(HashEmbedderTest, StopWordsDoNotCount) {
  HashEmbedder embedder;
  EXPECT_EQ(Embed(embedder, "install the package"), Embed(embedder, "install package"));
  EXPECT_EQ(Embed(embedder, "Café DÉJÀ-VU"), Embed(embedder, "cafe deja vu"));
}

TEST(HashEmbedderTest, MorphologicalVariantsShareSignal) {
  HashEmbedder embedder;
  EXPECT_GT(Similarity(embedder, "run", "running"), 0.6f);
  EXPECT_GT(Similarity(embedder, "installing packages", "install package"), 0.6f);
  EXPECT_GT(Similarity(embedder, "generalization", "generalize"), 0.5f);
  EXPECT_LT(Similarity(embedder, "run", "install"), 0.2f);
}

TEST(HashEmbedderTest, WordOrderMattersALittle) {
  HashEmbedder embedder;
  float swapped = Similarity(embedder, "dog bites man", "man bites dog");
  EXPECT_LT(swapped, 0.999f);
  EXPECT_GT(swapped, 0.8f);
}

TEST(HashEmbedderTest, RelatedTextsScoreAboveUnrelatedOnes) {
  struct Triple {
    const char* query;
    const char* related;
    const char* unrelated;
  };
  const std::vector<Triple> triples = {
      {"How do I install the package on Debian?", "Installing packages on Debian with apt",
       "The recipe needs two eggs and flour"},
      {"How to reset a forgotten password", "Password reset instructions for forgotten accounts",
       "The football match ended in a draw"},
      {"What is the capital of France?", "Paris is the capital city of France",
       "Photosynthesis converts light into chemical energy"},
      {"configure the nginx reverse proxy", "nginx configuration for a reverse proxy server",
       "My cat sleeps on the warm windowsill"},
      {"symptoms of the flu virus", "Flu virus symptoms include fever and cough",
       "The stock market rallied on Tuesday"},
      {"python list comprehension examples", "Examples of list comprehensions in Python",
       "Knitting a scarf with wool yarn"},
      {"running shoes for marathon training", "The best shoes for marathon runners in training",
       "Quantum entanglement of photons"},
      {"database backup and restore", "How to restore a database from a backup",
       "A poem about autumn leaves"},
      {"electric car battery charging time", "How long does charging an electric car battery take?",
       "Medieval castles had thick stone walls"},
      {"learning to play the guitar", "Guitar lessons for people learning to play",
       "Tax returns are due in April"},
      {"memory leak in C++ programs", "Finding memory leaks in a C++ program",
       "The hiking trail follows the river"},
      {"weather forecast for tomorrow", "Tomorrow's weather forecast: rain all day",
       "Sorting algorithms compare elements"},
  };
  HashEmbedder embedder;
  for (const Triple& t : triples) {
    float related = Similarity(embedder, t.query, t.related);
    float unrelated = Similarity(embedder, t.query, t.unrelated);
    EXPECT_GT(related, 0.3f) << t.query;
    EXPECT_GT(related - unrelated, 0.25f) << t.query << ": " << related << " vs " << unrelated;
  }
}

}  // namespace
}  // namespace jrvs::rag
