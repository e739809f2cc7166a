#include "operator/control/operator_metrics.h"

#include <algorithm>

#include "common/duration.h"

namespace pharos {
namespace {

constexpr MonitorState kAllStates[] = {MonitorState::kPending,  MonitorState::kUp,
                                       MonitorState::kDegraded, MonitorState::kDown,
                                       MonitorState::kPaused,   MonitorState::kMaintenance,
                                       MonitorState::kInvalid};

// Lateness: milliseconds when healthy; the PharosSchedulerLate alert looks at p99 > 5 s.
std::vector<double> LatenessBuckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300};
}

std::vector<double> StoreWriteBuckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
}

}  // namespace

// Eleven bounds (Prometheus' defaults): every series costs 14 lines (11 buckets, +Inf, _sum,
// _count), a quarter less than the 16 bounds used before. 5 ms to 10 s covers what synthetic
// checks measure: a phase faster than 5 ms (loopback, LAN) is "fast", and a check slower than
// the default 10 s timeout has failed and lands in +Inf (histogram_quantile then reports 10).
Result<OperatorMetrics::DurationPhases> OperatorMetrics::ParseDurationPhases(
    std::string_view text) {
  if (text == "all") return DurationPhases::kAll;
  if (text == "total") return DurationPhases::kTotal;
  return Error{"must be \"all\" (every phase) or \"total\" (only the whole check), not \"" +
               std::string(text) + "\""};
}

void OperatorMetrics::AddDurationPhasesFlag(CommandLine& flags) {
  flags.AddFlag("duration-phases", '\0', "all|total",
                "phases of pharos_check_duration_seconds: every phase, or only total (one "
                "histogram per monitor and region instead of six; see docs/monitoring.md)",
                "all");
}

OperatorMetrics::OperatorMetrics(MetricsRegistry& registry, const Options& options)
    : registry_(registry),
      monitor_series_(registry, {.max_series = options.max_monitor_series,
                                 .duration_phases = options.duration_phases}),
      monitor_series_collector_(
          registry.AddCollector([this](MetricsWriter& writer) { monitor_series_.Write(writer); })),
      incidents_opened_(registry.AddCounter("pharos_incidents_opened_total",
                                            "Incidents opened since the process started.")),
      lateness_(registry.AddHistogram(
          "pharos_scheduler_lateness_seconds",
          "Delay between a work item's scheduled time and its first lease, per frequency class.",
          {"frequency"}, LatenessBuckets())),
      store_write_(
          registry.AddHistogram("pharos_store_write_seconds",
                                "Duration of one batched write transaction to the result store.",
                                {}, StoreWriteBuckets())),
      leader_(registry.AddGauge("pharos_leader",
                                "1 while this replica leads (always 1 in standalone mode).")),
      build_info_(
          registry.AddGauge("pharos_build_info", "Always 1; the Pharos version.", {"version"})) {
  for (Millis frequency : kFrequencyClasses) {
    lateness_.WithLabels({FrequencyLabel(frequency)});
  }
  build_info_.WithLabels({options.version}).Set(1);
  leader_.WithLabels({}).Set(1);
}

std::string OperatorMetrics::FrequencyLabel(Millis frequency) { return FormatDuration(frequency); }

OperatorMetrics::~OperatorMetrics() { registry_.RemoveCollector(monitor_series_collector_); }

void OperatorMetrics::RecordResult(const Monitor& monitor, const CheckResult& result) {
  monitor_series_.Record(monitor.namespace_name, monitor.name, result.region, result.outcome,
                         result.timings);
}

void OperatorMetrics::RemoveMonitorSeries(const std::string& namespace_name,
                                          const std::string& name) {
  monitor_series_.RemoveMonitor(namespace_name, name);
}

void OperatorMetrics::KeepMonitorSeriesRegions(const std::string& namespace_name,
                                               const std::string& name,
                                               const std::vector<std::string>& regions) {
  monitor_series_.KeepRegions(namespace_name, name, regions);
}

void OperatorMetrics::ObserveLateness(Millis frequency, double seconds) {
  lateness_.WithLabels({FrequencyLabel(frequency)}).Observe(seconds);
}

void OperatorMetrics::ObserveStoreWrite(double seconds) {
  store_write_.WithLabels({}).Observe(seconds);
}

void OperatorMetrics::CountIncidentOpened() { incidents_opened_.WithLabels({}).Inc(); }

void OperatorMetrics::SetLeader(bool leader) { leader_.WithLabels({}).Set(leader ? 1 : 0); }

void OperatorMetrics::WriteMonitorFamilies(MetricsWriter& writer,
                                           const std::vector<MonitorView>& views) {
  // The views are copies and no lock is held, so a streamed scrape may send a piece after any
  // monitor.
  writer.BeginFamily("pharos_monitor_up",
                     "1 while the monitor is Up or Degraded, 0 while it is Down (absent in other "
                     "states).",
                     MetricType::kGauge, {"namespace", "monitor"});
  for (const MonitorView& view : views) {
    if (view.state == MonitorState::kUp || view.state == MonitorState::kDegraded) {
      writer.Sample({view.namespace_name, view.name}, 1);
    } else if (view.state == MonitorState::kDown) {
      writer.Sample({view.namespace_name, view.name}, 0);
    }
    writer.Flush();
  }

  writer.BeginFamily("pharos_monitor_state",
                     "1 for the monitor's current state, 0 for the other states.",
                     MetricType::kGauge, {"namespace", "monitor", "state"});
  for (const MonitorView& view : views) {
    for (MonitorState state : kAllStates) {
      writer.Sample({view.namespace_name, view.name, ToString(state)}, view.state == state ? 1 : 0);
    }
    writer.Flush();
  }

  writer.BeginFamily("pharos_monitor_uptime_ratio",
                     "Share of passing (up or degraded) checks over the window, 0 to 1.",
                     MetricType::kGauge, {"namespace", "monitor", "window"});
  for (const MonitorView& view : views) {
    const std::pair<const char*, const std::optional<double>*> windows[] = {
        {"24h", &view.uptime_24h}, {"7d", &view.uptime_7d}, {"30d", &view.uptime_30d}};
    for (const auto& [window, ratio] : windows) {
      if (ratio->has_value()) {
        writer.Sample({view.namespace_name, view.name, window}, **ratio);
      }
    }
    writer.Flush();
  }

  writer.BeginFamily("pharos_check_status_code",
                     "HTTP status code of the last check per region (0 when there was no HTTP "
                     "answer).",
                     MetricType::kGauge, {"namespace", "monitor", "region"});
  for (const MonitorView& view : views) {
    if (!view.http) {
      continue;
    }
    for (const auto& [region, code] : view.status_codes) {
      writer.Sample({view.namespace_name, view.name, region}, code);
    }
    writer.Flush();
  }

  writer.BeginFamily("pharos_certificate_expiry_timestamp_seconds",
                     "notAfter of the TLS certificate the target served at the last check (the "
                     "earliest over its regions and its chain), seconds since the epoch.",
                     MetricType::kGauge, {"namespace", "monitor"});
  for (const MonitorView& view : views) {
    if (view.certificate_expiry) {
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          view.certificate_expiry->time_since_epoch())
                          .count();
      writer.Sample({view.namespace_name, view.name}, static_cast<double>(ms) / 1000.0);
    }
    writer.Flush();
  }

  writer.BeginFamily("pharos_incidents_open", "Incidents currently open (monitors Down).",
                     MetricType::kGauge);
  writer.Sample({}, static_cast<double>(
                        std::count_if(views.begin(), views.end(),
                                      [](const MonitorView& view) { return view.incident_open; })));
}

void OperatorMetrics::WriteStoreFamilies(MetricsWriter& writer,
                                         const ResultWriter::Health& health) {
  writer.BeginFamily("pharos_store_up",
                     "1 while results are written to the store, 0 while writes fail (disk full, "
                     "I/O error, database locked) and results are held in memory.",
                     MetricType::kGauge);
  writer.Sample({}, health.failing ? 0 : 1);
  writer.BeginFamily("pharos_store_held_results",
                     "Results held in memory because the store fails; written when it recovers.",
                     MetricType::kGauge);
  writer.Sample({}, static_cast<double>(health.held_results));
  writer.BeginFamily("pharos_store_write_failures_total",
                     "Writes of results to the store that failed (each is retried).",
                     MetricType::kCounter);
  writer.Sample({}, static_cast<double>(health.failed_writes));
  writer.BeginFamily("pharos_store_refused_results_total",
                     "Results refused while the store failed and the memory hold was full "
                     "(external probes send them again).",
                     MetricType::kCounter);
  writer.Sample({}, static_cast<double>(health.refused_results));
}

void OperatorMetrics::WriteDispatcherFamilies(MetricsWriter& writer, const DispatcherView& view) {
  writer.BeginFamily("pharos_queue_depth",
                     "Work items waiting to be leased, per frequency class and region.",
                     MetricType::kGauge, {"frequency", "region"});
  for (const QueueStats& queue : view.queues) {
    writer.Sample({FrequencyLabel(queue.frequency), queue.region},
                  static_cast<double>(queue.queued));
  }

  writer.BeginFamily("pharos_work_redelivered_total",
                     "Leased work items re-queued because their lease expired without a result.",
                     MetricType::kCounter);
  writer.Sample({}, static_cast<double>(view.totals.redelivered));
  writer.BeginFamily("pharos_work_coalesced_total",
                     "Queued work items dropped because the next item of the same (monitor, "
                     "region) was due.",
                     MetricType::kCounter);
  writer.Sample({}, static_cast<double>(view.totals.coalesced));
  writer.BeginFamily("pharos_work_expired_total",
                     "Work items given up after their redeliveries and recorded as probe errors.",
                     MetricType::kCounter);
  writer.Sample({}, static_cast<double>(view.totals.failed));

  writer.BeginFamily("pharos_probes_connected",
                     "Probes of the region that leased or registered recently.", MetricType::kGauge,
                     {"region"});
  for (const auto& [region, probes] : view.probes_per_region) {
    writer.Sample({region}, static_cast<double>(probes));
  }
}

}  // namespace pharos
