#pragma once

// MetricFamily: the series of one metric name, one per label set (CounterFamily, GaugeFamily and
// HistogramFamily add the typed WithLabels). It owns the series, hands out references that stay
// valid until that series is removed, and guards cardinality: once a family holds max_series()
// series, a new label set is not stored; WithLabels then returns a detached series that is never
// exposed, the refusal is counted (overflow_count(), exported by the registry as
// pharos_metrics_series_overflow_total{metric="..."}) and a warning is logged once per family.
// Thread-safety: all methods are safe from any thread. Looking up a series takes a shared lock;
// creating or removing one an exclusive lock; updating a series is lock-free. A reference from
// WithLabels must not be used after Remove/RemoveMatching/Clear dropped that series: components
// that remove series (e.g. when a monitor is deleted) look them up again instead of caching them.

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/metrics_writer.h"
#include "common/mutex.h"

namespace pharos {

// One series (a label set) of a family.
class Metric {
 public:
  virtual ~Metric() = default;
  // Writes this series' sample lines into the writer's current family.
  virtual void Write(MetricsWriter& writer, const std::vector<std::string>& label_values) const = 0;
};

class MetricFamily {
 public:
  virtual ~MetricFamily() = default;
  MetricFamily(const MetricFamily&) = delete;
  MetricFamily& operator=(const MetricFamily&) = delete;

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  MetricType type() const { return type_; }
  const std::vector<std::string>& label_names() const { return label_names_; }

  // Drops the series with exactly these label values; false when there was none.
  bool Remove(const std::vector<std::string>& label_values);
  // Drops every series whose label `label_name` equals `label_value` (e.g. all series of a deleted
  // monitor); returns how many.
  size_t RemoveMatching(std::string_view label_name, std::string_view label_value);
  // Drops every series.
  void Clear();

  size_t series_count() const;
  // Label sets refused by the cardinality guard since the family was created.
  uint64_t overflow_count() const { return overflow_count_.load(std::memory_order_relaxed); }
  size_t max_series() const { return max_series_.load(std::memory_order_relaxed); }
  void set_max_series(size_t max_series) {
    max_series_.store(max_series, std::memory_order_relaxed);
  }

  // Writes HELP, TYPE and every series, in label-value order.
  void Write(MetricsWriter& writer) const;

 protected:
  MetricFamily(std::string name, std::string help, MetricType type,
               std::vector<std::string> label_names, size_t max_series);

  // The series for these label values, created on first use. Returns the detached series when the
  // guard refuses a new label set or the number of values does not match the label names (a bug
  // in the caller, logged once per family).
  Metric& GetOrCreate(const std::vector<std::string>& label_values);

 private:
  virtual std::unique_ptr<Metric> NewSeries() const = 0;
  Metric& Detached() REQUIRES(mutex_);

  const std::string name_;
  const std::string help_;
  const MetricType type_;
  const std::vector<std::string> label_names_;
  std::atomic<size_t> max_series_;
  std::atomic<uint64_t> overflow_count_{0};
  bool warned_overflow_ GUARDED_BY(mutex_) = false;
  bool warned_arity_ GUARDED_BY(mutex_) = false;

  mutable SharedMutex mutex_;
  std::map<std::vector<std::string>, std::unique_ptr<Metric>> series_ GUARDED_BY(mutex_);
  std::unique_ptr<Metric> detached_ GUARDED_BY(mutex_);
};

}  // namespace pharos
