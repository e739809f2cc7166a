#pragma once

// MonitorReconciler: brings the control plane in line with one Monitor object, by key
// (namespace/name), as client-go's controllers do: the informer's cached object is the desired
// state; the reconciler makes the MonitorSet match it.
// * Present and valid (MonitorFromApiObject): upserted; its status is tracked for writing.
// * Present and refused by the validator (or by the core): marked Invalid with the reason (status
//   state Invalid, Ready=False) and, once per generation and reason, a Warning Event
//   "InvalidSpec" — sent only while leading (queued until then, so a standby takes over the duty).
// * Present and valid, but its target an IP literal the cluster's target policy blocks (cloud
//   metadata, link-local, --deny-cidr): checked like any other (every check is a probe error),
//   and a Warning Event "BlockedTarget" says why, once per generation, on the same terms.
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
#include "common/target_policy.h"
#include "operator/control/monitor_set.h"
#include "operator/controller/monitor_status_writer.h"
#include "operator/kube/event_recorder.h"

namespace pharos {

class MonitorReconciler {
 public:
  // The cached Monitor object of a key; nullopt when it is not (or no longer) in the cache.
  using ObjectLookup = std::function<std::optional<nlohmann::json>(const std::string& key)>;

  // Every reference must outlive the reconciler.
  // `policy` is the cluster's target policy (the defaults, --deny-cidr, --allow-cidr).
  MonitorReconciler(ObjectLookup lookup, MonitorSet& monitors, MonitorStatusWriter& status,
                    EventRecorder& events, const TargetPolicy& policy);

  Status Reconcile(const std::string& key);
  // Becoming the leader sends the InvalidSpec and BlockedTarget Events not sent yet.
  void SetLeading(bool leading);

 private:
  // A Warning Event a Monitor's spec deserves (refused, or a blocked target), until sent.
  struct SpecWarning {
    int64_t generation = 0;
    const char* event_reason = "";  // "InvalidSpec", "BlockedTarget"
    std::string message;
    bool event_sent = false;
    std::string key;  // namespace/name
  };

  Status Apply(const nlohmann::json& object);
  void Remove(const std::string& uid, const std::string& key);
  // Remembers `warning` for `uid` (nullopt: none); a new generation or message is sent again.
  void Remember(const std::string& uid, std::optional<SpecWarning> warning);
  void RecordWarningEvents();

  const ObjectLookup lookup_;
  MonitorSet& monitors_;
  MonitorStatusWriter& status_;
  EventRecorder& events_;
  const TargetPolicy& policy_;
  std::atomic<bool> leading_{false};

  // The uid each key was last reconciled as (reconcile thread only): a key whose object is gone
  // from the cache, or came back under a new uid, removes the monitor of that uid.
  std::map<std::string, std::string> uid_by_key_;
  Mutex warnings_mu_;
  std::map<std::string, SpecWarning> warnings_ GUARDED_BY(warnings_mu_);  // by uid
};

}  // namespace pharos
