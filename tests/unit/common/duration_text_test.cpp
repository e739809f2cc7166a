#include "common/duration_text.h"

#include <gtest/gtest.h>

namespace pharos {
namespace {

using std::chrono::microseconds;

TEST(DurationTextTest, Formats) {
  EXPECT_EQ(FormatMicros(microseconds(0)), "0us");
  EXPECT_EQ(FormatMicros(microseconds(250)), "250us");
  EXPECT_EQ(FormatMicros(microseconds(734'500)), "734.5ms");
  EXPECT_EQ(FormatMicros(microseconds(10'000'000)), "10s");
  EXPECT_EQ(FormatMicros(microseconds(1'500'000)), "1.5s");
  EXPECT_EQ(FormatMicros(microseconds(90'000'000)), "1m30s");
  EXPECT_EQ(FormatMicros(microseconds(3'600'000'000)), "1h");
  EXPECT_EQ(FormatMicros(microseconds(719LL * 3'600'000'000 + 59LL * 60'000'000)), "719h59m");
  EXPECT_EQ(FormatMicros(microseconds(-3LL * 3'600'000'000)), "-3h");
  EXPECT_EQ(FormatMicros(microseconds(59'999'900)), "1m");  // rounded to milliseconds
}

}  // namespace
}  // namespace pharos
