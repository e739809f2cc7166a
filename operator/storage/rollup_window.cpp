#include "operator/storage/rollup_window.h"

#include <algorithm>

namespace pharos {

int64_t FloorTo(int64_t ms, int64_t period) {
  const int64_t q = ms / period;
  return (ms % period < 0 ? q - 1 : q) * period;
}

int64_t CeilTo(int64_t ms, int64_t period) {
  const int64_t floor = FloorTo(ms, period);
  return floor == ms ? ms : floor + period;
}

std::vector<RollupSegment> SplitByRollups(int64_t from_ms, int64_t to_ms, int64_t rollups_end_ms) {
  std::vector<RollupSegment> plan;
  if (from_ms >= to_ms) return plan;
  const int64_t first_hour = CeilTo(from_ms, kHourMs);
  const int64_t last_hour = std::min(FloorTo(to_ms, kHourMs), rollups_end_ms);
  if (first_hour >= last_hour) {
    plan.push_back({RollupSource::kRaw, from_ms, to_ms});
    return plan;
  }
  plan.push_back({RollupSource::kRaw, from_ms, first_hour});
  const int64_t first_day = CeilTo(first_hour, kDayMs);
  const int64_t last_day = FloorTo(last_hour, kDayMs);
  if (first_day < last_day) {
    plan.push_back({RollupSource::kHourly, first_hour, first_day});
    plan.push_back({RollupSource::kDaily, first_day, last_day});
    plan.push_back({RollupSource::kHourly, last_day, last_hour});
  } else {
    plan.push_back({RollupSource::kHourly, first_hour, last_hour});
  }
  plan.push_back({RollupSource::kRaw, last_hour, to_ms});
  std::erase_if(plan, [](const RollupSegment& s) { return s.from_ms >= s.to_ms; });
  return plan;
}

}  // namespace pharos
