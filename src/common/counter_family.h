#pragma once

// CounterFamily: a Prometheus counter with labels (name must end in _total); Counter is one of
// its series, a value that only goes up.
// Thread-safety: Counter::Inc is lock-free and safe from any thread; see MetricFamily for the
// family.

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "common/metric_family.h"

namespace pharos {

class Counter final : public Metric {
 public:
  // Adds `amount`. Negative and NaN amounts are ignored: a counter never goes down.
  void Inc(double amount = 1.0);
  double Value() const { return value_.load(std::memory_order_relaxed); }
  void Write(MetricsWriter& writer, const std::vector<std::string>& label_values) const override;

 private:
  std::atomic<double> value_{0.0};
};

class CounterFamily final : public MetricFamily {
 public:
  CounterFamily(std::string name, std::string help, std::vector<std::string> label_names,
                size_t max_series);
  // The series for these label values (in the order of label_names()), created at 0.
  Counter& WithLabels(const std::vector<std::string>& label_values) {
    return static_cast<Counter&>(GetOrCreate(label_values));
  }

 private:
  std::unique_ptr<Metric> NewSeries() const override { return std::make_unique<Counter>(); }
};

}  // namespace pharos
