#include "probe/probe_metrics.h"

#include <string>
#include <utility>

namespace pharos {

ProbeMetrics::ProbeMetrics(MetricsRegistry& registry, std::function<Gauges()> gauges)
    : registry_(registry),
      gauges_(std::move(gauges)),
      checks_total_(registry.AddCounter("pharos_probe_checks_total",
                                        "Checks executed by this probe, by outcome.", {"outcome"})),
      operator_errors_total_(registry
                                 .AddCounter("pharos_probe_operator_errors_total",
                                             "Failed calls from the probe to the operator "
                                             "(register, lease, spec fetches, results).")
                                 .WithLabels({})),
      results_dropped_total_(registry.AddCounter(
          "pharos_probe_results_dropped_total",
          "Check results the probe gave up on before the operator acknowledged them, by reason.",
          {"reason"})) {
  for (Outcome outcome : {Outcome::kUp, Outcome::kDegraded, Outcome::kDown, Outcome::kError}) {
    checks_total_.WithLabels({ToString(outcome)});
  }
  collector_id_ = registry_.AddCollector([this](MetricsWriter& writer) { Collect(writer); });
}

ProbeMetrics::~ProbeMetrics() { registry_.RemoveCollector(collector_id_); }

void ProbeMetrics::CountCheck(Outcome outcome) {
  checks_total_.WithLabels({ToString(outcome)}).Inc();
}

void ProbeMetrics::CountOperatorError() { operator_errors_total_.Inc(); }

void ProbeMetrics::CountDropped(std::string_view reason, size_t count) {
  if (count > 0) {
    results_dropped_total_.WithLabels({std::string(reason)}).Inc(static_cast<double>(count));
  }
}

void ProbeMetrics::Collect(MetricsWriter& writer) const {
  const Gauges gauges = gauges_();
  writer.BeginFamily("pharos_probe_checks_in_flight", "Checks this probe is running now.",
                     MetricType::kGauge);
  writer.Sample({}, static_cast<double>(gauges.in_flight));
  writer.BeginFamily("pharos_probe_capacity",
                     "Checks this probe runs at most at once (it leases no more than that).",
                     MetricType::kGauge);
  writer.Sample({}, static_cast<double>(gauges.capacity));
  writer.BeginFamily("pharos_probe_results_pending",
                     "Results kept by the probe until the operator acknowledges them.",
                     MetricType::kGauge);
  writer.Sample({}, static_cast<double>(gauges.pending_results));
}

}  // namespace pharos
