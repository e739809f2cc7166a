#include "operator/web/history_incident_reader.h"

#include <utility>

namespace pharos {

namespace {

// The stored rows as records without a timeline.
Result<std::vector<IncidentRecord>> AsRecords(Result<std::vector<Incident>> incidents) {
  if (!incidents) return Error{incidents.error(), incidents.error_kind()};
  std::vector<IncidentRecord> records;
  records.reserve(incidents->size());
  for (Incident& incident : *incidents) {
    records.push_back(IncidentRecord::FromIncident(std::move(incident)));
  }
  return records;
}

}  // namespace

Result<std::vector<IncidentRecord>> HistoryIncidentReader::ListIncidents(
    const IncidentQuery& query) {
  return AsRecords(history_.Incidents(query));
}

Result<std::vector<IncidentRecord>> HistoryIncidentReader::ListIncidentsInWindow(
    const IncidentWindowQuery& query) {
  return AsRecords(history_.IncidentsInWindow(query));
}

Result<std::optional<IncidentRecord>> HistoryIncidentReader::GetIncident(const std::string& id) {
  IncidentQuery query;
  query.limit = 1'000;
  Result<std::vector<Incident>> incidents = history_.Incidents(query);
  if (!incidents) return Error{incidents.error(), incidents.error_kind()};
  for (Incident& incident : *incidents) {
    if (incident.id == id) return std::optional(IncidentRecord::FromIncident(std::move(incident)));
  }
  return std::optional<IncidentRecord>();
}

}  // namespace pharos
