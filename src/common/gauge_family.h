#pragma once

// GaugeFamily: a Prometheus gauge with labels; Gauge is one of its series, a value that goes up
// and down. For values that already live elsewhere (per-monitor state), prefer a scrape-time
// collector (MetricsRegistry::AddCollector) over mirroring them into gauges.
// Thread-safety: Gauge methods are lock-free and safe from any thread; see MetricFamily for the
// family.

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "common/metric_family.h"

namespace pharos {

class Gauge final : public Metric {
 public:
  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  void Inc(double amount = 1.0) { value_.fetch_add(amount, std::memory_order_relaxed); }
  void Dec(double amount = 1.0) { value_.fetch_sub(amount, std::memory_order_relaxed); }
  double Value() const { return value_.load(std::memory_order_relaxed); }
  void Write(MetricsWriter& writer, const std::vector<std::string>& label_values) const override;

 private:
  std::atomic<double> value_{0.0};
};

class GaugeFamily final : public MetricFamily {
 public:
  GaugeFamily(std::string name, std::string help, std::vector<std::string> label_names,
              size_t max_series);
  // The series for these label values (in the order of label_names()), created at 0.
  Gauge& WithLabels(const std::vector<std::string>& label_values) {
    return static_cast<Gauge&>(GetOrCreate(label_values));
  }

 private:
  std::unique_ptr<Metric> NewSeries() const override { return std::make_unique<Gauge>(); }
};

}  // namespace pharos
