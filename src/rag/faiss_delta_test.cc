// FaissIndex's delta (rag/faiss_index.h): vectors added to an HNSW index are searchable at once
// from the exact delta, honour removals in the delta and in the graph, survive Save/Load while a
// merge is pending, and are linked into the graph by the background merger while searches and
// writers run. Recall with a non-empty delta is asserted in faiss_index_test.cc.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "rag/faiss_index.h"

namespace jrvs::rag {
namespace {

namespace fs = std::filesystem;

constexpr size_t kD = 32;

std::vector<float> UnitVectors(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> gauss;
  std::vector<float> v(n * kD);
  for (float& x : v) x = gauss(rng);
  for (size_t i = 0; i < n; ++i) {
    double norm = 0;
    for (size_t j = 0; j < kD; ++j) norm += double{v[i * kD + j]} * v[i * kD + j];
    for (size_t j = 0; j < kD; ++j) v[i * kD + j] /= static_cast<float>(std::sqrt(norm));
  }
  return v;
}

std::vector<int64_t> Iota(size_t n, int64_t first) {
  std::vector<int64_t> ids(n);
  for (size_t i = 0; i < n; ++i) ids[i] = first + static_cast<int64_t>(i);
  return ids;
}

std::span<const float> Row(const std::vector<float>& data, size_t i) {
  return std::span<const float>(data).subspan(i * kD, kD);
}

// HNSW from the first vector; the delta is merged once it holds `merge_min` vectors.
std::unique_ptr<FaissIndex> MakeHnsw(size_t merge_min) {
  FaissIndexOptions o;
  o.dimension = kD;
  o.ann_threshold = 0;
  o.delta_merge_min = merge_min;
  o.compact_min_tombstones = std::numeric_limits<size_t>::max();  // no compaction here
  auto index = FaissIndex::Create(o);
  EXPECT_TRUE(index.has_value()) << index.error().ToString();
  return std::move(*index);
}

int64_t TopId(const FaissIndex& index, std::span<const float> q) {
  auto hits = index.Search(q, 1);
  EXPECT_TRUE(hits.has_value()) << hits.error().ToString();
  return hits && !hits->empty() ? hits->front().id : -1;
}

bool Contains(const FaissIndex& index, std::span<const float> q, int64_t id, size_t k = 10) {
  auto hits = index.Search(q, k);
  EXPECT_TRUE(hits.has_value()) << hits.error().ToString();
  if (!hits) return false;
  for (const VectorHit& h : *hits) {
    if (h.id == id) return true;
  }
  return false;
}

constexpr size_t kGraph = 1500;  // vectors merged into the graph
constexpr size_t kDelta = 200;   // vectors left in the delta (below the merge minimum)
constexpr size_t kMergeMin = 500;

// An index whose graph holds ids 1..kGraph and whose delta holds the next kDelta ids.
std::unique_ptr<FaissIndex> GraphPlusDelta(const std::vector<float>& data) {
  auto index = MakeHnsw(kMergeMin);
  const auto ids = Iota(kGraph + kDelta, 1);
  EXPECT_TRUE(index->Add(std::span(ids).first(kGraph), std::span(data).first(kGraph * kD)).ok());
  index->WaitForRebuild();  // the merge the first add triggered
  EXPECT_EQ(index->delta_size(), 0u);
  EXPECT_TRUE(
      index->Add(std::span(ids).subspan(kGraph), std::span(data).subspan(kGraph * kD, kDelta * kD))
          .ok());
  index->WaitForRebuild();
  EXPECT_EQ(index->delta_size(), kDelta);
  return index;
}

TEST(FaissDeltaTest, AJustAddedVectorIsFoundAtOnce) {
  const auto data = UnitVectors(kGraph + kDelta, 3);
  auto index = GraphPlusDelta(data);
  ASSERT_EQ(index->type(), "hnsw");
  ASSERT_EQ(index->size(), kGraph + kDelta);
  // Every vector, in the graph or in the delta, is its own nearest neighbour.
  for (size_t i = 0; i < kGraph + kDelta; i += 7) {
    EXPECT_EQ(TopId(*index, Row(data, i)), static_cast<int64_t>(i + 1)) << "row " << i;
  }
  for (size_t i = kGraph; i < kGraph + kDelta; ++i) {
    EXPECT_EQ(TopId(*index, Row(data, i)), static_cast<int64_t>(i + 1)) << "delta row " << i;
  }
}

TEST(FaissDeltaTest, SearchResultsAreSortedAndMergedAcrossGraphAndDelta) {
  const auto data = UnitVectors(kGraph + kDelta, 4);
  auto index = GraphPlusDelta(data);
  const auto queries = UnitVectors(20, 99);
  for (size_t q = 0; q < 20; ++q) {
    auto hits = index->Search(Row(queries, q), 20);
    ASSERT_TRUE(hits.has_value());
    ASSERT_EQ(hits->size(), 20u);
    for (size_t i = 1; i < hits->size(); ++i) EXPECT_GE((*hits)[i - 1].score, (*hits)[i].score);
  }
}

TEST(FaissDeltaTest, RemovalsAreHonouredInTheDeltaAndInTheGraph) {
  const auto data = UnitVectors(kGraph + kDelta, 5);
  auto index = GraphPlusDelta(data);
  const int64_t in_graph = 10;                                 // row 9
  const int64_t in_delta = static_cast<int64_t>(kGraph) + 10;  // row kGraph + 9
  ASSERT_TRUE(Contains(*index, Row(data, 9), in_graph));
  ASSERT_TRUE(Contains(*index, Row(data, kGraph + 9), in_delta));
  const int64_t gone[] = {in_graph, in_delta};
  ASSERT_TRUE(index->Remove(gone).ok());
  EXPECT_EQ(index->size(), kGraph + kDelta - 2);
  EXPECT_FALSE(Contains(*index, Row(data, 9), in_graph, 50));
  EXPECT_FALSE(Contains(*index, Row(data, kGraph + 9), in_delta, 50));
  // Replacing an id that lives in the graph: the new vector (in the delta) answers, the old one
  // does not.
  const int64_t replaced[] = {20};
  ASSERT_TRUE(index->Add(replaced, Row(data, kGraph + 50)).ok());
  EXPECT_FALSE(Contains(*index, Row(data, 19), 20, 50));
  auto hits = index->Search(Row(data, kGraph + 50), 2);
  ASSERT_TRUE(hits.has_value());
  ASSERT_EQ(hits->size(), 2u);
  EXPECT_NEAR((*hits)[0].score, 1.0f, 1e-4f);
  EXPECT_NEAR((*hits)[1].score, 1.0f, 1e-4f);  // id 20 and id kGraph + 51 hold the same vector
}

TEST(FaissDeltaTest, SaveAndLoadWithAPendingMergeLoseNothing) {
  const auto data = UnitVectors(kGraph + kDelta + kMergeMin, 6);
  auto index = GraphPlusDelta(data);
  const int64_t removed[] = {3, static_cast<int64_t>(kGraph) + 3};
  ASSERT_TRUE(index->Remove(removed).ok());
  const fs::path path =
      fs::temp_directory_path() / ("jrvs_faiss_delta_test_" + std::to_string(::getpid()));
  ASSERT_TRUE(index->Save(path, "model", 1234).ok());

  FaissIndexOptions o = index->options();
  auto loaded = FaissIndex::Load(path, o);
  fs::remove(path);
  ASSERT_TRUE(loaded.has_value()) << loaded.error().ToString();
  FaissIndex& copy = *loaded->index;
  EXPECT_EQ(loaded->watermark, 1234);
  EXPECT_EQ(copy.type(), "hnsw");
  EXPECT_EQ(copy.size(), index->size());
  EXPECT_EQ(copy.delta_size(), kDelta);
  EXPECT_EQ(copy.tombstones(), 2u);
  for (size_t i = 0; i < kGraph + kDelta; ++i) {
    const auto id = static_cast<int64_t>(i + 1);
    if (id == removed[0] || id == removed[1]) {
      EXPECT_FALSE(Contains(copy, Row(data, i), id, 20));
    } else if (i % 5 == 0 || i >= kGraph) {
      EXPECT_EQ(TopId(copy, Row(data, i)), id) << "row " << i;
    }
  }
  // The loaded index keeps merging: enough new vectors trigger a merge of the whole delta.
  const auto more = Iota(kMergeMin, static_cast<int64_t>(kGraph + kDelta) + 1);
  ASSERT_TRUE(copy.Add(more, std::span(data).subspan((kGraph + kDelta) * kD)).ok());
  copy.WaitForRebuild();
  EXPECT_EQ(copy.delta_size(), 0u);
  for (size_t i = kGraph; i < kGraph + kDelta + kMergeMin; i += 3) {
    EXPECT_EQ(TopId(copy, Row(data, i)), static_cast<int64_t>(i + 1)) << "row " << i;
  }
}

TEST(FaissDeltaTest, ADeltaLargerThanTheGraphIsFoldedIn) {
  const auto data = UnitVectors(kGraph + kDelta + 2 * kGraph, 8);
  auto index = GraphPlusDelta(data);
  // 3,000 more: the delta (3,200) outgrows the graph (1,500). A merge would do too, but the
  // rebuild comes first and leaves no delta behind.
  const auto more = Iota(2 * kGraph, static_cast<int64_t>(kGraph + kDelta) + 1);
  ASSERT_TRUE(index->Add(more, std::span(data).subspan((kGraph + kDelta) * kD)).ok());
  index->WaitForRebuild();
  EXPECT_EQ(index->delta_size(), 0u);
  EXPECT_EQ(index->type(), "hnsw");
  EXPECT_EQ(index->size(), 3 * kGraph + kDelta);
  for (size_t i = 0; i < 3 * kGraph + kDelta; i += 13) {
    EXPECT_EQ(TopId(*index, Row(data, i)), static_cast<int64_t>(i + 1)) << "row " << i;
  }
}

// Recall@10 of `index` against brute force over `data` (ids 1..n), for `queries`.
double Recall(const FaissIndex& index, const std::vector<float>& data,
              const std::vector<float>& queries) {
  const size_t n = data.size() / kD;
  size_t found = 0;
  const size_t nq = queries.size() / kD;
  for (size_t q = 0; q < nq; ++q) {
    std::vector<std::pair<float, int64_t>> all;
    for (size_t i = 0; i < n; ++i) {
      float s = 0;
      for (size_t j = 0; j < kD; ++j) s += data[i * kD + j] * queries[q * kD + j];
      all.push_back({-s, static_cast<int64_t>(i + 1)});
    }
    std::partial_sort(all.begin(), all.begin() + 10, all.end());
    auto hits = index.Search(Row(queries, q), 10);
    if (!hits) return 0;
    for (const VectorHit& h : *hits) {
      for (size_t r = 0; r < 10; ++r) found += all[r].second == h.id ? 1 : 0;
    }
  }
  return static_cast<double>(found) / static_cast<double>(nq * 10);
}

TEST(FaissDeltaTest, AMergedGraphFindsWhatABuiltGraphFinds) {
  constexpr size_t kN = 4000;
  constexpr size_t kFirst = 2200;  // built by a rebuild; the other 1,800 merged (delta < graph)
  const auto data = UnitVectors(kN, 9);
  const auto queries = UnitVectors(100, 10);
  const auto ids = Iota(kN, 1);
  FaissIndexOptions o;
  o.dimension = kD;
  o.hnsw_ef_search = 32;  // low enough that a badly linked graph shows
  o.ann_threshold = kN;   // built: one rebuild over all of it
  auto built = FaissIndex::Create(o);
  ASSERT_TRUE(built.has_value());
  ASSERT_TRUE((*built)->Add(ids, data).ok());
  (*built)->WaitForRebuild();
  ASSERT_EQ((*built)->delta_size(), 0u);
  o.ann_threshold = kFirst;  // merged: a rebuild over the first kFirst, then the merger
  o.delta_merge_min = 1;
  auto merged = FaissIndex::Create(o);
  ASSERT_TRUE(merged.has_value());
  ASSERT_TRUE(
      (*merged)->Add(std::span(ids).first(kFirst), std::span(data).first(kFirst * kD)).ok());
  (*merged)->WaitForRebuild();
  ASSERT_TRUE(
      (*merged)->Add(std::span(ids).subspan(kFirst), std::span(data).subspan(kFirst * kD)).ok());
  (*merged)->WaitForRebuild();
  ASSERT_EQ((*merged)->delta_size(), 0u);
  const double r_built = Recall(**built, data, queries);
  const double r_merged = Recall(**merged, data, queries);
  std::printf("recall@10 at ef_search 32: built %.3f, merged %.3f\n", r_built, r_merged);
  EXPECT_GE(r_merged, r_built - 0.03);
}

TEST(FaissDeltaTest, SearchesAndWritersRunWhileTheMergerLinksTheDelta) {
  constexpr size_t kN = 3000;
  constexpr size_t kBatch = 50;
  const auto data = UnitVectors(kN, 7);
  auto index = MakeHnsw(64);
  std::atomic<size_t> added{0};
  std::atomic<bool> done{false};
  std::atomic<size_t> bad{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&, t] {
      size_t q = static_cast<size_t>(t);
      while (!done) {
        const size_t visible = added.load();
        if (visible == 0) continue;
        // A vector whose Add returned is its own nearest neighbour from then on.
        const size_t row = (q * 7919) % visible;
        if (TopId(*index, Row(data, row)) != static_cast<int64_t>(row + 1)) ++bad;
        ++q;
      }
    });
  }
  const auto ids = Iota(kN, 1);
  for (size_t i = 0; i < kN; i += kBatch) {
    ASSERT_TRUE(
        index->Add(std::span(ids).subspan(i, kBatch), std::span(data).subspan(i * kD, kBatch * kD))
            .ok());
    added = i + kBatch;
  }
  index->WaitForRebuild();
  done = true;
  for (std::thread& r : readers) r.join();
  EXPECT_EQ(bad.load(), 0u);
  EXPECT_LT(index->delta_size(), 64u);
  for (size_t i = 0; i < kN; i += 11) {
    EXPECT_EQ(TopId(*index, Row(data, i)), static_cast<int64_t>(i + 1));
  }
}

// Options for the deferral tests: HNSW from 1,000 vectors, one build thread.
FaissIndexOptions DeferOptions(size_t defer_max) {
  FaissIndexOptions o;
  o.dimension = kD;
  o.ann_threshold = 1000;
  o.delta_merge_min = 64;
  o.defer_max = defer_max;
  return o;
}

// Adds batches of 100 vectors every 5 ms (a burst: ~20k vectors/s) until `stop(batch)` says so
// or `batches` ran; returns the number of batches added.
template <typename Stop>
size_t Burst(FaissIndex& index, const std::vector<float>& data, size_t batches, Stop stop) {
  size_t b = 0;
  for (; b < batches; ++b) {
    const size_t first = b * 100;
    EXPECT_TRUE(index
                    .Add(Iota(100, static_cast<int64_t>(first) + 1),
                         std::span<const float>(data).subspan(first * kD, 100 * kD))
                    .ok());
    if (stop(b)) return b + 1;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return b;
}

TEST(FaissDeltaTest, GraphWorkWaitsForABurstOfAddsToPause) {
  constexpr size_t kBatches = 60;
  const auto data = UnitVectors(kBatches * 100, 31);
  auto index = FaissIndex::Create(DeferOptions(1'000'000));
  ASSERT_TRUE(index.has_value());
  FaissIndex& ix = **index;
  size_t built_during_burst = 0;
  Burst(ix, data, kBatches, [&](size_t b) {
    built_during_burst += ix.type() == "hnsw";
    // Exact meanwhile: every vector added is its own nearest neighbour.
    EXPECT_EQ(TopId(ix, Row(data, b * 100 + 7)), static_cast<int64_t>(b * 100 + 8));
    return false;
  });
  EXPECT_EQ(built_during_burst, 0u) << "the graph was built while vectors were arriving";
  EXPECT_EQ(ix.type(), "flat");
  // Once the burst is over the graph is built without being asked.
  const auto start = std::chrono::steady_clock::now();
  ix.WaitForRebuild();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
  EXPECT_EQ(ix.type(), "hnsw");
  EXPECT_EQ(ix.delta_size(), 0u);
  EXPECT_EQ(ix.size(), kBatches * 100);
  for (size_t i = 0; i < kBatches * 100; i += 397) {
    EXPECT_EQ(TopId(ix, Row(data, i)), static_cast<int64_t>(i + 1));
  }
}

TEST(FaissDeltaTest, GraphWorkStartsDuringABurstOnceTheBacklogReachesTheCap) {
  constexpr size_t kBatches = 400;  // 2 s of adds at most
  const auto data = UnitVectors(kBatches * 100, 37);
  auto index = FaissIndex::Create(DeferOptions(3000));
  ASSERT_TRUE(index.has_value());
  FaissIndex& ix = **index;
  const size_t batches = Burst(ix, data, kBatches, [&](size_t) { return ix.type() == "hnsw"; });
  EXPECT_LT(batches, kBatches) << "the graph was never built while the backlog grew";
  EXPECT_GE(batches * 100, 3000u);
  ix.WaitForRebuild();
  EXPECT_EQ(ix.type(), "hnsw");
  EXPECT_EQ(ix.size(), batches * 100);
}

}  // namespace
}  // namespace jrvs::rag
