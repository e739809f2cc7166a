#pragma once

// MonitorSet: where the sources of Monitors (files in `pharos run`, the Kubernetes informer in
// pharos-operator) declare them. OperatorCore implements it; the Kubernetes reconciler is tested
// against it with the real core or a double.
// Thread-safety: implementations are safe to call from any thread.

#include <string>

#include "common/monitor.h"
#include "common/result.h"

namespace pharos {

class MonitorSet {
 public:
  virtual ~MonitorSet() = default;

  // Adds a monitor or applies its new spec. An error means nothing changed (the monitor cannot
  // be run, e.g. an empty uid).
  virtual Status UpsertMonitor(const Monitor& monitor) = 0;
  // The validator refused this Monitor: it is not checked and shows state Invalid with
  // `reason` until a valid spec is upserted. `monitor` needs only its identity.
  virtual Status MarkInvalid(const Monitor& monitor, std::string reason) = 0;
  // The monitor is gone; false when its uid is not known.
  virtual bool RemoveMonitor(const std::string& uid) = 0;
};

}  // namespace pharos
