#include "operator/kube/token_bucket.h"

#include <algorithm>

#include "common/stoppable_wait.h"

namespace pharos {

TokenBucket::TokenBucket(double qps, int burst, const Clock& clock)
    : qps_(qps),
      burst_(std::max(1, burst)),
      clock_(clock),
      tokens_(burst_),
      last_(clock.SteadyNow()) {}

void TokenBucket::Refill(std::chrono::steady_clock::time_point now) {
  if (now <= last_) return;
  const double elapsed = std::chrono::duration<double>(now - last_).count();
  tokens_ = std::min<double>(burst_, tokens_ + elapsed * qps_);
  last_ = now;
}

std::chrono::nanoseconds TokenBucket::Reserve() {
  if (qps_ <= 0) return std::chrono::nanoseconds::zero();
  MutexLock lock(mutex_);
  Refill(clock_.SteadyNow());
  tokens_ -= 1;
  if (tokens_ >= 0) return std::chrono::nanoseconds::zero();
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
      std::chrono::duration<double>(-tokens_ / qps_));
}

bool TokenBucket::TryAcquire() {
  if (qps_ <= 0) return true;
  MutexLock lock(mutex_);
  Refill(clock_.SteadyNow());
  if (tokens_ < 1) return false;
  tokens_ -= 1;
  return true;
}

bool TokenBucket::Acquire(const std::stop_token& stop) {
  return SleepUnlessStopped(stop, Reserve());
}

}  // namespace pharos
