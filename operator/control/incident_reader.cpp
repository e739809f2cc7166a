#include "operator/control/incident_reader.h"

#include <utility>

namespace pharos {

const char* ToString(IncidentPhase phase) {
  switch (phase) {
    case IncidentPhase::kOpen:
      return "Open";
    case IncidentPhase::kAcknowledged:
      return "Acknowledged";
    case IncidentPhase::kResolved:
      return "Resolved";
  }
  return "Open";
}

const char* ToString(IncidentEntry::Kind kind) {
  switch (kind) {
    case IncidentEntry::Kind::kStateChange:
      return "stateChange";
    case IncidentEntry::Kind::kNote:
      return "note";
    case IncidentEntry::Kind::kAcknowledged:
      return "acknowledged";
    case IncidentEntry::Kind::kMaintenanceStart:
      return "maintenanceStart";
    case IncidentEntry::Kind::kMaintenanceEnd:
      return "maintenanceEnd";
    case IncidentEntry::Kind::kNotification:
      return "notification";
    case IncidentEntry::Kind::kScreenshot:
      return "screenshot";
  }
  return "stateChange";
}

IncidentRecord IncidentRecord::FromIncident(Incident incident) {
  IncidentRecord record;
  record.phase = incident.resolved_at ? IncidentPhase::kResolved : IncidentPhase::kOpen;
  record.incident = std::move(incident);
  return record;
}

Result<std::vector<IncidentRecord>> IncidentReader::ListIncidentsInWindow(
    const IncidentWindowQuery& query) {
  std::vector<IncidentRecord> out;
  for (const std::string& uid : query.monitor_uids) {
    IncidentQuery one;
    one.monitor_uid = uid;
    one.limit = query.limit_per_monitor;
    Result<std::vector<IncidentRecord>> records = ListIncidents(one);
    if (!records) return Error{records.error(), records.error_kind()};
    for (IncidentRecord& record : *records) {
      if (query.Covers(record.incident.opened_at, record.incident.resolved_at)) {
        out.push_back(std::move(record));
      }
    }
  }
  return out;
}

}  // namespace pharos
