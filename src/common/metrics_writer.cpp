#include "common/metrics_writer.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <functional>
#include <set>

#include "common/prometheus_text.h"

namespace pharos {
namespace {

std::string_view TypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

}  // namespace

void MetricsWriter::StreamTo(Sink sink, size_t piece_bytes) {
  sink_ = std::move(sink);
  piece_bytes_ = piece_bytes;
  // A piece overshoots its size by at most one batch of lines before the next Flush point.
  text_.reserve(piece_bytes + piece_bytes / 2);
}

void MetricsWriter::Deliver() {
  if (!abandoned_ && !sink_(text_)) {
    abandoned_ = true;
  }
  text_.clear();  // keeps the capacity for the next piece
}

bool MetricsWriter::BeginFamily(std::string_view name, std::string_view help, MetricType type,
                                std::vector<std::string> label_names) {
  family_.clear();
  series_in_family_.clear();
  const auto refuse = [&](std::string why) {
    problems_.push_back(fmt::format("metric family \"{}\" dropped: {}", name, why));
    return false;
  };
  if (!IsValidMetricName(name)) {
    return refuse("the name does not match [a-zA-Z_:][a-zA-Z0-9_:]*");
  }
  if (type == MetricType::kCounter && !name.ends_with("_total")) {
    return refuse("a counter's name must end in _total");
  }
  std::set<std::string_view> seen;
  for (const std::string& label : label_names) {
    if (!IsValidLabelName(label)) {
      return refuse(
          fmt::format("label name \"{}\" does not match [a-zA-Z_][a-zA-Z0-9_]* or starts "
                      "with __",
                      label));
    }
    if (type == MetricType::kHistogram && label == "le") {
      return refuse("a histogram cannot have a label named le");
    }
    if (!seen.insert(label).second) {
      return refuse(fmt::format("label name \"{}\" appears twice", label));
    }
  }
  if (!written_families_.insert(std::string(name)).second) {
    return refuse("a family of that name was already written in this scrape");
  }
  family_ = name;
  type_ = type;
  label_names_ = std::move(label_names);
  text_ += "# HELP ";
  text_ += name;
  text_ += ' ';
  AppendEscapedHelp(text_, help);
  text_ += "\n# TYPE ";
  text_ += name;
  text_ += ' ';
  text_ += TypeName(type);
  text_ += '\n';
  return true;
}

bool MetricsWriter::PrepareSample(const std::vector<std::string>& label_values,
                                  MetricType expected) {
  if (family_.empty()) {
    return false;  // the family was refused; its problem is already recorded
  }
  if ((expected == MetricType::kHistogram) != (type_ == MetricType::kHistogram)) {
    problems_.push_back(fmt::format("sample of \"{}\" dropped: {} sample for a {} family", family_,
                                    expected == MetricType::kHistogram ? "histogram" : "plain",
                                    TypeName(type_)));
    return false;
  }
  if (label_values.size() != label_names_.size()) {
    problems_.push_back(fmt::format("sample of \"{}\" dropped: {} label values for {} label names",
                                    family_, label_values.size(), label_names_.size()));
    return false;
  }
  label_text_.clear();
  for (size_t i = 0; i < label_values.size(); ++i) {
    if (i > 0) {
      label_text_ += ',';
    }
    label_text_ += label_names_[i];
    label_text_ += "=\"";
    AppendEscapedLabelValue(label_text_, label_values[i]);
    label_text_ += '"';
  }
  if (!series_in_family_.insert(std::hash<std::string_view>{}(label_text_)).second) {
    problems_.push_back(fmt::format("sample of \"{}\" dropped: label set {{{}}} written twice",
                                    family_, label_text_));
    return false;
  }
  return true;
}

void MetricsWriter::AppendSeriesLine(std::string_view suffix, std::string_view extra_label,
                                     std::string_view value) {
  text_ += family_;
  text_ += suffix;
  if (!label_text_.empty() || !extra_label.empty()) {
    text_ += '{';
    text_ += label_text_;
    if (!label_text_.empty() && !extra_label.empty()) {
      text_ += ',';
    }
    text_ += extra_label;
    text_ += '}';
  }
  text_ += ' ';
  text_ += value;
  text_ += '\n';
}

void MetricsWriter::Sample(const std::vector<std::string>& label_values, double value) {
  if (!PrepareSample(label_values, MetricType::kGauge)) {
    return;
  }
  AppendSeriesLine("", "", FormatPrometheusValue(value));
}

void MetricsWriter::HistogramSample(const std::vector<std::string>& label_values,
                                    std::span<const double> upper_bounds,
                                    std::span<const uint64_t> cumulative_counts, double sum) {
  if (!PrepareSample(label_values, MetricType::kHistogram)) {
    return;
  }
  if (cumulative_counts.size() != upper_bounds.size() + 1) {
    problems_.push_back(fmt::format("histogram sample of \"{}\" dropped: {} counts for {} buckets",
                                    family_, cumulative_counts.size(), upper_bounds.size() + 1));
    return;
  }
  if (le_labels_.size() != upper_bounds.size() + 1 ||
      !std::equal(upper_bounds.begin(), upper_bounds.end(), le_bounds_.begin(), le_bounds_.end())) {
    le_bounds_.assign(upper_bounds.begin(), upper_bounds.end());
    le_labels_.clear();
    for (double bound : upper_bounds) {
      le_labels_.push_back("le=\"" + FormatPrometheusValue(bound) + "\"");
    }
    le_labels_.push_back("le=\"+Inf\"");
  }
  char count_text[24];
  const auto format_count = [&count_text](uint64_t count) {
    const auto [end, error] = std::to_chars(count_text, count_text + sizeof(count_text), count);
    (void)error;  // 24 bytes hold any uint64_t
    return std::string_view(count_text, static_cast<size_t>(end - count_text));
  };
  for (size_t i = 0; i <= upper_bounds.size(); ++i) {
    AppendSeriesLine("_bucket", le_labels_[i], format_count(cumulative_counts[i]));
  }
  AppendSeriesLine("_sum", "", FormatPrometheusValue(sum));
  AppendSeriesLine("_count", "", format_count(cumulative_counts.back()));
}

}  // namespace pharos
