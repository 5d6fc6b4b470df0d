#include "scrape/robots.h"

#include <algorithm>
#include <cctype>

#include "core/text.h"

namespace jrvs::scrape {
namespace {

// Wildcard match of the whole `text` against `pattern` where '*' matches any run: the greedy
// two-pointer algorithm with backtracking to the last star (linear in practice, no recursion).
bool GlobMatchAll(std::string_view pattern, std::string_view text) {
  size_t p = 0, t = 0;
  size_t star = std::string_view::npos, star_t = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      star_t = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++star_t;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

constexpr size_t kMaxOrigins = 4096;

}  // namespace

std::string RobotsAgentToken(std::string_view user_agent) {
  user_agent = text::TrimAscii(user_agent);
  auto end = user_agent.find_first_of("/ \t");
  return text::AsciiLower(user_agent.substr(0, end));
}

bool RobotsPatternMatches(std::string_view pattern, bool anchored, std::string_view path) {
  if (anchored) return GlobMatchAll(pattern, path);
  std::string p(pattern);
  p.push_back('*');  // a prefix match is a full match of pattern + "*"
  return GlobMatchAll(p, path);
}

RobotsRules RobotsRules::Parse(std::string_view text, std::string_view agent_token) {
  struct Group {
    std::vector<std::string> agents;
    std::vector<Rule> rules;
  };
  std::vector<Group> groups;
  bool in_agent_lines = false;  // the previous meaningful line was a User-agent line
  std::string token = text::AsciiLower(agent_token);

  while (!text.empty()) {
    auto nl = text.find_first_of("\r\n");
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (auto hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string key = text::AsciiLower(text::TrimAscii(line.substr(0, colon)));
    std::string_view value = text::TrimAscii(line.substr(colon + 1));
    if (key == "user-agent") {
      if (!in_agent_lines) groups.emplace_back();
      in_agent_lines = true;
      groups.back().agents.push_back(RobotsAgentToken(value));
    } else if (key == "allow" || key == "disallow") {
      in_agent_lines = false;
      if (groups.empty() || value.empty()) continue;
      Rule r;
      r.allow = key == "allow";
      r.pattern = std::string(value);
      if (r.pattern.back() == '$') {
        r.anchored = true;
        r.pattern.pop_back();
      }
      groups.back().rules.push_back(std::move(r));
    } else {
      // Sitemap, Crawl-delay, ...: not group members, but they do not end a run of
      // User-agent lines either (RFC 9309 section 2.2.4 lets parsers skip them).
    }
  }

  auto collect = [&](std::string_view name) {
    RobotsRules out;
    for (const auto& g : groups) {
      if (std::find(g.agents.begin(), g.agents.end(), name) != g.agents.end()) {
        out.rules_.insert(out.rules_.end(), g.rules.begin(), g.rules.end());
      }
    }
    return out;
  };
  bool named = std::any_of(groups.begin(), groups.end(), [&](const Group& g) {
    return std::find(g.agents.begin(), g.agents.end(), token) != g.agents.end();
  });
  return collect(named ? std::string_view(token) : std::string_view("*"));
}

bool RobotsRules::Allowed(std::string_view path) const {
  if (path.empty()) path = "/";
  if (path == "/robots.txt") return true;
  const Rule* best = nullptr;
  for (const auto& r : rules_) {
    if (!RobotsPatternMatches(r.pattern, r.anchored, path)) continue;
    size_t len = r.pattern.size() + (r.anchored ? 1 : 0);
    size_t best_len = best ? best->pattern.size() + (best->anchored ? 1 : 0) : 0;
    if (best == nullptr || len > best_len || (len == best_len && r.allow && !best->allow)) {
      best = &r;
    }
  }
  return best == nullptr || best->allow;
}

RobotsCache::RobotsCache(std::function<Clock::time_point()> now) : now_(std::move(now)) {
  if (!now_) now_ = [] { return Clock::now(); };
}

RobotsRules RobotsCache::Get(const std::string& origin, const FetchFn& fetch) {
  std::unique_lock lock(mu_);
  for (;;) {
    Slot& slot = slots_[origin];
    if (slot.valid && now_() < slot.expires) return slot.rules;
    if (!slot.fetching) break;
    fetched_.wait(lock);
  }
  slots_[origin].fetching = true;
  lock.unlock();
  Entry entry = fetch();  // never under the lock: it does network I/O
  lock.lock();
  Slot& slot = slots_[origin];
  slot.rules = entry.rules;
  slot.expires = now_() + entry.ttl;
  slot.valid = true;
  slot.fetching = false;
  fetched_.notify_all();
  if (slots_.size() > kMaxOrigins) {  // a long-running server meets many hosts: drop stale ones
    auto now = now_();
    std::erase_if(slots_,
                  [&](const auto& kv) { return !kv.second.fetching && kv.second.expires <= now; });
  }
  return entry.rules;
}

size_t RobotsCache::size() const {
  std::lock_guard lock(mu_);
  return slots_.size();
}

}  // namespace jrvs::scrape
