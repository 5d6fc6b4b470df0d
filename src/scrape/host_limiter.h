// HostLimiter: per-host concurrency limit and politeness delay for the fetcher.
//
// Acquire(host) blocks until fewer than `per_host` requests to that host are in flight and, for
// a polite acquire, until `politeness` has passed since the previous polite request to that
// host started; the returned Permit releases the slot when destroyed. robots.txt fetches
// acquire impolitely (a slot, but no delay), so one page fetch costs no extra wait.
// Hosts are compared as given (the fetcher passes the lower-case host name or IP).
//
// Thread safety: all methods may be called from any thread. Acquire() blocks the caller; it
// never holds the lock while waiting.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>

namespace jrvs::scrape {

class HostLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  // `per_host` >= 1; `politeness` >= 0.
  HostLimiter(int per_host, std::chrono::milliseconds politeness);

  class Permit {
   public:
    Permit(Permit&& other) noexcept : limiter_(other.limiter_), host_(std::move(other.host_)) {
      other.limiter_ = nullptr;
    }
    Permit(const Permit&) = delete;
    Permit& operator=(const Permit&) = delete;
    Permit& operator=(Permit&&) = delete;
    ~Permit() {
      if (limiter_ != nullptr) limiter_->Release(host_);
    }

   private:
    friend class HostLimiter;
    Permit(HostLimiter* limiter, std::string host) : limiter_(limiter), host_(std::move(host)) {}
    HostLimiter* limiter_;
    std::string host_;
  };

  Permit Acquire(const std::string& host, bool polite);

  // Requests to `host` in flight now (for tests and metrics).
  int InFlight(const std::string& host) const;

 private:
  struct HostState {
    int active = 0;
    Clock::time_point next_polite_start{};  // earliest start of the next polite request
  };
  void Release(const std::string& host);

  const int per_host_;
  const std::chrono::milliseconds politeness_;
  mutable std::mutex mu_;  // guards hosts_
  std::condition_variable changed_;
  std::map<std::string, HostState> hosts_;
};

}  // namespace jrvs::scrape
