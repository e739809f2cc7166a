#include "common/rfc3339.h"

#include <gtest/gtest.h>

namespace pharos {
namespace {

using std::chrono::system_clock;
using namespace std::chrono_literals;

system_clock::time_point At(std::chrono::sys_days day, std::chrono::milliseconds since_midnight) {
  return system_clock::time_point(day) + since_midnight;
}

TEST(Rfc3339Test, FormatsTheKubernetesPrecisions) {
  const std::chrono::system_clock::time_point time(
      std::chrono::microseconds(1'767'225'600'123'456));
  EXPECT_EQ(FormatRfc3339(time, Rfc3339Precision::kSeconds), "2026-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339(time), "2026-01-01T00:00:00.123Z");
  EXPECT_EQ(FormatRfc3339(time, Rfc3339Precision::kMicros), "2026-01-01T00:00:00.123456Z");
}

TEST(Rfc3339Test, FormatsUtcWithMilliseconds) {
  using std::chrono::November;
  const auto day = std::chrono::sys_days(std::chrono::year(2026) / November / 25);
  EXPECT_EQ(FormatRfc3339(At(day, 23h + 17min + 54s + 123ms)), "2026-11-25T23:17:54.123Z");
  EXPECT_EQ(FormatRfc3339(system_clock::time_point{}), "1970-01-01T00:00:00.000Z");
  // Sub-millisecond parts are cut, not rounded up into the next second.
  EXPECT_EQ(FormatRfc3339(At(day, 999ms) + 999us), "2026-11-25T00:00:00.999Z");
}

TEST(Rfc3339Test, ParsesWhatItFormats) {
  const auto now = std::chrono::floor<std::chrono::milliseconds>(system_clock::now());
  Result<system_clock::time_point> parsed = ParseRfc3339(FormatRfc3339(now));
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  EXPECT_EQ(*parsed, now);
}

TEST(Rfc3339Test, ParsesVariants) {
  using std::chrono::January;
  const auto day = std::chrono::sys_days(std::chrono::year(2026) / January / 2);
  EXPECT_EQ(*ParseRfc3339("2026-01-02T03:04:05Z"), At(day, 3h + 4min + 5s));
  EXPECT_EQ(*ParseRfc3339("2026-01-02t03:04:05.5z"), At(day, 3h + 4min + 5s + 500ms));
  EXPECT_EQ(*ParseRfc3339("2026-01-02T05:04:05+02:00"), At(day, 3h + 4min + 5s));
  EXPECT_EQ(*ParseRfc3339("2026-01-01T23:04:05-04:00"), At(day, 3h + 4min + 5s));
  EXPECT_EQ(*ParseRfc3339("2026-01-02T03:04:05.000000001Z"), At(day, 3h + 4min + 5s) + 1ns);
}

TEST(Rfc3339Test, RejectsMalformedText) {
  EXPECT_EQ(ParseRfc3339("yesterday").error(),
            "\"yesterday\" is not an RFC 3339 timestamp (like 2026-11-25T23:17:54.123Z)");
  EXPECT_EQ(ParseRfc3339("2026-01-02T03:04:05").error(),
            "\"2026-01-02T03:04:05\": missing time zone (end with Z for UTC)");
  EXPECT_EQ(ParseRfc3339("2026-02-30T03:04:05Z").error(),
            "\"2026-02-30T03:04:05Z\": date or time out of range");
  EXPECT_EQ(ParseRfc3339("2026-01-02T24:00:00Z").error(),
            "\"2026-01-02T24:00:00Z\": date or time out of range");
  EXPECT_FALSE(ParseRfc3339("2026-01-02T03:04:05.Z").ok());
  EXPECT_FALSE(ParseRfc3339("2026-01-02T03:04:05Zjunk").ok());
  EXPECT_FALSE(ParseRfc3339("2026-01-02T03:04:05+0200").ok());
  EXPECT_FALSE(ParseRfc3339("").ok());
}

TEST(Rfc3339Test, TimesBeyondTheClockAreErrorsNeverWrappedAround) {
  for (const char* far : {"9999-12-31T23:59:59.999Z", "0001-01-01T00:00:00Z",
                          "2263-01-01T00:00:00Z", "1677-01-01T00:00:00Z"}) {
    auto parsed = ParseRfc3339(far);
    ASSERT_FALSE(parsed.ok()) << far << " read as " << FormatRfc3339(*parsed);
    EXPECT_NE(parsed.error().find("out of the range"), std::string::npos) << parsed.error();
  }
  EXPECT_TRUE(ParseRfc3339("2262-01-01T00:00:00Z").ok());
  EXPECT_TRUE(ParseRfc3339("1700-01-01T00:00:00Z").ok());
  EXPECT_EQ(*ParseRfc3339Saturating("9999-12-31T23:59:59.999Z"),
            std::chrono::system_clock::time_point::max());
  EXPECT_EQ(*ParseRfc3339Saturating("0001-01-01T00:00:00Z"),
            std::chrono::system_clock::time_point::min());
  EXPECT_EQ(*ParseRfc3339Saturating("2026-11-25T23:17:54.123Z"),
            *ParseRfc3339("2026-11-25T23:17:54.123Z"));
  EXPECT_FALSE(ParseRfc3339Saturating("9999-13-01T00:00:00Z").ok());
}

TEST(Rfc3339Test, ErrorsQuoteOnlyTheStartOfALongText) {
  const std::string huge = "2026-11-25T23:17:54." + std::string(1'000'000, '1') + "x";
  auto parsed = ParseRfc3339(huge);
  ASSERT_FALSE(parsed.ok());
  EXPECT_LT(parsed.error().size(), 200u);
}

}  // namespace
}  // namespace pharos
