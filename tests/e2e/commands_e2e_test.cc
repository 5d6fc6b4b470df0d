// End-to-end: the knowledge-base commands (`jrvs ingest`, `search`, `documents`, `reindex`) on a
// data directory, and POST /api/documents/upload, with the fixture files of tests/data/docs.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "server_util.h"

namespace jrvs::testing {
namespace {

namespace fs = std::filesystem;

std::string DocsDir() { return std::string(JRVS_SOURCE_DIR) + "/tests/data/docs"; }

TEST(CommandsE2E, IngestSearchListShowDeleteReindex) {
  TempDir dir;
  auto ingest = RunJrvs({"ingest", "--data-dir", dir.path(), "--recursive", DocsDir()});
  // Corrupt and encrypted PDFs fail; binaries are skipped with a warning: exit 1, with a summary.
  EXPECT_EQ(ingest.status, 1) << ingest.output;
  EXPECT_NE(ingest.output.find("added"), std::string::npos) << ingest.output;
  EXPECT_NE(ingest.output.find("skipping"), std::string::npos) << ingest.output;
  EXPECT_NE(ingest.output.find("corrupt.pdf"), std::string::npos) << ingest.output;

  auto again = RunJrvs({"ingest", "--data-dir", dir.path(), DocsDir() + "/notes.txt"});
  EXPECT_EQ(again.status, 0) << again.output;
  EXPECT_NE(again.output.find("1 unchanged"), std::string::npos) << again.output;

  auto list = RunJrvs({"documents", "list", "--data-dir", dir.path()});
  ASSERT_EQ(list.status, 0) << list.output;
  EXPECT_NE(list.output.find("two_pages"), std::string::npos) << list.output;

  // The PDF's second page is searchable and its chunks carry page numbers.
  auto search = RunJrvs({"search", "--data-dir", dir.path(), "--limit", "3", "page two"});
  ASSERT_EQ(search.status, 0) << search.output;
  EXPECT_NE(search.output.find("1. ["), std::string::npos) << search.output;

  auto show = RunJrvs({"documents", "show", "1", "--data-dir", dir.path()});
  EXPECT_EQ(show.status, 0) << show.output;
  EXPECT_NE(show.output.find("sha256:"), std::string::npos);

  auto reindex = RunJrvs({"reindex", "--data-dir", dir.path()});
  EXPECT_EQ(reindex.status, 0) << reindex.output;
  EXPECT_NE(reindex.output.find("index rebuilt"), std::string::npos) << reindex.output;

  // Changing the embedder makes the stored vectors stale; reindex re-embeds every chunk.
  auto changed = RunJrvs({"reindex", "--data-dir", dir.path(), "--embed-dimension", "256"});
  ASSERT_EQ(changed.status, 0) << changed.output;
  EXPECT_EQ(changed.output.find("re-embedded 0 "), std::string::npos) << changed.output;
  EXPECT_NE(changed.output.find("256 dims"), std::string::npos) << changed.output;
  auto unchanged = RunJrvs({"reindex", "--data-dir", dir.path(), "--embed-dimension", "256"});
  EXPECT_NE(unchanged.output.find("re-embedded 0 "), std::string::npos) << unchanged.output;
  {
    auto s256 = ServerProcess::Start(dir.path(), {"--embed-dimension", "256"});
    ASSERT_TRUE(s256);
    auto c = s256->Client();
    auto st = ParseJson(c.Request("GET", "/api/stats").body);
    EXPECT_EQ(st.at("embedding_dimension").as_int64(), 256);
    EXPECT_EQ(st.at("vector_store").at("total_vectors").as_int64(), st.at("chunks").as_int64());
  }
  auto back = RunJrvs({"reindex", "--data-dir", dir.path()});
  ASSERT_EQ(back.status, 0) << back.output;

  auto del = RunJrvs({"documents", "delete", "1", "--data-dir", dir.path()});
  EXPECT_EQ(del.status, 0) << del.output;
  auto gone = RunJrvs({"documents", "show", "1", "--data-dir", dir.path()});
  EXPECT_NE(gone.status, 0);
  EXPECT_NE(gone.output.find("not"), std::string::npos) << gone.output;

  // The server sees what the commands wrote, with a consistent index.
  auto server = ServerProcess::Start(dir.path());
  ASSERT_TRUE(server);
  auto client = server->Client();
  auto stats = ParseJson(client.Request("GET", "/api/stats").body);
  EXPECT_GT(stats.at("documents").as_int64(), 3);
  EXPECT_EQ(stats.at("vector_store").at("total_vectors").as_int64(), stats.at("chunks").as_int64());
}

TEST(CommandsE2E, UploadThroughTheApi) {
  TempDir dir;
  auto server = ServerProcess::Start(dir.path());
  ASSERT_TRUE(server);
  auto client = server->Client();
  auto read = [](const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  std::string body;
  auto part = [&](const std::string& name, const std::string& data) {
    body += "--BOUNDARY\r\nContent-Disposition: form-data; name=\"files\"; filename=\"" + name +
            "\"\r\nContent-Type: application/octet-stream\r\n\r\n" + data + "\r\n";
  };
  part("guide.md", read(DocsDir() + "/guide.md"));
  part("two_pages.pdf", read(DocsDir() + "/two_pages.pdf"));
  part("binary.bin", read(DocsDir() + "/binary.bin"));
  body += "--BOUNDARY--\r\n";
  auto r = client.Request("POST", "/api/documents/upload", body,
                          {{"Content-Type", "multipart/form-data; boundary=BOUNDARY"}});
  ASSERT_EQ(r.status, 201) << r.body;
  auto json = ParseJson(r.body);
  EXPECT_EQ(json.at("added").as_int64(), 2);
  EXPECT_EQ(json.at("failed").as_int64(), 1);
  const auto& files = json.at("files").as_array();
  ASSERT_EQ(files.size(), 3u);
  EXPECT_TRUE(files[1].at("success").as_bool());
  EXPECT_FALSE(files[2].at("success").as_bool());

  // The PDF chunk carries its page number in retrieval results.
  auto retrieve = ParseJson(
      client.Request("POST", "/api/rag/retrieve", R"({"query":"second page","k":10})").body);
  bool saw_page = false;
  for (const auto& c : retrieve.at("chunks").as_array()) {
    if (c.at("metadata").as_object().contains("page")) saw_page = true;
  }
  EXPECT_TRUE(saw_page) << retrieve;

  EXPECT_EQ(
      client.Request("POST", "/api/documents/upload", "x", {{"Content-Type", "application/json"}})
          .status,
      400);
  EXPECT_EQ(client
                .Request("POST", "/api/documents/upload", "--B\r\nbroken",
                         {{"Content-Type", "multipart/form-data; boundary=B"}})
                .status,
            400);
}

}  // namespace
}  // namespace jrvs::testing
