#pragma once

// TokenBucket: a rate limiter that allows `qps` operations per second on average and bursts of up
// to `burst`, like golang.org/x/time/rate as used by client-go. Reserve() never refuses: it takes
// a token (borrowing from the future when the bucket is empty) and says how long the caller must
// wait before acting, which is what a work queue needs to compute a delay; Acquire() is
// Reserve() followed by that wait. Time comes from the Clock's monotonic time.
// Thread-safety: every method may be called from any thread.

#include <chrono>
#include <stop_token>

#include "common/clock.h"
#include "common/mutex.h"

namespace pharos {

class TokenBucket {
 public:
  // qps <= 0 means unlimited (every call is allowed at once). burst < 1 is treated as 1.
  TokenBucket(double qps, int burst, const Clock& clock);

  // Takes one token; returns how long to wait before using it (zero when one was available).
  std::chrono::nanoseconds Reserve();
  // Takes a token only when one is available now.
  bool TryAcquire();
  // Takes a token and sleeps until it is due. Returns false when `stop` was requested before or
  // during the wait (the token stays spent).
  bool Acquire(const std::stop_token& stop = {});

  double qps() const { return qps_; }
  int burst() const { return burst_; }

 private:
  void Refill(std::chrono::steady_clock::time_point now) REQUIRES(mutex_);

  const double qps_;
  const int burst_;
  const Clock& clock_;
  Mutex mutex_;
  double tokens_ GUARDED_BY(mutex_);  // negative = borrowed
  std::chrono::steady_clock::time_point last_ GUARDED_BY(mutex_);
};

}  // namespace pharos
