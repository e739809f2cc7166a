#pragma once

// SummaryFigures: what Monitor.status and /metrics show of a monitor's MonitorSummary: uptime
// over 24 h, 7 d and 30 d and the 24 h latency percentiles. There is one per monitor (tens of
// thousands), so an absent figure is kept as NaN or -1 instead of five optionals (40 bytes).
// Thread-safety: a value type.

#include <cstdint>
#include <optional>

#include "operator/control/result_store.h"

namespace pharos {

class SummaryFigures {
 public:
  SummaryFigures();  // every figure absent
  explicit SummaryFigures(const MonitorSummary& summary);

  std::optional<double> uptime_24h_percent() const { return Percent(uptime_percent_[0]); }
  std::optional<double> uptime_7d_percent() const { return Percent(uptime_percent_[1]); }
  std::optional<double> uptime_30d_percent() const { return Percent(uptime_percent_[2]); }
  std::optional<int64_t> latency_p50_us() const { return Micros(latency_p50_us_); }
  std::optional<int64_t> latency_p95_us() const { return Micros(latency_p95_us_); }

 private:
  static std::optional<double> Percent(double value);
  static std::optional<int64_t> Micros(int64_t value);

  double uptime_percent_[3];
  int64_t latency_p50_us_;
  int64_t latency_p95_us_;
};

}  // namespace pharos
