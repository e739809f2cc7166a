#pragma once

// EventRecorder: records Kubernetes Events (core/v1) about objects — "MonitorDown",
// "ProbeDaemonSetApplied" — the way client-go's recorder does, without ever blocking the caller:
// Record() only puts the event in a bounded queue, and a background thread ("event-recorder")
// sends it. A repeat of the same event (same object, type, reason and message) within 10 minutes
// is aggregated: the existing Event is PATCHed with count + 1 and a new lastTimestamp instead of
// creating another object. A per-object spam filter (a token bucket: burst 25, then one event
// per 5 minutes) drops floods from one object.
// An API server that cannot take an Event now (no answer, 5xx, 429) does not lose it: the event
// stays at the head of the queue and is sent again after a backoff (doubling from retry_min to
// retry_max, or the server's Retry-After when longer), keeping the time it happened. While the
// API server is away the queue fills up; at its bound the oldest event is dropped (counted and
// logged once per episode), so memory stays bounded and Record() never waits. 401 and 403 are
// tried 5 times in all (a restarted API server answers them until its authorizer has synced);
// other refusals (404, 422...) are counted as failed and not retried.
// Thread-safety: every method may be called from any thread.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "common/clock.h"
#include "common/mutex.h"
#include "operator/kube/kube_client.h"
#include "operator/kube/token_bucket.h"

namespace pharos {

// What an Event is about (core/v1 ObjectReference).
struct ObjectReference {
  std::string api_version;
  std::string kind;
  std::string namespace_name;
  std::string name;
  std::string uid;
  std::string resource_version;

  // From an object as served by the API server (apiVersion, kind, metadata).
  static ObjectReference FromObject(const nlohmann::json& object);
  nlohmann::json ToJson() const;
};

enum class EventType { kNormal, kWarning };

struct EventRecorderOptions {
  std::string component = "pharos-operator";  // source.component, reportingComponent
  std::string instance;                       // source.host, reportingInstance (pod name)
  size_t queue_capacity = 1000;
  // Backoff between attempts while the API server cannot take Events.
  std::chrono::milliseconds retry_min{500};
  std::chrono::milliseconds retry_max{30'000};
  std::chrono::minutes aggregation_window{10};
  int per_object_burst = 25;
  std::chrono::seconds per_object_refill{300};
  // Objects / distinct events remembered for the spam filter and aggregation.
  size_t max_tracked = 4096;
};

struct EventRecorderStats {
  int64_t recorded = 0;      // Record() calls accepted into the queue
  int64_t created = 0;       // Events POSTed
  int64_t aggregated = 0;    // repeats PATCHed into an existing Event
  int64_t retried = 0;       // attempts that failed and will be made again (after a backoff)
  int64_t dropped_full = 0;  // the oldest event dropped because the queue was at its bound
  int64_t dropped_spam = 0;  // per-object spam filter
  int64_t failed = 0;        // the API server refused in a way a retry cannot cure
  int64_t queued = 0;        // now: events waiting to be sent (a retried one included)
  // Now: when the next attempt is due while backing off (the clock's steady time), else zero.
  std::chrono::steady_clock::time_point retry_at{};
};

class EventRecorder {
 public:
  // `clock` (timestamps, aggregation window, spam filter) must outlive the recorder.
  EventRecorder(KubeClient& client, EventRecorderOptions options, const Clock& clock);
  ~EventRecorder();
  EventRecorder(const EventRecorder&) = delete;
  EventRecorder& operator=(const EventRecorder&) = delete;

  void Start();
  // Sends what is queued for up to `drain`, then stops the thread. Idempotent.
  void Stop(std::chrono::milliseconds drain = std::chrono::seconds(2));

  // Queues an event; never blocks. `reason` is CamelCase ("MonitorDown"); `message` is for
  // people. Reasons longer than 128 and messages longer than 1024 bytes are cut.
  void Record(const ObjectReference& object, EventType type, std::string reason,
              std::string message);
  void Normal(const ObjectReference& object, std::string reason, std::string message) {
    Record(object, EventType::kNormal, std::move(reason), std::move(message));
  }
  void Warning(const ObjectReference& object, std::string reason, std::string message) {
    Record(object, EventType::kWarning, std::move(reason), std::move(message));
  }

  // Waits until everything queued so far has been sent (or failed, or dropped); false on
  // timeout (an event waiting for a retry is not sent yet).
  bool WaitIdle(std::chrono::milliseconds timeout) const;
  EventRecorderStats stats() const;

 private:
  struct Pending {
    ObjectReference object;
    EventType type;
    std::string reason;
    std::string message;
    Clock::TimePoint happened_wall;                  // the Event's timestamps
    std::chrono::steady_clock::time_point happened;  // for the aggregation window
    bool admitted = false;  // passed the spam filter (checked on the first attempt only)
    std::string name;       // the Event's name, fixed by the first create attempt
    int denied = 0;         // attempts answered 401/403
  };
  // What became of one attempt to send an event.
  struct Attempt {
    bool retry = false;  // the API server could not take it now: send it again later
    std::chrono::seconds retry_after{0};
  };
  struct Sent {
    std::string event_name;
    std::string event_namespace;
    int64_t count = 0;
    std::chrono::steady_clock::time_point last_sent;
  };
  struct Spam {
    std::unique_ptr<TokenBucket> bucket;
    std::chrono::steady_clock::time_point last_used;
  };

  void Loop();
  Attempt Send(Pending& event);
  // Puts an event whose attempt failed back at the head of the queue and sets the next attempt.
  void Retry(Pending event, std::chrono::seconds retry_after);
  // Drops the oldest queued event to make room; true for the first drop of an episode (which
  // the caller logs, outside the lock).
  bool DropOldest() REQUIRES(mutex_);
  void LogOverflow();
  bool AllowedBySpamFilter(const ObjectReference& object);
  void Count(int64_t EventRecorderStats::*field);

  KubeClient& client_;
  const EventRecorderOptions options_;
  const Clock& clock_;
  std::thread thread_;

  mutable Mutex mutex_;
  mutable CondVar changed_;
  std::deque<Pending> queue_ GUARDED_BY(mutex_);
  bool busy_ GUARDED_BY(mutex_) = false;  // the thread is sending one
  // Backoff after failed attempts: nothing is sent before next_attempt_ (clock_'s steady time).
  int consecutive_failures_ GUARDED_BY(mutex_) = 0;
  std::chrono::steady_clock::time_point next_attempt_ GUARDED_BY(mutex_){};
  bool overflow_logged_ GUARDED_BY(mutex_) = false;  // until the queue drains again
  bool stopping_ GUARDED_BY(mutex_) = false;
  std::chrono::steady_clock::time_point drain_deadline_ GUARDED_BY(mutex_);
  EventRecorderStats stats_ GUARDED_BY(mutex_);

  // Only the recorder thread touches these.
  std::map<std::string, Sent> sent_;
  std::map<std::string, Spam> spam_;
  uint32_t sequence_ = 0;
};

}  // namespace pharos
