#include "operator/web/web_format.h"

#include <fmt/format.h>

#include <cmath>
#include <ctime>

#include "common/rfc3339.h"

namespace pharos {
namespace {

std::tm UtcParts(TimePoint time) {
  const std::time_t seconds =
      std::chrono::system_clock::to_time_t(std::chrono::floor<std::chrono::seconds>(time));
  std::tm parts{};
  gmtime_r(&seconds, &parts);
  return parts;
}

constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr const char* kWeekdays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};

}  // namespace

std::string FormatDateTimeUtc(TimePoint time) {
  const std::tm t = UtcParts(time);
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02} UTC", t.tm_year + 1900, t.tm_mon + 1, t.tm_mday,
                     t.tm_hour, t.tm_min);
}

std::string FormatDate(TimePoint time) {
  const std::tm t = UtcParts(time);
  return fmt::format("{} {} {}", t.tm_mday, kMonths[t.tm_mon], t.tm_year + 1900);
}

std::string FormatIsoDate(TimePoint time) {
  const std::tm t = UtcParts(time);
  return fmt::format("{:04}-{:02}-{:02}", t.tm_year + 1900, t.tm_mon + 1, t.tm_mday);
}

std::string FormatRfc822(TimePoint time) {
  const std::tm t = UtcParts(time);
  return fmt::format("{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT", kWeekdays[t.tm_wday], t.tm_mday,
                     kMonths[t.tm_mon], t.tm_year + 1900, t.tm_hour, t.tm_min, t.tm_sec);
}

std::string TimeElement(TimePoint time) {
  return "<time datetime=\"" + FormatRfc3339(time) + "\" data-local=\"datetime\">" +
         FormatDateTimeUtc(time) + "</time>";
}

std::string FormatSpan(std::chrono::milliseconds duration) {
  const int64_t seconds = std::max<int64_t>(0, duration.count() / 1000);
  if (seconds < 60) return fmt::format("{} s", seconds);
  const int64_t minutes = seconds / 60;
  if (minutes < 60) return fmt::format("{} min", minutes);
  const int64_t hours = minutes / 60;
  if (hours < 24) {
    return minutes % 60 == 0 ? fmt::format("{} h", hours)
                             : fmt::format("{} h {} min", hours, minutes % 60);
  }
  const int64_t days = hours / 24;
  return hours % 24 == 0 ? fmt::format("{} d", days) : fmt::format("{} d {} h", days, hours % 24);
}

std::string FormatLatency(std::optional<int64_t> micros) {
  if (!micros) return "–";
  const int64_t us = *micros;
  if (us < 1'000) return fmt::format("{} µs", us);
  if (us < 10'000) return fmt::format("{:.1f} ms", static_cast<double>(us) / 1e3);
  if (us < 1'000'000) return fmt::format("{} ms", (us + 500) / 1'000);
  return fmt::format("{:.2f} s", static_cast<double>(us) / 1e6);
}

std::string FormatPercent(std::optional<double> percent) {
  if (!percent) return "–";
  // Never round an imperfect figure up to 100.
  const double hundredths = std::floor(*percent * 100.0);
  if (hundredths >= 0 && hundredths < 1e12) {
    // Integer digits: a page prints this for every day of every component.
    const auto whole = static_cast<int64_t>(hundredths);
    std::string text = std::to_string(whole / 100);
    const int64_t fraction = whole % 100;
    if (fraction != 0) {
      text += '.';
      text += static_cast<char>('0' + fraction / 10);
      if (fraction % 10 != 0) text += static_cast<char>('0' + fraction % 10);
    }
    return text + "%";
  }
  double value = hundredths / 100.0;
  std::string text = fmt::format("{:.2f}", value);
  while (text.back() == '0') text.pop_back();
  if (text.back() == '.') text.pop_back();
  return text + "%";
}

std::string FormatCount(int64_t count) {
  std::string digits = std::to_string(count < 0 ? -count : count);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return count < 0 ? "-" + out : out;
}

}  // namespace pharos
