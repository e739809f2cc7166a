#include "operator/web/web_format.h"

#include <gtest/gtest.h>

#include "common/manual_clock.h"

namespace pharos {
namespace {

const TimePoint kAt =
    ManualClock::DefaultStart() + std::chrono::hours(24 * 33 + 14) + std::chrono::minutes(5);

TEST(WebFormatTest, Times) {
  EXPECT_EQ(FormatDateTimeUtc(kAt), "2026-02-03 14:05 UTC");
  EXPECT_EQ(FormatDate(kAt), "3 Feb 2026");
  EXPECT_EQ(FormatIsoDate(kAt), "2026-02-03");
  EXPECT_EQ(FormatRfc822(kAt), "Tue, 03 Feb 2026 14:05:00 GMT");
  EXPECT_EQ(TimeElement(kAt),
            "<time datetime=\"2026-02-03T14:05:00.000Z\" data-local=\"datetime\">2026-02-03 14:05 "
            "UTC</time>");
}

TEST(WebFormatTest, FiguresForPeople) {
  using std::chrono::milliseconds;
  EXPECT_EQ(FormatSpan(milliseconds(45'000)), "45 s");
  EXPECT_EQ(FormatSpan(milliseconds(12 * 60'000 + 5'000)), "12 min");
  EXPECT_EQ(FormatSpan(milliseconds(125 * 60'000)), "2 h 5 min");
  EXPECT_EQ(FormatSpan(milliseconds(2 * 3'600'000)), "2 h");
  EXPECT_EQ(FormatSpan(milliseconds(76 * 3'600'000LL)), "3 d 4 h");
  EXPECT_EQ(FormatLatency(850), "850 µs");
  EXPECT_EQ(FormatLatency(1'234), "1.2 ms");
  EXPECT_EQ(FormatLatency(123'400), "123 ms");
  EXPECT_EQ(FormatLatency(1'234'000), "1.23 s");
  EXPECT_EQ(FormatLatency(std::nullopt), "–");
  EXPECT_EQ(FormatPercent(100.0), "100%");
  EXPECT_EQ(FormatPercent(99.999), "99.99%");  // never rounded up to 100
  EXPECT_EQ(FormatPercent(62.5), "62.5%");
  EXPECT_EQ(FormatPercent(0.0), "0%");
  EXPECT_EQ(FormatPercent(0.05), "0.05%");
  EXPECT_EQ(FormatPercent(99.5), "99.5%");
  EXPECT_EQ(FormatPercent(99.0), "99%");
  EXPECT_EQ(FormatPercent(100.0 * 196.0 / 197.0), "99.49%");
  EXPECT_EQ(FormatPercent(1234.567), "1234.56%");
  EXPECT_EQ(FormatPercent(std::nullopt), "–");
  EXPECT_EQ(FormatCount(1'234'567), "1,234,567");
  EXPECT_EQ(FormatCount(12), "12");
}

}  // namespace
}  // namespace pharos
