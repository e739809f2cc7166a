#pragma once

// MonitorReconciler: brings the control plane in line with one Monitor object, by key
// (namespace/name), as client-go's controllers do: the informer's cached object is the desired
// state; the reconciler makes the MonitorSet match it.
// * Present and valid (MonitorFromApiObject): upserted; its status is tracked for writing.
// * Present and refused by the validator (or by the core): marked Invalid with the reason (status
//   state Invalid, Ready=False) and, once per generation and reason, a Warning Event
//   "InvalidSpec" — sent only while leading (queued until then, so a standby takes over the duty).
// * Gone, or back under a new uid (deleted and created again): the old uid is removed at once.
// An error means "try again later" (the caller re-queues the key with backoff).
// Thread-safety: Reconcile on one thread at a time (the reconcile thread); SetLeading from any.

#include <atomic>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/mutex.h"
#include "common/result.h"
#include "operator/control/monitor_set.h"
#include "operator/controller/monitor_status_writer.h"
#include "operator/kube/event_recorder.h"

namespace pharos {

class MonitorReconciler {
 public:
  // The cached Monitor object of a key; nullopt when it is not (or no longer) in the cache.
  using ObjectLookup = std::function<std::optional<nlohmann::json>(const std::string& key)>;

  // Every reference must outlive the reconciler.
  MonitorReconciler(ObjectLookup lookup, MonitorSet& monitors, MonitorStatusWriter& status,
                    EventRecorder& events);

  Status Reconcile(const std::string& key);
  // Becoming the leader sends the InvalidSpec Events not sent yet.
  void SetLeading(bool leading);

 private:
  // What the reconciler remembers of a Monitor it refused.
  struct InvalidMonitor {
    int64_t generation = 0;
    std::string reason;
    bool event_sent = false;
    std::string key;  // namespace/name
  };

  Status Apply(const nlohmann::json& object);
  void Remove(const std::string& uid, const std::string& key);
  void RecordInvalidEvents();

  const ObjectLookup lookup_;
  MonitorSet& monitors_;
  MonitorStatusWriter& status_;
  EventRecorder& events_;
  std::atomic<bool> leading_{false};

  // The uid each key was last reconciled as (reconcile thread only): a key whose object is gone
  // from the cache, or came back under a new uid, removes the monitor of that uid.
  std::map<std::string, std::string> uid_by_key_;
  Mutex invalid_mu_;
  std::map<std::string, InvalidMonitor> invalid_ GUARDED_BY(invalid_mu_);  // by uid
};

}  // namespace pharos
