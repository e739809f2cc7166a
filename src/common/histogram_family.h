#pragma once

// HistogramFamily: a Prometheus histogram with labels; Histogram is one of its series, counting
// observations into fixed buckets (cumulative le buckets, +Inf, _sum and _count on exposition).
// Thread-safety: Histogram::Observe is lock-free and safe from any thread; see MetricFamily for
// the family. A scrape racing with Observe may show a _sum that lags _count by the observations in
// flight; _count always equals the +Inf bucket.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/metric_family.h"

namespace pharos {

class Histogram final : public Metric {
 public:
  // `upper_bounds` must outlive the histogram (the family owns them).
  explicit Histogram(const std::vector<double>& upper_bounds);

  // Counts `value` into the first bucket whose bound is >= value (or +Inf). NaN is ignored.
  void Observe(double value);

  // Cumulative counts per bucket, +Inf last; the sum of all observations.
  std::vector<uint64_t> CumulativeCounts() const;
  double Sum() const { return sum_.load(std::memory_order_relaxed); }
  uint64_t Count() const;

  void Write(MetricsWriter& writer, const std::vector<std::string>& label_values) const override;

 private:
  const std::vector<double>& upper_bounds_;
  // Per-bucket (not cumulative) counts; one more than upper_bounds_, for +Inf.
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;
  std::atomic<double> sum_{0.0};
};

class HistogramFamily final : public MetricFamily {
 public:
  // `upper_bounds` must be finite and strictly increasing (the registry checks them); +Inf is
  // implicit.
  HistogramFamily(std::string name, std::string help, std::vector<std::string> label_names,
                  std::vector<double> upper_bounds, size_t max_series);
  // The series for these label values (in the order of label_names()), created empty.
  Histogram& WithLabels(const std::vector<std::string>& label_values) {
    return static_cast<Histogram&>(GetOrCreate(label_values));
  }
  const std::vector<double>& upper_bounds() const { return upper_bounds_; }

 private:
  std::unique_ptr<Metric> NewSeries() const override {
    return std::make_unique<Histogram>(upper_bounds_);
  }

  const std::vector<double> upper_bounds_;
};

// Prometheus' default buckets, in seconds: .005 .01 .025 .05 .1 .25 .5 1 2.5 5 10.
std::vector<double> DefaultHistogramBuckets();
// `count` bounds: start, start*factor, start*factor^2, ... (start > 0, factor > 1, count >= 1).
std::vector<double> ExponentialBuckets(double start, double factor, int count);
// `count` bounds: start, start+width, start+2*width, ... (width > 0, count >= 1).
std::vector<double> LinearBuckets(double start, double width, int count);

}  // namespace pharos
