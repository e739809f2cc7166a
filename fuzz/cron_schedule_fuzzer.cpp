// Fuzz target: 5-field cron expressions of recurring maintenance windows, with their time zone,
// and the fire times they give over two days. Input: the time zone, a newline, the expression;
// a fire time must lie in the range asked for, in ascending order.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "operator/alerting/cron_schedule.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t newline = input.find('\n');
  if (newline == std::string_view::npos) {
    return 0;
  }
  pharos::Result<pharos::CronSchedule> schedule =
      pharos::CronSchedule::Parse(input.substr(newline + 1), input.substr(0, newline));
  if (!schedule.ok()) {
    return 0;
  }
  // 2026-10-24 12:00 UTC: two days across the European autumn daylight-saving change.
  const auto from = std::chrono::system_clock::time_point(std::chrono::seconds(1'792'843'200));
  const auto to = from + std::chrono::hours(48);
  pharos::CronSchedule::TimePoint previous{};
  for (const auto& fire : schedule->Between(from, to)) {
    if (fire < from || fire >= to || fire <= previous) {
      std::abort();
    }
    previous = fire;
  }
  return 0;
}
