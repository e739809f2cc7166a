#pragma once

// How the web pages write text and numbers (escaping is common/html_escape.h): times (UTC, in the
// forms the pages show before their script turns them into the reader's time zone), durations,
// latencies and percentages. Thread-safety: free functions.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/html_escape.h"
#include "operator/control/monitor_state.h"

namespace pharos {

// "2026-01-03 14:05 UTC"
std::string FormatDateTimeUtc(TimePoint time);
// "3 Jan 2026"
std::string FormatDate(TimePoint time);
// "2026-01-03"
std::string FormatIsoDate(TimePoint time);
// RFC 822 for RSS: "Sat, 03 Jan 2026 14:05:00 GMT"
std::string FormatRfc822(TimePoint time);
// `<time datetime="2026-01-03T14:05:00.000Z" data-local="datetime">2026-01-03 14:05 UTC</time>`:
// the page's script rewrites it in the reader's time zone.
std::string TimeElement(TimePoint time);

// "45 s", "12 min", "2 h 5 min", "3 d 4 h"
std::string FormatSpan(std::chrono::milliseconds duration);
// "850 µs", "123 ms", "1.23 s"; "–" for nullopt
std::string FormatLatency(std::optional<int64_t> micros);
// "99.95%" with up to two decimals, trailing zeros dropped ("100%"), never rounded up to 100;
// "–" for nullopt
std::string FormatPercent(std::optional<double> percent);
// "1,234"
std::string FormatCount(int64_t count);

}  // namespace pharos
