#pragma once

// StateSeed: a monitor's state as a source outside the core's store last recorded it (in
// Kubernetes, the Monitor's .status written by whichever replica led; see
// controller/status_state_seed.h). OperatorCore resumes a monitor from a seed when the seed holds
// newer evidence than both its store and its memory (docs/architecture.md, "Leader changes"),
// so a leader change neither flaps through Pending nor opens a second incident.
// Thread-safety: a value type.

#include <optional>

#include "operator/control/monitor_state.h"

namespace pharos {

struct StateSeed {
  MonitorStateSnapshot state;               // updated_at = evidence_at
  std::optional<TimePoint> incident_since;  // set when state.open_incident_id is
  // The newest check the seed reflects: a stored snapshot with evidence at or after this knows
  // at least as much, and wins.
  TimePoint evidence_at{};

  // The newest evidence a state holds (a region's last check, the last evaluated round);
  // nullopt when it holds none (a monitor never checked).
  static std::optional<TimePoint> EvidenceOf(const MonitorProgress& state);
};

}  // namespace pharos
