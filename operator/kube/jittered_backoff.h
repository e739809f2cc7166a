#pragma once

// JitteredBackoff: how long to wait after a failure before trying again, as client-go's
// reflector does: the step starts at 800 ms and doubles on every failure up to 30 s, the actual
// delay is drawn uniformly from [0, step] ("full jitter", so many clients that failed together
// do not retry together), and the step goes back to the start once `reset_after` (2 min) has
// passed since the previous failure.
// Thread-safety: not thread-safe; owned by one loop.

#include <chrono>
#include <functional>

#include "common/clock.h"

namespace pharos {

class JitteredBackoff {
 public:
  struct Options {
    std::chrono::milliseconds initial{800};
    double factor = 2.0;
    std::chrono::milliseconds max{30'000};
    std::chrono::milliseconds reset_after{120'000};
  };
  // Returns a number in [0, 1); tests pass a fixed one.
  using Random = std::function<double()>;

  // `random` defaults to a per-instance Mersenne twister seeded from std::random_device.
  JitteredBackoff(Options options, const Clock& clock, Random random = {});

  // Call after a failure: the delay to wait before the next attempt.
  std::chrono::milliseconds NextDelay();
  // The step the next failure starts from (before jitter); for logs and tests.
  std::chrono::milliseconds current_step() const { return step_; }
  // Forget past failures.
  void Reset();

 private:
  Options options_;
  const Clock& clock_;
  Random random_;
  std::chrono::milliseconds step_;
  bool failed_before_ = false;
  std::chrono::steady_clock::time_point last_failure_;
};

}  // namespace pharos
