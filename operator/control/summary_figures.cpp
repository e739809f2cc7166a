#include "operator/control/summary_figures.h"

#include <cmath>

namespace pharos {

SummaryFigures::SummaryFigures()
    : uptime_percent_{std::nan(""), std::nan(""), std::nan("")},
      latency_p50_us_(-1),
      latency_p95_us_(-1) {}

SummaryFigures::SummaryFigures(const MonitorSummary& summary)
    : uptime_percent_{summary.last_24h.UptimePercent().value_or(std::nan("")),
                      summary.last_7d.UptimePercent().value_or(std::nan("")),
                      summary.last_30d.UptimePercent().value_or(std::nan(""))},
      latency_p50_us_(summary.last_24h.latency.p50_us.value_or(-1)),
      latency_p95_us_(summary.last_24h.latency.p95_us.value_or(-1)) {}

std::optional<double> SummaryFigures::Percent(double value) {
  return std::isnan(value) ? std::nullopt : std::optional<double>(value);
}

std::optional<int64_t> SummaryFigures::Micros(int64_t value) {
  return value < 0 ? std::nullopt : std::optional<int64_t>(value);
}

}  // namespace pharos
