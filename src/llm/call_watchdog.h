// CallWatchdog: token-level deadlines and caller cancellation for streamed LLM calls.
//
// HttpClient stops a transfer only through one cancel flag that it polls (every 20 ms at most),
// and its own timeouts count bytes, not tokens: a server that sends its headers at once and
// then thinks for a minute looks alive to it. A Watch is one call's private stop flag; the
// watchdog's thread raises it, and records why, when
//   - the caller's cancel flag becomes true              -> Reason::kCancelled
//   - no token came by the first-token deadline          -> Reason::kFirstToken
//   - a token came, then none for gap_ms                 -> Reason::kTokenGap
//   - the total deadline passed                          -> Reason::kTotal
// The thread starts with the first Watch and ticks every `tick_ms` while any Watch is alive;
// it sleeps otherwise. Times are steady_clock nanoseconds (real I/O, so real time).
//
// Thread safety: Start() may be called from any thread; a Watch is used by the thread that
// makes the call (OnToken) while the watchdog reads it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace jrvs::llm {

class CallWatchdog {
 public:
  enum class Reason { kNone, kCancelled, kFirstToken, kTokenGap, kTotal };

  class Watch;

 private:
  // Lets only CallWatchdog construct a Watch, through std::make_unique.
  struct Key {
    explicit Key() = default;
  };

 public:
  class Watch {
   public:
    Watch(Key, CallWatchdog* owner, const std::atomic<bool>* external,
          int64_t first_token_deadline_ns, int64_t gap_ns, int64_t total_deadline_ns);
    ~Watch();
    Watch(const Watch&) = delete;
    Watch& operator=(const Watch&) = delete;

    // The flag to hand to HttpClient::PostStream.
    const std::atomic<bool>* stop_flag() const { return &stop_; }
    // A token arrived: the first-token deadline is met and the gap timer restarts.
    void OnToken();
    // Why the stop flag was raised; kNone if it was not.
    Reason reason() const { return reason_.load(std::memory_order_acquire); }

   private:
    friend class CallWatchdog;
    // Raises the flag if a condition holds; called by the watchdog thread.
    void Check(int64_t now_ns);
    void Fire(Reason reason);

    CallWatchdog* const owner_;
    const std::atomic<bool>* const external_;  // the caller's cancel flag; may be null
    const int64_t first_token_deadline_ns_;
    const int64_t gap_ns_;
    const int64_t total_deadline_ns_;
    std::atomic<int64_t> last_token_ns_{0};  // 0 until the first token
    std::atomic<bool> stop_{false};
    std::atomic<Reason> reason_{Reason::kNone};
  };

  explicit CallWatchdog(int tick_ms = 10);
  ~CallWatchdog();
  CallWatchdog(const CallWatchdog&) = delete;
  CallWatchdog& operator=(const CallWatchdog&) = delete;

  // Watches one call until the returned Watch is destroyed. Deadlines are steady_clock ns
  // (NowNs()); `external` may be null and must outlive the Watch.
  std::unique_ptr<Watch> Start(const std::atomic<bool>* external, int64_t first_token_deadline_ns,
                               int64_t gap_ns, int64_t total_deadline_ns);

  static int64_t NowNs();

 private:
  void Run();
  void Remove(Watch* watch);

  const int tick_ms_;
  std::mutex mu_;  // guards watches_, stopping_ and thread_ (started lazily)
  std::condition_variable cv_;
  std::vector<Watch*> watches_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace jrvs::llm
