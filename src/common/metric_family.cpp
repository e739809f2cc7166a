#include "common/metric_family.h"

#include <fmt/format.h>

#include <algorithm>
#include <mutex>

#include "common/logging.h"

namespace pharos {

MetricFamily::MetricFamily(std::string name, std::string help, MetricType type,
                           std::vector<std::string> label_names, size_t max_series)
    : name_(std::move(name)),
      help_(std::move(help)),
      type_(type),
      label_names_(std::move(label_names)),
      max_series_(max_series) {}

Metric& MetricFamily::GetOrCreate(const std::vector<std::string>& label_values) {
  {
    ReaderMutexLock lock(mutex_);
    const auto it = series_.find(label_values);
    if (it != series_.end()) return *it->second;
  }
  WriterMutexLock lock(mutex_);
  if (label_values.size() != label_names_.size()) {
    if (!warned_arity_) {
      warned_arity_ = true;
      LogError(
          "metric updated with the wrong number of label values; the update is dropped "
          "(a bug in Pharos, please report it)",
          {{"metric", name_}, {"expected", label_names_.size()}, {"got", label_values.size()}});
    }
    return Detached();
  }
  const auto it = series_.find(label_values);
  if (it != series_.end()) return *it->second;
  if (series_.size() >= max_series()) {
    overflow_count_.fetch_add(1, std::memory_order_relaxed);
    if (!warned_overflow_) {
      warned_overflow_ = true;
      LogWarn(
          "metric reached its series limit; new label sets are dropped and counted in "
          "pharos_metrics_series_overflow_total. Raise the limit if the number of monitors "
          "and regions really needs more series",
          {{"metric", name_}, {"max_series", max_series()}});
    }
    return Detached();
  }
  auto [inserted, unused] = series_.emplace(label_values, NewSeries());
  (void)unused;
  return *inserted->second;
}

Metric& MetricFamily::Detached() {
  if (!detached_) detached_ = NewSeries();
  return *detached_;
}

bool MetricFamily::Remove(const std::vector<std::string>& label_values) {
  WriterMutexLock lock(mutex_);
  return series_.erase(label_values) > 0;
}

size_t MetricFamily::RemoveMatching(std::string_view label_name, std::string_view label_value) {
  const auto position = std::find(label_names_.begin(), label_names_.end(), label_name);
  if (position == label_names_.end()) return 0;
  const size_t index = static_cast<size_t>(position - label_names_.begin());
  WriterMutexLock lock(mutex_);
  return std::erase_if(series_,
                       [&](const auto& entry) { return entry.first[index] == label_value; });
}

void MetricFamily::Clear() {
  WriterMutexLock lock(mutex_);
  series_.clear();
}

size_t MetricFamily::series_count() const {
  ReaderMutexLock lock(mutex_);
  return series_.size();
}

void MetricFamily::Write(MetricsWriter& writer) const {
  if (!writer.BeginFamily(name_, help_, type_, label_names_)) return;
  ReaderMutexLock lock(mutex_);
  for (const auto& [label_values, series] : series_) series->Write(writer, label_values);
}

}  // namespace pharos
