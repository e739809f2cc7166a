#pragma once

// MetricsRegistry: the metrics of one process and their Prometheus text exposition (format
// 0.0.4, served on /metrics). It owns counter, gauge and histogram families registered at start-up
// and runs scrape-time collectors that write values computed on the spot (per-monitor state read
// from the component that owns it), so nothing keeps a second copy of that state.
//
// Definitions are fixed strings in code, so a wrong one (invalid name or label name, a counter
// not ending in _total, bad buckets, a name registered twice with another type or labels) is a bug:
// Add* logs it and aborts, like a failed CHECK, so the first test that builds the component
// catches it. Registering the same name again with the same definition returns the existing
// family.
//
// Cardinality guard: each family stores at most Options::max_series_per_family series (default
// 10000; MetricFamily::set_max_series overrides it per family). Further label sets are dropped,
// logged once per family and counted in pharos_metrics_series_overflow_total{metric="..."},
// which appears once a family has overflowed. A collector that keeps its own series with the same
// guard reports its refusals through CountSeriesOverflow.
//
// Thread-safety: all methods are safe from any thread. Expose and Stream render each family under
// that family's lock (a consistent family), runs collectors one scrape at a time, and never holds
// the registry lock while a collector runs. A collector must not call RemoveCollector.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/counter_family.h"
#include "common/gauge_family.h"
#include "common/histogram_family.h"
#include "common/metrics_writer.h"
#include "common/mutex.h"

namespace pharos {

class MetricsRegistry {
 public:
  struct Options {
    size_t max_series_per_family = 10000;
  };
  // The counter of label sets refused by the cardinality guard, labelled by family name.
  static constexpr std::string_view kSeriesOverflowMetric = "pharos_metrics_series_overflow_total";

  // Writes whole families; calls writer.Flush() at points where it holds no lock (between
  // batches of a large family), so that a streamed scrape can hand a piece to the client there.
  using Collector = std::function<void(MetricsWriter&)>;
  using CollectorId = uint64_t;

  MetricsRegistry() : MetricsRegistry(Options{}) {}
  explicit MetricsRegistry(Options options) : options_(options) {}
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // A family without labels is exposed at 0 from the start; one with labels shows a series once
  // WithLabels created it. References stay valid for the registry's lifetime.
  CounterFamily& AddCounter(std::string_view name, std::string_view help,
                            std::vector<std::string> label_names = {});
  GaugeFamily& AddGauge(std::string_view name, std::string_view help,
                        std::vector<std::string> label_names = {});
  // `upper_bounds`: finite, strictly increasing, at least one; +Inf is added on exposition (a
  // trailing +Inf given here is accepted and dropped).
  HistogramFamily& AddHistogram(std::string_view name, std::string_view help,
                                std::vector<std::string> label_names,
                                std::vector<double> upper_bounds);

  // Runs `collector` on every scrape, after the registered families, in the order added. It
  // writes whole families through the writer (BeginFamily, then samples); a family name already
  // written in the scrape is dropped and logged. An exception from a collector is logged and the
  // scrape goes on.
  CollectorId AddCollector(Collector collector);
  // After it returns, the collector is not running and will not run again.
  void RemoveCollector(CollectorId id);

  // Counts `count` label sets of `metric` refused by a collector's own series limit, exported in
  // pharos_metrics_series_overflow_total{metric="<metric>"} like a family's overflow.
  void CountSeriesOverflow(std::string_view metric, uint64_t count = 1);

  // The whole exposition: registered families by name, then collectors, then the overflow counter
  // when any family has overflowed.
  std::string Expose() const;
  // The same text, handed to `sink` in pieces of about `piece_bytes` (at the Flush points of the
  // families and collectors), so that at most about one piece is held at a time. A sink may
  // block while its client catches up. False when the sink refused a piece: the client is gone
  // and the rest was not produced.
  bool Stream(const MetricsWriter::Sink& sink, size_t piece_bytes = kStreamPieceBytes) const;
  static constexpr size_t kStreamPieceBytes = size_t{256} * 1024;

 private:
  // Returns the existing family when `name` is taken by an identical definition, aborts when it
  // is taken by another, and null when it is free.
  MetricFamily* CheckDefinition(std::string_view name, MetricType type,
                                const std::vector<std::string>& label_names,
                                const std::vector<double>* upper_bounds) const REQUIRES(mutex_);

  const Options options_;
  mutable Mutex mutex_;
  std::map<std::string, std::unique_ptr<MetricFamily>, std::less<>> families_ GUARDED_BY(mutex_);
  // Writes every family and collector into `writer`, flushing between them.
  void Write(MetricsWriter& writer) const;

  std::map<CollectorId, std::shared_ptr<const Collector>> collectors_ GUARDED_BY(mutex_);
  CollectorId next_collector_id_ GUARDED_BY(mutex_) = 1;
  std::map<std::string, uint64_t, std::less<>> collector_overflows_ GUARDED_BY(mutex_);
  // Held while collectors run, so that RemoveCollector can wait for a running one.
  mutable Mutex collect_mutex_;
  // Exposition problems already logged, so that each is logged once, not on every scrape.
  mutable std::set<std::string> logged_problems_ GUARDED_BY(collect_mutex_);
};

}  // namespace pharos
