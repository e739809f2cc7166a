#pragma once

// ManualClock: a Clock whose time moves only when a test says so, so schedules of hours run in
// milliseconds and every timestamp is predictable. Advance() moves wall and monotonic time
// together (AdvanceTo() up to a wall time); SetNow() and StepWall() move only wall time (like
// an NTP step), possibly backwards; AdvanceSteady() moves only monotonic time.
// Thread-safety: every method may be called from any thread (atomics).

#include <atomic>
#include <chrono>
#include <cstdint>

#include "common/clock.h"

namespace pharos {

class ManualClock final : public Clock {
 public:
  // 2026-01-01T00:00:00Z: a midnight, so slot arithmetic in tests is easy to read.
  static TimePoint DefaultStart() { return TimePoint(std::chrono::seconds(1'767'225'600)); }

  explicit ManualClock(TimePoint start = DefaultStart())
      : wall_ns_(ToNanos(start.time_since_epoch())), steady_ns_(0) {}

  TimePoint Now() const override {
    return TimePoint(std::chrono::duration_cast<TimePoint::duration>(
        std::chrono::nanoseconds(wall_ns_.load(std::memory_order_acquire))));
  }

  std::chrono::steady_clock::time_point SteadyNow() const override {
    return std::chrono::steady_clock::time_point(
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(
            std::chrono::nanoseconds(steady_ns_.load(std::memory_order_acquire))));
  }

  // Moves both clocks forward by `step` (negative steps are ignored: monotonic time never
  // goes back; use SetNow for a backwards wall-clock step).
  template <typename Rep, typename Period>
  void Advance(std::chrono::duration<Rep, Period> step) {
    const int64_t ns = ToNanos(step);
    if (ns <= 0) {
      return;
    }
    wall_ns_.fetch_add(ns, std::memory_order_acq_rel);
    steady_ns_.fetch_add(ns, std::memory_order_acq_rel);
  }

  // Sets wall time only.
  void SetNow(TimePoint now) {
    wall_ns_.store(ToNanos(now.time_since_epoch()), std::memory_order_release);
  }

  // Moves wall time to `now`: forward with monotonic time (as Advance), backward alone (as
  // SetNow).
  void AdvanceTo(TimePoint now) {
    const TimePoint current = Now();
    if (now > current) {
      Advance(now - current);
    } else {
      SetNow(now);
    }
  }

  // Steps wall time only, by `step` (either sign): what NTP or `date -s` does to a real clock.
  template <typename Rep, typename Period>
  void StepWall(std::chrono::duration<Rep, Period> step) {
    wall_ns_.fetch_add(ToNanos(step), std::memory_order_acq_rel);
  }

  // Moves monotonic time only (forward; negative steps are ignored): the wall clock stands
  // still or was stepped back by as much meanwhile.
  template <typename Rep, typename Period>
  void AdvanceSteady(std::chrono::duration<Rep, Period> step) {
    const int64_t ns = ToNanos(step);
    if (ns > 0) {
      steady_ns_.fetch_add(ns, std::memory_order_acq_rel);
    }
  }

 private:
  template <typename Rep, typename Period>
  static int64_t ToNanos(std::chrono::duration<Rep, Period> d) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
  }

  std::atomic<int64_t> wall_ns_;
  std::atomic<int64_t> steady_ns_;
};

}  // namespace pharos
