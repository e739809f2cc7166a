#include "common/duration.h"

#include <gtest/gtest.h>

namespace pharos {
namespace {

Millis Parse(const std::string& text) {
  Result<Millis> duration = ParseDuration(text);
  EXPECT_TRUE(duration.ok()) << text << ": " << (duration.ok() ? "" : duration.error());
  return duration.ok() ? *duration : Millis(-1);
}

std::string ParseError(const std::string& text) {
  Result<Millis> duration = ParseDuration(text);
  return duration.ok() ? "(parsed)" : duration.error();
}

TEST(DurationTest, ParsesUnits) {
  EXPECT_EQ(Parse("500ms"), Millis(500));
  EXPECT_EQ(Parse("10s"), Millis(10'000));
  EXPECT_EQ(Parse("1m"), Millis(60'000));
  EXPECT_EQ(Parse("168h"), Millis(168LL * 3'600'000));
  EXPECT_EQ(Parse("0"), Millis(0));
  EXPECT_EQ(Parse("0s"), Millis(0));
}

TEST(DurationTest, ParsesCompoundsAndFractions) {
  EXPECT_EQ(Parse("1h30m"), Millis(5'400'000));
  EXPECT_EQ(Parse("1m30s250ms"), Millis(90'250));
  EXPECT_EQ(Parse("1.5s"), Millis(1'500));
  EXPECT_EQ(Parse("0.5h"), Millis(1'800'000));
  EXPECT_EQ(Parse(".25s"), Millis(250));
  EXPECT_EQ(Parse("1.500s"), Millis(1'500));
}

TEST(DurationTest, RejectsBadText) {
  EXPECT_EQ(ParseError(""), "invalid duration \"\": empty (e.g. 500ms, 10s, 1m30s)");
  EXPECT_EQ(ParseError("-5s"), "invalid duration \"-5s\": negative durations are not allowed");
  EXPECT_EQ(ParseError("10"),
            "invalid duration \"10\": missing unit after \"10\" (use ms, s, m or h)");
  EXPECT_EQ(ParseError("10x"), "invalid duration \"10x\": unknown unit \"x\" (use ms, s, m or h)");
  EXPECT_EQ(ParseError("2d"), "invalid duration \"2d\": unknown unit \"d\" (use ms, s, m or h)");
  EXPECT_EQ(ParseError("5us"), "invalid duration \"5us\": unknown unit \"us\" (use ms, s, m or h)");
  EXPECT_EQ(ParseError("10S"), "invalid duration \"10S\": unknown unit \"S\" (use ms, s, m or h)");
  EXPECT_EQ(ParseError("1h 30m"), "invalid duration \"1h 30m\": expected a number at \" 30m\"");
  EXPECT_EQ(ParseError("s"), "invalid duration \"s\": expected a number at \"s\"");
  EXPECT_EQ(ParseError("1.s"), "invalid duration \"1.s\": expected digits after '.'");
  EXPECT_EQ(ParseError("1.0005s"), "invalid duration \"1.0005s\": finer than a millisecond");
  EXPECT_EQ(ParseError("0.5ms"), "invalid duration \"0.5ms\": finer than a millisecond");
  EXPECT_EQ(ParseError("1.0000000001s"),
            "invalid duration \"1.0000000001s\": too many fractional digits");
}

TEST(DurationTest, RejectsOverflow) {
  EXPECT_EQ(ParseError("99999999999999999999s"),
            "invalid duration \"99999999999999999999s\": too large");
  EXPECT_EQ(ParseError("9999999999999999h"), "invalid duration \"9999999999999999h\": too large");
  EXPECT_EQ(ParseError("5000000000000000h5000000000000000h"),
            "invalid duration \"5000000000000000h5000000000000000h\": too large");
}

TEST(DurationTest, FormatsTheShortestExactSpelling) {
  EXPECT_EQ(FormatDuration(Millis(0)), "0s");
  EXPECT_EQ(FormatDuration(Millis(500)), "500ms");
  EXPECT_EQ(FormatDuration(Millis(1'500)), "1s500ms");
  EXPECT_EQ(FormatDuration(Millis(60'000)), "1m");
  EXPECT_EQ(FormatDuration(Millis(5'400'000)), "1h30m");
  EXPECT_EQ(FormatDuration(Millis(168LL * 3'600'000)), "168h");
  EXPECT_EQ(FormatDuration(Millis(-2'000)), "-2s");
}

TEST(DurationTest, FormatThenParseRoundTrips) {
  for (const int64_t millis : {1LL, 999LL, 1'000LL, 61'001LL, 3'600'000LL, 90'061'001LL}) {
    EXPECT_EQ(Parse(FormatDuration(Millis(millis))), Millis(millis)) << millis;
  }
}

}  // namespace
}  // namespace pharos
