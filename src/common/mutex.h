#pragma once

// Mutex, MutexLock and CondVar: std::mutex, std::lock_guard and std::condition_variable_any with
// Clang's thread-safety annotations (common/thread_annotations.h), so that `GUARDED_BY(mu_)` and
// `REQUIRES(mu_)` are checked by the compiler instead of being comments. CondVar waits release
// and re-acquire the mutex inside the call, as std::condition_variable does; the analysis sees
// the mutex held across the call, which is what the caller's code may rely on.
// SharedMutex with WriterMutexLock / ReaderMutexLock does the same for std::shared_mutex, for
// state read far more often than written (metric families, the HTTP server's reply gate).
// Thread-safety: as the standard types they wrap.

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <shared_mutex>
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
  // For documentation and the analysis: the caller holds this mutex (not checked at run time).
  void AssertHeld() const ASSERT_CAPABILITY(this) {}

 private:
  std::mutex mutex_;
};

// Holds `mutex` for its scope (std::lock_guard); Unlock() and Lock() release and re-take it
// mid-scope (std::unique_lock), and the destructor releases it only if held.
class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mutex) ACQUIRE(mutex) : mutex_(mutex) { mutex_.lock(); }
  ~MutexLock() RELEASE() {
    if (held_) mutex_.unlock();
  }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

  void Unlock() RELEASE() {
    held_ = false;
    mutex_.unlock();
  }
  void Lock() ACQUIRE() {
    mutex_.lock();
    held_ = true;
  }

 private:
  Mutex& mutex_;
  bool held_ = true;
};

class CAPABILITY("shared_mutex") SharedMutex {
 public:
  SharedMutex() = default;
  SharedMutex(const SharedMutex&) = delete;
  SharedMutex& operator=(const SharedMutex&) = delete;

  void lock() ACQUIRE() { mutex_.lock(); }
  void unlock() RELEASE() { mutex_.unlock(); }
  void lock_shared() ACQUIRE_SHARED() { mutex_.lock_shared(); }
  void unlock_shared() RELEASE_SHARED() { mutex_.unlock_shared(); }

 private:
  std::shared_mutex mutex_;
};

// Holds `mutex` exclusively for its scope.
class SCOPED_CAPABILITY WriterMutexLock {
 public:
  explicit WriterMutexLock(SharedMutex& mutex) ACQUIRE(mutex) : mutex_(mutex) { mutex_.lock(); }
  ~WriterMutexLock() RELEASE() { mutex_.unlock(); }
  WriterMutexLock(const WriterMutexLock&) = delete;
  WriterMutexLock& operator=(const WriterMutexLock&) = delete;

 private:
  SharedMutex& mutex_;
};

// Holds `mutex` shared for its scope: guarded state may be read, not written.
class SCOPED_CAPABILITY ReaderMutexLock {
 public:
  explicit ReaderMutexLock(SharedMutex& mutex) ACQUIRE_SHARED(mutex) : mutex_(mutex) {
    mutex_.lock_shared();
  }
  ~ReaderMutexLock() RELEASE() { mutex_.unlock_shared(); }
  ReaderMutexLock(const ReaderMutexLock&) = delete;
  ReaderMutexLock& operator=(const ReaderMutexLock&) = delete;

 private:
  SharedMutex& mutex_;
};

// A condition variable for Mutex. Every wait takes the mutex the caller holds.
class CondVar {
 public:
  void NotifyOne() { cv_.notify_one(); }
  void NotifyAll() { cv_.notify_all(); }

  // Without a predicate: may return spuriously, the caller re-checks its condition.
  void Wait(Mutex& mutex) REQUIRES(mutex) { cv_.wait(mutex); }
  // False when it returned at the timeout.
  template <typename Rep, typename Period>
  bool WaitFor(Mutex& mutex, std::chrono::duration<Rep, Period> timeout) REQUIRES(mutex) {
    return cv_.wait_for(mutex, timeout) == std::cv_status::no_timeout;
  }
  template <typename Clock, typename Duration>
  bool WaitUntil(Mutex& mutex, std::chrono::time_point<Clock, Duration> deadline) REQUIRES(mutex) {
    return cv_.wait_until(mutex, deadline) == std::cv_status::no_timeout;
  }

  // The predicate forms: a lambda reading GUARDED_BY(mu_) state is declared
  // `[&]() REQUIRES(mu_) {...}`; it runs with the mutex held.
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
  // Also wake when `stop` is requested; return `done()` at the end.
  template <typename Predicate>
  bool Wait(Mutex& mutex, const std::stop_token& stop, Predicate done) REQUIRES(mutex) {
    return cv_.wait(mutex, stop, std::move(done));
  }
  template <typename Rep, typename Period, typename Predicate>
  bool WaitFor(Mutex& mutex, const std::stop_token& stop,
               std::chrono::duration<Rep, Period> timeout, Predicate done) REQUIRES(mutex) {
    return cv_.wait_for(mutex, stop, timeout, std::move(done));
  }
  template <typename Clock, typename Duration, typename Predicate>
  bool WaitUntil(Mutex& mutex, const std::stop_token& stop,
                 std::chrono::time_point<Clock, Duration> deadline, Predicate done)
      REQUIRES(mutex) {
    return cv_.wait_until(mutex, stop, deadline, std::move(done));
  }

 private:
  std::condition_variable_any cv_;
};

}  // namespace pharos
