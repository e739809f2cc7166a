#include "common/histogram_family.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <span>

namespace pharos {

Histogram::Histogram(const std::vector<double>& upper_bounds)
    : upper_bounds_(upper_bounds),
      counts_(std::make_unique<std::atomic<uint64_t>[]>(upper_bounds.size() + 1)) {}

void Histogram::Observe(double value) {
  if (std::isnan(value)) return;
  // The first bound >= value: buckets are "le" (less than or equal).
  const auto bucket = std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), value);
  counts_[static_cast<size_t>(bucket - upper_bounds_.begin())].fetch_add(1,
                                                                         std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::CumulativeCounts() const {
  std::vector<uint64_t> cumulative(upper_bounds_.size() + 1);
  uint64_t running = 0;
  for (size_t i = 0; i < cumulative.size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    cumulative[i] = running;
  }
  return cumulative;
}

uint64_t Histogram::Count() const { return CumulativeCounts().back(); }

void Histogram::Write(MetricsWriter& writer, const std::vector<std::string>& label_values) const {
  // Read the sum before the buckets so that a racing Observe shows in _count rather than only in
  // _sum.
  const double sum = Sum();
  // On the stack for the usual bucket counts: a scrape writes hundreds of thousands of series.
  constexpr size_t kInlineBuckets = 32;
  const size_t buckets = upper_bounds_.size() + 1;
  if (buckets > kInlineBuckets) {
    writer.HistogramSample(label_values, upper_bounds_, CumulativeCounts(), sum);
    return;
  }
  std::array<uint64_t, kInlineBuckets> cumulative;
  uint64_t running = 0;
  for (size_t i = 0; i < buckets; ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    cumulative[i] = running;
  }
  writer.HistogramSample(label_values, upper_bounds_,
                         std::span<const uint64_t>(cumulative.data(), buckets), sum);
}

HistogramFamily::HistogramFamily(std::string name, std::string help,
                                 std::vector<std::string> label_names,
                                 std::vector<double> upper_bounds, size_t max_series)
    : MetricFamily(std::move(name), std::move(help), MetricType::kHistogram, std::move(label_names),
                   max_series),
      upper_bounds_(std::move(upper_bounds)) {}

std::vector<double> DefaultHistogramBuckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

std::vector<double> ExponentialBuckets(double start, double factor, int count) {
  std::vector<double> bounds;
  double bound = start;
  for (int i = 0; i < count; ++i) {
    bounds.push_back(bound);
    bound *= factor;
  }
  return bounds;
}

std::vector<double> LinearBuckets(double start, double width, int count) {
  std::vector<double> bounds;
  bounds.reserve(std::max(count, 0));
  for (int i = 0; i < count; ++i) bounds.push_back(start + width * i);
  return bounds;
}

}  // namespace pharos
