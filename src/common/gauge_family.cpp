#include "common/gauge_family.h"

namespace pharos {

void Gauge::Write(MetricsWriter& writer, const std::vector<std::string>& label_values) const {
  writer.Sample(label_values, Value());
}

GaugeFamily::GaugeFamily(std::string name, std::string help, std::vector<std::string> label_names,
                         size_t max_series)
    : MetricFamily(std::move(name), std::move(help), MetricType::kGauge, std::move(label_names),
                   max_series) {}

}  // namespace pharos
