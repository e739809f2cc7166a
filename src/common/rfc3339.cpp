#include "common/rfc3339.h"

#include <cstdio>

namespace pharos {
namespace {

using std::chrono::system_clock;

// Reads exactly `count` digits at `pos`; false when any is missing.
bool ReadDigits(std::string_view text, size_t pos, size_t count, int* value) {
  if (pos + count > text.size()) {
    return false;
  }
  int result = 0;
  for (size_t i = pos; i < pos + count; ++i) {
    if (text[i] < '0' || text[i] > '9') {
      return false;
    }
    result = result * 10 + (text[i] - '0');
  }
  *value = result;
  return true;
}

}  // namespace

std::string FormatRfc3339(system_clock::time_point time, Rfc3339Precision precision) {
  const auto micros = std::chrono::floor<std::chrono::microseconds>(time);
  const auto day = std::chrono::floor<std::chrono::days>(micros);
  const std::chrono::year_month_day date(day);
  const std::chrono::hh_mm_ss<std::chrono::microseconds> clock_time(micros - day);
  char buffer[40];
  const int written = std::snprintf(
      buffer, sizeof(buffer), "%04d-%02u-%02uT%02d:%02d:%02d", static_cast<int>(date.year()),
      static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
      static_cast<int>(clock_time.hours().count()), static_cast<int>(clock_time.minutes().count()),
      static_cast<int>(clock_time.seconds().count()));
  std::string text(buffer, static_cast<size_t>(written));
  const long fraction = static_cast<long>(clock_time.subseconds().count());
  switch (precision) {
    case Rfc3339Precision::kSeconds:
      break;
    case Rfc3339Precision::kMillis:
      std::snprintf(buffer, sizeof(buffer), ".%03ld", fraction / 1000);
      text += buffer;
      break;
    case Rfc3339Precision::kMicros:
      std::snprintf(buffer, sizeof(buffer), ".%06ld", fraction);
      text += buffer;
      break;
  }
  return text + "Z";
}

namespace {

Result<system_clock::time_point> Parse(std::string_view text, bool saturate) {
  // Errors echo at most the start of a long text.
  constexpr size_t kShown = 64;
  const std::string quoted =
      "\"" + std::string(text.substr(0, kShown)) + (text.size() > kShown ? "...\"" : "\"");
  const Error malformed{quoted + " is not an RFC 3339 timestamp (like 2026-11-25T23:17:54.123Z)"};
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!ReadDigits(text, 0, 4, &year) || text.size() < 19 || text[4] != '-' ||
      !ReadDigits(text, 5, 2, &month) || text[7] != '-' || !ReadDigits(text, 8, 2, &day) ||
      (text[10] != 'T' && text[10] != 't') || !ReadDigits(text, 11, 2, &hour) || text[13] != ':' ||
      !ReadDigits(text, 14, 2, &minute) || text[16] != ':' || !ReadDigits(text, 17, 2, &second)) {
    return malformed;
  }
  size_t pos = 19;
  std::chrono::nanoseconds fraction(0);
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    const size_t start = pos;
    long long nanos = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (pos - start >= 9) {
        return Error{quoted + ": more than 9 fractional digits"};
      }
      nanos = nanos * 10 + (text[pos] - '0');
      ++pos;
    }
    if (pos == start) {
      return malformed;
    }
    for (size_t digits = pos - start; digits < 9; ++digits) {
      nanos *= 10;
    }
    fraction = std::chrono::nanoseconds(nanos);
  }
  std::chrono::minutes offset(0);
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    int offset_hours = 0, offset_minutes = 0;
    if (!ReadDigits(text, pos + 1, 2, &offset_hours) || pos + 3 >= text.size() ||
        text[pos + 3] != ':' || !ReadDigits(text, pos + 4, 2, &offset_minutes) ||
        offset_hours > 23 || offset_minutes > 59) {
      return malformed;
    }
    offset = std::chrono::hours(offset_hours) + std::chrono::minutes(offset_minutes);
    if (text[pos] == '-') {
      offset = -offset;
    }
    pos += 6;
  } else {
    return Error{quoted + ": missing time zone (end with Z for UTC)"};
  }
  if (pos != text.size()) {
    return malformed;
  }

  const std::chrono::year_month_day date{std::chrono::year(year),
                                         std::chrono::month(static_cast<unsigned>(month)),
                                         std::chrono::day(static_cast<unsigned>(day))};
  // Second 60 is a leap second; system_clock has none, so it folds into the next second.
  if (!date.ok() || hour > 23 || minute > 59 || second > 60) {
    return Error{quoted + ": date or time out of range"};
  }
  // Whole seconds first: years 0000-9999 fit in them, while system_clock's nanoseconds only
  // reach 1677-2262 and would silently wrap around.
  const auto seconds = std::chrono::sys_days(date) + std::chrono::hours(hour) +
                       std::chrono::minutes(minute) + std::chrono::seconds(second) - offset;
  using Seconds = std::chrono::time_point<system_clock, std::chrono::seconds>;
  const Seconds earliest = std::chrono::ceil<std::chrono::seconds>(system_clock::time_point::min());
  const Seconds latest = std::chrono::floor<std::chrono::seconds>(system_clock::time_point::max()) -
                         std::chrono::seconds(1);
  if (seconds < earliest || seconds > latest) {
    if (saturate) {
      return seconds < earliest ? system_clock::time_point::min() : system_clock::time_point::max();
    }
    return Error{quoted + ": out of the range of times Pharos handles (" +
                 FormatRfc3339(std::chrono::time_point_cast<system_clock::duration>(earliest),
                               Rfc3339Precision::kSeconds) +
                 " to " +
                 FormatRfc3339(std::chrono::time_point_cast<system_clock::duration>(latest),
                               Rfc3339Precision::kSeconds) +
                 ")"};
  }
  return std::chrono::time_point_cast<system_clock::duration>(seconds) +
         std::chrono::duration_cast<system_clock::duration>(fraction);
}

}  // namespace

Result<system_clock::time_point> ParseRfc3339(std::string_view text) { return Parse(text, false); }

Result<system_clock::time_point> ParseRfc3339Saturating(std::string_view text) {
  return Parse(text, true);
}

}  // namespace pharos
