// ScrapeApi, ScrapeJobs and PageIngester over the real store, embedder, index and ingest
// pipeline, with a fake Fetcher at the network seam.
#include "api/scrape_api.h"

#include <unistd.h>

#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "rag/hash_embedder.h"
#include "rag/index_manager.h"
#include "rag/ingest_pipeline.h"
#include "store/sqlite_store.h"

namespace jrvs::api {
namespace {

namespace json = boost::json;
using scrape::FetchError;

// Pages by URL; a 304 for a matching If-None-Match; optionally blocks every fetch until opened.
class FakeFetcher : public scrape::Fetcher {
 public:
  void Add(const std::string& url, scrape::FetchResult r) {
    std::lock_guard lock(mu_);
    if (r.final_url.empty()) r.final_url = url;
    pages_[url] = std::move(r);
  }
  void AddHtml(const std::string& url, const std::string& title, const std::string& text,
               const std::string& etag = "", const std::vector<std::string>& links = {}) {
    scrape::FetchResult r;
    r.http_status = 200;
    r.content_type = "text/html";
    r.etag = etag;
    r.body = "<html><head><title>" + title + "</title></head><body><p>" + text + "</p>";
    for (const auto& l : links) r.body += "<a href=\"" + l + "\">x</a>";
    r.body += "</body></html>";
    Add(url, std::move(r));
  }
  void Fail(const std::string& url, FetchError e, int http_status = 0) {
    scrape::FetchResult r;
    r.error = e;
    r.http_status = http_status;
    r.message = "fake refusal";
    Add(url, std::move(r));
  }
  void Hold() {
    std::lock_guard lock(mu_);
    held_ = true;
  }
  void Release() {
    std::lock_guard lock(mu_);
    held_ = false;
    cv_.notify_all();
  }
  int Requests(const std::string& url) {
    std::lock_guard lock(mu_);
    return requests_[url];
  }

  scrape::FetchResult Fetch(const scrape::FetchRequest& request) override {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !held_; });
    ++requests_[request.url];
    auto it = pages_.find(request.url);
    if (it == pages_.end()) {
      scrape::FetchResult r;
      r.error = FetchError::kHttpStatus;
      r.http_status = 404;
      r.final_url = request.url;
      return r;
    }
    scrape::FetchResult r = it->second;
    if (!r.etag.empty() && r.etag == request.if_none_match) {
      scrape::FetchResult nm;
      nm.error = FetchError::kNotModified;
      nm.http_status = 304;
      nm.final_url = request.url;
      return nm;
    }
    return r;
  }

 private:
  std::mutex mu_;  // guards everything below
  std::condition_variable cv_;
  bool held_ = false;
  std::map<std::string, scrape::FetchResult> pages_;
  std::map<std::string, int> requests_;
};

class ScrapeApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("jrvs-scrape-api-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    store::SqliteOptions so;
    so.path = (dir_ / "jrvs.db").string();
    auto s = store::SqliteStore::Open(so, nullptr, nullptr);
    ASSERT_TRUE(s) << s.error().ToString();
    store_ = std::move(*s);
    embedder_ = std::make_unique<rag::HashEmbedder>();
    rag::IndexManagerOptions io;
    io.path = dir_ / "index" / "vectors.faiss";
    io.faiss.dimension = embedder_->dimension();
    io.embedding_model = std::string(embedder_->model());
    auto index = rag::IndexManager::Open(io, *store_);
    ASSERT_TRUE(index) << index.error().ToString();
    index_ = std::move(*index);
    ingest_ =
        std::make_unique<rag::IngestPipeline>(*store_, *embedder_, *index_, rag::IngestOptions{});
    ingester_ = std::make_unique<PageIngester>(*store_, *ingest_);
  }
  void TearDown() override {
    jobs_.reset();
    ingester_.reset();
    ingest_.reset();
    index_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  void MakeJobs(ScrapeJobsOptions options = {}) {
    jobs_ = std::make_unique<ScrapeJobs>(fetcher_, *ingester_, options, clock_, &metrics_);
    api_ = std::make_unique<ScrapeApi>(fetcher_, *ingester_, *jobs_, ScrapeApiOptions{}, &metrics_);
  }
  double Pages(const char* status) {
    return ScrapePagesCounter(metrics_).WithLabels({status}).Value();
  }

  Response Post(const json::object& body) {
    Request r;
    r.method = "POST";
    r.path = "/api/scrape";
    r.body = json::serialize(body);
    r.request_id = "rid-1";
    return api_->Scrape(r);
  }
  Response GetJob(const std::string& id) {
    Request r;
    r.method = "GET";
    r.path_params["id"] = id;
    return api_->GetJob(r);
  }

  std::filesystem::path dir_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<rag::HashEmbedder> embedder_;
  std::unique_ptr<rag::IndexManager> index_;
  std::unique_ptr<rag::IngestPipeline> ingest_;
  std::unique_ptr<PageIngester> ingester_;
  FakeFetcher fetcher_;
  FakeClock clock_;
  MetricsRegistry metrics_;
  std::unique_ptr<ScrapeJobs> jobs_;
  std::unique_ptr<ScrapeApi> api_;
};

TEST_F(ScrapeApiTest, OnePageIsStoredWithValidatorsInItsMetadata) {
  MakeJobs();
  fetcher_.AddHtml("http://a.test/page", "Kelp Forests", "Kelp forests shelter sea otters.",
                   "\"e1\"", {"/next"});
  Response r = Post({{"url", "HTTP://A.test/page#top"}});
  ASSERT_EQ(r.status, 200) << r.body;
  json::value body = json::parse(r.body);
  int64_t id = body.at("document_id").as_int64();
  EXPECT_EQ(body.at("title").as_string(), "Kelp Forests");
  EXPECT_EQ(body.at("url").as_string(), "http://a.test/page");
  EXPECT_EQ(body.at("status").as_string(), "created");
  EXPECT_GE(body.at("chars").as_int64(), 32);

  auto doc = store_->GetDocument(id);
  ASSERT_TRUE(doc);
  EXPECT_EQ(doc->url.value_or(""), "http://a.test/page");
  json::value meta = json::parse(doc->metadata_json);
  EXPECT_EQ(meta.at("etag").as_string(), "\"e1\"");
  EXPECT_EQ(meta.at("source").as_string(), "web");
  EXPECT_EQ(meta.at("links").as_array().at(0).as_string(), "http://a.test/next");

  Response again = Post({{"url", "http://a.test/page"}});
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(json::parse(again.body).at("status").as_string(), "unchanged");
  EXPECT_EQ(json::parse(again.body).at("document_id").as_int64(), id);
  EXPECT_EQ(Pages("added"), 1);
  EXPECT_EQ(Pages("unchanged"), 1);
}

TEST_F(ScrapeApiTest, FetchErrorsMapToStatusesWithReason) {
  MakeJobs();
  struct Case {
    FetchError error;
    int http_status;
    int want;
    const char* code;
  };
  const Case cases[] = {
      {FetchError::kInvalidUrl, 0, 400, "invalid_argument"},
      {FetchError::kBlocked, 0, 403, "permission_denied"},
      {FetchError::kRobotsDisallowed, 0, 403, "permission_denied"},
      {FetchError::kTimeout, 0, 504, "deadline_exceeded"},
      {FetchError::kTooLarge, 0, 413, "payload_too_large"},
      {FetchError::kUnsupportedType, 0, 415, "unsupported_media_type"},
      {FetchError::kConnect, 0, 502, "bad_gateway"},
      {FetchError::kHttpStatus, 500, 502, "bad_gateway"},
  };
  int n = 0;
  for (const auto& c : cases) {
    std::string url = "http://a.test/e" + std::to_string(n++);
    fetcher_.Fail(url, c.error, c.http_status);
    Response r = Post({{"url", url}});
    EXPECT_EQ(r.status, c.want) << scrape::FetchErrorName(c.error) << r.body;
    json::value e = json::parse(r.body).at("error");
    EXPECT_EQ(e.at("code").as_string(), c.code);
    EXPECT_EQ(e.at("reason").as_string(), scrape::FetchErrorName(c.error));
    EXPECT_EQ(e.at("request_id").as_string(), "rid-1");
    if (c.http_status > 0) {
      EXPECT_EQ(e.at("upstream_status").as_int64(), c.http_status);
    }
  }
}

TEST_F(ScrapeApiTest, ValidatesTheRequest) {
  MakeJobs();
  EXPECT_EQ(Post({}).status, 400);
  EXPECT_EQ(Post({{"url", ""}}).status, 400);
  EXPECT_EQ(Post({{"url", 5}}).status, 400);
  EXPECT_EQ(Post({{"url", "javascript:alert(1)"}}).status, 400);
  EXPECT_EQ(Post({{"url", "http://a.test/"}, {"depth", 6}}).status, 400);
  EXPECT_EQ(Post({{"url", "http://a.test/"}, {"max_pages", 0}}).status, 400);
  EXPECT_EQ(Post({{"url", "http://a.test/"}, {"max_pages", 1001}}).status, 400);
  EXPECT_EQ(Post({{"url", "http://a.test/"}, {"same_host", "yes"}}).status, 400);
  Request bad;
  bad.body = "{not json";
  EXPECT_EQ(api_->Scrape(bad).status, 400);
  EXPECT_EQ(fetcher_.Requests("http://a.test/"), 0);
}

TEST_F(ScrapeApiTest, CrawlJobReportsResultsAndRecrawlSkipsUnchanged) {
  MakeJobs();
  fetcher_.AddHtml("http://a.test/", "Home", "Home of the tide tables.", "\"h1\"",
                   {"/a", "/b", "/robots-no"});
  fetcher_.AddHtml("http://a.test/a", "A", "Page a talks about anchors.", "\"a1\"");
  fetcher_.AddHtml("http://a.test/b", "B", "Page b talks about buoys.");  // no ETag
  fetcher_.Fail("http://a.test/robots-no", FetchError::kRobotsDisallowed);

  Response r = Post({{"url", "http://a.test/"}, {"depth", 1}, {"max_pages", 10}});
  ASSERT_EQ(r.status, 202) << r.body;
  std::string id(json::parse(r.body).at("job_id").as_string());
  EXPECT_EQ(id.size(), 16u);
  auto done = jobs_->Wait(id);
  ASSERT_TRUE(done);
  Response job = GetJob(id);
  ASSERT_EQ(job.status, 200);
  json::value j = json::parse(job.body);
  EXPECT_EQ(j.at("state").as_string(), "done");
  EXPECT_EQ(j.at("queued").as_int64(), 4);
  EXPECT_EQ(j.at("done").as_int64(), 3);
  EXPECT_EQ(j.at("skipped").as_int64(), 1);
  EXPECT_EQ(j.at("results").as_array().size(), 4u);
  EXPECT_EQ(j.at("started_at").as_int64(), clock_.NowUnixMs());

  // Second crawl: 304s for the pages with an ETag, an equal hash for the one without.
  Response r2 = Post({{"url", "http://a.test/"}, {"depth", 1}, {"max_pages", 10}});
  ASSERT_EQ(r2.status, 202);
  auto second = jobs_->Wait(std::string(json::parse(r2.body).at("job_id").as_string()));
  ASSERT_TRUE(second);
  int unchanged = 0;
  for (const auto& p : second->results) {
    if (p.status == scrape::PageStatus::kUnchanged) {
      ++unchanged;
      EXPECT_GT(p.document_id, 0) << p.url;
    }
  }
  EXPECT_EQ(unchanged, 3);
  EXPECT_EQ(Pages("added"), 3);
  EXPECT_EQ(Pages("unchanged"), 3);
  EXPECT_EQ(Pages("skipped"), 2);
  EXPECT_EQ(fetcher_.Requests("http://a.test/a"), 2);  // asked again, answered 304
}

TEST_F(ScrapeApiTest, FullRegistryAnswers429AndCancelStopsAJob) {
  ScrapeJobsOptions o;
  o.max_running = 1;
  MakeJobs(o);
  std::vector<std::string> links;
  for (int i = 0; i < 20; ++i) {
    links.push_back("/p" + std::to_string(i));
    fetcher_.AddHtml("http://a.test/p" + std::to_string(i), "P", "page text " + std::to_string(i));
  }
  fetcher_.AddHtml("http://a.test/", "Home", "home text", "", links);
  fetcher_.Hold();
  Response first = Post({{"url", "http://a.test/"}, {"depth", 1}, {"max_pages", 50}});
  ASSERT_EQ(first.status, 202) << first.body;
  std::string id(json::parse(first.body).at("job_id").as_string());
  Response second = Post({{"url", "http://a.test/"}, {"depth", 1}, {"max_pages", 50}});
  EXPECT_EQ(second.status, 429) << second.body;
  bool retry_after = false;
  for (const auto& [k, v] : second.headers) retry_after |= k == "Retry-After";
  EXPECT_TRUE(retry_after);

  Request cancel;
  cancel.path_params["id"] = id;
  EXPECT_EQ(api_->CancelJob(cancel).status, 202);
  fetcher_.Release();
  auto finished = jobs_->Wait(id);
  ASSERT_TRUE(finished);
  EXPECT_EQ(finished->state, JobState::kCancelled);
  EXPECT_LT(finished->results.size(), 21u);
  // A slot is free again.
  EXPECT_EQ(Post({{"url", "http://a.test/p1"}, {"max_pages", 2}}).status, 202);
}

TEST_F(ScrapeApiTest, FinishedJobsExpire) {
  ScrapeJobsOptions o;
  o.keep_finished_ms = 1000;
  MakeJobs(o);
  fetcher_.AddHtml("http://a.test/", "Home", "home text");
  Response r = Post({{"url", "http://a.test/"}, {"max_pages", 2}});
  ASSERT_EQ(r.status, 202);
  std::string id(json::parse(r.body).at("job_id").as_string());
  ASSERT_TRUE(jobs_->Wait(id));
  EXPECT_EQ(GetJob(id).status, 200);
  clock_.AdvanceMs(1001);
  EXPECT_EQ(GetJob(id).status, 404);
  EXPECT_EQ(GetJob("ffffffffffffffff").status, 404);
}

TEST_F(ScrapeApiTest, CrawlThatStoresNothingFails) {
  MakeJobs();
  fetcher_.Fail("http://a.test/private", FetchError::kRobotsDisallowed);
  for (const char* url : {"http://a.test/missing", "http://a.test/private"}) {
    Response r = Post({{"url", url}, {"depth", 1}, {"max_pages", 5}});
    ASSERT_EQ(r.status, 202) << r.body;
    auto job = jobs_->Wait(std::string(json::parse(r.body).at("job_id").as_string()));
    ASSERT_TRUE(job);
    EXPECT_EQ(job->state, JobState::kFailed) << url;
    ASSERT_EQ(job->results.size(), 1u);
    EXPECT_FALSE(job->results[0].error.empty());
  }
}

TEST_F(ScrapeApiTest, PdfPagesGoThroughThePdfLoader) {
  MakeJobs();
  const char* data = std::getenv("JRVS_TEST_DATA_DIR");
  ASSERT_NE(data, nullptr);
  std::ifstream in(std::filesystem::path(data) / "docs" / "two_pages.pdf", std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  scrape::FetchResult pdf;
  pdf.http_status = 200;
  pdf.content_type = "application/pdf";
  pdf.body = bytes.str();
  fetcher_.Add("http://a.test/report?id=3", pdf);
  Response r = Post({{"url", "http://a.test/report?id=3"}});
  ASSERT_EQ(r.status, 200) << r.body;
  auto doc = store_->GetDocument(json::parse(r.body).at("document_id").as_int64());
  ASSERT_TRUE(doc);
  EXPECT_EQ(doc->content_type, "application/pdf");
  EXPECT_EQ(json::parse(doc->metadata_json).at("pages").as_int64(), 2);

  scrape::FetchResult corrupt = pdf;
  corrupt.body = "%PDF-1.4 not really";
  fetcher_.Add("http://a.test/bad.pdf", corrupt);
  EXPECT_EQ(Post({{"url", "http://a.test/bad.pdf"}}).status, 400);
}

}  // namespace
}  // namespace jrvs::api
