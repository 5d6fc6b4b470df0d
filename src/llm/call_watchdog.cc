#include "llm/call_watchdog.h"

#include <algorithm>
#include <chrono>

namespace jrvs::llm {

CallWatchdog::Watch::Watch(Key, CallWatchdog* owner, const std::atomic<bool>* external,
                           int64_t first_token_deadline_ns, int64_t gap_ns,
                           int64_t total_deadline_ns)
    : owner_(owner),
      external_(external),
      first_token_deadline_ns_(first_token_deadline_ns),
      gap_ns_(gap_ns),
      total_deadline_ns_(total_deadline_ns) {}

CallWatchdog::Watch::~Watch() { owner_->Remove(this); }

void CallWatchdog::Watch::OnToken() { last_token_ns_.store(NowNs(), std::memory_order_release); }

void CallWatchdog::Watch::Fire(Reason reason) {
  Reason expected = Reason::kNone;
  if (reason_.compare_exchange_strong(expected, reason, std::memory_order_acq_rel)) {
    stop_.store(true, std::memory_order_release);
  }
}

void CallWatchdog::Watch::Check(int64_t now_ns) {
  if (reason_.load(std::memory_order_acquire) != Reason::kNone) return;
  if (external_ != nullptr && external_->load(std::memory_order_acquire)) {
    Fire(Reason::kCancelled);
    return;
  }
  int64_t last = last_token_ns_.load(std::memory_order_acquire);
  if (now_ns >= total_deadline_ns_) {
    Fire(Reason::kTotal);
  } else if (last == 0 && now_ns >= first_token_deadline_ns_) {
    Fire(Reason::kFirstToken);
  } else if (last != 0 && now_ns - last >= gap_ns_) {
    Fire(Reason::kTokenGap);
  }
}

CallWatchdog::CallWatchdog(int tick_ms) : tick_ms_(std::max(1, tick_ms)) {}

CallWatchdog::~CallWatchdog() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

int64_t CallWatchdog::NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::unique_ptr<CallWatchdog::Watch> CallWatchdog::Start(const std::atomic<bool>* external,
                                                         int64_t first_token_deadline_ns,
                                                         int64_t gap_ns,
                                                         int64_t total_deadline_ns) {
  auto watch = std::make_unique<Watch>(Key(), this, external, first_token_deadline_ns, gap_ns,
                                       total_deadline_ns);
  {
    std::lock_guard lock(mu_);
    watches_.push_back(watch.get());
    if (!thread_.joinable()) thread_ = std::thread([this] { Run(); });
  }
  cv_.notify_all();
  return watch;
}

void CallWatchdog::Remove(Watch* watch) {
  std::lock_guard lock(mu_);
  watches_.erase(std::remove(watches_.begin(), watches_.end(), watch), watches_.end());
}

void CallWatchdog::Run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    if (watches_.empty()) {
      cv_.wait(lock, [&] { return stopping_ || !watches_.empty(); });
      continue;
    }
    int64_t now = NowNs();
    for (Watch* w : watches_) w->Check(now);
    cv_.wait_for(lock, std::chrono::milliseconds(tick_ms_), [&] { return stopping_; });
  }
}

}  // namespace jrvs::llm
