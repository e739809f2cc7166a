#pragma once

// Mutex, MutexLock and CondVar: std::mutex, std::lock_guard and std::condition_variable_any with
// Clang's thread-safety annotations (common/thread_annotations.h), so that `GUARDED_BY(mu_)` and
// `REQUIRES(mu_)` are checked by the compiler instead of being comments. CondVar waits release
// and re-acquire the mutex inside the call, as std::condition_variable does; the analysis sees
// the mutex held across the call, which is what the caller's code may rely on.
// Thread-safety: as the standard types they wrap.

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stop_token>
#include <utility>

#include "common/thread_annotations.h"

namespace pharos {

class CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void lock() ACQUIRE() { mutex_.lock(); }
  void unlock() RELEASE() { mutex_.unlock(); }
  bool try_lock() TRY_ACQUIRE(true) { return mutex_.try_lock(); }
  // For documentation and the analysis: the caller holds this mutex.
  void AssertHeld() const {}

 private:
  std::mutex mutex_;
};

// Holds `mutex` for its scope (std::lock_guard).
class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mutex) ACQUIRE(mutex) : mutex_(mutex) { mutex_.lock(); }
  ~MutexLock() RELEASE() { mutex_.unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex& mutex_;
};

// A condition variable for Mutex. Every wait takes the mutex the caller holds.
class CondVar {
 public:
  void NotifyOne() { cv_.notify_one(); }
  void NotifyAll() { cv_.notify_all(); }

  template <typename Predicate>
  void Wait(Mutex& mutex, Predicate done) REQUIRES(mutex) {
    cv_.wait(mutex, std::move(done));
  }
  // False when it returned at the timeout with `done` still false.
  template <typename Rep, typename Period, typename Predicate>
  bool WaitFor(Mutex& mutex, std::chrono::duration<Rep, Period> timeout, Predicate done)
      REQUIRES(mutex) {
    return cv_.wait_for(mutex, timeout, std::move(done));
  }
  template <typename Clock, typename Duration, typename Predicate>
  bool WaitUntil(Mutex& mutex, std::chrono::time_point<Clock, Duration> deadline, Predicate done)
      REQUIRES(mutex) {
    return cv_.wait_until(mutex, deadline, std::move(done));
  }
  // Also wakes when `stop` is requested; returns `done()` at the end.
  template <typename Rep, typename Period, typename Predicate>
  bool WaitFor(Mutex& mutex, const std::stop_token& stop,
               std::chrono::duration<Rep, Period> timeout, Predicate done) REQUIRES(mutex) {
    return cv_.wait_for(mutex, stop, timeout, std::move(done));
  }

 private:
  std::condition_variable_any cv_;
};

}  // namespace pharos
