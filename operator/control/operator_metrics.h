#pragma once

// OperatorMetrics: the operator's Prometheus metrics (docs/monitoring.md is the contract: names,
// labels, meaning). It registers the event-driven families on a MetricsRegistry (results,
// durations, incidents opened, lateness, store writes, status writes, leader, build info) and
// renders the values that already live elsewhere (per-monitor state, queues, probes) at scrape
// time from views its owner builds, so no second copy of that state is kept in gauges.
//
// Cardinality: per-monitor series carry (namespace, monitor[, region]) of known monitors only;
// the owner removes them when a monitor is deleted (RemoveMonitorSeries) or loses a
// region (KeepMonitorSeriesRegions).
// Region labels come from regions the operator schedules; outcome, phase, state, window and
// frequency labels are closed sets. The per-monitor families allow `max_monitor_series` series.
// The two families updated on every result (results by outcome, phase durations) live in a
// compact MonitorSeriesTable exposed by a collector, not in a CounterFamily/HistogramFamily.
//
// Thread-safety: every method may be called from any thread.

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/check_result.h"
#include "common/command_line.h"
#include "common/metrics_registry.h"
#include "common/monitor.h"
#include "common/result.h"
#include "operator/control/monitor_series_table.h"
#include "operator/control/monitor_state.h"
#include "operator/control/result_writer.h"
#include "operator/control/work_dispatcher.h"

namespace pharos {

class OperatorMetrics {
 public:
  // Which phases pharos_check_duration_seconds records: every phase (dns, connect, tls,
  // firstByte, transfer, total; what the dashboards' phase panels need) or only `total` (one
  // histogram per monitor and region instead of six, for large installations).
  using DurationPhases = MonitorSeriesTable::DurationPhases;

  struct Options {
    std::string version;  // pharos_build_info{version}
    // Series allowed per per-monitor family (e.g. 10,000 monitors × 4 regions × 6 phases).
    size_t max_monitor_series = 250'000;
    DurationPhases duration_phases = DurationPhases::kAll;
  };

  // "all" or "total" (the value of --duration-phases); an error names the accepted values.
  static Result<DurationPhases> ParseDurationPhases(std::string_view text);
  // Declares --duration-phases (pharos run and pharos-operator take the same flag).
  static void AddDurationPhasesFlag(CommandLine& flags);

  // What the scrape needs to know about one monitor (built by the owner under its own lock).
  struct MonitorView {
    std::string namespace_name;
    std::string name;
    MonitorState state = MonitorState::kPending;
    bool http = false;
    // (region, status code) of regions that have reported an HTTP answer or a failure.
    std::vector<std::pair<std::string, int>> status_codes;
    // Uptime ratios 0..1 over 24h, 7d, 30d; nullopt without a passing or failing result.
    std::optional<double> uptime_24h, uptime_7d, uptime_30d;
    std::optional<std::chrono::system_clock::time_point> certificate_expiry;
    bool incident_open = false;
  };

  struct DispatcherView {
    std::vector<QueueStats> queues;
    DispatcherTotals totals;
    std::vector<std::pair<std::string, size_t>> probes_per_region;  // region → connected probes
  };

  // The check phases, as in the `phase` label.
  static constexpr std::string_view kPhases[] = {"dns",       "connect",  "tls",
                                                 "firstByte", "transfer", "total"};
  static constexpr std::string_view kOutcomes[] = {"up", "degraded", "down", "error"};

  OperatorMetrics(MetricsRegistry& registry, const Options& options);
  ~OperatorMetrics();
  OperatorMetrics(const OperatorMetrics&) = delete;
  OperatorMetrics& operator=(const OperatorMetrics&) = delete;

  // "10s", "30s", "1m", "5m", "10m", "30m", "1h" (other values: their duration spelling).
  static std::string FrequencyLabel(Millis frequency);

  // A newly stored result: counts its outcome and observes its phase durations (phases that did
  // not happen, i.e. 0 µs, and every phase of an `error` result are not observed).
  void RecordResult(const Monitor& monitor, const CheckResult& result);
  // Drops every result/duration series of (namespace, name).
  void RemoveMonitorSeries(const std::string& namespace_name, const std::string& name);
  // Drops the result/duration series of (namespace, name) in regions not in `regions`.
  void KeepMonitorSeriesRegions(const std::string& namespace_name, const std::string& name,
                                const std::vector<std::string>& regions);

  void ObserveLateness(Millis frequency, double seconds);
  void ObserveStoreWrite(double seconds);
  void CountIncidentOpened();
  void SetLeader(bool leader);

  // Scrape-time families, written by the owner's collector.
  static void WriteMonitorFamilies(MetricsWriter& writer, const std::vector<MonitorView>& views);
  static void WriteDispatcherFamilies(MetricsWriter& writer, const DispatcherView& view);
  // pharos_store_up, pharos_store_held_results, pharos_store_write_failures_total,
  // pharos_store_refused_results_total.
  static void WriteStoreFamilies(MetricsWriter& writer, const ResultWriter::Health& health);

  MetricsRegistry& registry() { return registry_; }

 private:
  MetricsRegistry& registry_;
  MonitorSeriesTable monitor_series_;
  MetricsRegistry::CollectorId monitor_series_collector_;
  CounterFamily& incidents_opened_;
  HistogramFamily& lateness_;
  HistogramFamily& store_write_;
  GaugeFamily& leader_;
  GaugeFamily& build_info_;
};

}  // namespace pharos
