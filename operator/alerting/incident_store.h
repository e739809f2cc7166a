#pragma once

// IncidentStore: where the alerting room keeps incidents as people work with them — their phase
// (Open, Acknowledged, Resolved), their timeline (state changes, notes, acknowledgements,
// maintenance, notifications sent, screenshots) — and the IncidentReader that status pages, the
// dashboard and the JSON API read. SqliteAlertStore (operator/storage/) keeps them beside the
// core's incident rows in `pharos run`; IncidentResourceStore (operator/controller/) keeps them
// as Incident resources in Kubernetes. The core decides when an incident opens and resolves
// (MonitorStateMachine); this store records what followed.
// Thread-safety: implementations are safe to call from any thread.

#include <optional>
#include <string>

#include "common/result.h"
#include "operator/control/incident_reader.h"

namespace pharos {

// What a change of an incident by a person did.
struct IncidentUpdate {
  bool found = false;    // false: no incident has that id
  bool changed = false;  // false: nothing to do (already acknowledged, already attached)
  std::optional<IncidentRecord> record;  // the incident after the change
};

class IncidentStore : public IncidentReader {
 public:
  // The core opened `incident` (idempotent: an incident already recorded is left as it is).
  virtual Status RecordOpened(const Incident& incident) = 0;
  // The core resolved it at `at` (idempotent).
  virtual Status RecordResolved(const std::string& id, TimePoint at) = 0;
  // Appends an entry to the timeline (state changes, maintenance, notifications sent).
  virtual Status AddEntry(const std::string& id, const IncidentEntry& entry) = 0;

  // Someone acknowledged the incident: phase Acknowledged, reminders stop. Resolved incidents
  // cannot be acknowledged (changed = false).
  virtual Result<IncidentUpdate> Acknowledge(const std::string& id, const std::string& author,
                                             TimePoint at) = 0;
  virtual Result<IncidentUpdate> AddNote(const std::string& id, const std::string& author,
                                         const std::string& text, TimePoint at) = 0;
  // A screenshot of the target taken for this incident (status pages capture it on Down):
  // listed in screenshot_urls and on the timeline. The same URL twice is recorded once.
  virtual Result<IncidentUpdate> AttachScreenshot(const std::string& id, const std::string& url,
                                                  TimePoint at) = 0;
};

}  // namespace pharos
