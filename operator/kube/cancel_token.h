#pragma once

// CancelToken: a one-shot "stop now" signal shared between a thread that runs something long (a
// watch, a backoff sleep, a rate-limiter wait) and the threads that may want it to end early.
// Blocking code either waits on the token (WaitFor) or registers a waker that interrupts its own
// poll loop (curl_multi_wakeup), so cancellation takes effect at once rather than at the next
// timeout.
// Thread-safety: every method may be called from any thread.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>

namespace pharos {

class CancelToken {
 public:
  using WakerId = uint64_t;

  CancelToken() = default;
  CancelToken(const CancelToken&) = delete;
  CancelToken& operator=(const CancelToken&) = delete;

  // Fires the token (idempotent): wakes every WaitFor and calls every registered waker.
  void Cancel();
  bool IsCancelled() const;

  // Sleeps up to `timeout`; returns true when the token fired (before or during the wait).
  bool WaitFor(std::chrono::nanoseconds timeout) const;

  // Registers `waker`, called by Cancel() (at once when already cancelled). Wakers run with an
  // internal lock held, so they must be quick and must not call back into this token; after
  // RemoveWaker returns, the waker is guaranteed not to be running or to run again.
  WakerId AddWaker(std::function<void()> waker) const;
  void RemoveWaker(WakerId id) const;

 private:
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  bool cancelled_ = false;
  mutable std::mutex wakers_mutex_;
  mutable std::map<WakerId, std::function<void()>> wakers_;  // guarded by wakers_mutex_
  mutable WakerId next_waker_id_ = 1;                        // guarded by wakers_mutex_
};

}  // namespace pharos
