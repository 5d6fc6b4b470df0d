#include "api/system_api.h"

#include <gtest/gtest.h>

#include <filesystem>

#include <boost/json.hpp>

#include "store/sqlite_store.h"

namespace jrvs::api {
namespace {

namespace json = boost::json;

class SystemApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("jrvs-sysapi-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    store::SqliteOptions options;
    options.path = (dir_ / "jrvs.db").string();
    auto opened = store::SqliteStore::Open(options, nullptr, &clock_);
    ASSERT_TRUE(opened) << opened.error().ToString();
    store_ = std::move(*opened);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  SystemApi Make(SystemApiDeps deps = {}, SystemApiOptions options = {}) {
    deps.store = store_.get();
    deps.metrics = &metrics_;
    deps.clock = &clock_;
    return SystemApi(std::move(deps), options);
  }
  static Request Get(std::string path, std::map<std::string, std::string> params = {},
                     std::vector<std::pair<std::string, std::string>> query = {}) {
    Request r;
    r.method = "GET";
    r.path = std::move(path);
    r.path_params = std::move(params);
    r.query = std::move(query);
    r.request_id = "rid-1";
    return r;
  }

  std::filesystem::path dir_;
  FakeClock clock_;
  MetricsRegistry metrics_;
  std::unique_ptr<store::SqliteStore> store_;
};

TEST_F(SystemApiTest, HealthyWithDatabaseCheck) {
  SystemApiDeps deps;
  deps.current_model = [] { return std::string("llama3.2"); };
  auto api = Make(deps);
  Response r = api.Health(Get("/health"));
  EXPECT_EQ(r.status, 200);
  auto body = json::parse(r.body);
  EXPECT_EQ(body.at("status").as_string(), "healthy");
  EXPECT_EQ(body.at("model").as_string(), "llama3.2");
  EXPECT_TRUE(body.at("checks").at("database").at("ok").as_bool());
}

TEST_F(SystemApiTest, StartingAndDegradedAre503) {
  std::atomic<bool> ready{false};
  bool llm_ok = true;
  SystemApiDeps deps;
  deps.ready = &ready;
  deps.checks.push_back({"llm", [&] { return CheckResult{llm_ok, llm_ok ? "ok" : "down", 0}; }});
  auto api = Make(deps, {.health_cache_ms = 0});
  Response starting = api.Health(Get("/health"));
  EXPECT_EQ(starting.status, 503);
  EXPECT_EQ(json::parse(starting.body).at("status").as_string(), "starting");
  ready = true;
  EXPECT_EQ(api.Health(Get("/health")).status, 200);
  llm_ok = false;
  Response degraded = api.Health(Get("/health"));
  EXPECT_EQ(degraded.status, 503);
  auto body = json::parse(degraded.body);
  EXPECT_EQ(body.at("status").as_string(), "degraded");
  EXPECT_EQ(body.at("checks").at("llm").at("detail").as_string(), "down");
}

TEST_F(SystemApiTest, ChecksAreCachedForTheConfiguredTime) {
  int runs = 0;
  std::atomic<bool> ready{true};
  SystemApiDeps deps;
  deps.ready = &ready;
  deps.checks.push_back({"counter", [&] {
                           ++runs;
                           return CheckResult{};
                         }});
  auto api = Make(deps, {.health_cache_ms = 250});
  api.Health(Get("/health"));
  api.Health(Get("/health"));
  EXPECT_EQ(runs, 1);
  clock_.AdvanceMs(251);
  api.Health(Get("/health"));
  EXPECT_EQ(runs, 2);
  // A change of readiness is never hidden by the cache.
  ready = false;
  EXPECT_EQ(api.Health(Get("/health")).status, 503);
  EXPECT_EQ(runs, 3);
}

TEST_F(SystemApiTest, HistoryValidatesAndOrders) {
  for (int i = 0; i < 4; ++i) {
    store::NewConversation t;
    t.session_id = "abc";
    t.user_message = "m" + std::to_string(i);
    t.ai_response = "r";
    ASSERT_TRUE(store_->AppendConversation(t));
    clock_.AdvanceMs(10);
  }
  auto api = Make();
  Response bad = api.GetHistory(Get("/api/history/x", {{"session_id", "a b"}}));
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(json::parse(bad.body).at("error").at("request_id").as_string(), "rid-1");
  EXPECT_EQ(api.GetHistory(Get("/h", {{"session_id", "abc"}}, {{"limit", "-1"}})).status, 400);
  EXPECT_EQ(api.GetHistory(Get("/h", {{"session_id", "abc"}}, {{"limit", "2x"}})).status, 400);
  Response ok = api.GetHistory(Get("/h", {{"session_id", "abc"}}, {{"limit", "2"}}));
  ASSERT_EQ(ok.status, 200);
  auto history = json::parse(ok.body).at("history").as_array();
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[0].at("user_message").as_string(), "m2");
  EXPECT_EQ(history[1].at("user_message").as_string(), "m3");
  Response del = api.DeleteHistory(Get("/h", {{"session_id", "abc"}}));
  EXPECT_EQ(json::parse(del.body).at("deleted").as_int64(), 4);
}

TEST_F(SystemApiTest, SessionIdRule) {
  EXPECT_TRUE(IsValidSessionId("a-B_9"));
  EXPECT_TRUE(IsValidSessionId(std::string(128, 'x')));
  EXPECT_FALSE(IsValidSessionId(std::string(129, 'x')));
  EXPECT_FALSE(IsValidSessionId(""));
  EXPECT_FALSE(IsValidSessionId("a/b"));
  EXPECT_FALSE(IsValidSessionId("é"));
}

TEST_F(SystemApiTest, StatsHaveJrvsKeysAndMetricsRender) {
  SystemApiDeps deps;
  deps.index_info = [] {
    IndexInfo i;
    i.total_vectors = 7;
    i.dimension = 384;
    i.index_type = "flat";
    i.embedding_dimension = 384;
    return i;
  };
  RegisterProcessMetrics(metrics_);
  auto api = Make(deps);
  auto body = json::parse(api.Stats(Get("/api/stats")).body);
  EXPECT_EQ(body.at("vector_store").at("total_vectors").as_int64(), 7);
  EXPECT_EQ(body.at("vector_store").at("index_type").as_string(), "flat");
  EXPECT_EQ(body.at("embedding_dimension").as_int64(), 384);
  Response m = api.Metrics(Get("/metrics"));
  EXPECT_NE(m.content_type.find("text/plain"), std::string::npos);
  EXPECT_NE(m.body.find("process_resident_memory_bytes "), std::string::npos);
}

}  // namespace
}  // namespace jrvs::api
