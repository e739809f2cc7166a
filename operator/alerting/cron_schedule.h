#pragma once

// CronSchedule: a 5-field cron expression (minute hour day-of-month month day-of-week) as
// recurring maintenance windows use it, evaluated in an IANA time zone from the system's tz
// database (/usr/share/zoneinfo, through the date library: libstdc++ 12 lacks
// std::chrono::locate_zone).
//
// Syntax: each field is `*`, a number, a range `a-b`, a step `*/n` or `a-b/n`, or a comma list
// of those; months may be written jan..dec and weekdays sun..sat (0 or 7 = Sunday). As in cron,
// when both day-of-month and day-of-week are restricted a day matching either one matches.
//
// Daylight saving, as Vixie cron does it: a local time that does not exist (skipped by a
// spring-forward change) fires at the first instant after the gap; a local time that happens
// twice (fall-back) fires once, at its first occurrence. So "30 2 * * *" in Europe/Berlin fires
// every day exactly once, at 03:00 CEST on the day of the change.
// Thread-safety: immutable after Parse; const methods may run on any thread.

#include <bitset>
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace date {
class time_zone;
}

namespace pharos {

class CronSchedule {
 public:
  using TimePoint = std::chrono::system_clock::time_point;

  // Errors name the field and what is wrong ("hour: 24 is out of range 0-23").
  static Result<CronSchedule> Parse(std::string_view expression, std::string_view time_zone);

  // Fire times in [from, to), ascending.
  std::vector<TimePoint> Between(TimePoint from, TimePoint to) const;

  const std::string& expression() const { return expression_; }
  const std::string& time_zone() const { return time_zone_; }

 private:
  CronSchedule() = default;
  bool MatchesDay(int day_of_month, unsigned month, unsigned weekday) const;

  std::string expression_;
  std::string time_zone_;
  const date::time_zone* zone_ = nullptr;  // owned by the date library's database
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_;     // 1..31
  std::bitset<13> months_;   // 1..12
  std::bitset<7> weekdays_;  // 0 = Sunday
  bool days_restricted_ = false;
  bool weekdays_restricted_ = false;
};

// Whether `name` is a time zone of the system's database ("UTC", "Europe/Berlin").
Status CheckTimeZone(std::string_view name);

}  // namespace pharos
