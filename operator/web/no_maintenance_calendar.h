#pragma once

// NoMaintenanceCalendar: the MaintenanceCalendar of an installation without maintenance windows
// (until the alerting room's calendar is plugged in): nothing is ever in maintenance.
// Thread-safety: stateless.

#include "operator/control/maintenance_calendar.h"

namespace pharos {

class NoMaintenanceCalendar final : public MaintenanceCalendar {
 public:
  bool InMaintenance(const Monitor&, TimePoint) const override { return false; }
  std::vector<MaintenancePeriod> Periods(TimePoint, TimePoint) const override { return {}; }
  std::optional<uint64_t> AnswersVersion(TimePoint) const override { return 0; }
};

}  // namespace pharos
