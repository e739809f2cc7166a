#pragma once

// StatusStateSeed: a monitor's state as its Kubernetes object's .status shows it, i.e. what the
// previous leader decided and wrote: state, lastTransitionTime, message, per-region states and
// the open incident. A new leader whose own store knows nothing newer about the monitor (a
// standby, or a replacement pod with a fresh volume) starts the monitor's state machine from this
// instead of Pending (state that must survive a leader change lives in the API server:
// docs/architecture.md), so a leader change neither flaps the status through Pending, nor opens a
// second incident, nor repeats MonitorDown/MonitorUp Events. The counters are set so that the
// thresholds behave as they did: a Down monitor needs successThreshold good rounds to come back, an
// Up one failureThreshold bad rounds to go Down. Thread-safety: stateless.

#include <nlohmann/json.hpp>
#include <optional>

#include "common/monitor.h"
#include "operator/control/state_seed.h"

namespace pharos {

class StatusStateSeed {
 public:
  // The seed in the Monitor API object `object` for `monitor` (whose thresholds set the
  // counters). nullopt when there is nothing to resume: no status, a uid other than the
  // monitor's, a state other than Up, Degraded or Down (Pending has nothing to resume; Paused
  // and Invalid follow from the spec), or no check time.
  static std::optional<StateSeed> FromObject(const nlohmann::json& object, const Monitor& monitor);
};

}  // namespace pharos
