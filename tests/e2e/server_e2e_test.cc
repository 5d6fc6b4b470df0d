// End-to-end: the foundation routes, errors, commands and lifecycle of the real binary.
#include <signal.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "server_util.h"
#include "store/sqlite_store.h"

namespace jrvs::testing {
namespace {

namespace json = boost::json;

TEST(ServerE2E, HealthIsHealthyWithDatabaseCheckAndRequestId) {
  TempDir dir;
  auto server = ServerProcess::Start(dir.path());
  ASSERT_TRUE(server);
  auto client = server->Client();
  for (const char* path : {"/health", "/api/health"}) {
    auto r = client.Request("GET", path);
    ASSERT_EQ(r.status, 200) << r.body;
    auto body = ParseJson(r.body);
    EXPECT_EQ(body.at("status").as_string(), "healthy");
    EXPECT_TRUE(body.at("checks").at("database").at("ok").as_bool());
    EXPECT_TRUE(body.as_object().contains("model"));
    ASSERT_TRUE(r.headers.count("x-request-id"));
    EXPECT_FALSE(r.headers.at("x-request-id").empty());
  }
  EXPECT_EQ(server->Stop(), 0);
}

TEST(ServerE2E, ErrorsAreJsonWithTheRightStatus) {
  TempDir dir;
  auto server = ServerProcess::Start(dir.path());
  ASSERT_TRUE(server);
  auto client = server->Client();

  auto not_found = client.Request("GET", "/no/such/route");
  EXPECT_EQ(not_found.status, 404);
  auto body = ParseJson(not_found.body);
  EXPECT_EQ(body.at("error").at("code").as_string(), "not_found");
  EXPECT_FALSE(body.at("error").at("request_id").as_string().empty());

  auto wrong_method = client.Request("POST", "/health", "{}");
  EXPECT_EQ(wrong_method.status, 405);
  EXPECT_EQ(ParseJson(wrong_method.body).at("error").at("code").as_string(), "method_not_allowed");

  auto bad_json = client.Request("POST", "/api/rag/document", "{not json",
                                 {{"Content-Type", "application/json"}});
  EXPECT_EQ(bad_json.status, 400);
  EXPECT_EQ(ParseJson(bad_json.body).at("error").at("code").as_string(), "invalid_argument");

  auto big =
      ApiClient(server->port()).Request("POST", "/api/rag/document", std::string(2 << 20, 'x'));
  EXPECT_EQ(big.status, 413);
  EXPECT_EQ(ParseJson(big.body).at("error").at("code").as_string(), "payload_too_large");

  auto bad_session = client.Request("GET", "/api/history/bad%20session!");
  EXPECT_EQ(bad_session.status, 400);

  // The server keeps serving after all of that.
  auto again = ApiClient(server->port()).Request("GET", "/health");
  EXPECT_EQ(again.status, 200);
}

TEST(ServerE2E, StatsHaveJrvsShapeAndCounts) {
  TempDir dir;
  auto server = ServerProcess::Start(dir.path());
  ASSERT_TRUE(server);
  auto r = server->Client().Request("GET", "/api/stats");
  ASSERT_EQ(r.status, 200) << r.body;
  auto body = ParseJson(r.body);
  const auto& vs = body.at("vector_store").as_object();
  for (const char* key :
       {"total_vectors", "dimension", "index_size_mb", "documents_count", "index_type"}) {
    EXPECT_TRUE(vs.contains(key)) << key;
  }
  EXPECT_TRUE(body.as_object().contains("embedding_cache_size"));
  EXPECT_EQ(body.at("embedding_dimension").as_int64(), 384);
  EXPECT_EQ(body.at("documents").as_int64(), 0);
  EXPECT_EQ(body.at("conversations").as_int64(), 0);
  EXPECT_GT(body.at("database_size_bytes").as_int64(), 0);
}

TEST(ServerE2E, HistoryReadsAndDeletesStoredTurns) {
  TempDir dir;
  {
    // Write turns through the store itself, as the chat path will.
    store::SqliteOptions options;
    options.path = dir.path() + "/jrvs.db";
    auto store = store::SqliteStore::Open(options, nullptr, nullptr);
    ASSERT_TRUE(store) << store.error().ToString();
    for (int i = 0; i < 5; ++i) {
      store::NewConversation turn;
      turn.session_id = "s-1";
      turn.user_message = "question " + std::to_string(i);
      turn.ai_response = "answer " + std::to_string(i);
      turn.model_used = "extractive";
      ASSERT_TRUE((*store)->AppendConversation(turn));
    }
  }
  auto server = ServerProcess::Start(dir.path());
  ASSERT_TRUE(server);
  auto client = server->Client();
  auto r = client.Request("GET", "/api/history/s-1?limit=3");
  ASSERT_EQ(r.status, 200) << r.body;
  auto body = ParseJson(r.body);
  const auto& history = body.at("history").as_array();
  ASSERT_EQ(history.size(), 3u);
  // The newest three, oldest first.
  EXPECT_EQ(history[0].at("user_message").as_string(), "question 2");
  EXPECT_EQ(history[2].at("user_message").as_string(), "question 4");

  EXPECT_EQ(client.Request("GET", "/api/history/s-1?limit=abc").status, 400);
  EXPECT_EQ(client.Request("GET", "/api/history/s-1?limit=0").status, 400);

  auto del = client.Request("DELETE", "/api/history/s-1");
  ASSERT_EQ(del.status, 200);
  EXPECT_EQ(ParseJson(del.body).at("deleted").as_int64(), 5);
  auto after = client.Request("GET", "/api/history/s-1");
  EXPECT_EQ(ParseJson(after.body).at("count").as_int64(), 0);
}

TEST(ServerE2E, MetricsArePrometheusText) {
  TempDir dir;
  auto server = ServerProcess::Start(dir.path());
  ASSERT_TRUE(server);
  auto client = server->Client();
  ASSERT_EQ(client.Request("GET", "/health").status, 200);
  ASSERT_EQ(client.Request("GET", "/api/history/abc").status, 200);
  auto r = client.Request("GET", "/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.headers["content-type"].find("text/plain"), std::string::npos);
  for (const char* needle :
       {"http_requests_total{route=\"/health\",method=\"GET\",status=\"200\"} 1",
        "http_request_duration_seconds_bucket{route=\"/api/history/{session_id}\"",
        "process_resident_memory_bytes ", "process_start_time_seconds ", "db_operations_total"}) {
    EXPECT_NE(r.body.find(needle), std::string::npos) << needle << "\n" << r.body;
  }
}

TEST(ServerE2E, SigtermStopsCleanlyAndDataSurvivesRestart) {
  TempDir dir;
  auto server = ServerProcess::Start(dir.path());
  ASSERT_TRUE(server);
  auto r = server->Client().Request(
      "POST", "/api/rag/document",
      R"({"title":"Durable","content":"Bees communicate with a waggle dance."})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(server->Stop(), 0);
  auto again = ServerProcess::Start(dir.path());
  ASSERT_TRUE(again);
  auto stats = ParseJson(again->Client().Request("GET", "/api/stats").body);
  EXPECT_EQ(stats.at("documents").as_int64(), 1);
}

TEST(ServerE2E, ConfigCommandShowsSourcesAndRejectsBadValues) {
  auto ok = RunJrvs({"config", "--port", "9123"}, {{"JRVS_LOG_LEVEL", "debug"}});
  ASSERT_EQ(ok.status, 0) << ok.output;
  EXPECT_NE(ok.output.find("server.port = 9123"), std::string::npos) << ok.output;
  EXPECT_NE(ok.output.find("log.level = \"debug\""), std::string::npos);

  auto bad = RunJrvs({"serve", "--port", "99999"});
  EXPECT_EQ(bad.status, 2);
  EXPECT_NE(bad.output.find("server.port"), std::string::npos) << bad.output;

  auto bad_env = RunJrvs({"config"}, {{"JRVS_SERVER_THREADS", "many"}});
  EXPECT_EQ(bad_env.status, 2);
  EXPECT_NE(bad_env.output.find("JRVS_SERVER_THREADS"), std::string::npos) << bad_env.output;
}

TEST(ServerE2E, HelpVersionStatsAndCleanup) {
  auto help = RunJrvs({"--help"});
  EXPECT_EQ(help.status, 0);
  EXPECT_NE(help.output.find("serve"), std::string::npos);
  auto serve_help = RunJrvs({"serve", "--help"});
  EXPECT_EQ(serve_help.status, 0);
  EXPECT_NE(serve_help.output.find("--data-dir"), std::string::npos);
  auto version = RunJrvs({"version"});
  EXPECT_EQ(version.status, 0);
  EXPECT_NE(version.output.find(JRVS_VERSION), std::string::npos);

  TempDir dir;
  {
    store::SqliteOptions options;
    options.path = dir.path() + "/jrvs.db";
    auto store = store::SqliteStore::Open(options, nullptr, nullptr);
    ASSERT_TRUE(store);
    store::NewConversation old_turn;
    old_turn.session_id = "old";
    old_turn.user_message = "q";
    old_turn.ai_response = "a";
    old_turn.created_at_ms = 1'000'000;  // 1970
    ASSERT_TRUE((*store)->AppendConversation(old_turn));
    store::NewConversation new_turn = old_turn;
    new_turn.session_id = "new";
    new_turn.created_at_ms = 0;  // now
    ASSERT_TRUE((*store)->AppendConversation(new_turn));
  }
  auto stats = RunJrvs({"stats", "--data-dir", dir.path()});
  EXPECT_EQ(stats.status, 0) << stats.output;
  EXPECT_NE(stats.output.find("conversations"), std::string::npos);
  auto cleanup = RunJrvs({"cleanup", "--days", "30", "--data-dir", dir.path()});
  EXPECT_EQ(cleanup.status, 0) << cleanup.output;
  EXPECT_NE(cleanup.output.find("deleted 1 "), std::string::npos) << cleanup.output;
}

}  // namespace
}  // namespace jrvs::testing
