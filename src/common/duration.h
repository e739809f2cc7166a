#pragma once

// Durations as users write them in Monitors: "500ms", "10s", "1m", "1h30m", "168h", "1.5s".
// Units ms, s, m, h; components add up ("1h30m"); fractions must come out as whole
// milliseconds. Thread-safety: free functions; no shared state.

#include <string>
#include <string_view>

#include "common/monitor.h"
#include "common/result.h"

namespace pharos {

// Errors quote the text and say what is wrong: `invalid duration "10x": unknown unit "x" ...`.
Result<Millis> ParseDuration(std::string_view text);

// The duration syntax of Monitor fields, the same as the CRD's pattern
// ^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$ with at most kMaxMonitorDurationLength characters: every
// component has digits before any '.', and a unit ("0" and ".5s" are not Monitor durations).
constexpr size_t kMaxMonitorDurationLength = 32;
bool IsMonitorDurationSyntax(std::string_view text);

// The shortest exact spelling ParseDuration reads back: 5400000 ms → "1h30m", 1500 → "1s500ms",
// 0 → "0s". Negative durations are written with a leading '-' (ParseDuration rejects them).
std::string FormatDuration(Millis duration);

}  // namespace pharos
