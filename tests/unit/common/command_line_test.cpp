#include "common/command_line.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace pharos {
namespace {

using ::testing::HasSubstr;

CommandLine Flags(const std::vector<std::string>& args) {
  CommandLine flags;
  flags.AddFlag("concurrency", 'c', "N", "checks at once", "256");
  flags.AddFlag("qps", '\0', "N", "writes per second", "10");
  flags.AddFlag("retention", '\0', "DURATION", "how long", "720h");
  EXPECT_TRUE(flags.Parse(args).ok());
  return flags;
}

TEST(CommandLineTest, NumbersWithinTheirRangeAreAccepted) {
  const CommandLine flags = Flags({"-c", "16", "--qps=2.5", "--retention", "1h30m"});
  EXPECT_EQ(*flags.GetInteger("concurrency", 1, 100'000), 16);
  EXPECT_EQ(*flags.GetNumber("qps", 0.001, 1e6), 2.5);
  EXPECT_EQ(*flags.GetDuration("retention", std::chrono::hours(1)), Millis(5'400'000));
  const CommandLine defaults = Flags({});
  EXPECT_EQ(*defaults.GetInteger("concurrency", 1, 100'000), 256);
}

TEST(CommandLineTest, AnythingElseIsAnInvalidArgumentNamingTheFlagAndTheRange) {
  for (const char* bad : {"0", "100001", "12x", "", "1e3", "-5", "99999999999999999999"}) {
    const Result<int64_t> value = Flags({"-c", bad}).GetInteger("concurrency", 1, 100'000);
    ASSERT_FALSE(value.ok()) << bad;
    EXPECT_EQ(value.error_kind(), ErrorKind::kInvalidArgument);
    EXPECT_THAT(value.error(),
                HasSubstr("--concurrency: expected a whole number from 1 to 100000"));
  }
  for (const char* bad : {"0", "nan", "inf", "1e999", "fast"}) {
    EXPECT_FALSE(Flags({"--qps", bad}).GetNumber("qps", 0.001, 1e6).ok()) << bad;
  }
  const Result<Millis> short_retention =
      Flags({"--retention", "30m"}).GetDuration("retention", std::chrono::hours(1));
  ASSERT_FALSE(short_retention.ok());
  EXPECT_EQ(short_retention.error(), "--retention must be at least 1h");
  EXPECT_THAT(Flags({"--retention", "soon"}).GetDuration("retention", Millis(0)).error(),
              HasSubstr("--retention: "));
}

TEST(CommandLineTest, AHugeValueIsCutInTheMessage) {
  const std::string huge(10'000, '7');
  const Result<int64_t> value = Flags({"-c", huge}).GetInteger("concurrency", 1, 100'000);
  ASSERT_FALSE(value.ok());
  EXPECT_LT(value.error().size(), 200u);
}

TEST(CommandLineTest, RepeatedFlagsKeepEveryValueAndSplitCommas) {
  const CommandLine flags =
      Flags({"-c", "1", "--concurrency=2,3", "-c", "", "--qps", "5", "--concurrency", "4,,5"});
  EXPECT_EQ(flags.Get("concurrency"), "4,,5");  // Get: the last one
  EXPECT_EQ(flags.GetAll("concurrency"), (std::vector<std::string>{"1", "2", "3", "4", "5"}));
  EXPECT_EQ(flags.GetAll("qps"), std::vector<std::string>{"5"});
  EXPECT_TRUE(flags.GetAll("retention").empty());  // not given: the default is not a value
}

}  // namespace
}  // namespace pharos
