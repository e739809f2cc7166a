#pragma once

// MaintenanceCalendar: when monitors are in planned maintenance. During a window its monitors
// show state Maintenance, checks go on and are stored, no incident opens and nothing is sent
// (docs/alerting.md). The alerting room keeps the windows (MaintenanceWindow documents and
// resources, one-off or recurring) and implements this; the core asks whether a monitor is in
// maintenance, status pages list active and upcoming periods.
// Thread-safety: implementations are safe to call from any thread.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/monitor.h"
#include "operator/control/monitor_state.h"

namespace pharos {

// One occurrence of a window.
struct MaintenancePeriod {
  std::string namespace_name;  // of the MaintenanceWindow
  std::string name;
  std::string description;
  TimePoint start{};
  TimePoint end{};
  std::vector<std::string> monitor_keys;  // namespace/name of the monitors it covers, sorted
};

class MaintenanceCalendar {
 public:
  virtual ~MaintenanceCalendar() = default;

  // Whether `monitor` is inside a window at `now`.
  virtual bool InMaintenance(const Monitor& monitor, TimePoint now) const = 0;
  // Occurrences overlapping [from, to), by start time.
  virtual std::vector<MaintenancePeriod> Periods(TimePoint from, TimePoint to) const = 0;
  // A value that stays the same while InMaintenance gives every monitor the same answer as at
  // the last call (no window began, ended, or was added, changed or removed); the core then skips
  // asking for each monitor every second. nullopt: not known, ask for each monitor.
  virtual std::optional<uint64_t> AnswersVersion(TimePoint /*now*/) const { return std::nullopt; }
};

}  // namespace pharos
