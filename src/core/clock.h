// Clock seam: wall time for stored timestamps, monotonic time for durations. Tests substitute a
// FakeClock. Implementations are safe to call from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace jrvs {

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch (wall clock; may jump).
  virtual int64_t NowUnixMs() const = 0;
  // Monotonic nanoseconds from an arbitrary origin (never jumps).
  virtual int64_t MonotonicNs() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t NowUnixMs() const override;
  int64_t MonotonicNs() const override;
  // A process-wide instance.
  static const SystemClock& Instance();
};

// A clock moved by hand, for tests.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t unix_ms = 1'700'000'000'000) : unix_ms_(unix_ms) {}
  int64_t NowUnixMs() const override { return unix_ms_.load(); }
  int64_t MonotonicNs() const override { return mono_ns_.load(); }
  void AdvanceMs(int64_t ms) {
    unix_ms_ += ms;
    mono_ns_ += ms * 1'000'000;
  }

 private:
  std::atomic<int64_t> unix_ms_;
  std::atomic<int64_t> mono_ns_{0};
};

}  // namespace jrvs
