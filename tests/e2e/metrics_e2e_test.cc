// End-to-end: after some traffic through every layer (ingest, search, retrieve, chat with the
// extractive model), GET /metrics of the real binary exposes every metric family the docs list
// (docs/OPERATIONS.md "Metrics"), with the series the traffic must have moved.
#include <gtest/gtest.h>

#include <cstdlib>
#include <sstream>
#include <string>

#include "server_util.h"

namespace jrvs::testing {
namespace {

// The value of the first sample line starting with `series` ("name{labels}" or "name"), or -1.
double SampleValue(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
        line[series.size()] == ' ') {
      return std::strtod(line.c_str() + series.size() + 1, nullptr);
    }
  }
  return -1;
}

TEST(MetricsE2E, EveryDocumentedFamilyIsExportedAfterTraffic) {
  TempDir dir;
  auto server = ServerProcess::Start(dir.path(), {}, {{"JRVS_LLM_PROVIDER", "extractive"}});
  ASSERT_TRUE(server);
  auto client = server->Client();
  auto doc = client.Request(
      "POST", "/api/rag/document",
      R"({"title":"Bees","content":"Honey bees communicate by a waggle dance. The dance shows )"
      R"(the direction and distance of flowers. Foragers repeat it in the hive."})");
  ASSERT_EQ(doc.status, 201) << doc.body;
  for (int i = 0; i < 2; ++i) {  // the second round hits the embedding cache
    ASSERT_EQ(client.Request("GET", "/api/search?query=waggle%20dance").status, 200);
    ASSERT_EQ(client.Request("POST", "/api/rag/retrieve", R"({"query":"bee dance"})").status, 200);
    auto chat = client.Request("POST", "/api/chat",
                               R"({"message":"How do bees dance?","session_id":"m1"})");
    ASSERT_EQ(chat.status, 200) << chat.body;
  }
  ASSERT_EQ(client.Request("GET", "/api/history/m1").status, 200);

  auto r = client.Request("GET", "/metrics");
  ASSERT_EQ(r.status, 200);
  const std::string& m = r.body;
  for (const char* family :
       {// HTTP: per-route counts and latency, in-flight, connections, the two work queues
        "http_requests_total counter", "http_request_duration_seconds histogram",
        "http_requests_in_flight gauge", "http_connections_active gauge",
        "http_worker_queue_depth gauge", "http_slow_worker_queue_depth gauge",
        // database operations and the store's write queue
        "db_operations_total counter", "db_operation_duration_seconds histogram",
        "db_write_queue_depth gauge", "db_group_commit_batch_size histogram",
        "db_sqlite_memory_bytes gauge",
        // retrieval, index search, FTS, embedding, the embedding cache, the index
        "retrieval_duration_seconds histogram", "index_search_duration_seconds histogram",
        "fts_search_duration_seconds histogram", "embedding_duration_seconds histogram",
        "embedding_cache_hits_total counter", "embedding_cache_misses_total counter",
        "embedding_cache_entries gauge", "embedding_cache_hit_ratio gauge", "index_vectors gauge",
        "index_saves_total counter",
        // ingestion
        "ingest_documents_total counter", "ingest_chunks_total counter",
        "ingest_duration_seconds histogram",
        // LLM: outcomes, time to first token, generation speed; chat turns end to end
        "llm_requests_total counter", "llm_time_to_first_token_seconds histogram",
        "llm_tokens_per_second histogram", "chat_turn_duration_seconds histogram",
        // the process
        "process_resident_memory_bytes gauge", "process_open_fds gauge",
        "process_start_time_seconds gauge", "process_cpu_seconds_total gauge"}) {
    EXPECT_NE(m.find(std::string("# TYPE ") + family + "\n"), std::string::npos)
        << "missing family: " << family;
  }

  // The traffic above moved these series.
  EXPECT_EQ(SampleValue(m, R"(http_requests_total{route="/api/chat",method="POST",status="200"})"),
            2);
  EXPECT_EQ(SampleValue(m, R"(http_request_duration_seconds_count{route="/api/search"})"), 2);
  EXPECT_GE(SampleValue(m, "retrieval_duration_seconds_count"), 6);
  EXPECT_GE(SampleValue(m, "fts_search_duration_seconds_count"), 6);
  EXPECT_GE(SampleValue(m, "index_search_duration_seconds_count"), 6);
  // One embedder call for the ingest plus one per query vector.
  EXPECT_GE(SampleValue(m, "embedding_duration_seconds_count"), 7);
  EXPECT_GT(SampleValue(m, "embedding_cache_hits_total"), 0);
  const double ratio = SampleValue(m, "embedding_cache_hit_ratio");
  EXPECT_GT(ratio, 0);
  EXPECT_LT(ratio, 1);
  EXPECT_GE(SampleValue(m, "index_vectors"), 1);
  EXPECT_EQ(SampleValue(m, R"(llm_requests_total{provider="extractive",outcome="ok"})"), 2);
  EXPECT_EQ(SampleValue(m, R"(llm_time_to_first_token_seconds_count{provider="extractive"})"), 2);
  EXPECT_EQ(SampleValue(m, R"(ingest_documents_total{outcome="created"})"), 1);
  EXPECT_GE(SampleValue(m, R"(db_operations_total{op="append_conversation",status="ok"})"), 2);
  EXPECT_GT(SampleValue(m, "db_sqlite_memory_bytes"), 0);
  EXPECT_GT(SampleValue(m, "process_resident_memory_bytes"), 0);
  EXPECT_GT(SampleValue(m, "process_open_fds"), 0);
  EXPECT_EQ(server->Stop(), 0);
}

}  // namespace
}  // namespace jrvs::testing
