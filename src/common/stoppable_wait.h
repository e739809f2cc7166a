#pragma once

// SleepUnlessStopped: sleeps for `duration`, or less when `stop` is requested meanwhile (the
// request wakes it at once). Returns false when stop was requested (before or during the wait).
// The one way Pharos' loops wait between attempts (backoff, retry periods, rate limits) so that
// shutting down never waits for a timer.
// Thread-safety: any thread.

#include <chrono>
#include <stop_token>

namespace pharos {

bool SleepUnlessStopped(const std::stop_token& stop, std::chrono::nanoseconds duration);

}  // namespace pharos
