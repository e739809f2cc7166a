#pragma once

// StatusPageView: everything one rendering of a status page shows — the overall status, each
// component with its state, 90-day bar and 24-hour latency, the incidents and the maintenance
// periods — built by StatusPageBuilder from the live status and the rollups, and read by the
// HTML, feed and JSON renderers (which never query anything themselves).
// Thread-safety: value types.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "operator/control/incident_reader.h"
#include "operator/control/maintenance_calendar.h"
#include "operator/control/monitor_status.h"
#include "operator/web/page_status.h"
#include "operator/web/status_page.h"

namespace pharos {

struct DayView {
  TimePoint day{};  // 00:00 UTC
  DayLevel level = DayLevel::kNone;
  std::optional<double> uptime;  // percent; nullopt without passing or failed checks
  DayFacts facts;

  bool operator==(const DayView&) const = default;
};

struct ComponentView {
  std::string display_name;
  std::string description;
  std::string namespace_name;  // of the monitor
  std::string monitor_name;
  std::string monitor_uid;            // empty when the monitor does not exist
  std::optional<MonitorState> state;  // nullopt: the monitor does not exist
  TimePoint since{};                  // last transition
  std::vector<RegionStatus> regions;  // the page's regions only, by name
  std::vector<DayView> days;          // StatusPageBuilder::kDays, oldest first, the last is today
  std::optional<double> uptime;       // over those days
  // Mean response time of each of the last 24 hours (µs), oldest first, the last is the
  // current hour; nullopt for an hour without a passing check.
  std::vector<std::optional<int64_t>> latency_hours;
};

struct GroupView {
  std::string name;
  std::vector<ComponentView> components;
};

struct IncidentView {
  IncidentRecord record;
  std::string component;                     // display name of the component it belongs to
  std::vector<std::string> screenshot_urls;  // the record's and the screenshot index's, in order
};

struct MaintenanceView {
  MaintenancePeriod period;
  std::vector<std::string> components;  // display names of the page's components it covers
};

struct StatusPageView {
  std::shared_ptr<const StatusPage> page;
  TimePoint now{};
  PageStatus status = PageStatus::kOperational;
  std::vector<GroupView> groups;
  std::vector<IncidentView> active_incidents;  // open or acknowledged, newest first
  // Resolved incidents opened within the bar's days, newest first (the page shows those of the
  // last 14 days; feeds all of them).
  std::vector<IncidentView> resolved_incidents;
  std::vector<MaintenanceView> active_maintenance;    // by start
  std::vector<MaintenanceView> upcoming_maintenance;  // by start
  // Components the page selects beyond StatusPageBuilder::kMaxComponents (not shown).
  size_t components_left_out = 0;

  size_t component_count() const {
    size_t count = 0;
    for (const GroupView& group : groups) count += group.components.size();
    return count;
  }
};

}  // namespace pharos
