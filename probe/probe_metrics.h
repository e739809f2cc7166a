#pragma once

// ProbeMetrics: the pharos_probe_* series of one probe (docs/monitoring.md), shared by
// pharos-probe's ProbeAgent and the in-process probe of `pharos run`, so both export the same
// families with the same meaning. The counters are registered at construction; the gauges
// (checks in flight, capacity, results waiting for an acknowledgement) are read from `gauges`
// at each scrape. The destructor removes the gauge collector: destroy this before whatever
// `gauges` reads.
// Thread-safety: every method may be called from any thread; `gauges` runs on the scraping
// thread and must be thread-safe itself.

#include <cstddef>
#include <functional>
#include <string_view>

#include "common/check_result.h"
#include "common/metrics_registry.h"

namespace pharos {

class ProbeMetrics {
 public:
  struct Gauges {
    size_t in_flight = 0;        // checks running now
    size_t capacity = 0;         // checks run at most at once
    size_t pending_results = 0;  // finished, not yet acknowledged by the operator
  };

  // `registry` must outlive this.
  ProbeMetrics(MetricsRegistry& registry, std::function<Gauges()> gauges);
  ~ProbeMetrics();
  ProbeMetrics(const ProbeMetrics&) = delete;
  ProbeMetrics& operator=(const ProbeMetrics&) = delete;

  // A check executed (or an item answered without a check, as `error`).
  void CountCheck(Outcome outcome);
  // A failed call to the operator (for the in-process probe: a hand-off the core refused).
  void CountOperatorError();
  // Results given up before the operator acknowledged them; `reason` is one of the documented
  // values (buffer_full, rejected, too_large, bad_request, unacknowledged, shutdown).
  void CountDropped(std::string_view reason, size_t count = 1);

 private:
  void Collect(MetricsWriter& writer) const;

  MetricsRegistry& registry_;
  const std::function<Gauges()> gauges_;
  CounterFamily& checks_total_;
  Counter& operator_errors_total_;
  CounterFamily& results_dropped_total_;
  MetricsRegistry::CollectorId collector_id_ = 0;
};

}  // namespace pharos
