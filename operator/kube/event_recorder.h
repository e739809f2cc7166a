#pragma once

// EventRecorder: records Kubernetes Events (core/v1) about objects — "MonitorDown",
// "ProbeDaemonSetApplied" — the way client-go's recorder does, without ever blocking the caller:
// Record() only puts the event in a bounded queue (dropping and counting when full), and a
// background thread ("event-recorder") sends it. A repeat of the same event (same object, type,
// reason and message) within 10 minutes is aggregated: the existing Event is PATCHed with
// count + 1 and a new lastTimestamp instead of creating another object. A per-object spam
// filter (a token bucket: burst 25, then one event per 5 minutes) drops floods from one object.
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
  int64_t dropped_full = 0;  // queue full
  int64_t dropped_spam = 0;  // per-object spam filter
  int64_t failed = 0;        // the API server refused or could not be reached
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

  // Waits until everything queued so far has been sent (or failed); false on timeout.
  bool WaitIdle(std::chrono::milliseconds timeout) const;
  EventRecorderStats stats() const;

 private:
  struct Pending {
    ObjectReference object;
    EventType type;
    std::string reason;
    std::string message;
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
  void Send(const Pending& event);
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
  bool stopping_ GUARDED_BY(mutex_) = false;
  std::chrono::steady_clock::time_point drain_deadline_ GUARDED_BY(mutex_);
  EventRecorderStats stats_ GUARDED_BY(mutex_);

  // Only the recorder thread touches these.
  std::map<std::string, Sent> sent_;
  std::map<std::string, Spam> spam_;
  uint32_t sequence_ = 0;
};

}  // namespace pharos
