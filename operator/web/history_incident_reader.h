#pragma once

// HistoryIncidentReader: the IncidentReader of an installation whose alerting room does not keep
// incidents of its own: the ResultStore's plain incident rows as records (open or resolved, no
// timeline). The editions use it until an incident store is plugged in (docs/status-pages.md).
// Thread-safety: as the HistoryReader it reads.

#include "operator/control/incident_reader.h"
#include "operator/control/result_store.h"

namespace pharos {

class HistoryIncidentReader final : public IncidentReader {
 public:
  explicit HistoryIncidentReader(HistoryReader& history) : history_(history) {}

  Result<std::vector<IncidentRecord>> ListIncidents(const IncidentQuery& query) override;
  Result<std::vector<IncidentRecord>> ListIncidentsInWindow(
      const IncidentWindowQuery& query) override;
  // Searches the most recent incidents (the store has no lookup by id).
  Result<std::optional<IncidentRecord>> GetIncident(const std::string& id) override;

 private:
  HistoryReader& history_;
};

}  // namespace pharos
