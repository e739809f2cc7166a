#pragma once

// StatusPageBuilder: builds the StatusPageView of a page at `now` from the live status
// (StatusReader), the rollups (HistoryReader::CountRollups through a RollupCountsCache: the
// complete days of every component's 90-day bar and the complete hours of the last 24 are kept
// between builds, so a build reads only the current hour and, after midnight UTC, the day that
// just ended), the incidents (IncidentReader, asked only for monitors with a failed check in
// those days or an open incident), the maintenance calendar and the screenshot index. Components
// select monitors by name or by labels (the latter read every monitor's status once per build); a
// page shows at most kMaxComponents. What the view means is page_status.h's.
// Thread-safety: Build may run concurrently; the sources must be thread-safe.

#include <memory>

#include "common/result.h"
#include "operator/control/incident_reader.h"
#include "operator/control/maintenance_calendar.h"
#include "operator/control/result_store.h"
#include "operator/control/status_reader.h"
#include "operator/web/rollup_counts_cache.h"
#include "operator/web/screenshot_index.h"
#include "operator/web/status_page_view.h"

namespace pharos {

class StatusPageBuilder {
 public:
  static constexpr int kDays = 90;
  static constexpr int kHours = 24;
  static constexpr int kPastIncidentDays = 14;
  static constexpr int kUpcomingMaintenanceDays = 30;
  static constexpr int kIncidentsPerMonitor = 100;
  static constexpr size_t kMaxComponents = 1'000;

  // Every source must outlive the builder; `screenshots` may be null.
  StatusPageBuilder(StatusReader& status, HistoryReader& history, IncidentReader& incidents,
                    const MaintenanceCalendar& calendar, const ScreenshotIndex* screenshots,
                    RollupCountsCache::Options cache = {})
      : status_(status),
        rollups_(history, cache),
        incidents_(incidents),
        calendar_(calendar),
        screenshots_(screenshots) {}

  // Errors: the history or the incidents could not be read.
  Result<StatusPageView> Build(const std::shared_ptr<const StatusPage>& page, TimePoint now);

 private:
  StatusReader& status_;
  RollupCountsCache rollups_;
  IncidentReader& incidents_;
  const MaintenanceCalendar& calendar_;
  const ScreenshotIndex* screenshots_;
};

// The name a page shows for a monitor without a component name: its pharos.dev/display-name
// annotation, else its name.
std::string MonitorDisplayName(const Monitor& monitor);

}  // namespace pharos
