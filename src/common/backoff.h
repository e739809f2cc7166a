#pragma once

// Backoff: how long to wait after a failure before trying again. The step starts at `initial`
// and grows by `factor` on every failure up to `max`; each delay is drawn uniformly from
// [min_fraction × step, step] so that many clients that failed together do not retry together.
// Two uses in Pharos:
// * the Kubernetes informer, as client-go's reflector: 800 ms × 2 up to 30 s, "full jitter"
//   (min_fraction 0), and the step starts over once `reset_after` (2 min) passed without a
//   failure (KubernetesDefaults());
// * the probe calling the operator: 500 ms × 2 up to 30 s, never sooner than half the step
//   (min_fraction 0.5), Reset() after every success (ProbeDefaults()).
// Time comes from the Clock's monotonic time (only `reset_after` uses it).
// Thread-safety: not thread-safe; each loop owns its own.

#include <chrono>
#include <functional>

#include "common/clock.h"

namespace pharos {

class Backoff {
 public:
  struct Options {
    std::chrono::milliseconds initial{500};
    double factor = 2.0;
    std::chrono::milliseconds max{30'000};
    double min_fraction = 0.0;  // 0: full jitter
    // Past failures are forgotten once this long passed since the last one; 0 = only Reset().
    std::chrono::milliseconds reset_after{0};
  };
  static Options KubernetesDefaults();
  static Options ProbeDefaults();

  // Returns a number in [0, 1); tests pass a fixed one.
  using Random = std::function<double()>;

  // `random` defaults to a per-instance Mersenne twister seeded from std::random_device;
  // `clock` (needed only with reset_after) to the system's.
  explicit Backoff(Options options, Random random = {}, const Clock* clock = nullptr);

  // Call after a failure: the delay to wait before the next attempt.
  std::chrono::milliseconds NextDelay();
  // The step the next failure draws from (before jitter); for logs and tests.
  std::chrono::milliseconds current_step() const { return step_; }
  // Forget past failures.
  void Reset();

 private:
  Options options_;
  Random random_;
  const Clock& clock_;
  std::chrono::milliseconds step_;
  bool failed_before_ = false;
  std::chrono::steady_clock::time_point last_failure_;
};

}  // namespace pharos
