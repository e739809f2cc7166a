#include "operator/controller/monitor_reconciler.h"

#include <utility>
#include <vector>

#include "common/logging.h"
#include "common/monitor_loader.h"
#include "common/target_policy_warnings.h"
#include "operator/kube/kube_client.h"

namespace pharos {
namespace {

using Json = nlohmann::json;

const Logger& Log() {
  static const Logger logger("operator");
  return logger;
}

std::string JoinErrors(const std::vector<ValidationError>& errors) {
  std::string joined;
  for (const ValidationError& error : errors) {
    joined += (joined.empty() ? "" : "; ") + error.ToString();
  }
  return joined;
}

int64_t GenerationOf(const Json& object) {
  const Json* generation = nullptr;
  if (object.contains("metadata") && object["metadata"].is_object()) {
    auto found = object["metadata"].find("generation");
    if (found != object["metadata"].end()) {
      generation = &*found;
    }
  }
  return generation != nullptr && generation->is_number_integer() ? generation->get<int64_t>() : 0;
}

}  // namespace

MonitorReconciler::MonitorReconciler(ObjectLookup lookup, MonitorSet& monitors,
                                     MonitorStatusWriter& status, EventRecorder& events,
                                     const TargetPolicy& policy)
    : lookup_(std::move(lookup)),
      monitors_(monitors),
      status_(status),
      events_(events),
      policy_(policy) {}

Status MonitorReconciler::Reconcile(const std::string& key) {
  const std::optional<Json> object = lookup_(key);
  const auto known = uid_by_key_.find(key);
  const std::string uid = object ? JsonStringAt(*object, {"metadata", "uid"}) : std::string();
  if (known != uid_by_key_.end() && known->second != uid) {
    // Deleted, or deleted and created again under the same name.
    Remove(known->second, key);
    uid_by_key_.erase(known);
  }
  if (!object) {
    return OkStatus();
  }
  if (uid.empty()) {
    Log().Warn("ignoring a Monitor without metadata.uid", {{"monitor", key}});
    return OkStatus();
  }
  if (Status applied = Apply(*object); !applied) {
    return applied;
  }
  uid_by_key_[key] = uid;
  return OkStatus();
}

Status MonitorReconciler::Apply(const Json& object) {
  const std::string uid = JsonStringAt(object, {"metadata", "uid"});
  const std::string namespace_name = JsonStringAt(object, {"metadata", "namespace"});
  const std::string name = JsonStringAt(object, {"metadata", "name"});
  std::vector<ValidationError> errors;
  Result<Monitor> monitor = MonitorFromApiObject(object, &errors);
  std::string reason;
  if (monitor) {
    Status upserted = monitors_.UpsertMonitor(*monitor);
    if (upserted) {
      std::optional<SpecWarning> warning;
      const std::vector<ValidationError> blocked = BlockedTargetWarnings({*monitor}, policy_);
      if (!blocked.empty()) {
        warning = SpecWarning{GenerationOf(object), "BlockedTarget",
                              blocked.front().path + ": " + blocked.front().message, false,
                              monitor->Key()};
      }
      Remember(uid, std::move(warning));
      status_.Track(uid, namespace_name, name);
      if (leading_) RecordWarningEvents();
      return OkStatus();
    }
    reason = upserted.error();
  } else {
    reason = errors.empty() ? monitor.error() : JoinErrors(errors);
  }

  Monitor identity;
  identity.uid = uid;
  identity.namespace_name = namespace_name;
  identity.name = name;
  identity.generation = GenerationOf(object);
  if (Status marked = monitors_.MarkInvalid(identity, reason); !marked) {
    return Error{"cannot mark the Monitor invalid: " + marked.error()};
  }
  status_.Track(uid, namespace_name, name);
  Remember(uid, SpecWarning{identity.generation, "InvalidSpec",
                            "The operator refused this Monitor and does not check it: " + reason,
                            false, identity.Key()});
  if (leading_) {
    RecordWarningEvents();
  }
  return OkStatus();
}

void MonitorReconciler::Remember(const std::string& uid, std::optional<SpecWarning> warning) {
  MutexLock lock(warnings_mu_);
  if (!warning) {
    warnings_.erase(uid);
    return;
  }
  SpecWarning& known = warnings_[uid];
  if (known.generation != warning->generation || known.message != warning->message) {
    known = std::move(*warning);
  }
}

void MonitorReconciler::Remove(const std::string& uid, const std::string& key) {
  status_.Forget(uid);
  if (monitors_.RemoveMonitor(uid)) {
    Log().Info("Monitor deleted: no longer checked", {{"monitor", key}});
  }
  MutexLock lock(warnings_mu_);
  warnings_.erase(uid);
}

void MonitorReconciler::SetLeading(bool leading) {
  leading_ = leading;
  if (leading) {
    RecordWarningEvents();
  }
}

void MonitorReconciler::RecordWarningEvents() {
  std::vector<SpecWarning> pending;
  {
    MutexLock lock(warnings_mu_);
    for (auto& [uid, warning] : warnings_) {
      if (!warning.event_sent) {
        warning.event_sent = true;
        pending.push_back(warning);
      }
    }
  }
  for (const SpecWarning& warning : pending) {
    std::optional<Json> object = lookup_(warning.key);
    if (!object) {
      continue;
    }
    events_.Warning(ObjectReference::FromObject(*object), warning.event_reason, warning.message);
  }
}

}  // namespace pharos
