#include "common/duration_text.h"

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>

namespace pharos {
namespace {

// "1.500" → "1.5", "2.000" → "2".
std::string TrimmedDecimal(double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.3f", value);
  std::string text = buffer;
  while (!text.empty() && text.back() == '0') text.pop_back();
  if (!text.empty() && text.back() == '.') text.pop_back();
  return text;
}

}  // namespace

std::string FormatMicros(std::chrono::microseconds duration) {
  int64_t us = duration.count();
  std::string sign;
  if (us < 0) {
    sign = "-";
    us = us == std::numeric_limits<int64_t>::min() ? std::numeric_limits<int64_t>::max() : -us;
  }
  if (us < 1000) return sign + std::to_string(us) + "us";
  if (us < 1'000'000) return sign + TrimmedDecimal(static_cast<double>(us) / 1e3) + "ms";
  us = (us + 500) / 1000 * 1000;  // whole milliseconds, so seconds print exactly
  const int64_t hours = us / 3'600'000'000;
  us -= hours * 3'600'000'000;
  const int64_t minutes = us / 60'000'000;
  us -= minutes * 60'000'000;
  std::string text = sign;
  if (hours > 0) text += std::to_string(hours) + "h";
  if (minutes > 0) text += std::to_string(minutes) + "m";
  if (us > 0) text += TrimmedDecimal(static_cast<double>(us) / 1e6) + "s";
  if (hours == 0 && minutes == 0 && us == 0) text += "0s";
  return text;
}

}  // namespace pharos
