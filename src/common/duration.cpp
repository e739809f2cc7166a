#include "common/duration.h"

#include <cstdint>

namespace pharos {
namespace {

constexpr std::string_view kUnitsHint = "(use ms, s, m or h)";

int64_t UnitMillis(std::string_view unit) {
  if (unit == "ms") {
    return 1;
  }
  if (unit == "s") {
    return 1'000;
  }
  if (unit == "m") {
    return 60'000;
  }
  if (unit == "h") {
    return 3'600'000;
  }
  return 0;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

}  // namespace

Result<Millis> ParseDuration(std::string_view text) {
  const std::string prefix = "invalid duration \"" + std::string(text) + "\": ";
  if (text.empty()) {
    return Error{"invalid duration \"\": empty (e.g. 500ms, 10s, 1m30s)"};
  }
  if (text[0] == '-') {
    return Error{prefix + "negative durations are not allowed"};
  }
  if (text == "0") {
    return Millis(0);
  }
  int64_t total = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t number_start = pos;
    int64_t whole = 0;
    bool overflow = false;
    while (pos < text.size() && IsDigit(text[pos])) {
      overflow |= __builtin_mul_overflow(whole, 10, &whole);
      overflow |= __builtin_add_overflow(whole, text[pos] - '0', &whole);
      ++pos;
    }
    const bool has_whole = pos > number_start;
    // Fraction digits as a numerator over 10^digits, at most 9 digits kept exactly.
    int64_t fraction = 0;
    int64_t fraction_scale = 1;
    if (pos < text.size() && text[pos] == '.') {
      ++pos;
      const size_t fraction_start = pos;
      while (pos < text.size() && IsDigit(text[pos])) {
        if (fraction_scale >= 1'000'000'000) {
          return Error{prefix + "too many fractional digits"};
        }
        fraction = fraction * 10 + (text[pos] - '0');
        fraction_scale *= 10;
        ++pos;
      }
      if (pos == fraction_start) {
        return Error{prefix + "expected digits after '.'"};
      }
    }
    if (!has_whole && fraction_scale == 1) {
      return Error{prefix + "expected a number at \"" + std::string(text.substr(number_start)) +
                   "\""};
    }
    const size_t unit_start = pos;
    while (pos < text.size() && IsLetter(text[pos])) {
      ++pos;
    }
    const std::string_view unit = text.substr(unit_start, pos - unit_start);
    if (unit.empty()) {
      return Error{prefix + "missing unit after \"" +
                   std::string(text.substr(number_start, pos - number_start)) + "\" " +
                   std::string(kUnitsHint)};
    }
    const int64_t unit_millis = UnitMillis(unit);
    if (unit_millis == 0) {
      return Error{prefix + "unknown unit \"" + std::string(unit) + "\" " +
                   std::string(kUnitsHint)};
    }
    if ((fraction * unit_millis) % fraction_scale != 0) {
      return Error{prefix + "finer than a millisecond"};
    }
    int64_t component = 0;
    overflow |= __builtin_mul_overflow(whole, unit_millis, &component);
    overflow |=
        __builtin_add_overflow(component, fraction * unit_millis / fraction_scale, &component);
    overflow |= __builtin_add_overflow(total, component, &total);
    if (overflow) {
      return Error{prefix + "too large"};
    }
  }
  return Millis(total);
}

bool IsMonitorDurationSyntax(std::string_view text) {
  if (text.empty() || text.size() > kMaxMonitorDurationLength) {
    return false;
  }
  size_t pos = 0;
  const auto digits = [&] {
    const size_t start = pos;
    while (pos < text.size() && IsDigit(text[pos])) {
      ++pos;
    }
    return pos > start;
  };
  while (pos < text.size()) {
    if (!digits()) {
      return false;
    }
    if (pos < text.size() && text[pos] == '.') {
      ++pos;
      if (!digits()) {
        return false;
      }
    }
    if (text.substr(pos, 2) == "ms") {
      pos += 2;
    } else if (pos < text.size() && (text[pos] == 's' || text[pos] == 'm' || text[pos] == 'h')) {
      ++pos;
    } else {
      return false;
    }
  }
  return true;
}

std::string FormatDuration(Millis duration) {
  const int64_t count = duration.count();
  if (count == 0) {
    return "0s";
  }
  std::string text = count < 0 ? "-" : "";
  // Unsigned so that the most negative count has a magnitude too.
  uint64_t remaining =
      count < 0 ? uint64_t{0} - static_cast<uint64_t>(count) : static_cast<uint64_t>(count);
  constexpr std::pair<uint64_t, const char*> kUnits[] = {
      {3'600'000, "h"}, {60'000, "m"}, {1'000, "s"}, {1, "ms"}};
  for (const auto& [unit_millis, unit] : kUnits) {
    if (remaining >= unit_millis) {
      text += std::to_string(remaining / unit_millis) + unit;
      remaining %= unit_millis;
    }
  }
  return text;
}

}  // namespace pharos
