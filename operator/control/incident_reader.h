#pragma once

// IncidentReader: incidents as people read them — on status pages, in the dashboard, in the JSON
// API — with their phase, their timeline (state changes, notes, acknowledgements, maintenance,
// notifications sent) and the screenshots taken. The alerting room keeps incidents (SQLite in
// `pharos run`, Incident resources in Kubernetes) and implements this; readers never depend on
// where they live. The plain Incident rows of the ResultStore are the fallback for installations
// without it (IncidentRecord::FromIncident).
// Thread-safety: implementations are safe to call from any thread.

#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "operator/control/result_store.h"

namespace pharos {

enum class IncidentPhase { kOpen, kAcknowledged, kResolved };
const char* ToString(IncidentPhase phase);  // "Open" "Acknowledged" "Resolved"

struct IncidentEntry {
  enum class Kind {
    kStateChange,       // text: "Down (failing in eu-west: connection refused)"
    kNote,              // text: the note; author: who wrote it
    kAcknowledged,      // author: who acknowledged
    kMaintenanceStart,  // text: the window's name
    kMaintenanceEnd,
    kNotification,  // text: "down sent to shop/oncall-slack"
    kScreenshot,    // text: the screenshot's URL
  };
  TimePoint at{};
  Kind kind = Kind::kStateChange;
  std::string text;
  std::string author;
};
const char* ToString(IncidentEntry::Kind kind);  // "stateChange" "note" "acknowledged" ...

struct IncidentRecord {
  Incident incident;  // id, monitor, opened/resolved, failing regions, first error
  IncidentPhase phase = IncidentPhase::kOpen;
  std::vector<IncidentEntry> timeline;       // oldest first
  std::vector<std::string> screenshot_urls;  // "/api/v1/screenshots/<id>.png", oldest first

  // A record of a plain stored incident: its phase from resolved_at, an empty timeline.
  static IncidentRecord FromIncident(Incident incident);
};

class IncidentReader {
 public:
  virtual ~IncidentReader() = default;

  // Open incidents first, then the most recently opened (as HistoryReader::Incidents).
  virtual Result<std::vector<IncidentRecord>> ListIncidents(const IncidentQuery& query) = 0;
  // The incidents of `query`'s monitors in its window (IncidentWindowQuery), grouped by
  // monitor in no given order of monitors: what a status page of many monitors reads at once.
  // The default asks ListIncidents once per monitor; stores override it with one query.
  virtual Result<std::vector<IncidentRecord>> ListIncidentsInWindow(
      const IncidentWindowQuery& query);
  // nullopt when no incident has this id.
  virtual Result<std::optional<IncidentRecord>> GetIncident(const std::string& id) = 0;
};

}  // namespace pharos
