#include "rag/index_manager.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include "store/sqlite_store.h"

namespace jrvs::rag {
namespace {

constexpr size_t kDim = 8;

class IndexManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("jrvs-im-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    store::SqliteOptions o;
    o.path = (dir_ / "jrvs.db").string();
    auto s = store::SqliteStore::Open(o, nullptr, nullptr);
    ASSERT_TRUE(s) << s.error().ToString();
    store_ = std::move(*s);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  IndexManagerOptions Options(std::string model = "m1") {
    IndexManagerOptions o;
    o.path = dir_ / "index" / "vectors.faiss";
    o.faiss.dimension = kDim;
    o.embedding_model = std::move(model);
    return o;
  }
  std::vector<float> Vec(int seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> d;
    std::vector<float> v(kDim);
    float norm = 0;
    for (auto& x : v) {
      x = d(rng);
      norm += x * x;
    }
    for (auto& x : v) x /= std::sqrt(norm);
    return v;
  }
  // Stores a document with one chunk embedded by `model`; returns the chunk id.
  int64_t Put(int seed, const std::string& model = "m1") {
    store::NewDocument doc;
    doc.title = "doc " + std::to_string(seed);
    doc.content = "content " + std::to_string(seed);
    store::NewChunk chunk;
    chunk.text = doc.content;
    chunk.embedding = Vec(seed);
    auto r = store_->PutDocument(doc, {chunk}, model);
    EXPECT_TRUE(r) << r.error().ToString();
    return r ? r->chunk_ids.at(0) : 0;
  }

  std::filesystem::path dir_;
  std::unique_ptr<store::SqliteStore> store_;
};

TEST_F(IndexManagerTest, MissingFileRebuildsFromTheDatabase) {
  for (int i = 0; i < 5; ++i) Put(i);
  auto m = IndexManager::Open(Options(), *store_);
  ASSERT_TRUE(m) << m.error().ToString();
  EXPECT_TRUE((*m)->open_report().rebuilt);
  EXPECT_EQ((*m)->open_report().rebuild_reason, "missing");
  EXPECT_EQ((*m)->index()->size(), 5u);
  auto hits = (*m)->index()->Search(Vec(3), 1);
  ASSERT_TRUE(hits);
  ASSERT_EQ(hits->size(), 1u);
}

TEST_F(IndexManagerTest, SavedIndexIsLoadedAndNewerChunksReplayed) {
  for (int i = 0; i < 4; ++i) Put(i);
  {
    auto m = IndexManager::Open(Options(), *store_);
    ASSERT_TRUE(m);
    ASSERT_TRUE((*m)->Save().ok());
    EXPECT_FALSE((*m)->dirty());
  }
  int64_t late = Put(100);  // committed after the save: only the replay can bring it in
  auto m = IndexManager::Open(Options(), *store_);
  ASSERT_TRUE(m);
  EXPECT_TRUE((*m)->open_report().loaded);
  EXPECT_FALSE((*m)->open_report().rebuilt);
  EXPECT_EQ((*m)->open_report().replayed, 1);
  auto hits = (*m)->index()->Search(Vec(100), 1);
  ASSERT_TRUE(hits);
  EXPECT_EQ(hits->at(0).id, late);
}

TEST_F(IndexManagerTest, AnotherModelRebuildsAndCountsStaleChunks) {
  Put(1, "m1");
  Put(2, "m2");
  {
    auto m = IndexManager::Open(Options("m1"), *store_);
    ASSERT_TRUE(m);
    ASSERT_TRUE((*m)->Save().ok());
  }
  auto m = IndexManager::Open(Options("m2"), *store_);
  ASSERT_TRUE(m);
  EXPECT_TRUE((*m)->open_report().rebuilt);
  EXPECT_NE((*m)->open_report().rebuild_reason.find("model"), std::string::npos);
  EXPECT_EQ((*m)->index()->size(), 1u);
  EXPECT_EQ((*m)->open_report().stale, 1);
}

TEST_F(IndexManagerTest, CorruptFileRebuilds) {
  Put(1);
  {
    auto m = IndexManager::Open(Options(), *store_);
    ASSERT_TRUE(m);
    ASSERT_TRUE((*m)->Save().ok());
  }
  {
    std::fstream f(Options().path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(40);
    f.put('\x7f');
  }
  auto m = IndexManager::Open(Options(), *store_);
  ASSERT_TRUE(m);
  EXPECT_TRUE((*m)->open_report().rebuilt);
  EXPECT_EQ((*m)->index()->size(), 1u);
}

TEST_F(IndexManagerTest, OrphanVectorsFromAnInterruptedDeleteAreDropped) {
  int64_t keep = Put(1);
  int64_t gone = Put(2);
  {
    auto m = IndexManager::Open(Options(), *store_);
    ASSERT_TRUE(m);
    ASSERT_TRUE((*m)->Save().ok());
  }
  // The delete commits but the process dies before the index update and before a save.
  auto doc_of_gone = store_->GetChunks({gone});
  ASSERT_TRUE(doc_of_gone && doc_of_gone->size() == 1);
  ASSERT_TRUE(store_->DeleteDocument(doc_of_gone->at(0).document_id));
  auto m = IndexManager::Open(Options(), *store_);
  ASSERT_TRUE(m);
  EXPECT_TRUE((*m)->open_report().rebuilt) << (*m)->open_report().rebuild_reason;
  EXPECT_EQ((*m)->index()->size(), 1u);
  auto hits = (*m)->index()->Search(Vec(2), 2);
  ASSERT_TRUE(hits);
  ASSERT_EQ(hits->size(), 1u);
  EXPECT_EQ(hits->at(0).id, keep);
}

TEST_F(IndexManagerTest, WritesThroughTicketsMarkDirtyAndSaveKeepsThem) {
  auto m = IndexManager::Open(Options(), *store_);
  ASSERT_TRUE(m);
  ASSERT_TRUE((*m)->Save().ok());
  int64_t id = Put(7);
  {
    auto ticket = (*m)->BeginWrite();
    auto v = Vec(7);
    ASSERT_TRUE((*m)->AddChunks(ticket, std::span<const int64_t>(&id, 1), v).ok());
  }
  EXPECT_TRUE((*m)->dirty());
  ASSERT_TRUE((*m)->Save().ok());
  m->reset();
  auto again = IndexManager::Open(Options(), *store_);
  ASSERT_TRUE(again);
  EXPECT_TRUE((*again)->open_report().loaded);
  EXPECT_EQ((*again)->open_report().replayed, 0);
  EXPECT_EQ((*again)->index()->size(), 1u);
}

}  // namespace
}  // namespace jrvs::rag
