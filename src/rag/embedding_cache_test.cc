#include "rag/embedding_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/metrics.h"
#include "rag/hash_embedder.h"

namespace jrvs::rag {
namespace {

// A real embedder (the hash embedder, 32 dimensions) that records every call: a test double at
// the seam. Can be told to fail or to answer with malformed vectors.
class CountingEmbedder final : public Embedder {
 public:
  CountingEmbedder() : hash_(Options()) {}

  std::string_view model() const override { return hash_.model(); }
  size_t dimension() const override { return hash_.dimension(); }
  Result<std::vector<std::vector<float>>> Embed(const std::vector<std::string>& texts) override {
    calls_.fetch_add(1);
    texts_.fetch_add(texts.size());
    {
      std::lock_guard lock(mu_);
      batches_.push_back(texts);
    }
    if (fail_.load()) return Error(StatusCode::kUnavailable, "model down");
    auto out = hash_.Embed(texts);
    if (out && malformed_.load()) out->front().pop_back();
    return out;
  }

  // Expected vector for a text, computed without touching the counters.
  std::vector<float> Expected(std::string_view text) const {
    std::vector<float> v(hash_.dimension());
    hash_.EmbedInto(text, v.data());
    return v;
  }

  int calls() const { return calls_.load(); }
  size_t texts() const { return texts_.load(); }
  std::vector<std::string> last_batch() const {
    std::lock_guard lock(mu_);
    return batches_.empty() ? std::vector<std::string>{} : batches_.back();
  }
  void set_fail(bool fail) { fail_.store(fail); }
  void set_malformed(bool malformed) { malformed_.store(malformed); }

 private:
  static HashEmbedderOptions Options() {
    HashEmbedderOptions o;
    o.dimension = 32;
    return o;
  }

  HashEmbedder hash_;
  std::atomic<int> calls_{0};
  std::atomic<size_t> texts_{0};
  std::atomic<bool> fail_{false};
  std::atomic<bool> malformed_{false};
  mutable std::mutex mu_;  // guards batches_
  std::vector<std::vector<std::string>> batches_;
};

struct Fixture {
  explicit Fixture(size_t capacity, MetricsRegistry* metrics = nullptr) {
    auto counting = std::make_unique<CountingEmbedder>();
    inner = counting.get();
    EmbeddingCacheOptions options;
    options.capacity = capacity;
    cache = std::make_unique<CachingEmbedder>(std::move(counting), options, metrics);
  }
  std::vector<std::vector<float>> Embed(const std::vector<std::string>& texts) {
    auto r = cache->Embed(texts);
    EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().ToString());
    return r.value_or(std::vector<std::vector<float>>{});
  }
  CountingEmbedder* inner = nullptr;
  std::unique_ptr<CachingEmbedder> cache;
};

TEST(EmbeddingCacheOptionsTest, Validate) {
  EXPECT_TRUE(EmbeddingCacheOptions{}.Validate().ok());
  EXPECT_EQ(EmbeddingCacheOptions{}.capacity, 10000u);
  EmbeddingCacheOptions zero;
  zero.capacity = 0;
  EXPECT_EQ(zero.Validate().code(), StatusCode::kInvalidArgument);
}

TEST(CachingEmbedderTest, PassesModelAndDimensionThrough) {
  Fixture f(10);
  EXPECT_EQ(f.cache->model(), "hash-v1-32");
  EXPECT_EQ(f.cache->dimension(), 32u);
  EXPECT_EQ(f.cache->capacity(), 10u);
  EXPECT_TRUE(f.Embed({}).empty());
  EXPECT_EQ(f.inner->calls(), 0);
}

TEST(CachingEmbedderTest, HitsAvoidInnerCalls) {
  Fixture f(10);
  auto first = f.Embed({"alpha text", "beta text"});
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(f.inner->calls(), 1);
  EXPECT_EQ(first[0], f.inner->Expected("alpha text"));
  EXPECT_EQ(first[1], f.inner->Expected("beta text"));
  EXPECT_EQ(f.cache->misses(), 2u);
  EXPECT_EQ(f.cache->hits(), 0u);

  auto second = f.Embed({"beta text", "alpha text"});
  EXPECT_EQ(f.inner->calls(), 1);  // no new call
  EXPECT_EQ(second[0], first[1]);
  EXPECT_EQ(second[1], first[0]);
  EXPECT_EQ(f.cache->hits(), 2u);
  EXPECT_EQ(f.cache->size(), 2u);

  auto one = f.cache->EmbedOne("alpha text");
  ASSERT_TRUE(one.has_value());
  EXPECT_EQ(*one, first[0]);
  EXPECT_EQ(f.inner->calls(), 1);
}

TEST(CachingEmbedderTest, OnlyMissesGoToTheInnerEmbedderInOneBatch) {
  Fixture f(10);
  f.Embed({"a1", "b2"});
  auto mixed = f.Embed({"a1", "c3", "b2", "d4"});
  EXPECT_EQ(f.inner->calls(), 2);
  EXPECT_EQ(f.inner->last_batch(), (std::vector<std::string>{"c3", "d4"}));
  ASSERT_EQ(mixed.size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(mixed[i], f.inner->Expected(std::vector<std::string>{"a1", "c3", "b2", "d4"}[i]));
  }
}

TEST(CachingEmbedderTest, DuplicatesWithinABatchAreEmbeddedOnce) {
  Fixture f(10);
  auto out = f.Embed({"same", "same", "other", "same"});
  EXPECT_EQ(f.inner->calls(), 1);
  EXPECT_EQ(f.inner->last_batch(), (std::vector<std::string>{"same", "other"}));
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0], f.inner->Expected("same"));
  EXPECT_EQ(out[1], out[0]);
  EXPECT_EQ(out[3], out[0]);
  EXPECT_EQ(out[2], f.inner->Expected("other"));
  EXPECT_EQ(f.cache->misses(), 2u);
  EXPECT_EQ(f.cache->hits(), 2u);
  EXPECT_EQ(f.cache->size(), 2u);
}

TEST(CachingEmbedderTest, EvictsLeastRecentlyUsed) {
  Fixture f(3);
  f.Embed({"a"});
  f.Embed({"b"});
  f.Embed({"c"});  // recency: c b a
  f.Embed({"a"});  // hit: a c b
  EXPECT_EQ(f.inner->calls(), 3);
  f.Embed({"d"});  // d a c, b evicted
  EXPECT_EQ(f.inner->calls(), 4);
  EXPECT_EQ(f.cache->size(), 3u);
  f.Embed({"a", "c"});  // hits: c a d
  EXPECT_EQ(f.inner->calls(), 4);
  f.Embed({"b"});  // miss: b c a, d evicted
  EXPECT_EQ(f.inner->calls(), 5);
  f.Embed({"c", "a"});  // hits
  EXPECT_EQ(f.inner->calls(), 5);
  f.Embed({"d"});  // evicted earlier: miss
  EXPECT_EQ(f.inner->calls(), 6);
  EXPECT_EQ(f.cache->size(), 3u);
}

TEST(CachingEmbedderTest, ABatchLargerThanTheCapacityStillAnswersEveryText) {
  Fixture f(2);
  std::vector<std::string> texts = {"t1", "t2", "t3", "t4", "t5"};
  auto out = f.Embed(texts);
  ASSERT_EQ(out.size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i) EXPECT_EQ(out[i], f.inner->Expected(texts[i]));
  EXPECT_EQ(f.cache->size(), 2u);
  f.Embed({"t4", "t5"});  // the last two inserted are kept
  EXPECT_EQ(f.inner->calls(), 1);
}

TEST(CachingEmbedderTest, InnerFailureIsReturnedAndNothingIsCached) {
  Fixture f(10);
  f.inner->set_fail(true);
  auto failed = f.cache->Embed({"x", "y"});
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error().code(), StatusCode::kUnavailable);
  EXPECT_EQ(f.cache->size(), 0u);
  EXPECT_EQ(f.cache->misses(), 0u);
  f.inner->set_fail(false);
  auto ok = f.Embed({"x", "y"});
  EXPECT_EQ(f.inner->calls(), 2);
  EXPECT_EQ(ok[0], f.inner->Expected("x"));
  EXPECT_EQ(f.cache->size(), 2u);
}

TEST(CachingEmbedderTest, MalformedInnerAnswerIsAnInternalError) {
  Fixture f(10);
  f.inner->set_malformed(true);
  auto r = f.cache->Embed({"x"});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), StatusCode::kInternal);
  EXPECT_EQ(f.cache->size(), 0u);
}

TEST(CachingEmbedderTest, ClearDropsEntries) {
  Fixture f(10);
  f.Embed({"x", "y"});
  f.cache->Clear();
  EXPECT_EQ(f.cache->size(), 0u);
  f.Embed({"x"});
  EXPECT_EQ(f.inner->calls(), 2);
}

TEST(CachingEmbedderTest, ExportsMetrics) {
  MetricsRegistry registry;
  Fixture f(10, &registry);
  f.Embed({"x", "y", "x"});
  f.Embed({"y", "z"});
  std::string text = registry.Render();
  EXPECT_NE(text.find("embedding_cache_hits_total 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("embedding_cache_misses_total 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("embedding_cache_entries 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE embedding_cache_entries gauge"), std::string::npos) << text;
}

TEST(CachingEmbedderTest, ConcurrentUseIsConsistent) {
  for (size_t capacity : {size_t{1000}, size_t{16}}) {
    SCOPED_TRACE("capacity " + std::to_string(capacity));
    Fixture f(capacity);
    std::vector<std::string> pool;
    for (int i = 0; i < 50; ++i) pool.push_back("shared text number " + std::to_string(i));
    std::vector<std::vector<float>> expected;
    for (const auto& t : pool) expected.push_back(f.inner->Expected(t));

    std::atomic<size_t> requested{0};
    std::atomic<int> wrong{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        std::mt19937 rng(100 + t);
        for (int round = 0; round < 300; ++round) {
          std::vector<size_t> picks(1 + rng() % 8);
          std::vector<std::string> batch;
          for (auto& p : picks) {
            p = rng() % pool.size();
            batch.push_back(pool[p]);
          }
          auto r = f.cache->Embed(batch);
          requested += batch.size();
          if (!r || r->size() != batch.size()) {
            ++wrong;
            continue;
          }
          for (size_t i = 0; i < picks.size(); ++i) {
            if ((*r)[i] != expected[picks[i]]) ++wrong;
          }
        }
      });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(wrong.load(), 0);
    EXPECT_EQ(f.cache->hits() + f.cache->misses(), requested.load());
    EXPECT_EQ(f.cache->misses(), f.inner->texts());
    EXPECT_LE(f.cache->size(), capacity);
    if (capacity >= pool.size()) {
      EXPECT_EQ(f.cache->size(), pool.size());
      EXPECT_GE(f.cache->misses(), pool.size());
      EXPECT_GT(f.cache->hits(), f.cache->misses());  // most of 4x300 batches hit
    }
  }
}

}  // namespace
}  // namespace jrvs::rag
