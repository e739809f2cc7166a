#include "operator/alerting/cron_schedule.h"

#include <date/tz.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <stdexcept>

namespace pharos {
namespace {

constexpr std::string_view kMonthNames[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                            "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr std::string_view kDayNames[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

Result<int> Number(std::string_view text, const char* field, int low, int high,
                   const std::string_view* names, int names_base, size_t name_count) {
  const std::string lower = Lower(text);
  for (size_t i = 0; i < name_count; ++i) {
    if (lower == names[i]) return static_cast<int>(i) + names_base;
  }
  int value = 0;
  auto [ptr, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || ptr != text.data() + text.size()) {
    return Error{std::string(field) + ": \"" + std::string(text) + "\" is not a number",
                 ErrorKind::kInvalidArgument};
  }
  if (value < low || value > high) {
    return Error{std::string(field) + ": " + std::to_string(value) + " is out of range " +
                     std::to_string(low) + "-" + std::to_string(high),
                 ErrorKind::kInvalidArgument};
  }
  return value;
}

// Sets the bits of one field; `restricted` is false for "*" (or "*/1").
template <size_t N>
Status ParseField(std::string_view text, const char* field, int low, int high,
                  const std::string_view* names, int names_base, size_t name_count,
                  std::bitset<N>* bits, bool* restricted) {
  *restricted = true;
  size_t pos = 0;
  while (pos <= text.size()) {
    const size_t comma = std::min(text.find(',', pos), text.size());
    std::string_view part = text.substr(pos, comma - pos);
    pos = comma + 1;
    if (part.empty()) {
      return Error{std::string(field) + ": empty list item", ErrorKind::kInvalidArgument};
    }
    int step = 1;
    if (const size_t slash = part.find('/'); slash != std::string_view::npos) {
      Result<int> parsed = Number(part.substr(slash + 1), field, 1, high, nullptr, 0, 0);
      if (!parsed) return Error{parsed.error(), ErrorKind::kInvalidArgument};
      step = *parsed;
      part = part.substr(0, slash);
    }
    int first = low;
    int last = high;
    if (part == "*") {
      if (step == 1 && text == "*") *restricted = false;
    } else if (const size_t dash = part.find('-'); dash != std::string_view::npos) {
      Result<int> a = Number(part.substr(0, dash), field, low, high, names, names_base, name_count);
      Result<int> b =
          Number(part.substr(dash + 1), field, low, high, names, names_base, name_count);
      if (!a) return Error{a.error(), ErrorKind::kInvalidArgument};
      if (!b) return Error{b.error(), ErrorKind::kInvalidArgument};
      if (*b < *a) {
        return Error{std::string(field) + ": range " + std::string(part) + " runs backwards",
                     ErrorKind::kInvalidArgument};
      }
      first = *a;
      last = *b;
    } else {
      Result<int> a = Number(part, field, low, high, names, names_base, name_count);
      if (!a) return Error{a.error(), ErrorKind::kInvalidArgument};
      first = *a;
      last = step == 1 ? *a : high;
    }
    for (int value = first; value <= last; value += step) {
      bits->set(static_cast<size_t>(N == 7 ? value % 7 : value));  // weekday 7 is Sunday (0)
    }
    if (comma == text.size()) break;
  }
  return OkStatus();
}

}  // namespace

Status CheckTimeZone(std::string_view name) {
  try {
    (void)date::locate_zone(name);
    return OkStatus();
  } catch (const std::exception&) {
    return Error{"unknown time zone \"" + std::string(name) +
                     "\": use an IANA name such as UTC, Europe/Berlin or America/New_York",
                 ErrorKind::kInvalidArgument};
  }
}

Result<CronSchedule> CronSchedule::Parse(std::string_view expression, std::string_view time_zone) {
  std::vector<std::string_view> fields;
  size_t pos = 0;
  while (pos < expression.size()) {
    while (pos < expression.size() && (expression[pos] == ' ' || expression[pos] == '\t')) ++pos;
    if (pos >= expression.size()) break;
    const size_t end = std::min(expression.find_first_of(" \t", pos), expression.size());
    fields.push_back(expression.substr(pos, end - pos));
    pos = end;
  }
  if (fields.size() != 5) {
    return Error{
        "a schedule has 5 fields (minute hour day-of-month month day-of-week), e.g. "
        "\"0 22 * * sat\"; got " +
            std::to_string(fields.size()),
        ErrorKind::kInvalidArgument};
  }
  CronSchedule schedule;
  schedule.expression_ = std::string(expression);
  schedule.time_zone_ = std::string(time_zone);
  bool unused = false;
  if (Status s = ParseField(fields[0], "minute", 0, 59, nullptr, 0, 0, &schedule.minutes_, &unused);
      !s) {
    return Error{s.error(), ErrorKind::kInvalidArgument};
  }
  if (Status s = ParseField(fields[1], "hour", 0, 23, nullptr, 0, 0, &schedule.hours_, &unused);
      !s) {
    return Error{s.error(), ErrorKind::kInvalidArgument};
  }
  if (Status s = ParseField(fields[2], "day-of-month", 1, 31, nullptr, 0, 0, &schedule.days_,
                            &schedule.days_restricted_);
      !s) {
    return Error{s.error(), ErrorKind::kInvalidArgument};
  }
  if (Status s =
          ParseField(fields[3], "month", 1, 12, kMonthNames, 1, 12, &schedule.months_, &unused);
      !s) {
    return Error{s.error(), ErrorKind::kInvalidArgument};
  }
  if (Status s = ParseField(fields[4], "day-of-week", 0, 7, kDayNames, 0, 7, &schedule.weekdays_,
                            &schedule.weekdays_restricted_);
      !s) {
    return Error{s.error(), ErrorKind::kInvalidArgument};
  }
  try {
    schedule.zone_ = date::locate_zone(time_zone);
  } catch (const std::exception&) {
    return Error{CheckTimeZone(time_zone).error(), ErrorKind::kInvalidArgument};
  }
  return schedule;
}

bool CronSchedule::MatchesDay(int day_of_month, unsigned month, unsigned weekday) const {
  if (!months_.test(month)) return false;
  const bool day = days_.test(static_cast<size_t>(day_of_month));
  const bool week = weekdays_.test(weekday);
  if (days_restricted_ && weekdays_restricted_) return day || week;
  return day && week;
}

std::vector<CronSchedule::TimePoint> CronSchedule::Between(TimePoint from, TimePoint to) const {
  using namespace std::chrono;
  std::vector<TimePoint> out;
  if (zone_ == nullptr || from >= to) return out;
  // Local days from a day before `from` to a day after `to` (offsets are under a day).
  const auto local_from = zone_->to_local(floor<seconds>(from));
  const auto local_to = zone_->to_local(ceil<seconds>(to));
  auto day = floor<date::days>(local_from) - date::days(1);
  const auto last_day = floor<date::days>(local_to) + date::days(1);
  for (; day <= last_day; day += date::days(1)) {
    const date::year_month_day ymd{day};
    const date::weekday wd{day};
    if (!MatchesDay(static_cast<int>(static_cast<unsigned>(ymd.day())),
                    static_cast<unsigned>(ymd.month()), wd.c_encoding())) {
      continue;
    }
    for (int hour = 0; hour < 24; ++hour) {
      if (!hours_.test(static_cast<size_t>(hour))) continue;
      for (int minute = 0; minute < 60; ++minute) {
        if (!minutes_.test(static_cast<size_t>(minute))) continue;
        const date::local_seconds local = day + hours(hour) + minutes(minute);
        sys_seconds instant;
        const date::local_info info = zone_->get_info(local);
        switch (info.result) {
          case date::local_info::unique:
            instant = sys_seconds{local.time_since_epoch()} - info.first.offset;
            break;
          case date::local_info::nonexistent:
            // The first instant after the gap: where the second offset begins.
            instant = info.second.begin;
            break;
          case date::local_info::ambiguous:
            instant = sys_seconds{local.time_since_epoch()} - info.first.offset;
            break;
        }
        const TimePoint at = time_point_cast<system_clock::duration>(instant);
        if (at >= from && at < to && (out.empty() || out.back() < at)) {
          out.push_back(at);
        }
      }
    }
  }
  return out;
}

}  // namespace pharos
