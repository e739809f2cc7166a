#pragma once

// RollupWindow: how a window of history is read from a store that keeps raw results beside
// hourly and daily rollups (SqliteResultStore, and ClickHouseHistoryReader in the analytics room):
// raw results for the partial hours at both ends, hourly rollups for the partial days, daily
// rollups for the whole days in between. Millisecond arithmetic on UTC epoch times.
// Thread-safety: free functions.

#include <cstdint>
#include <limits>
#include <vector>

namespace pharos {

inline constexpr int64_t kHourMs = 3'600'000;
inline constexpr int64_t kDayMs = 24 * kHourMs;

// `ms` rounded down (up) to a multiple of `period`, negative times included.
int64_t FloorTo(int64_t ms, int64_t period);
int64_t CeilTo(int64_t ms, int64_t period);

enum class RollupSource { kRaw, kHourly, kDaily };
struct RollupSegment {
  RollupSource source;
  int64_t from_ms;
  int64_t to_ms;
};

// Splits [from_ms, to_ms) into segments by source, in time order, none empty. Rollups serve
// only whole hours before `rollups_end_ms` (hour-aligned: where they may not be complete yet,
// the raw results are read).
std::vector<RollupSegment> SplitByRollups(
    int64_t from_ms, int64_t to_ms, int64_t rollups_end_ms = std::numeric_limits<int64_t>::max());

}  // namespace pharos
