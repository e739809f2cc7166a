#pragma once

// RetryBackoff: how long the probe waits before calling the operator again after a failure.
// Exponential from `initial` (0.5 s) doubling up to `max` (30 s); each delay is drawn uniformly
// from [step/2, step] so that the probes of a region, which all lost the operator at the same
// moment, do not all come back at the same moment either, while a retry never comes sooner than
// half the step. Reset() after a success starts again from `initial`.
// Thread-safety: not thread-safe; each loop owns its own.

#include <chrono>
#include <cstdint>
#include <functional>
#include <random>

namespace pharos {

class RetryBackoff {
 public:
  struct Options {
    std::chrono::milliseconds initial{500};
    std::chrono::milliseconds max{30'000};
  };
  // Returns a number in [0, 1); tests pass a fixed one.
  using Random = std::function<double()>;

  explicit RetryBackoff(Options options, Random random = {});

  // The delay before the next attempt; grows the step for the failure after.
  std::chrono::milliseconds NextDelay();
  // Forget past failures.
  void Reset() { step_ = options_.initial; }
  std::chrono::milliseconds current_step() const { return step_; }

 private:
  Options options_;
  Random random_;
  std::mt19937_64 engine_;
  std::chrono::milliseconds step_;
};

}  // namespace pharos
