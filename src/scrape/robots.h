// robots.txt: parsing and matching (RFC 9309), and a per-origin cache with a TTL.
//
// Parse() keeps the rules of the groups whose User-agent names our product token ("jrvs" for
// the user agent "jrvs/0.1.0", compared case-insensitively, ignoring a "/version" in the
// line); only when no group names us, the rules of the "*" groups. Several matching groups are
// merged. Rules before any User-agent line, unknown keys and empty Allow/Disallow values are
// ignored. Allowed() picks the rule whose pattern is longest among those that match the path
// (with its query); on a tie Allow wins; no matching rule means allowed. Patterns match a
// prefix of the path, '*' matches any run of characters and a final '$' anchors the end.
// "/robots.txt" itself is always allowed. Paths are compared byte for byte (no
// percent-decoding of either side).
//
// What the fetcher does with answers other than 2xx (decided in curl_fetcher.cc, documented in
// docs/ARCHITECTURE.md): 4xx means no robots.txt, allow all; 5xx, unreachable and over-size
// also allow all (we prefer to scrape a page the user asked for over refusing on a server
// error), but those answers are cached for a shorter time so a recovered server is re-read.
//
// Thread safety: RobotsRules is immutable after Parse() and safe to share. RobotsCache is safe
// to call from any thread; concurrent Get() calls for the same origin run one fetch and the
// others wait for it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace jrvs::scrape {

class RobotsRules {
 public:
  // `agent_token` is the product token to look for, e.g. RobotsAgentToken("jrvs/0.1.0").
  static RobotsRules Parse(std::string_view text, std::string_view agent_token);
  static RobotsRules AllowAll() { return RobotsRules(); }

  // `path` is the URL's path plus "?query" if any ("/a/b?c=d"); empty means "/".
  bool Allowed(std::string_view path) const;

  size_t rule_count() const { return rules_.size(); }

 private:
  struct Rule {
    std::string pattern;  // without a final '$'
    bool anchored = false;
    bool allow = false;
  };
  std::vector<Rule> rules_;
};

// The product token of a user agent: "jrvs/0.1.0 (+https://x)" -> "jrvs", lower case.
std::string RobotsAgentToken(std::string_view user_agent);

// True when `pattern` (robots syntax, '*' and a final '$' when `anchored`) matches a prefix of
// `path` (the whole path when anchored).
bool RobotsPatternMatches(std::string_view pattern, bool anchored, std::string_view path);

class RobotsCache {
 public:
  using Clock = std::chrono::steady_clock;
  struct Entry {
    RobotsRules rules;
    std::chrono::milliseconds ttl{0};  // how long the answer may be used
  };
  // Fetches and parses one origin's robots.txt; never throws.
  using FetchFn = std::function<Entry()>;

  // `now` defaults to the steady clock; tests pass a fake.
  explicit RobotsCache(std::function<Clock::time_point()> now = {});

  // The rules for `origin` ("http://host:port"): cached while fresh, else fetched once with
  // `fetch` (concurrent callers for the same origin wait for that fetch).
  RobotsRules Get(const std::string& origin, const FetchFn& fetch);

  size_t size() const;

 private:
  struct Slot {
    RobotsRules rules;
    Clock::time_point expires;
    bool fetching = false;
    bool valid = false;
  };
  std::function<Clock::time_point()> now_;
  mutable std::mutex mu_;  // guards slots_
  std::condition_variable fetched_;
  std::map<std::string, Slot> slots_;
};

}  // namespace jrvs::scrape
