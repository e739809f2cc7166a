#include "common/manual_clock.h"

#include <gtest/gtest.h>

namespace pharos {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(ManualClockTest, StartsAtTheGivenTimeAndMovesOnlyWhenAdvanced) {
  ManualClock clock;
  EXPECT_EQ(clock.Now(), ManualClock::DefaultStart());
  EXPECT_EQ(clock.Now().time_since_epoch(), seconds(1'767'225'600));  // 2026-01-01T00:00:00Z
  const auto steady = clock.SteadyNow();
  EXPECT_EQ(clock.Now(), ManualClock::DefaultStart());

  clock.Advance(milliseconds(1'500));
  EXPECT_EQ(clock.Now(), ManualClock::DefaultStart() + milliseconds(1'500));
  EXPECT_EQ(clock.SteadyNow() - steady, milliseconds(1'500));

  clock.Advance(hours(24));
  EXPECT_EQ(clock.Now(), ManualClock::DefaultStart() + hours(24) + milliseconds(1'500));

  ManualClock other(ManualClock::DefaultStart() + seconds(7));
  EXPECT_EQ(other.Now(), ManualClock::DefaultStart() + seconds(7));
}

TEST(ManualClockTest, SetNowStepsWallTimeOnlyAndMonotonicTimeNeverGoesBack) {
  ManualClock clock;
  const auto steady = clock.SteadyNow();
  clock.SetNow(ManualClock::DefaultStart() - hours(1));
  EXPECT_EQ(clock.Now(), ManualClock::DefaultStart() - hours(1));
  EXPECT_EQ(clock.SteadyNow(), steady);

  clock.Advance(seconds(-5));
  EXPECT_EQ(clock.Now(), ManualClock::DefaultStart() - hours(1));
  EXPECT_EQ(clock.SteadyNow(), steady);
}

}  // namespace
}  // namespace pharos
