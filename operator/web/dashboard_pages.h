#pragma once

// DashboardPages: the team's dashboard at /ui/ (docs/dashboard.md), read-only — monitors are
// managed as YAML or Kubernetes resources:
// * the list: every monitor in a table (namespace, name, type, target, state, since, uptime
//   24h/7d/30d, p50/p95 latency, regions), sorted, filtered and paged on the server
//   (MonitorTable), with a count of monitors per state;
// * a monitor: its facts and regions, response time over 24 h / 7 d / 30 d per region and per
//   phase (dns, connect, tls, first byte, transfer) as server-drawn SVG charts (SvgChart), its
//   recent results with failed assertions, and its incidents.
// Charts read the hourly rollups for 7 and 30 days and raw results for 24 hours (finer buckets;
// docs/dashboard.md says why).
// Thread-safety: Render* may run concurrently; the sources must be thread-safe.

#include <optional>
#include <string>

#include "common/clock.h"
#include "common/result.h"
#include "operator/control/incident_reader.h"
#include "operator/control/result_store.h"
#include "operator/control/status_reader.h"
#include "operator/web/monitor_table.h"

namespace pharos {

class DashboardPages {
 public:
  enum class Window { k24h, k7d, k30d };
  static std::optional<Window> ParseWindow(std::string_view text);  // "24h" "7d" "30d"

  static constexpr int kRecentResults = 50;
  static constexpr int kIncidents = 20;

  DashboardPages(StatusReader& status, HistoryReader& history, IncidentReader& incidents,
                 const Clock& clock, std::string edition)
      : status_(status),
        history_(history),
        incidents_(incidents),
        clock_(clock),
        edition_(std::move(edition)) {}

  std::string RenderList(const MonitorTable::Query& query);
  // nullopt when the monitor does not exist. `region`: the phase chart's region (empty: all).
  Result<std::optional<std::string>> RenderMonitor(const std::string& namespace_name,
                                                   const std::string& name, Window window,
                                                   const std::string& region);

 private:
  StatusReader& status_;
  HistoryReader& history_;
  IncidentReader& incidents_;
  const Clock& clock_;
  const std::string edition_;
};

}  // namespace pharos
