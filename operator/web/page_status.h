#pragma once

// The words and rules of a status page (docs/status-pages.md, "What the page shows"): the overall
// status from the components' states, the level of one day of a component's uptime bar, and how
// each is named for readers.
//
// Overall status, the first rule that holds:
//   1. major_outage: every watched component is Down (watched: its monitor exists and is not
//      Paused, Pending or Invalid — those say nothing about the service);
//   2. partial_outage: some component is Down;
//   3. degraded: some component is Degraded;
//   4. maintenance: some component is in Maintenance, or a maintenance window of the page's
//      monitors is active now;
//   5. operational: otherwise (also when nothing is watched yet).
// Day level, the first rule that holds (counts from the daily rollups, incidents from the
// incident store, windows from the maintenance calendar):
//   1. down: an incident of the monitor was open at some time that day;
//   2. maintenance: a maintenance window covered the monitor that day;
//   3. degraded: some check failed or was degraded (without an incident);
//   4. up: checks ran and passed;
//   5. none: no check result that day (before the monitor existed, paused, probe errors only).
// Thread-safety: free functions.

#include <optional>
#include <vector>

#include "operator/control/monitor_state.h"

namespace pharos {

enum class PageStatus { kOperational, kDegraded, kPartialOutage, kMajorOutage, kMaintenance };
// "operational" "degraded" "partial_outage" "major_outage" "maintenance" (the JSON API's words)
const char* ToString(PageStatus status);
// "All systems operational", "Degraded performance", "Partial outage", "Major outage",
// "Under maintenance"
const char* Headline(PageStatus status);

// `states`: one per component; nullopt for a component whose monitor does not exist.
PageStatus OverallStatus(const std::vector<std::optional<MonitorState>>& states,
                         bool maintenance_active);

enum class DayLevel { kNone, kUp, kDegraded, kDown, kMaintenance };
const char* ToString(DayLevel level);  // "none" "up" "degraded" "down" "maintenance"

struct DayFacts {
  int64_t passed = 0;    // up + degraded checks
  int64_t degraded = 0;  // degraded checks
  int64_t failed = 0;    // down checks
  int incidents = 0;     // incidents open at some time that day
  bool maintenance = false;

  bool operator==(const DayFacts&) const = default;
};
DayLevel LevelOf(const DayFacts& facts);

// How a component's state reads on a public page: "Operational", "Degraded performance",
// "Outage", "Paused", "Under maintenance", "No data yet" (Pending), "Unknown" (Invalid, or a
// monitor that does not exist).
const char* ComponentStateLabel(std::optional<MonitorState> state);
// The CSS modifier of that state: "up" "degraded" "down" "paused" "maintenance" "unknown".
const char* ComponentStateClass(std::optional<MonitorState> state);

}  // namespace pharos
