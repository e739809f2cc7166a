#pragma once

// ScheduleClock: the control plane's time line for decisions — when a check is due, when a lease
// or a long-poll expires, when an open round or a push deadline has passed, how long since a
// probe was seen. It reads UTC once, when it is made, and then moves with the monotonic clock
// only: Now() = UTC at construction + monotonic time elapsed since. A wall-clock step (NTP, a
// suspended VM, an operator's `date -s`) therefore neither stalls the schedule (a step back) nor
// fires a burst of checks (a step forward), and every item's scheduledAt (hence its id, see
// Scheduler::ItemId) is later than the one before, whatever the wall clock does. Until the wall
// clock steps it equals UTC; after a step it keeps the difference until the process restarts.
// What is recorded (result startedAt, state transitions, incidents, status, API answers) keeps
// the wall clock; scheduledAt, the identity of a round, is on this time line.
// NotBefore() moves the time line forward (never back) to a time known to be in its past
// already, e.g. the newest scheduledAt of the stored state after a restart with a clock that was
// stepped back, so that item ids and rounds stay ordered across restarts too.
// Thread-safety: every method may be called from any thread (one atomic).

#include <atomic>
#include <chrono>
#include <cstdint>

#include "common/clock.h"

namespace pharos {

class ScheduleClock final : public Clock {
 public:
  explicit ScheduleClock(const Clock& base);

  // The time line: UTC at construction plus the monotonic time elapsed since.
  TimePoint Now() const override;
  std::chrono::steady_clock::time_point SteadyNow() const override { return base_.SteadyNow(); }

  // Moves the time line forward so that Now() is after `time`; no-op when it is already.
  void NotBefore(TimePoint time);

 private:
  const Clock& base_;
  const std::chrono::steady_clock::time_point steady_anchor_;
  // Nanoseconds since the epoch that steady_anchor_ stands for.
  std::atomic<int64_t> wall_anchor_ns_;
};

}  // namespace pharos
