#pragma once

// MaintenanceWindow: planned maintenance (docs/alerting.md#maintenance-windows) — the in-memory
// form of a `MaintenanceWindow` document or resource (maintenancewindows.pharos.dev), and its
// parser. Either one-off (`start` and `end`, RFC 3339) or recurring (`schedule`, a 5-field cron
// expression, with `duration` and an IANA `timeZone`, default UTC). It covers the monitors of
// its namespace named in `monitors` and/or matching `selector.matchLabels` (an empty selector
// matches every monitor of the namespace).
// Thread-safety: value types and pure functions.

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/document_node.h"
#include "common/monitor.h"
#include "common/monitor_loader.h"
#include "common/result.h"
#include "operator/alerting/cron_schedule.h"
#include "operator/alerting/document_reader.h"

namespace pharos {

struct MaintenanceWindow {
  using TimePoint = std::chrono::system_clock::time_point;

  ObjectMeta meta;
  std::string description;
  // One-off.
  std::optional<TimePoint> start;
  std::optional<TimePoint> end;
  // Recurring.
  std::optional<CronSchedule> schedule;
  std::chrono::milliseconds duration{0};
  std::string time_zone = "UTC";
  // Which monitors (of meta.namespace_name).
  std::vector<std::string> monitors;
  std::optional<std::map<std::string, std::string>> match_labels;

  // Whether the window applies to `monitor` (same namespace, and named or selected).
  bool Covers(const Monitor& monitor) const;
  // Occurrences [start, end) overlapping [from, to), by start.
  std::vector<std::pair<TimePoint, TimePoint>> Occurrences(TimePoint from, TimePoint to) const;
  std::string Key() const { return meta.Key(); }
};

// The longest recurring window (a longer one would be always on: use a one-off window).
inline constexpr std::chrono::hours kMaxMaintenanceDuration{24 * 7};

Result<MaintenanceWindow> ParseMaintenanceWindow(const DocumentNode& document,
                                                 DocumentOrigin origin,
                                                 std::vector<ValidationError>* errors);

}  // namespace pharos
