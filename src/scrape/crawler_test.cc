#include "scrape/crawler.h"

#include <map>
#include <mutex>

#include <gtest/gtest.h>

#include "core/sha256.h"

namespace jrvs::scrape {
namespace {

// A fake web at the Fetcher seam: pages by exact URL, 304 for a matching If-None-Match.
class FakeWeb : public Fetcher {
 public:
  struct Page {
    std::string body;
    std::string content_type = "text/html";
    std::string etag;
    FetchError error = FetchError::kNone;
    std::string redirect_to;  // final_url differs from the request
  };

  void Add(std::string url, Page page) {
    std::lock_guard lock(mu_);
    pages_[std::move(url)] = std::move(page);
  }
  // An HTML page linking to `links`.
  void AddHtml(const std::string& url, const std::vector<std::string>& links,
               const std::string& text = "") {
    std::string body = "<html><head><title>" + url + "</title></head><body><p>Text of " + url +
                       " " + text + "</p>";
    for (const auto& l : links) body += "<a href=\"" + l + "\">link</a> ";
    body += "</body></html>";
    Add(url, Page{body, "text/html", "", FetchError::kNone, ""});
  }

  FetchResult Fetch(const FetchRequest& request) override {
    std::lock_guard lock(mu_);
    ++requests_[request.url];
    FetchResult r;
    auto it = pages_.find(request.url);
    if (it == pages_.end()) {
      r.error = FetchError::kHttpStatus;
      r.http_status = 404;
      r.final_url = request.url;
      return r;
    }
    const Page& p = it->second;
    r.final_url = p.redirect_to.empty() ? request.url : p.redirect_to;
    if (p.error != FetchError::kNone) {
      r.error = p.error;
      return r;
    }
    if (!p.etag.empty() && request.if_none_match == p.etag) {
      r.error = FetchError::kNotModified;
      r.http_status = 304;
      return r;
    }
    r.http_status = 200;
    r.content_type = p.content_type;
    r.body = p.body;
    r.etag = p.etag;
    return r;
  }

  int Requests(const std::string& url) {
    std::lock_guard lock(mu_);
    return requests_[url];
  }

 private:
  std::mutex mu_;  // guards pages_ and requests_
  std::map<std::string, Page> pages_;
  std::map<std::string, int> requests_;
};

// A sink that records the pages it is given.
struct RecordingSink {
  std::mutex mu;  // guards pages
  std::vector<CrawledPage> pages;
  PageSink Sink() {
    return [this](const CrawledPage& p) {
      std::lock_guard lock(mu);
      pages.push_back(p);
      SinkResult r;
      r.status = PageStatus::kAdded;
      r.document_id = static_cast<int64_t>(pages.size());
      r.title = p.page.title;
      return r;
    };
  }
  std::vector<std::string> Urls() {
    std::lock_guard lock(mu);
    std::vector<std::string> out;
    for (const auto& p : pages) out.push_back(p.url);
    std::sort(out.begin(), out.end());
    return out;
  }
};

CrawlOptions Opts(int depth, size_t max_pages) {
  CrawlOptions o;
  o.max_depth = depth;
  o.max_pages = max_pages;
  o.workers = 3;
  return o;
}

TEST(CanonicalUrlTest, NormalisesSchemeHostPortAndFragment) {
  EXPECT_EQ(CanonicalUrl("HTTP://Example.COM:80/a/B?x=1#frag"), "http://example.com/a/B?x=1");
  EXPECT_EQ(CanonicalUrl("https://example.com:443"), "https://example.com/");
  EXPECT_EQ(CanonicalUrl("https://example.com:8443/p"), "https://example.com:8443/p");
  EXPECT_EQ(CanonicalUrl("http://example.com:443/"), "http://example.com:443/");
  EXPECT_EQ(CanonicalUrl("  http://a.test/q?b=2&a=1  "), "http://a.test/q?b=2&a=1");
  EXPECT_EQ(CanonicalUrl("ftp://example.com/"), "");
  EXPECT_EQ(CanonicalUrl("/relative/path"), "");
  EXPECT_EQ(CanonicalUrl("mailto:someone@example.com"), "");
  EXPECT_EQ(CanonicalUrl("not a url"), "");
  EXPECT_EQ(UrlHost("http://WWW.A.test:81/x"), "www.a.test");
}

TEST(CrawlOptionsTest, ValidatesRanges) {
  EXPECT_TRUE(Opts(0, 1).Validate().ok());
  EXPECT_TRUE(Opts(5, 1000).Validate().ok());
  EXPECT_EQ(Opts(6, 1).Validate().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Opts(-1, 1).Validate().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Opts(1, 0).Validate().code(), StatusCode::kInvalidArgument);
}

TEST(CrawlerTest, DepthLimitStopsFollowingLinks) {
  FakeWeb web;
  web.AddHtml("http://a.test/1", {"/2"});
  web.AddHtml("http://a.test/2", {"/3"});
  web.AddHtml("http://a.test/3", {"/4"});
  web.AddHtml("http://a.test/4", {});
  RecordingSink sink;
  CrawlReport report = Crawler(web, Opts(2, 100)).Run("http://a.test/1", sink.Sink());
  EXPECT_EQ(sink.Urls(),
            (std::vector<std::string>{"http://a.test/1", "http://a.test/2", "http://a.test/3"}));
  EXPECT_EQ(web.Requests("http://a.test/4"), 0);
  EXPECT_EQ(report.totals.queued, 3u);
  EXPECT_EQ(report.totals.done, 3u);
  EXPECT_FALSE(report.cancelled);
}

TEST(CrawlerTest, MaxPagesCapsAdmittedUrls) {
  FakeWeb web;
  std::vector<std::string> links;
  for (int i = 0; i < 10; ++i) {
    links.push_back("/p" + std::to_string(i));
    web.AddHtml("http://a.test/p" + std::to_string(i), {});
  }
  web.AddHtml("http://a.test/", links);
  RecordingSink sink;
  CrawlReport report = Crawler(web, Opts(1, 4)).Run("http://a.test/", sink.Sink());
  EXPECT_EQ(sink.pages.size(), 4u);
  EXPECT_EQ(report.totals.queued, 4u);
  EXPECT_EQ(report.pages.size(), 4u);
}

TEST(CrawlerTest, LinkLoopTerminatesAndEachPageIsFetchedOnce) {
  FakeWeb web;
  // Different spellings of the same URLs: fragment, upper-case host, explicit default port.
  web.AddHtml("http://a.test/a", {"http://A.TEST:80/b#top", "/a#self"});
  web.AddHtml("http://a.test/b", {"/a", "http://a.test/b"});
  RecordingSink sink;
  CrawlReport report = Crawler(web, Opts(5, 100)).Run("http://a.test/a", sink.Sink());
  EXPECT_EQ(sink.Urls(), (std::vector<std::string>{"http://a.test/a", "http://a.test/b"}));
  EXPECT_EQ(web.Requests("http://a.test/a"), 1);
  EXPECT_EQ(web.Requests("http://a.test/b"), 1);
  EXPECT_EQ(report.totals.done, 2u);
}

TEST(CrawlerTest, SameHostByDefaultAnyHostOrAllowList) {
  FakeWeb web;
  web.AddHtml("http://a.test/", {"http://b.test/", "http://c.test/"});
  web.AddHtml("http://b.test/", {});
  web.AddHtml("http://c.test/", {});
  {
    RecordingSink sink;
    Crawler(web, Opts(1, 10)).Run("http://a.test/", sink.Sink());
    EXPECT_EQ(sink.Urls(), (std::vector<std::string>{"http://a.test/"}));
  }
  {
    CrawlOptions any = Opts(1, 10);
    any.same_host = false;
    RecordingSink sink;
    Crawler(web, any).Run("http://a.test/", sink.Sink());
    EXPECT_EQ(sink.Urls().size(), 3u);
  }
  {
    CrawlOptions list = Opts(1, 10);
    list.allow_hosts = {"a.test", "C.test"};
    RecordingSink sink;
    Crawler(web, list).Run("http://a.test/", sink.Sink());
    EXPECT_EQ(sink.Urls(), (std::vector<std::string>{"http://a.test/", "http://c.test/"}));
  }
}

TEST(CrawlerTest, StartRedirectHostStaysInScope) {
  FakeWeb web;
  FakeWeb::Page start;
  start.redirect_to = "http://www.a.test/";
  start.body = "<a href=\"/next\">n</a><p>start</p>";
  web.Add("http://a.test/", start);
  web.AddHtml("http://www.a.test/next", {});
  RecordingSink sink;
  Crawler(web, Opts(1, 10)).Run("http://a.test/", sink.Sink());
  EXPECT_EQ(sink.Urls(), (std::vector<std::string>{"http://a.test/", "http://www.a.test/next"}));
}

TEST(CrawlerTest, PolicyRefusalsAreSkippedAndErrorsFailed) {
  FakeWeb web;
  web.AddHtml("http://a.test/", {"/private/x", "/missing", "/ok"});
  web.Add("http://a.test/private/x", {"", "text/html", "", FetchError::kRobotsDisallowed, ""});
  web.AddHtml("http://a.test/ok", {});
  RecordingSink sink;
  CrawlReport report = Crawler(web, Opts(1, 10)).Run("http://a.test/", sink.Sink());
  EXPECT_EQ(report.totals.done, 2u);
  EXPECT_EQ(report.totals.skipped, 1u);
  EXPECT_EQ(report.totals.failed, 1u);
  for (const auto& p : report.pages) {
    if (p.url == "http://a.test/private/x") {
      EXPECT_EQ(p.status, PageStatus::kSkipped);
      EXPECT_NE(p.error.find("robots"), std::string::npos) << p.error;
    }
    if (p.url == "http://a.test/missing") {
      EXPECT_EQ(p.status, PageStatus::kFailed);
    }
  }
  EXPECT_EQ(sink.pages.size(), 2u);
}

TEST(CrawlerTest, RecrawlSendsValidatorsAndFollowsRememberedLinksOn304) {
  FakeWeb web;
  FakeWeb::Page root;
  root.body = "<a href=\"/child\">c</a>";
  root.etag = "\"v1\"";
  web.Add("http://a.test/", root);
  web.AddHtml("http://a.test/child", {});
  PriorLookup prior = [](const std::string& url) -> std::optional<PriorPage> {
    if (url != "http://a.test/") return std::nullopt;
    PriorPage p;
    p.document_id = 7;
    p.etag = "\"v1\"";
    p.links = {"http://a.test/child"};
    return p;
  };
  RecordingSink sink;
  CrawlReport report = Crawler(web, Opts(1, 10)).Run("http://a.test/", sink.Sink(), prior);
  EXPECT_EQ(sink.Urls(), (std::vector<std::string>{"http://a.test/child"}));
  ASSERT_EQ(report.pages.size(), 2u);
  for (const auto& p : report.pages) {
    if (p.url == "http://a.test/") {
      EXPECT_EQ(p.status, PageStatus::kUnchanged);
      EXPECT_EQ(p.document_id, 7);
    }
  }
  EXPECT_EQ(report.totals.done, 2u);
}

TEST(CrawlerTest, UnchangedContentHashSkipsTheSink) {
  FakeWeb web;
  web.Add("http://a.test/t", {"same words", "text/plain", "", FetchError::kNone, ""});
  std::string hash = Sha256Hex("same words");
  PriorLookup prior = [hash](const std::string&) -> std::optional<PriorPage> {
    PriorPage p;
    p.content_hash = hash;
    return p;
  };
  RecordingSink sink;
  CrawlReport report = Crawler(web, Opts(0, 1)).Run("http://a.test/t", sink.Sink(), prior);
  EXPECT_TRUE(sink.pages.empty());
  ASSERT_EQ(report.pages.size(), 1u);
  EXPECT_EQ(report.pages[0].status, PageStatus::kUnchanged);

  // With skip_unchanged off the page goes to the sink.
  CrawlOptions always = Opts(0, 1);
  always.skip_unchanged = false;
  Crawler(web, always).Run("http://a.test/t", sink.Sink(), prior);
  EXPECT_EQ(sink.pages.size(), 1u);
}

TEST(CrawlerTest, PdfBytesPassThroughAndSinkFailuresCount) {
  FakeWeb web;
  web.Add("http://a.test/doc.pdf",
          {"%PDF-1.4 bytes", "application/pdf", "", FetchError::kNone, ""});
  PageSink failing = [](const CrawledPage& p) {
    EXPECT_EQ(p.fetch.body, "%PDF-1.4 bytes");
    EXPECT_TRUE(p.page.text.empty());
    SinkResult r;
    r.status = PageStatus::kFailed;
    r.error = "corrupt PDF";
    return r;
  };
  CrawlReport report = Crawler(web, Opts(0, 1)).Run("http://a.test/doc.pdf", failing);
  ASSERT_EQ(report.pages.size(), 1u);
  EXPECT_EQ(report.pages[0].status, PageStatus::kFailed);
  EXPECT_EQ(report.pages[0].error, "corrupt PDF");
  EXPECT_EQ(report.totals.failed, 1u);
}

TEST(CrawlerTest, CancelStopsNewWork) {
  FakeWeb web;
  std::vector<std::string> links;
  for (int i = 0; i < 50; ++i) {
    links.push_back("/p" + std::to_string(i));
    web.AddHtml("http://a.test/p" + std::to_string(i), {});
  }
  web.AddHtml("http://a.test/", links);
  std::atomic<bool> cancel{false};
  std::atomic<int> calls{0};
  PageSink sink = [&](const CrawledPage&) {
    if (++calls == 3) cancel = true;
    return SinkResult{};
  };
  CrawlOptions o = Opts(1, 100);
  o.workers = 1;
  CrawlReport report = Crawler(web, o).Run("http://a.test/", sink, {}, {}, &cancel);
  EXPECT_TRUE(report.cancelled);
  EXPECT_EQ(calls.load(), 3);
  EXPECT_EQ(report.totals.queued, 51u);
  EXPECT_EQ(report.pages.size(), 3u);
}

TEST(CrawlerTest, SitemapSeedsUrls) {
  FakeWeb web;
  web.AddHtml("http://a.test/", {});
  web.Add("http://a.test/sitemap.xml",
          {"<urlset><url><loc> /s1 </loc></url><url><loc>http://a.test/s2?a=1&amp;b=2"
           "</loc></url><url><loc>http://other.test/x</loc></url></urlset>",
           "application/xml", "", FetchError::kNone, ""});
  web.AddHtml("http://a.test/s1", {});
  web.AddHtml("http://a.test/s2?a=1&b=2", {});
  CrawlOptions o = Opts(1, 10);
  o.use_sitemap = true;
  RecordingSink sink;
  Crawler(web, o).Run("http://a.test/", sink.Sink());
  EXPECT_EQ(sink.Urls(), (std::vector<std::string>{"http://a.test/", "http://a.test/s1",
                                                   "http://a.test/s2?a=1&b=2"}));
}

TEST(CrawlerTest, ProgressReportsCountsAndCurrentUrl) {
  FakeWeb web;
  web.AddHtml("http://a.test/", {"/x"});
  web.AddHtml("http://a.test/x", {});
  std::vector<CrawlProgress> seen;
  std::vector<std::string> finished;
  ProgressCallback progress = [&](const CrawlProgress& p, const PageReport* page) {
    seen.push_back(p);
    if (page) finished.push_back(page->url);
  };
  RecordingSink sink;
  CrawlReport report = Crawler(web, Opts(1, 10)).Run("http://a.test/", sink.Sink(), {}, progress);
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.front().current_url, "http://a.test/");
  EXPECT_EQ(seen.back().done, 2u);
  EXPECT_EQ(finished, (std::vector<std::string>{"http://a.test/", "http://a.test/x"}));
  EXPECT_EQ(report.totals.done, 2u);
  EXPECT_TRUE(report.totals.current_url.empty());
}

TEST(CrawlerTest, InvalidStartUrlIsOneFailedPage) {
  FakeWeb web;
  RecordingSink sink;
  CrawlReport report = Crawler(web, Opts(0, 1)).Run("file:///etc/passwd", sink.Sink());
  ASSERT_EQ(report.pages.size(), 1u);
  EXPECT_EQ(report.pages[0].status, PageStatus::kFailed);
  EXPECT_TRUE(sink.pages.empty());
}

TEST(FetchPageTest, ExtractsHtmlTitleAndText) {
  FakeWeb web;
  web.AddHtml("http://a.test/page", {"/other"}, "hello world");
  CrawledPage page = FetchPage(web, "HTTP://A.test/page#x");
  ASSERT_TRUE(page.fetch.ok());
  EXPECT_EQ(page.url, "http://a.test/page");
  EXPECT_EQ(page.page.title, "http://a.test/page");
  EXPECT_NE(page.page.text.find("hello world"), std::string::npos);
  EXPECT_EQ(page.page.links, (std::vector<std::string>{"http://a.test/other"}));
}

TEST(ParseSitemapTest, ReadsLocEntries) {
  EXPECT_EQ(ParseSitemap("<sitemapindex><sitemap><loc>https://x.test/a.xml</loc></sitemap>"),
            (std::vector<std::string>{"https://x.test/a.xml"}));
  EXPECT_TRUE(ParseSitemap("<urlset><loc>unterminated").empty());
}

}  // namespace
}  // namespace jrvs::scrape
