// End-to-end: the knowledge base through the real binary — add, search, retrieve, update,
// delete, and durability of acknowledged documents across kill -9.
#include <gtest/gtest.h>

#include <set>

#include <fmt/format.h>

#include "server_util.h"

namespace jrvs::testing {
namespace {

namespace json = boost::json;

HttpResponse AddDoc(ApiClient& client, const std::string& title, const std::string& content,
                    const std::string& url = "") {
  json::object body{{"title", title}, {"content", content}};
  if (!url.empty()) body["url"] = url;
  return client.Request("POST", "/api/rag/document", json::serialize(body),
                        {{"Content-Type", "application/json"}});
}

std::vector<int64_t> SearchIds(ApiClient& client, const std::string& query, int limit = 10) {
  auto r = client.Request("GET", "/api/search?q=" + query + "&limit=" + std::to_string(limit));
  EXPECT_EQ(r.status, 200) << r.body;
  std::vector<int64_t> ids;
  auto body = ParseJson(r.body);
  if (body.is_null()) return ids;
  for (const auto& hit : body.at("results").as_array()) {
    ids.push_back(hit.at("document_id").as_int64());
  }
  return ids;
}

TEST(KnowledgeE2E, AddSearchRetrieveDelete) {
  TempDir dir;
  auto server = ServerProcess::Start(dir.path());
  ASSERT_TRUE(server);
  auto client = server->Client();

  auto bees = AddDoc(client, "Bees",
                     "Honey bees communicate the direction of flowers with a "
                     "waggle dance. The dance angle encodes the sun's bearing.",
                     "https://example.org/bees");
  ASSERT_EQ(bees.status, 201) << bees.body;
  int64_t bees_id = ParseJson(bees.body).at("document_id").as_int64();
  EXPECT_GE(ParseJson(bees.body).at("chunks").as_int64(), 1);
  auto rust = AddDoc(client, "Rust",
                     "Rust guarantees memory safety without garbage collection "
                     "through ownership and borrowing.");
  ASSERT_EQ(rust.status, 201) << rust.body;
  int64_t rust_id = ParseJson(rust.body).at("document_id").as_int64();

  // JRVS shape, both parameter spellings.
  auto r = client.Request("GET", "/api/search?query=waggle%20dance&limit=5");
  ASSERT_EQ(r.status, 200);
  auto body = ParseJson(r.body);
  const auto& results = body.at("results").as_array();
  ASSERT_FALSE(results.empty());
  const auto& top = results[0].as_object();
  EXPECT_EQ(top.at("document_id").as_int64(), bees_id);
  EXPECT_EQ(top.at("title").as_string(), "Bees");
  EXPECT_EQ(top.at("url").as_string(), "https://example.org/bees");
  EXPECT_TRUE(top.contains("similarity"));
  EXPECT_NE(std::string(top.at("preview").as_string()).find("waggle"), std::string::npos);
  EXPECT_EQ(SearchIds(client, "memory%20ownership").front(), rust_id);

  auto retrieve =
      client.Request("POST", "/api/rag/retrieve", R"({"query":"how do bees dance","k":3})");
  ASSERT_EQ(retrieve.status, 200) << retrieve.body;
  auto rb = ParseJson(retrieve.body);
  EXPECT_NE(std::string(rb.at("context").as_string()).find("[1] Bees (https://example.org/bees)"),
            std::string::npos)
      << rb.at("context");
  EXPECT_EQ(rb.at("chunks").as_array()[0].at("document_id").as_int64(), bees_id);

  auto list = ParseJson(client.Request("GET", "/api/documents?limit=10").body);
  EXPECT_EQ(list.at("total").as_int64(), 2);
  auto one = client.Request("GET", fmt::format("/api/documents/{}", rust_id));
  ASSERT_EQ(one.status, 200);
  EXPECT_NE(one.body.find("ownership"), std::string::npos);

  ASSERT_EQ(client.Request("DELETE", fmt::format("/api/documents/{}", bees_id)).status, 200);
  EXPECT_EQ(client.Request("GET", fmt::format("/api/documents/{}", bees_id)).status, 404);
  EXPECT_EQ(client.Request("DELETE", fmt::format("/api/documents/{}", bees_id)).status, 404);
  for (int64_t id : SearchIds(client, "waggle%20dance%20bees")) EXPECT_NE(id, bees_id);
  auto stats = ParseJson(client.Request("GET", "/api/stats").body);
  EXPECT_EQ(stats.at("vector_store").at("documents_count").as_int64(), 1);
}

TEST(KnowledgeE2E, ValidationAndDeduplication) {
  TempDir dir;
  auto server = ServerProcess::Start(dir.path());
  ASSERT_TRUE(server);
  auto client = server->Client();
  EXPECT_EQ(AddDoc(client, "Empty", "   ").status, 400);
  EXPECT_EQ(client.Request("POST", "/api/rag/document", R"({"title":"x"})").status, 400);
  EXPECT_EQ(client.Request("POST", "/api/rag/document", R"({"content":5})").status, 400);
  EXPECT_EQ(client.Request("POST", "/api/rag/document", R"({"content":"a","metadata":[1]})").status,
            400);
  EXPECT_EQ(client.Request("GET", "/api/search").status, 400);
  EXPECT_EQ(client.Request("GET", "/api/search?q=x&limit=51").status, 400);
  EXPECT_EQ(client.Request("POST", "/api/rag/retrieve", R"({"query":"x","k":0})").status, 400);
  EXPECT_EQ(client.Request("GET", "/api/documents/abc").status, 400);

  auto first = AddDoc(client, "Same", "Identical content is stored once.");
  ASSERT_EQ(first.status, 201);
  auto second = AddDoc(client, "Same", "Identical content is stored once.");
  ASSERT_EQ(second.status, 200);
  EXPECT_EQ(ParseJson(second.body).at("status").as_string(), "unchanged");
  EXPECT_EQ(ParseJson(second.body).at("document_id"), ParseJson(first.body).at("document_id"));

  // Same URL, new content: an update, and the old text is no longer found.
  auto v1 = AddDoc(client, "Page", "The first version mentions zebras.", "https://x.test/p");
  ASSERT_EQ(v1.status, 201);
  auto v2 = AddDoc(client, "Page", "The second version mentions giraffes.", "https://x.test/p");
  ASSERT_EQ(v2.status, 200);
  EXPECT_EQ(ParseJson(v2.body).at("status").as_string(), "updated");
  int64_t page_id = ParseJson(v1.body).at("document_id").as_int64();
  EXPECT_EQ(ParseJson(v2.body).at("document_id").as_int64(), page_id);
  // The old text is gone from the full-text index; the new text is found first.
  auto old_text = client.Request("GET", "/api/search?q=zebras&mode=lexical");
  EXPECT_TRUE(ParseJson(old_text.body).at("results").as_array().empty()) << old_text.body;
  ASSERT_FALSE(SearchIds(client, "giraffes").empty());
  EXPECT_EQ(SearchIds(client, "giraffes").front(), page_id);
  auto doc = ParseJson(client.Request("GET", fmt::format("/api/documents/{}", page_id)).body);
  EXPECT_EQ(doc.at("content").as_string(), "The second version mentions giraffes.");
  auto stats = ParseJson(client.Request("GET", "/api/stats").body);
  EXPECT_EQ(stats.at("documents").as_int64(), 2);
}

TEST(KnowledgeE2E, AcknowledgedDocumentsSurviveKill9) {
  TempDir dir;
  std::set<int64_t> acknowledged;
  {
    auto server = ServerProcess::Start(dir.path());
    ASSERT_TRUE(server);
    auto client = server->Client();
    for (int i = 0; i < 60; ++i) {
      auto r =
          AddDoc(client, fmt::format("Doc {}", i),
                 fmt::format("Document number {} talks about topic{} and shared words.", i, i));
      ASSERT_EQ(r.status, 201) << r.body;
      acknowledged.insert(ParseJson(r.body).at("document_id").as_int64());
    }
    server->Kill();  // SIGKILL: no index save, no clean shutdown
  }
  auto server = ServerProcess::Start(dir.path());
  ASSERT_TRUE(server);
  auto client = server->Client();
  auto list = ParseJson(client.Request("GET", "/api/documents?limit=200").body);
  std::set<int64_t> listed;
  for (const auto& d : list.at("documents").as_array()) {
    EXPECT_TRUE(listed.insert(d.at("document_id").as_int64()).second) << "listed twice";
  }
  EXPECT_EQ(listed, acknowledged);
  // Every document is found by both signals after the restart (the index was replayed).
  for (int i = 0; i < 60; i += 7) {
    for (const char* mode : {"lexical", "vector"}) {
      auto r = client.Request("GET", fmt::format("/api/search?q=topic{}&limit=1&mode={}", i, mode));
      ASSERT_EQ(r.status, 200);
      auto results = ParseJson(r.body).at("results").as_array();
      ASSERT_EQ(results.size(), 1u) << mode << " " << i;
      EXPECT_EQ(results[0].at("title").as_string(), fmt::format("Doc {}", i)) << mode;
    }
  }
  auto stats = ParseJson(client.Request("GET", "/api/stats").body);
  EXPECT_EQ(stats.at("vector_store").at("total_vectors").as_int64(), stats.at("chunks").as_int64());
}

}  // namespace
}  // namespace jrvs::testing
