#pragma once

// MonitorTransitionEvents: the Kubernetes Events that tell `kubectl describe monitor` readers
// about outages: a Warning "MonitorDown" when a monitor goes Down (with the first error, the
// failing regions and the incident opened) and a Normal "MonitorUp" when it comes back. A
// transition out of Pending is compared with the state the Monitor's status already shows (a
// previous leader may have decided it), so a leader change repeats no Event.
// Thread-safety: OnTransition may be called from any thread (the EventRecorder queues).

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/monitor.h"
#include "operator/control/monitor_state.h"
#include "operator/kube/event_recorder.h"

namespace pharos {

class MonitorTransitionEvents {
 public:
  // The cached Monitor object (with apiVersion and kind) of a key; nullopt when unknown.
  using ObjectLookup = std::function<std::optional<nlohmann::json>(const std::string& key)>;

  MonitorTransitionEvents(ObjectLookup lookup, EventRecorder& events)
      : lookup_(std::move(lookup)), events_(events) {}

  // A persisted transition of `monitor`. Call only while leading.
  void OnTransition(const Monitor& monitor, const StateEvent& event);

 private:
  const ObjectLookup lookup_;
  EventRecorder& events_;
};

}  // namespace pharos
