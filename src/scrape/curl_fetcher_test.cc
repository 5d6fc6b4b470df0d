#include "scrape/curl_fetcher.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "fakes/fixture_site.h"
#include "scrape/charset.h"

namespace jrvs::scrape {
namespace {

using testing::FixtureSite;

std::string DataDir() {
  const char* dir = std::getenv("JRVS_TEST_DATA_DIR");
  return dir != nullptr ? dir : "tests/data";
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The fetcher as tests use it against the fixture site: loopback allowed, no politeness delay.
CurlFetcherOptions LoopbackOptions() {
  CurlFetcherOptions o;
  o.allow_private = true;
  o.politeness_ms = 0;
  return o;
}

class CurlFetcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    site_ = FixtureSite::Start({DataDir() + "/site"});
    ASSERT_NE(site_, nullptr);
  }
  FetchResult Get(CurlFetcher& f, std::string_view path) {
    FetchRequest req;
    req.url = site_->Url(path);
    return f.Fetch(req);
  }
  std::unique_ptr<FixtureSite> site_;
};

TEST_F(CurlFetcherTest, FetchesAPageWithValidators) {
  CurlFetcher f(LoopbackOptions());
  FetchResult r = Get(f, "/article.html");
  ASSERT_TRUE(r.ok()) << FetchErrorName(r.error) << ": " << r.message;
  EXPECT_EQ(r.http_status, 200);
  EXPECT_EQ(r.final_url, site_->Url("/article.html"));
  EXPECT_EQ(r.content_type, "text/html");
  EXPECT_EQ(r.charset, "utf-8");
  EXPECT_NE(r.body.find("Tidal Energy Explained"), std::string::npos);
  EXPECT_FALSE(r.etag.empty());
  EXPECT_FALSE(r.last_modified.empty());

  FetchResult txt = Get(f, "/notes.txt");
  ASSERT_TRUE(txt.ok()) << txt.message;
  EXPECT_EQ(txt.content_type, "text/plain");
}

TEST_F(CurlFetcherTest, FollowsRedirectsUpToTheLimit) {
  CurlFetcher f(LoopbackOptions());
  FetchResult ok = Get(f, "/redirect-chain?n=5");
  ASSERT_TRUE(ok.ok()) << ok.message;
  EXPECT_EQ(ok.final_url, site_->Url("/redirect-chain?n=0"));
  EXPECT_NE(ok.body.find("End of the chain"), std::string::npos);

  FetchResult over = Get(f, "/redirect-chain?n=6");
  EXPECT_EQ(over.error, FetchError::kTooManyRedirects) << over.message;
  EXPECT_EQ(over.http_status, 302);

  FetchResult to_page = Get(f, "/redirect?to=%2Flinks.html");
  ASSERT_TRUE(to_page.ok()) << to_page.message;
  EXPECT_EQ(to_page.final_url, site_->Url("/links.html"));
}

TEST_F(CurlFetcherTest, RedirectToANonPublicAddressIsRefusedOnThatHop) {
  // Loopback is opened for the fixture site only; every other private range stays shut.
  CurlFetcherOptions o = LoopbackOptions();
  o.allow_private = false;
  o.allow_addresses = {"127.0.0.1/32"};
  CurlFetcher f(o);
  ASSERT_TRUE(Get(f, "/article.html").ok());
  for (const char* to : {"http%3A%2F%2F169.254.169.254%2Flatest%2Fmeta-data%2F",
                         "http%3A%2F%2F10.0.0.1%2F", "http%3A%2F%2F0x7f000002%2F",
                         "http%3A%2F%2F%5B%3A%3A1%5D%2F", "http%3A%2F%2F100.64.0.1%2F"}) {
    FetchResult r = Get(f, std::string("/redirect?to=") + to);
    EXPECT_EQ(r.error, FetchError::kBlocked) << to << ": " << r.message;
    EXPECT_NE(r.message.find("redirect to"), std::string::npos) << r.message;
  }
  FetchResult scheme = Get(f, "/redirect?to=file%3A%2F%2F%2Fetc%2Fpasswd");
  EXPECT_EQ(scheme.error, FetchError::kInvalidUrl) << scheme.message;
}

TEST_F(CurlFetcherTest, HostnameResolvingToLoopbackIsRefusedWithoutAllowPrivate) {
  CurlFetcherOptions o;  // production defaults
  o.respect_robots = false;
  CurlFetcher f(o);
  FetchRequest req;
  req.url = "http://localhost:" + std::to_string(site_->port()) + "/article.html";
  FetchResult r = f.Fetch(req);
  EXPECT_EQ(r.error, FetchError::kBlocked) << r.message;
  req.url = site_->Url("/article.html");
  EXPECT_EQ(f.Fetch(req).error, FetchError::kBlocked);
  EXPECT_EQ(site_->Requests("/article.html"), 0u);  // nothing reached the server
}

TEST_F(CurlFetcherTest, ConnectsToTheCheckedAddressOfAName) {
  // "fixture.test" exists only in the guard's resolver: the fetch can only succeed if libcurl
  // connects to the address the guard checked instead of resolving the name again.
  CurlFetcherOptions o = LoopbackOptions();
  o.resolve = [](const std::string& host) {
    std::vector<IpAddress> out;
    if (host == "fixture.test") out.push_back(*ParseNumericIpv4("127.0.0.1"));
    return out;
  };
  CurlFetcher f(o);
  FetchRequest req;
  req.url = "http://fixture.test:" + std::to_string(site_->port()) + "/article.html";
  FetchResult r = f.Fetch(req);
  ASSERT_TRUE(r.ok()) << FetchErrorName(r.error) << ": " << r.message;
  EXPECT_EQ(r.final_url, req.url);
  req.url = "http://other.test:" + std::to_string(site_->port()) + "/";
  EXPECT_EQ(f.Fetch(req).error, FetchError::kDns);
}

TEST_F(CurlFetcherTest, OversizedBodiesAreCutOff) {
  CurlFetcher f(LoopbackOptions());
  FetchResult announced = Get(f, "/big");  // 6 MiB with Content-Length
  EXPECT_EQ(announced.error, FetchError::kTooLarge) << announced.message;
  EXPECT_TRUE(announced.body.empty());
  FetchResult streamed = Get(f, "/big?chunked=1");  // no Content-Length
  EXPECT_EQ(streamed.error, FetchError::kTooLarge) << streamed.message;

  CurlFetcherOptions small = LoopbackOptions();
  small.max_bytes = 100;
  CurlFetcher g(small);
  EXPECT_EQ(Get(g, "/article.html").error, FetchError::kTooLarge);
}

TEST_F(CurlFetcherTest, WrongContentTypeIsRefused) {
  CurlFetcher f(LoopbackOptions());
  FetchResult r = Get(f, "/wrong_type.html");
  EXPECT_EQ(r.error, FetchError::kUnsupportedType) << r.message;
  EXPECT_NE(r.message.find("image/png"), std::string::npos) << r.message;
  EXPECT_EQ(Get(f, "/sitemap.xml").error, FetchError::kUnsupportedType);
  FetchRequest sitemap;
  sitemap.url = site_->Url("/sitemap.xml");
  sitemap.accept_xml = true;  // what the crawler asks for a sitemap
  FetchResult xml = f.Fetch(sitemap);
  ASSERT_TRUE(xml.ok()) << xml.message;
  EXPECT_NE(xml.body.find("<loc>/article.html</loc>"), std::string::npos);
}

TEST_F(CurlFetcherTest, Latin1PagesAreConvertedToUtf8) {
  CurlFetcher f(LoopbackOptions());
  FetchResult header = Get(f, "/latin1_header.html");
  ASSERT_TRUE(header.ok()) << header.message;
  EXPECT_EQ(header.charset, "windows-1252");
  EXPECT_NE(header.body.find("Caf\xC3\xA9 cr\xC3\xA8me"), std::string::npos);
  EXPECT_TRUE(IsValidUtf8(header.body));

  FetchResult meta = Get(f, "/latin1_meta.html");
  ASSERT_TRUE(meta.ok()) << meta.message;
  EXPECT_EQ(meta.charset, "windows-1252");
  EXPECT_NE(meta.body.find("Gr\xC3\xBC\xC3\x9F"
                           "e"),
            std::string::npos);
}

TEST_F(CurlFetcherTest, RobotsTxtIsObeyedAndFetchedOncePerHost) {
  CurlFetcher f(LoopbackOptions());
  FetchResult r = Get(f, "/private/secret.html");
  EXPECT_EQ(r.error, FetchError::kRobotsDisallowed) << r.message;
  for (const char* path :
       {"/", "/article.html", "/links.html", "/loop/a.html", "/loop/b.html", "/notes.txt"}) {
    EXPECT_TRUE(Get(f, path).ok()) << path;
  }
  EXPECT_EQ(site_->Requests("/robots.txt"), 1u);
  EXPECT_EQ(site_->Requests("/private/secret.html"), 0u);
  // A redirect into a disallowed path is refused on that hop.
  EXPECT_EQ(Get(f, "/redirect?to=%2Fprivate%2Fsecret.html").error, FetchError::kRobotsDisallowed);
  EXPECT_EQ(site_->Requests("/private/secret.html"), 0u);

  CurlFetcherOptions ignore = LoopbackOptions();
  ignore.respect_robots = false;
  CurlFetcher g(ignore);
  EXPECT_TRUE(Get(g, "/private/secret.html").ok());
}

TEST_F(CurlFetcherTest, RobotsErrorsAllowEverything) {
  CurlFetcher f(LoopbackOptions());
  site_->SetRoute("/robots.txt", {503, {}, "down", 0});
  EXPECT_TRUE(Get(f, "/private/secret.html").ok());

  auto other = FixtureSite::Start({DataDir() + "/site"});
  ASSERT_NE(other, nullptr);
  other->SetRoute("/robots.txt", {404, {}, "no robots here", 0});
  FetchRequest req;
  req.url = other->Url("/private/secret.html");
  EXPECT_TRUE(f.Fetch(req).ok());
}

TEST_F(CurlFetcherTest, ConditionalRequestsGetNotModified) {
  CurlFetcher f(LoopbackOptions());
  FetchResult first = Get(f, "/article.html");
  ASSERT_TRUE(first.ok());
  FetchRequest req;
  req.url = site_->Url("/article.html");
  req.if_none_match = first.etag;
  FetchResult by_etag = f.Fetch(req);
  EXPECT_EQ(by_etag.error, FetchError::kNotModified) << by_etag.message;
  EXPECT_EQ(by_etag.http_status, 304);
  EXPECT_EQ(by_etag.etag, first.etag);

  req.if_none_match.clear();
  req.if_modified_since = first.last_modified;
  EXPECT_EQ(f.Fetch(req).error, FetchError::kNotModified);

  req.if_none_match = "\"stale\"";
  req.if_modified_since.clear();
  FetchResult changed = f.Fetch(req);
  ASSERT_TRUE(changed.ok()) << changed.message;
  EXPECT_EQ(changed.etag, first.etag);
}

TEST_F(CurlFetcherTest, TotalTimeout) {
  CurlFetcherOptions o = LoopbackOptions();
  o.timeout_ms = 300;
  CurlFetcher f(o);
  FetchResult r = Get(f, "/slow?ms=5000");
  EXPECT_EQ(r.error, FetchError::kTimeout) << FetchErrorName(r.error) << ": " << r.message;
}

TEST_F(CurlFetcherTest, ConnectionRefused) {
  // A port that was just free: nothing listens there.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ::close(fd);
  CurlFetcher f(LoopbackOptions());
  FetchRequest req;
  req.url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/";
  FetchResult r = f.Fetch(req);
  EXPECT_EQ(r.error, FetchError::kConnect) << FetchErrorName(r.error) << ": " << r.message;
}

TEST_F(CurlFetcherTest, PdfIsReturnedAsBytes) {
  CurlFetcher f(LoopbackOptions());
  FetchResult r = Get(f, "/docs/two_pages.pdf");
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.content_type, "application/pdf");
  EXPECT_EQ(r.charset, "");
  EXPECT_EQ(r.body, ReadFile(DataDir() + "/site/docs/two_pages.pdf"));
}

TEST_F(CurlFetcherTest, HttpErrorsAndBadUrls) {
  CurlFetcher f(LoopbackOptions());
  FetchResult missing = Get(f, "/no-such-page.html");
  EXPECT_EQ(missing.error, FetchError::kHttpStatus);
  EXPECT_EQ(missing.http_status, 404);
  FetchRequest req;
  req.url = "http://evil@127.0.0.1:" + std::to_string(site_->port()) + "/";
  EXPECT_EQ(f.Fetch(req).error, FetchError::kInvalidUrl);
  req.url = "not a url";
  EXPECT_EQ(f.Fetch(req).error, FetchError::kInvalidUrl);
}

TEST_F(CurlFetcherTest, ConcurrentFetchesFromManyThreads) {
  CurlFetcherOptions o = LoopbackOptions();
  o.per_host_concurrency = 2;
  CurlFetcher f(o);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      for (int j = 0; j < 5; ++j) {
        if (Get(f, "/article.html").ok()) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 20);
  EXPECT_EQ(site_->Requests("/robots.txt"), 1u);
}

TEST(CurlFetcherOptionsTest, ValidateNamesTheKey) {
  CurlFetcherOptions o;
  EXPECT_TRUE(o.Validate().ok());
  o.max_redirects = 99;
  EXPECT_NE(o.Validate().message().find("scrape.max_redirects"), std::string::npos);
  o = CurlFetcherOptions();
  o.allow_addresses = {"nonsense"};
  EXPECT_FALSE(o.Validate().ok());
}

}  // namespace
}  // namespace jrvs::scrape
