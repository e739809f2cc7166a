#pragma once

// Clock: the source of time for everything that schedules or expires (scheduler, leases, state
// machine, rate limits), so those can run in virtual time in tests.
// Thread-safety: implementations must be safe to call from any thread.

#include <chrono>

namespace pharos {

class Clock {
 public:
  using TimePoint = std::chrono::system_clock::time_point;
  virtual ~Clock() = default;
  // Wall-clock time (what results and schedules are stamped with).
  virtual TimePoint Now() const = 0;
  // Monotonic time, for measuring elapsed intervals.
  virtual std::chrono::steady_clock::time_point SteadyNow() const = 0;
};

// The real clock.
class SystemClock final : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::system_clock::now(); }
  std::chrono::steady_clock::time_point SteadyNow() const override {
    return std::chrono::steady_clock::now();
  }
};

}  // namespace pharos
