#include "scrape/host_limiter.h"

#include <algorithm>

namespace jrvs::scrape {
namespace {
constexpr size_t kPruneAbove = 1024;  // idle host entries kept before pruning
}  // namespace

HostLimiter::HostLimiter(int per_host, std::chrono::milliseconds politeness)
    : per_host_(std::max(1, per_host)),
      politeness_(std::max(std::chrono::milliseconds(0), politeness)) {}

HostLimiter::Permit HostLimiter::Acquire(const std::string& host, bool polite) {
  std::unique_lock lock(mu_);
  for (;;) {
    HostState& s = hosts_[host];
    auto now = Clock::now();
    if (s.active < per_host_ && (!polite || now >= s.next_polite_start)) {
      ++s.active;
      if (polite) s.next_polite_start = now + politeness_;
      return Permit(this, host);
    }
    if (s.active < per_host_) {
      auto until = s.next_polite_start;  // a copy: `s` may be pruned while we wait
      changed_.wait_until(lock, until);  // only the delay is left
    } else {
      changed_.wait(lock);
    }
  }
}

void HostLimiter::Release(const std::string& host) {
  std::lock_guard lock(mu_);
  auto it = hosts_.find(host);
  if (it != hosts_.end()) --it->second.active;
  if (hosts_.size() > kPruneAbove) {
    auto now = Clock::now();
    std::erase_if(hosts_, [&](const auto& kv) {
      return kv.second.active == 0 && kv.second.next_polite_start <= now;
    });
  }
  changed_.notify_all();
}

int HostLimiter::InFlight(const std::string& host) const {
  std::lock_guard lock(mu_);
  auto it = hosts_.find(host);
  return it == hosts_.end() ? 0 : it->second.active;
}

}  // namespace jrvs::scrape
