// End-to-end: scraping through the real binary against a FixtureSite on 127.0.0.1 in the test
// process — POST /api/scrape (one page, refusals), crawl jobs (limits, loops, robots.txt,
// re-crawl of unchanged pages) and `jrvs scrape`.
#include <gtest/gtest.h>

#include <cstdlib>
#include <thread>

#include <fmt/format.h>

#include "fakes/fixture_site.h"
#include "server_util.h"

namespace jrvs::testing {
namespace {

namespace json = boost::json;

const std::map<std::string, std::string> kAllowPrivate = {{"JRVS_SCRAPE_ALLOW_PRIVATE", "true"},
                                                          {"JRVS_SCRAPE_POLITENESS_MS", "0"}};

std::string SiteDir() {
  const char* dir = std::getenv("JRVS_TEST_DATA_DIR");
  return std::string(dir ? dir : "tests/data") + "/site";
}

std::unique_ptr<FixtureSite> StartSite() {
  FixtureSite::Options options;
  options.root_dir = SiteDir();
  return FixtureSite::Start(options);
}

std::string Page(const std::string& title, const std::string& text,
                 const std::vector<std::string>& links = {}) {
  std::string html = fmt::format(
      "<!DOCTYPE html><html><head><title>{}</title></head><body><main>"
      "<h1>{}</h1><p>{}</p>",
      title, title, text);
  for (const auto& l : links) html += fmt::format("<p><a href=\"{}\">{}</a></p>", l, l);
  return html + "</main></body></html>";
}

HttpResponse PostScrape(ApiClient& client, const json::object& body) {
  return client.Request("POST", "/api/scrape", json::serialize(body),
                        {{"Content-Type", "application/json"}});
}

// Polls GET /api/jobs/{id} until the job has finished (or 30 s pass).
json::value WaitForJob(ApiClient& client, const std::string& id) {
  for (int i = 0; i < 600; ++i) {
    auto r = client.Request("GET", "/api/jobs/" + id);
    EXPECT_EQ(r.status, 200) << r.body;
    if (r.status != 200) return nullptr;
    json::value job = ParseJson(r.body);
    std::string state(job.at("state").as_string());
    if (state != "queued" && state != "running") return job;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ADD_FAILURE() << "job " << id << " did not finish";
  return nullptr;
}

// url -> status of every result of a finished job.
std::map<std::string, std::string> ResultStatuses(const json::value& job) {
  std::map<std::string, std::string> out;
  for (const auto& r : job.at("results").as_array()) {
    out[std::string(r.at("url").as_string())] = std::string(r.at("status").as_string());
  }
  return out;
}

std::string StartJob(ApiClient& client, const std::string& url, int depth, int max_pages) {
  auto r = PostScrape(client, {{"url", url}, {"depth", depth}, {"max_pages", max_pages}});
  EXPECT_EQ(r.status, 202) << r.body;
  if (r.status != 202) return {};
  return std::string(ParseJson(r.body).at("job_id").as_string());
}

TEST(ScrapeE2E, OnePageIsScrapedThenFoundBySearch) {
  auto site = StartSite();
  ASSERT_TRUE(site);
  site->SetFile("/solar.html",
                Page("Heliotrope Observatory",
                     "The heliotrope observatory measures quasar flicker every night."),
                "text/html; charset=utf-8");
  TempDir dir;
  auto server = ServerProcess::Start(dir.path(), {}, kAllowPrivate);
  ASSERT_TRUE(server);
  auto client = server->Client();

  auto r = PostScrape(client, {{"url", site->Url("/solar.html")}});
  ASSERT_EQ(r.status, 200) << r.body;
  auto body = ParseJson(r.body);
  EXPECT_TRUE(body.at("success").as_bool());
  int64_t id = body.at("document_id").as_int64();
  EXPECT_EQ(body.at("title").as_string(), "Heliotrope Observatory");
  EXPECT_GT(body.at("chars").as_int64(), 40);
  EXPECT_EQ(body.at("url").as_string(), site->Url("/solar.html"));

  auto search = client.Request("GET", "/api/search?q=quasar%20flicker");
  ASSERT_EQ(search.status, 200) << search.body;
  json::value search_body = ParseJson(search.body);
  const auto& results = search_body.at("results").as_array();
  ASSERT_FALSE(results.empty());
  EXPECT_EQ(results[0].at("document_id").as_int64(), id);
  EXPECT_EQ(results[0].at("url").as_string(), site->Url("/solar.html"));

  // The same page again is recognised, not duplicated.
  auto again = PostScrape(client, {{"url", site->Url("/solar.html")}});
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(ParseJson(again.body).at("document_id").as_int64(), id);
  EXPECT_EQ(ParseJson(again.body).at("status").as_string(), "unchanged");
}

TEST(ScrapeE2E, InvalidRequestsAndRefusedFetchesMapToStatuses) {
  auto site = StartSite();
  ASSERT_TRUE(site);
  TempDir dir;
  auto server = ServerProcess::Start(dir.path(), {}, kAllowPrivate);
  ASSERT_TRUE(server);
  auto client = server->Client();

  auto code = [&](const json::object& body) { return PostScrape(client, body).status; };
  EXPECT_EQ(code({}), 400);
  EXPECT_EQ(code({{"url", "ftp://example.com/x"}}), 400);
  EXPECT_EQ(code({{"url", "not a url"}}), 400);
  EXPECT_EQ(code({{"url", site->Url("/")}, {"depth", 6}}), 400);
  EXPECT_EQ(code({{"url", site->Url("/")}, {"depth", -1}}), 400);
  EXPECT_EQ(code({{"url", site->Url("/")}, {"max_pages", 0}}), 400);
  EXPECT_EQ(code({{"url", site->Url("/")}, {"max_pages", 1001}}), 400);
  EXPECT_EQ(code({{"url", site->Url("/")}, {"depth", "two"}}), 400);

  auto robots = PostScrape(client, {{"url", site->Url("/private/secret.html")}});
  EXPECT_EQ(robots.status, 403) << robots.body;
  EXPECT_EQ(ParseJson(robots.body).at("error").at("reason").as_string(), "robots_disallowed");
  EXPECT_EQ(site->Requests("/private/secret.html"), 0u);

  auto missing = PostScrape(client, {{"url", site->Url("/no-such-page.html")}});
  EXPECT_EQ(missing.status, 502) << missing.body;
  auto missing_error = ParseJson(missing.body).at("error");
  EXPECT_EQ(missing_error.at("reason").as_string(), "http_status");
  EXPECT_EQ(missing_error.at("upstream_status").as_int64(), 404);
  EXPECT_FALSE(missing_error.at("request_id").as_string().empty());

  auto wrong_type = PostScrape(client, {{"url", site->Url("/wrong_type.html")}});
  EXPECT_EQ(wrong_type.status, 415) << wrong_type.body;

  EXPECT_EQ(client.Request("GET", "/api/jobs/0123456789abcdef").status, 404);
}

TEST(ScrapeE2E, PrivateAddressIsRefusedWithoutAllowPrivate) {
  auto site = StartSite();
  ASSERT_TRUE(site);
  TempDir dir;
  auto server = ServerProcess::Start(dir.path());
  ASSERT_TRUE(server);
  auto client = server->Client();
  auto r = PostScrape(client, {{"url", site->Url("/index.html")}});
  EXPECT_EQ(r.status, 403) << r.body;
  auto error = ParseJson(r.body).at("error");
  EXPECT_EQ(error.at("code").as_string(), "permission_denied");
  EXPECT_EQ(error.at("reason").as_string(), "blocked");
  EXPECT_EQ(site->Requests("/index.html"), 0u);
  EXPECT_EQ(server->Stop(), 0);

  // scrape.allow_addresses opens exactly the listed range.
  TempDir dir2;
  auto opened = ServerProcess::Start(
      dir2.path(), {},
      {{"JRVS_SCRAPE_ALLOW_ADDRESSES", "127.0.0.1/32"}, {"JRVS_SCRAPE_POLITENESS_MS", "0"}});
  ASSERT_TRUE(opened);
  auto client2 = opened->Client();
  r = PostScrape(client2, {{"url", site->Url("/index.html")}});
  EXPECT_EQ(r.status, 200) << r.body;
  r = PostScrape(client2, {{"url", site->Url("/redirect?to=http://127.0.0.2/")}});
  EXPECT_EQ(r.status, 403) << r.body;  // another loopback address is still refused
  EXPECT_EQ(opened->Stop(), 0);
}

// A small site: root -> a1, a2, a3 (a1 links back to root: a loop; a2 -> b2 one level deeper),
// root -> /private/secret.html (robots.txt disallows /private/).
void AddCrawlSite(FixtureSite& site) {
  auto html = "text/html; charset=utf-8";
  site.SetFile("/c/root.html",
               Page("Root", "The root page of the crawl site about marmalade.",
                    {"/c/a1.html", "/c/a2.html", "/c/a3.html", "/private/secret.html"}),
               html);
  site.SetFile("/c/a1.html", Page("A1", "Apricot pages loop back home.", {"/c/root.html"}), html);
  site.SetFile("/c/a2.html", Page("A2", "Bergamot is one level down.", {"/c/b2.html"}), html);
  site.SetFile("/c/a3.html", Page("A3", "Cardamom closes the first level."), html);
  site.SetFile("/c/b2.html", Page("B2", "Deeper damson page beyond depth one."), html);
}

TEST(ScrapeE2E, CrawlJobRespectsLimitsLoopsAndRobotsThenRecrawlSkipsUnchanged) {
  auto site = StartSite();
  ASSERT_TRUE(site);
  AddCrawlSite(*site);
  TempDir dir;
  auto server = ServerProcess::Start(dir.path(), {}, kAllowPrivate);
  ASSERT_TRUE(server);
  auto client = server->Client();

  std::string id = StartJob(client, site->Url("/c/root.html"), 1, 50);
  ASSERT_FALSE(id.empty());
  json::value job = WaitForJob(client, id);
  ASSERT_FALSE(job.is_null());
  EXPECT_EQ(job.at("state").as_string(), "done") << job;
  auto statuses = ResultStatuses(job);
  EXPECT_EQ(statuses.size(), 5u) << job;
  EXPECT_EQ(statuses[site->Url("/c/root.html")], "added");
  EXPECT_EQ(statuses[site->Url("/c/a1.html")], "added");
  EXPECT_EQ(statuses[site->Url("/c/a2.html")], "added");
  EXPECT_EQ(statuses[site->Url("/c/a3.html")], "added");
  EXPECT_EQ(statuses[site->Url("/private/secret.html")], "skipped");
  EXPECT_EQ(job.at("done").as_int64(), 4);
  EXPECT_EQ(job.at("skipped").as_int64(), 1);
  EXPECT_EQ(job.at("failed").as_int64(), 0);
  EXPECT_TRUE(job.at("started_at").is_int64());
  EXPECT_TRUE(job.at("finished_at").is_int64());
  // Depth 1 stops before b2; the loop back to root does not fetch it again.
  EXPECT_EQ(site->Requests("/c/b2.html"), 0u);
  EXPECT_EQ(site->Requests("/c/root.html"), 1u);
  EXPECT_EQ(site->Requests("/private/secret.html"), 0u);

  // max_pages caps the crawl even with depth to spare.
  std::string capped = StartJob(client, site->Url("/c/root.html"), 3, 2);
  json::value capped_job = WaitForJob(client, capped);
  ASSERT_FALSE(capped_job.is_null());
  EXPECT_EQ(capped_job.at("queued").as_int64(), 2);
  EXPECT_EQ(capped_job.at("results").as_array().size(), 2u);

  // Re-crawl: nothing changed, so every stored page is unchanged (304 to the remembered ETag)
  // and nothing is re-ingested; then one page changes and only it is updated.
  site->SetFile("/c/a3.html", Page("A3", "Cardamom closes the first level."),
                "text/html; charset=utf-8");  // same bytes: same ETag
  std::string again = StartJob(client, site->Url("/c/root.html"), 1, 50);
  json::value again_job = WaitForJob(client, again);
  ASSERT_FALSE(again_job.is_null());
  auto again_statuses = ResultStatuses(again_job);
  EXPECT_EQ(again_statuses[site->Url("/c/root.html")], "unchanged");
  EXPECT_EQ(again_statuses[site->Url("/c/a1.html")], "unchanged");
  EXPECT_EQ(again_statuses[site->Url("/c/a2.html")], "unchanged");
  EXPECT_EQ(again_statuses[site->Url("/c/a3.html")], "unchanged");
  EXPECT_EQ(again_job.at("done").as_int64(), 4);

  site->SetFile("/c/a2.html", Page("A2", "Bergamot changed its mind.", {"/c/b2.html"}),
                "text/html; charset=utf-8");
  std::string third = StartJob(client, site->Url("/c/root.html"), 1, 50);
  json::value third_job = WaitForJob(client, third);
  ASSERT_FALSE(third_job.is_null());
  auto third_statuses = ResultStatuses(third_job);
  EXPECT_EQ(third_statuses[site->Url("/c/a2.html")], "updated");
  EXPECT_EQ(third_statuses[site->Url("/c/a1.html")], "unchanged");
  auto search = client.Request("GET", "/api/search?q=bergamot");
  ASSERT_EQ(search.status, 200);
  EXPECT_NE(search.body.find("changed its mind"), std::string::npos) << search.body;
  EXPECT_EQ(server->Stop(), 0);
}

TEST(ScrapeE2E, SitemapSeedsTheCrawl) {
  auto site = StartSite();
  ASSERT_TRUE(site);
  TempDir dir;
  auto server = ServerProcess::Start(dir.path(), {}, kAllowPrivate);
  ASSERT_TRUE(server);
  auto client = server->Client();
  // A leaf page at depth 0: every other page can only come from /sitemap.xml (application/xml).
  auto r = PostScrape(
      client,
      {{"url", site->Url("/notes.txt")}, {"depth", 0}, {"max_pages", 20}, {"sitemap", true}});
  ASSERT_EQ(r.status, 202) << r.body;
  json::value job = WaitForJob(client, std::string(ParseJson(r.body).at("job_id").as_string()));
  ASSERT_FALSE(job.is_null());
  auto statuses = ResultStatuses(job);
  EXPECT_EQ(site->Requests("/sitemap.xml"), 1u);
  for (const char* path : {"/notes.txt", "/index.html", "/article.html", "/links.html",
                           "/loop/a.html", "/loop/b.html"}) {
    EXPECT_EQ(statuses[site->Url(path)], "added") << path << "\n" << job;
  }
  EXPECT_EQ(server->Stop(), 0);
}

TEST(ScrapeE2E, StopDuringACrawlCancelsItAndExitsCleanly) {
  auto site = StartSite();
  ASSERT_TRUE(site);
  std::vector<std::string> links;
  for (int i = 0; i < 30; ++i) {
    std::string path = fmt::format("/slow/{}.html", i);
    links.push_back(path);
    FixtureSite::Route slow;
    slow.body = Page(fmt::format("Slow {}", i), "A page that takes its time.");
    slow.delay_ms = 200;
    site->SetRoute(path, slow);
  }
  site->SetFile("/slow/index.html", Page("Slow hub", "Links to slow pages.", links),
                "text/html; charset=utf-8");
  TempDir dir;
  auto server = ServerProcess::Start(dir.path(), {}, kAllowPrivate);
  ASSERT_TRUE(server);
  auto client = server->Client();
  std::string id = StartJob(client, site->Url("/slow/index.html"), 1, 31);
  ASSERT_FALSE(id.empty());
  // Wait until the crawl is under way, then stop the server: running crawls are cancelled
  // (pages in flight finish) and the process exits 0 long before 30 slow pages would be done.
  for (int i = 0; i < 200 && site->Requests("/slow/0.html") == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(server->Stop(), 0);
  size_t fetched = 0;
  for (const auto& path : links) fetched += site->Requests(path);
  EXPECT_LT(fetched, 30u);
}

TEST(ScrapeE2E, ScrapeCommandPrintsASummary) {
  auto site = StartSite();
  ASSERT_TRUE(site);
  AddCrawlSite(*site);
  TempDir dir;
  auto first = RunJrvs({"scrape", "--data-dir", dir.path(), "--depth", "1", "--max-pages", "10",
                        site->Url("/c/root.html")},
                       kAllowPrivate);
  EXPECT_EQ(first.status, 0) << first.output;
  EXPECT_NE(first.output.find("5 pages: 4 added, 0 updated, 0 unchanged, 0 failed, 1 skipped"),
            std::string::npos)
      << first.output;
  // The final progress line counts pages of the pages discovered (not files of --max-pages).
  EXPECT_NE(first.output.find("5/5 pages"), std::string::npos) << first.output;

  auto second = RunJrvs({"scrape", "--data-dir", dir.path(), "--depth", "1", "--max-pages", "10",
                         site->Url("/c/root.html")},
                        kAllowPrivate);
  EXPECT_EQ(second.status, 0) << second.output;
  EXPECT_NE(second.output.find("4 unchanged"), std::string::npos) << second.output;

  auto search = RunJrvs({"search", "--data-dir", dir.path(), "cardamom"});
  EXPECT_EQ(search.status, 0) << search.output;
  EXPECT_NE(search.output.find("A3"), std::string::npos) << search.output;

  // Nothing scraped: a non-zero exit.
  auto missing =
      RunJrvs({"scrape", "--data-dir", dir.path(), site->Url("/nothing-here.html")}, kAllowPrivate);
  EXPECT_NE(missing.status, 0) << missing.output;
  EXPECT_NE(missing.output.find("1 failed"), std::string::npos) << missing.output;
}

}  // namespace
}  // namespace jrvs::testing
