#pragma once

// RateLimitedWorkQueue: the controller work queue of client-go. Keys ("namespace/name") wait
// to be processed by workers; a key is in the queue at most once however often it is added; a
// key is never handed to two workers at once — one added while it is being processed is queued
// again when the worker calls Done(). AddAfter() delays a key; AddRateLimited() delays it by
// the larger of a per-key exponential backoff (5 ms × 2^failures, capped at 1000 s) and an
// overall token bucket (10 qps, burst 100); Forget() resets the key's backoff after a success.
// Usual worker loop: key = Get(); reconcile; error → AddRateLimited(key), requeue-after →
// Forget + AddAfter, success → Forget; then Done(key).
// Delays are measured on the Clock's monotonic time. TryGet() never blocks, which is how tests
// drive the queue in virtual time; Get() blocks (in real time) until a key is ready.
// Thread-safety: every method may be called from any thread.

#include <chrono>
#include <cstddef>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "common/clock.h"
#include "common/mutex.h"
#include "operator/kube/token_bucket.h"

namespace pharos {

struct WorkQueueOptions {
  std::chrono::milliseconds base_delay{5};
  std::chrono::seconds max_delay{1000};
  double qps = 10;
  int burst = 100;
};

class RateLimitedWorkQueue {
 public:
  explicit RateLimitedWorkQueue(const Clock& clock, WorkQueueOptions options = {});

  // Queues `key` now (a no-op when it is already queued; deferred until Done when it is being
  // processed). Ignored after ShutDown.
  void Add(const std::string& key);
  // Queues `key` after `delay` (at once when delay <= 0); a key already waiting keeps the
  // earlier of the two times.
  void AddAfter(const std::string& key, std::chrono::nanoseconds delay);
  // Queues `key` after its rate-limited delay and counts a failure for it.
  void AddRateLimited(const std::string& key);
  // Clears the key's failure count.
  void Forget(const std::string& key);
  // Failures counted for `key` since the last Forget.
  int NumRequeues(const std::string& key) const;

  // Blocks until a key is ready (and marks it as being processed) or the queue is shut down
  // and empty (nullopt).
  std::optional<std::string> Get();
  // Like Get but never waits: nullopt when no key is ready now.
  std::optional<std::string> TryGet();
  // The worker has finished with `key`.
  void Done(const std::string& key);

  // Stops accepting keys and wakes every Get; keys already ready are still handed out, delayed
  // ones are dropped.
  void ShutDown();

  // Keys ready to be handed out / waiting for their delay / being processed.
  size_t Len() const;
  size_t WaitingLen() const;
  size_t ProcessingLen() const;
  // How long until the next delayed key becomes ready (nullopt when none waits).
  std::optional<std::chrono::nanoseconds> NextReadyIn() const;

 private:
  using TimePoint = std::chrono::steady_clock::time_point;

  void AddLocked(const std::string& key) REQUIRES(mutex_);
  // Moves delayed keys that are due into the queue.
  void PromoteDueLocked(TimePoint now) REQUIRES(mutex_);
  std::optional<std::string> PopLocked() REQUIRES(mutex_);

  const Clock& clock_;
  const WorkQueueOptions options_;
  TokenBucket bucket_;
  mutable Mutex mutex_;
  CondVar changed_;
  std::deque<std::string> queue_ GUARDED_BY(mutex_);
  std::unordered_set<std::string> dirty_ GUARDED_BY(mutex_);  // queued or re-added
  std::unordered_set<std::string> processing_ GUARDED_BY(mutex_);
  std::unordered_map<std::string, TimePoint> waiting_ GUARDED_BY(mutex_);
  std::set<std::pair<TimePoint, std::string>> waiting_order_ GUARDED_BY(mutex_);
  std::unordered_map<std::string, int> failures_ GUARDED_BY(mutex_);
  bool shutting_down_ GUARDED_BY(mutex_) = false;
};

}  // namespace pharos
