#include "operator/control/schedule_clock.h"

namespace pharos {

namespace {

int64_t Nanos(Clock::TimePoint time) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(time.time_since_epoch()).count();
}

}  // namespace

ScheduleClock::ScheduleClock(const Clock& base)
    : base_(base), steady_anchor_(base.SteadyNow()), wall_anchor_ns_(Nanos(base.Now())) {}

Clock::TimePoint ScheduleClock::Now() const {
  const auto elapsed =
      std::chrono::duration_cast<std::chrono::nanoseconds>(base_.SteadyNow() - steady_anchor_);
  const std::chrono::nanoseconds since_epoch(wall_anchor_ns_.load(std::memory_order_acquire) +
                                             elapsed.count());
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(since_epoch));
}

void ScheduleClock::NotBefore(TimePoint time) {
  const auto elapsed =
      std::chrono::duration_cast<std::chrono::nanoseconds>(base_.SteadyNow() - steady_anchor_);
  // Now() must come out strictly after `time`: one millisecond later (the ids' resolution).
  const int64_t wanted = Nanos(time) + 1'000'000 - elapsed.count();
  int64_t current = wall_anchor_ns_.load(std::memory_order_acquire);
  while (current < wanted &&
         !wall_anchor_ns_.compare_exchange_weak(current, wanted, std::memory_order_acq_rel)) {
  }
}

}  // namespace pharos
