#include "operator/alerting/cron_schedule.h"

#include <gtest/gtest.h>

#include "common/rfc3339.h"

namespace pharos {
namespace {

using TimePoint = std::chrono::system_clock::time_point;

TimePoint At(const char* text) { return ParseRfc3339(text).value(); }

std::vector<std::string> Fires(const char* expression, const char* zone, const char* from,
                               const char* to) {
  Result<CronSchedule> schedule = CronSchedule::Parse(expression, zone);
  EXPECT_TRUE(schedule.ok()) << (schedule.ok() ? "" : schedule.error());
  std::vector<std::string> out;
  if (!schedule.ok()) return out;
  for (TimePoint at : schedule->Between(At(from), At(to))) out.push_back(FormatRfc3339(at));
  return out;
}

TEST(CronScheduleTest, DailyInUtc) {
  EXPECT_EQ(Fires("0 22 * * *", "UTC", "2026-12-20T00:00:00Z", "2026-12-23T00:00:00Z"),
            (std::vector<std::string>{"2026-12-20T22:00:00.000Z", "2026-12-21T22:00:00.000Z",
                                      "2026-12-22T22:00:00.000Z"}));
}

TEST(CronScheduleTest, StepsListsRangesAndNames) {
  EXPECT_EQ(Fires("*/20 9-10 * * mon-fri", "UTC", "2026-12-18T00:00:00Z",  // a Friday
                  "2026-12-21T09:30:00Z"),
            (std::vector<std::string>{"2026-12-18T09:00:00.000Z", "2026-12-18T09:20:00.000Z",
                                      "2026-12-18T09:40:00.000Z", "2026-12-18T10:00:00.000Z",
                                      "2026-12-18T10:20:00.000Z", "2026-12-18T10:40:00.000Z",
                                      "2026-12-21T09:00:00.000Z", "2026-12-21T09:20:00.000Z"}));
  EXPECT_EQ(Fires("0 0 1 jan,jul *", "UTC", "2026-01-01T00:00:00Z", "2027-01-01T00:00:01Z"),
            (std::vector<std::string>{"2026-01-01T00:00:00.000Z", "2026-07-01T00:00:00.000Z",
                                      "2027-01-01T00:00:00.000Z"}));
}

TEST(CronScheduleTest, DayOfMonthOrDayOfWeekWhenBothAreRestricted) {
  // The 15th, or any Sunday (7 is Sunday too), as cron reads it.
  EXPECT_EQ(Fires("0 12 15 * 7", "UTC", "2026-11-10T00:00:00Z", "2026-11-23T00:00:00Z"),
            (std::vector<std::string>{"2026-11-15T12:00:00.000Z", "2026-11-22T12:00:00.000Z"}));
  EXPECT_EQ(Fires("0 12 16 * 0", "UTC", "2026-11-10T00:00:00Z", "2026-11-17T00:00:00Z"),
            (std::vector<std::string>{"2026-11-15T12:00:00.000Z", "2026-11-16T12:00:00.000Z"}));
}

TEST(CronScheduleTest, SpringForwardFiresOnceAfterTheGap) {
  // Europe/Berlin skips 02:00-03:00 on 2026-03-29: 02:30 local does not exist that day and
  // fires at 03:00 CEST (01:00Z); the days around it at 02:30 CET (01:30Z) and CEST (00:30Z).
  EXPECT_EQ(Fires("30 2 * * *", "Europe/Berlin", "2026-03-28T00:00:00Z", "2026-03-31T00:00:00Z"),
            (std::vector<std::string>{"2026-03-28T01:30:00.000Z", "2026-03-29T01:00:00.000Z",
                                      "2026-03-30T00:30:00.000Z"}));
}

TEST(CronScheduleTest, FallBackFiresOnceAtTheFirstOccurrence) {
  // Europe/Berlin repeats 02:00-03:00 on 2026-10-25: 02:30 happens twice, fired once (CEST).
  EXPECT_EQ(Fires("30 2 * * *", "Europe/Berlin", "2026-10-24T00:00:00Z", "2026-10-27T00:00:00Z"),
            (std::vector<std::string>{"2026-10-24T00:30:00.000Z", "2026-10-25T00:30:00.000Z",
                                      "2026-10-26T01:30:00.000Z"}));
  // Every 30 minutes across the repeated hour: the instants stay unique and ascending.
  std::vector<std::string> fires =
      Fires("0,30 1-3 25 oct *", "Europe/Berlin", "2026-10-24T22:00:00Z", "2026-10-25T03:00:00Z");
  EXPECT_EQ(fires,
            (std::vector<std::string>{"2026-10-24T23:00:00.000Z", "2026-10-24T23:30:00.000Z",
                                      "2026-10-25T00:00:00.000Z", "2026-10-25T00:30:00.000Z",
                                      "2026-10-25T02:00:00.000Z", "2026-10-25T02:30:00.000Z"}));
}

TEST(CronScheduleTest, NewYorkWeeklyKeepsLocalTimeAcrossDst) {
  // Saturdays 22:00 in New York: 02:00Z under EDT, 03:00Z under EST (change on 2026-11-01).
  EXPECT_EQ(
      Fires("0 22 * * sat", "America/New_York", "2026-10-20T00:00:00Z", "2026-11-10T00:00:00Z"),
      (std::vector<std::string>{"2026-10-25T02:00:00.000Z", "2026-11-01T02:00:00.000Z",
                                "2026-11-08T03:00:00.000Z"}));
}

TEST(CronScheduleTest, ErrorsNameTheField) {
  const auto error = [](const char* expression, const char* zone = "UTC") {
    Result<CronSchedule> parsed = CronSchedule::Parse(expression, zone);
    EXPECT_FALSE(parsed.ok()) << expression;
    return parsed.ok() ? std::string() : parsed.error();
  };
  EXPECT_NE(error("0 22 * *").find("5 fields"), std::string::npos);
  EXPECT_NE(error("0 24 * * *").find("hour: 24 is out of range 0-23"), std::string::npos);
  EXPECT_NE(error("61 * * * *").find("minute"), std::string::npos);
  EXPECT_NE(error("0 0 * foo *").find("month: \"foo\" is not a number"), std::string::npos);
  EXPECT_NE(error("0 5-2 * * *").find("runs backwards"), std::string::npos);
  EXPECT_NE(error("0 0 * * *", "Mars/Olympus").find("unknown time zone"), std::string::npos);
  EXPECT_TRUE(CheckTimeZone("Europe/Berlin").ok());
  EXPECT_FALSE(CheckTimeZone("Europe/Nowhere").ok());
}

}  // namespace
}  // namespace pharos
