#include "common/counter_family.h"

#include <cmath>

namespace pharos {

void Counter::Inc(double amount) {
  if (!(amount >= 0)) return;  // negative or NaN
  value_.fetch_add(amount, std::memory_order_relaxed);
}

void Counter::Write(MetricsWriter& writer, const std::vector<std::string>& label_values) const {
  writer.Sample(label_values, Value());
}

CounterFamily::CounterFamily(std::string name, std::string help,
                             std::vector<std::string> label_names, size_t max_series)
    : MetricFamily(std::move(name), std::move(help), MetricType::kCounter, std::move(label_names),
                   max_series) {}

}  // namespace pharos
