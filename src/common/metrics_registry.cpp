#include "common/metrics_registry.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <limits>

#include "common/logging.h"
#include "common/prometheus_text.h"

namespace pharos {
namespace {

// A metric definition in code is wrong: stop before the process serves anything.
[[noreturn]] void DefinitionError(std::string_view name, std::string_view why) {
  const std::string message = fmt::format("invalid metric definition \"{}\": {}", name, why);
  LogCritical(message);
  std::fprintf(stderr, "%s\n", message.c_str());
  std::abort();
}

void CheckNames(std::string_view name, MetricType type,
                const std::vector<std::string>& label_names) {
  if (!IsValidMetricName(name)) {
    DefinitionError(name, "the name must match [a-zA-Z_:][a-zA-Z0-9_:]*");
  }
  if (name == MetricsRegistry::kSeriesOverflowMetric) {
    DefinitionError(name, "the name is reserved for the registry's overflow counter");
  }
  if (type == MetricType::kCounter && !name.ends_with("_total")) {
    DefinitionError(name, "a counter's name must end in _total");
  }
  for (size_t i = 0; i < label_names.size(); ++i) {
    if (!IsValidLabelName(label_names[i])) {
      DefinitionError(name, fmt::format("label name \"{}\" must match [a-zA-Z_][a-zA-Z0-9_]* and "
                                        "not start with __",
                                        label_names[i]));
    }
    for (size_t j = 0; j < i; ++j) {
      if (label_names[j] == label_names[i]) {
        DefinitionError(name, fmt::format("label name \"{}\" appears twice", label_names[i]));
      }
    }
    if (type == MetricType::kHistogram && label_names[i] == "le") {
      DefinitionError(name, "a histogram cannot have a label named le");
    }
  }
}

}  // namespace

MetricFamily* MetricsRegistry::CheckDefinition(std::string_view name, MetricType type,
                                               const std::vector<std::string>& label_names,
                                               const std::vector<double>* upper_bounds) const {
  const auto it = families_.find(name);
  if (it == families_.end()) {
    return nullptr;
  }
  MetricFamily& existing = *it->second;
  bool same = existing.type() == type && existing.label_names() == label_names;
  if (same && upper_bounds != nullptr) {
    same = static_cast<const HistogramFamily&>(existing).upper_bounds() == *upper_bounds;
  }
  if (!same) {
    DefinitionError(name, "already registered with another type, labels or buckets");
  }
  return &existing;
}

CounterFamily& MetricsRegistry::AddCounter(std::string_view name, std::string_view help,
                                           std::vector<std::string> label_names) {
  CheckNames(name, MetricType::kCounter, label_names);
  MutexLock lock(mutex_);
  if (MetricFamily* existing = CheckDefinition(name, MetricType::kCounter, label_names, nullptr)) {
    return static_cast<CounterFamily&>(*existing);
  }
  const bool unlabelled = label_names.empty();
  auto family = std::make_unique<CounterFamily>(
      std::string(name), std::string(help), std::move(label_names), options_.max_series_per_family);
  CounterFamily& result = *family;
  families_.emplace(std::string(name), std::move(family));
  if (unlabelled) {
    result.WithLabels({});
  }
  return result;
}

GaugeFamily& MetricsRegistry::AddGauge(std::string_view name, std::string_view help,
                                       std::vector<std::string> label_names) {
  CheckNames(name, MetricType::kGauge, label_names);
  MutexLock lock(mutex_);
  if (MetricFamily* existing = CheckDefinition(name, MetricType::kGauge, label_names, nullptr)) {
    return static_cast<GaugeFamily&>(*existing);
  }
  const bool unlabelled = label_names.empty();
  auto family = std::make_unique<GaugeFamily>(
      std::string(name), std::string(help), std::move(label_names), options_.max_series_per_family);
  GaugeFamily& result = *family;
  families_.emplace(std::string(name), std::move(family));
  if (unlabelled) {
    result.WithLabels({});
  }
  return result;
}

HistogramFamily& MetricsRegistry::AddHistogram(std::string_view name, std::string_view help,
                                               std::vector<std::string> label_names,
                                               std::vector<double> upper_bounds) {
  CheckNames(name, MetricType::kHistogram, label_names);
  if (!upper_bounds.empty() && upper_bounds.back() == std::numeric_limits<double>::infinity()) {
    upper_bounds.pop_back();
  }
  if (upper_bounds.empty()) {
    DefinitionError(name, "a histogram needs at least one bucket bound");
  }
  for (size_t i = 0; i < upper_bounds.size(); ++i) {
    if (!std::isfinite(upper_bounds[i])) {
      DefinitionError(name, "bucket bounds must be finite (+Inf is implicit)");
    }
    if (i > 0 && !(upper_bounds[i - 1] < upper_bounds[i])) {
      DefinitionError(name, "bucket bounds must be strictly increasing");
    }
  }
  MutexLock lock(mutex_);
  if (MetricFamily* existing =
          CheckDefinition(name, MetricType::kHistogram, label_names, &upper_bounds)) {
    return static_cast<HistogramFamily&>(*existing);
  }
  const bool unlabelled = label_names.empty();
  auto family = std::make_unique<HistogramFamily>(std::string(name), std::string(help),
                                                  std::move(label_names), std::move(upper_bounds),
                                                  options_.max_series_per_family);
  HistogramFamily& result = *family;
  families_.emplace(std::string(name), std::move(family));
  if (unlabelled) {
    result.WithLabels({});
  }
  return result;
}

MetricsRegistry::CollectorId MetricsRegistry::AddCollector(Collector collector) {
  MutexLock lock(mutex_);
  const CollectorId id = next_collector_id_++;
  collectors_.emplace(id, std::make_shared<const Collector>(std::move(collector)));
  return id;
}

void MetricsRegistry::RemoveCollector(CollectorId id) {
  MutexLock collect_lock(collect_mutex_);
  MutexLock lock(mutex_);
  collectors_.erase(id);
}

void MetricsRegistry::CountSeriesOverflow(std::string_view metric, uint64_t count) {
  MutexLock lock(mutex_);
  const auto it = collector_overflows_.find(metric);
  if (it != collector_overflows_.end()) {
    it->second += count;
  } else {
    collector_overflows_.emplace(std::string(metric), count);
  }
}

std::string MetricsRegistry::Expose() const {
  MetricsWriter writer;
  Write(writer);
  return writer.TakeText();
}

bool MetricsRegistry::Stream(const MetricsWriter::Sink& sink, size_t piece_bytes) const {
  MetricsWriter writer;
  writer.StreamTo(sink, piece_bytes);
  Write(writer);
  writer.FlushAll();
  return writer.delivering();
}

void MetricsRegistry::Write(MetricsWriter& writer) const {
  std::vector<const MetricFamily*> families;
  {
    MutexLock lock(mutex_);
    families.reserve(families_.size());
    for (const auto& [name, family] : families_) {
      families.push_back(family.get());
    }
  }
  for (const MetricFamily* family : families) {
    family->Write(writer);
    writer.Flush();
  }

  MutexLock collect_lock(collect_mutex_);
  std::vector<std::shared_ptr<const Collector>> collectors;
  {
    MutexLock lock(mutex_);
    for (const auto& [id, collector] : collectors_) {
      collectors.push_back(collector);
    }
  }
  for (const auto& collector : collectors) {
    if (!writer.delivering()) {
      break;
    }
    try {
      (*collector)(writer);
    } catch (const std::exception& error) {
      LogError("metrics collector failed; its metrics are missing from this scrape",
               {{"error", error.what()}});
    }
    writer.Flush();
  }

  std::map<std::string, uint64_t, std::less<>> overflows;
  {
    MutexLock lock(mutex_);
    overflows = collector_overflows_;
  }
  for (const MetricFamily* family : families) {
    const uint64_t overflow = family->overflow_count();
    if (overflow > 0) {
      overflows[family->name()] += overflow;
    }
  }
  if (!overflows.empty() &&
      writer.BeginFamily(kSeriesOverflowMetric,
                         "Label sets dropped because their metric reached its series limit.",
                         MetricType::kCounter, {"metric"})) {
    for (const auto& [metric, overflow] : overflows) {
      writer.Sample({metric}, static_cast<double>(overflow));
    }
  }

  // Bounded, so that problems naming ever new label values cannot grow memory without end.
  constexpr size_t kMaxLoggedProblems = 1000;
  for (const std::string& problem : writer.problems()) {
    if (logged_problems_.size() < kMaxLoggedProblems && logged_problems_.insert(problem).second) {
      LogWarn("metrics exposition dropped data (each problem is logged once)",
              {{"problem", problem}});
    }
  }
}

}  // namespace pharos
