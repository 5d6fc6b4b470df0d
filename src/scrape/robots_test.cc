#include "scrape/robots.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace jrvs::scrape {
namespace {

struct MatchCase {
  const char* pattern;
  const char* path;
  bool matches;
};

TEST(RobotsTest, PatternMatching) {
  static const MatchCase kCases[] = {
      {"/", "/anything", true},
      {"/fish", "/fish", true},
      {"/fish", "/fish.html", true},
      {"/fish", "/fish/salmon.html", true},
      {"/fish", "/Fish.asp", false},
      {"/fish", "/catfish", false},
      {"/fish/", "/fish", false},
      {"/fish/", "/fish/?id=anything", true},
      {"/*.php", "/index.php", true},
      {"/*.php", "/folder/filename.php?parameters", true},
      {"/*.php", "/windows.PHP", false},
      {"/*.php$", "/filename.php", true},
      {"/*.php$", "/filename.php?parameters", false},
      {"/*.php$", "/filename.php5", false},
      {"/fish*.php", "/fish.php", true},
      {"/fish*.php", "/fishheads/catfish.php?parameters", true},
      {"/fish*.php", "/Fish.PHP", false},
      {"*", "/x", true},
      {"/a*b*c", "/axxbyyc/z", true},
      {"/a*b*c", "/axxbyy", false},
  };
  for (const auto& c : kCases) {
    std::string p = c.pattern;
    bool anchored = !p.empty() && p.back() == '$';
    if (anchored) p.pop_back();
    EXPECT_EQ(RobotsPatternMatches(p, anchored, c.path), c.matches)
        << c.pattern << " vs " << c.path;
  }
}

TEST(RobotsTest, AgentToken) {
  EXPECT_EQ(RobotsAgentToken("jrvs/0.1.0"), "jrvs");
  EXPECT_EQ(RobotsAgentToken("JRVS/2 (+https://example.com)"), "jrvs");
  EXPECT_EQ(RobotsAgentToken("  *  "), "*");
}

struct AllowCase {
  const char* path;
  bool allowed;
};

void ExpectAllowed(const RobotsRules& rules, std::initializer_list<AllowCase> cases) {
  for (const auto& c : cases) EXPECT_EQ(rules.Allowed(c.path), c.allowed) << c.path;
}

TEST(RobotsTest, StarGroupAndLongestMatch) {
  RobotsRules rules = RobotsRules::Parse(
      "# comment\n"
      "User-agent: *\n"
      "Disallow: /private/\n"
      "Disallow: /tmp\n"
      "Allow: /private/public/   # longer than /private/\n"
      "Disallow: /*.pdf$\n"
      "Sitemap: https://example.com/sitemap.xml\n",
      "jrvs");
  EXPECT_EQ(rules.rule_count(), 4u);
  ExpectAllowed(rules, {{"/", true},
                        {"", true},
                        {"/private/x.html", false},
                        {"/private", true},
                        {"/private/public/x.html", true},
                        {"/tmp", false},
                        {"/tmpfile", false},
                        {"/doc.pdf", false},
                        {"/doc.pdf?download=1", true},
                        {"/robots.txt", true}});
}

TEST(RobotsTest, NamedGroupWinsOverStar) {
  const char* text =
      "User-agent: *\n"
      "Disallow: /\n"
      "\n"
      "User-agent: otherbot\n"
      "Allow: /\n"
      "\n"
      "User-agent: JRVS/1.0\n"
      "Disallow: /no-jrvs/\n";
  RobotsRules jrvs = RobotsRules::Parse(text, "jrvs");
  ExpectAllowed(jrvs, {{"/page", true}, {"/no-jrvs/page", false}});
  RobotsRules unknown = RobotsRules::Parse(text, "somebot");
  ExpectAllowed(unknown, {{"/page", false}, {"/robots.txt", true}});
}

TEST(RobotsTest, SharedGroupsMergedGroupsAndOddInput) {
  const char* text =
      "Disallow: /before-any-agent\n"  // ignored: no group yet
      "User-agent: a\n"
      "User-agent: jrvs\n"
      "Disallow: /shared/\n"
      "user-agent: b\n"
      "DISALLOW: /b-only/\n"
      "User-agent: jrvs\n"
      "Disallow: /second-group/\n"
      "Disallow:\n"  // empty: no rule
      "Crawl-delay: 10\n"
      "nonsense line without colon\r\n"
      "Allow: /shared/ok$\r\n";
  RobotsRules rules = RobotsRules::Parse(text, "jrvs");
  ExpectAllowed(rules, {{"/before-any-agent", true},
                        {"/shared/x", false},
                        {"/shared/ok", true},
                        {"/shared/ok2", false},
                        {"/b-only/x", true},
                        {"/second-group/x", false}});
}

TEST(RobotsTest, TieGoesToAllowAndEmptyFileAllowsAll) {
  RobotsRules tie = RobotsRules::Parse("User-agent: *\nDisallow: /page\nAllow: /page\n", "jrvs");
  EXPECT_TRUE(tie.Allowed("/page"));
  RobotsRules empty = RobotsRules::Parse("", "jrvs");
  EXPECT_TRUE(empty.Allowed("/anything"));
  RobotsRules garbage = RobotsRules::Parse(std::string("\x89PNG\r\n\x1a\n\0\0", 10), "jrvs");
  EXPECT_TRUE(garbage.Allowed("/anything"));
}

TEST(RobotsTest, CacheFetchesOncePerOriginUntilExpiry) {
  auto now = RobotsCache::Clock::time_point{};
  RobotsCache cache([&] { return now; });
  int fetches = 0;
  auto fetch = [&] {
    ++fetches;
    return RobotsCache::Entry{RobotsRules::Parse("User-agent: *\nDisallow: /x\n", "jrvs"),
                              std::chrono::seconds(60)};
  };
  EXPECT_FALSE(cache.Get("http://a:80", fetch).Allowed("/x"));
  EXPECT_FALSE(cache.Get("http://a:80", fetch).Allowed("/x"));
  EXPECT_EQ(fetches, 1);
  cache.Get("http://b:80", fetch);
  EXPECT_EQ(fetches, 2);
  now += std::chrono::seconds(61);
  cache.Get("http://a:80", fetch);
  EXPECT_EQ(fetches, 3);
}

TEST(RobotsTest, ConcurrentCallersShareOneFetch) {
  RobotsCache cache;
  std::atomic<int> fetches{0};
  auto fetch = [&] {
    ++fetches;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // let the others pile up
    return RobotsCache::Entry{RobotsRules::AllowAll(), std::chrono::seconds(60)};
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) threads.emplace_back([&] { cache.Get("http://h:80", fetch); });
  for (auto& t : threads) t.join();
  EXPECT_EQ(fetches.load(), 1);
}

}  // namespace
}  // namespace jrvs::scrape
