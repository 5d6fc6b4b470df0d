// Test helpers for the store layer (header-only; used by *_test.cc only).
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/metrics.h"
#include "store/sqlite_store.h"

namespace jrvs::store::testing {

// A fresh directory under the system temp dir, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "jrvs-store-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string File(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// A fresh SqliteStore in a temp dir, with a fake clock and a metrics registry, plus helpers.
class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }

  void Reopen() {
    store_.reset();
    auto opened = SqliteStore::Open({.path = path_}, &metrics_, &clock_);
    ASSERT_TRUE(opened.has_value()) << opened.error().ToString();
    store_ = std::move(*opened);
  }

  static NewConversation Turn(std::string session, std::string message, int64_t at_ms = 0) {
    NewConversation turn;
    turn.session_id = std::move(session);
    turn.user_message = std::move(message);
    turn.ai_response = "re: " + turn.user_message;
    turn.model_used = "llama3";
    turn.created_at_ms = at_ms;
    return turn;
  }

  int64_t Append(const NewConversation& turn) {
    Result<int64_t> id = store_->AppendConversation(turn);
    EXPECT_TRUE(id.has_value()) << id.error().ToString();
    return id.value_or(-1);
  }

  static std::vector<std::string> Messages(const std::vector<Conversation>& turns) {
    std::vector<std::string> out;
    for (const Conversation& t : turns) out.push_back(t.user_message);
    return out;
  }

  static NewDocument Doc(std::string content, std::optional<std::string> url = std::nullopt,
                         std::string title = "Title") {
    NewDocument doc;
    doc.url = std::move(url);
    doc.title = std::move(title);
    doc.content = std::move(content);
    return doc;
  }

  static std::vector<NewChunk> Chunks(const std::vector<std::string>& texts) {
    std::vector<NewChunk> chunks;
    for (size_t i = 0; i < texts.size(); ++i) {
      chunks.push_back(NewChunk{.chunk_index = static_cast<int>(i),
                                .text = texts[i],
                                .embedding = {static_cast<float>(i), 0.5f},
                                .metadata_json = "{\"i\":" + std::to_string(i) + "}"});
    }
    return chunks;
  }

  PutDocumentResult Put(const NewDocument& doc, const std::vector<NewChunk>& chunks) {
    Result<PutDocumentResult> put = store_->PutDocument(doc, chunks, "hash-384");
    EXPECT_TRUE(put.has_value()) << put.error().ToString();
    return put.value_or(PutDocumentResult{});
  }

  std::vector<int64_t> Search(const std::vector<std::string>& terms, int limit = 10) {
    Result<std::vector<TextHit>> hits = store_->SearchText(terms, limit);
    EXPECT_TRUE(hits.has_value()) << hits.error().ToString();
    std::vector<int64_t> ids;
    for (const TextHit& hit : hits.value_or(std::vector<TextHit>{})) ids.push_back(hit.chunk_id);
    return ids;
  }

  TempDir dir_;
  const std::string path_ = dir_.File("jrvs.db");
  FakeClock clock_{1'700'000'000'000};
  MetricsRegistry metrics_;
  std::unique_ptr<SqliteStore> store_;  // last: destroyed before what it borrows
};

}  // namespace jrvs::store::testing
