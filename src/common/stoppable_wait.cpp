#include "common/stoppable_wait.h"

#include <condition_variable>
#include <mutex>

namespace pharos {

bool SleepUnlessStopped(const std::stop_token& stop, std::chrono::nanoseconds duration) {
  if (stop.stop_requested()) {
    return false;
  }
  if (duration <= std::chrono::nanoseconds::zero()) {
    return true;
  }
  std::mutex mutex;
  std::condition_variable_any woken;
  std::unique_lock lock(mutex);
  return !woken.wait_for(lock, stop, duration, [] { return false; }) && !stop.stop_requested();
}

}  // namespace pharos
