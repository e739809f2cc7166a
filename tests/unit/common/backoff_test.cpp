#include "common/backoff.h"

#include <gtest/gtest.h>

#include <chrono>

#include "common/manual_clock.h"

namespace pharos {
namespace {

using std::chrono::milliseconds;

TEST(BackoffTest, KubernetesDefaultsDoubleFrom800msUpTo30s) {
  ManualClock clock;
  // The largest jitter draw: the delay is the whole step.
  Backoff backoff(
      Backoff::KubernetesDefaults(), [] { return 1.0; }, &clock);
  const int64_t expected[] = {800, 1600, 3200, 6400, 12800, 25600, 30000, 30000};
  for (int64_t want : expected) {
    EXPECT_EQ(backoff.NextDelay(), milliseconds(want));
    clock.Advance(std::chrono::seconds(1));
  }
}

TEST(BackoffTest, FullJitterDrawsFromZeroToTheStep) {
  ManualClock clock;
  double draw = 0.0;
  Backoff backoff(
      Backoff::KubernetesDefaults(), [&] { return draw; }, &clock);
  draw = 0.0;
  EXPECT_EQ(backoff.NextDelay(), milliseconds(0));
  draw = 0.5;
  EXPECT_EQ(backoff.NextDelay(), milliseconds(800));  // half of the second step, 1600 ms
  draw = 0.25;
  EXPECT_EQ(backoff.NextDelay(), milliseconds(800));  // a quarter of 3200 ms
}

TEST(BackoffTest, KubernetesDefaultsResetAfterTwoMinutesWithoutFailure) {
  ManualClock clock;
  Backoff backoff(
      Backoff::KubernetesDefaults(), [] { return 1.0; }, &clock);
  backoff.NextDelay();
  backoff.NextDelay();
  EXPECT_EQ(backoff.NextDelay(), milliseconds(3200));
  clock.Advance(std::chrono::seconds(119));
  EXPECT_EQ(backoff.NextDelay(), milliseconds(6400));  // failures still close together
  clock.Advance(std::chrono::seconds(120));
  EXPECT_EQ(backoff.NextDelay(), milliseconds(800));
  EXPECT_EQ(backoff.current_step(), milliseconds(1600));
}

TEST(BackoffTest, ProbeDefaultsStayBetweenHalfAndTheWholeStep) {
  double fraction = 0.0;
  Backoff backoff(Backoff::ProbeDefaults(), [&] { return fraction; });
  EXPECT_EQ(backoff.NextDelay(), milliseconds(250));  // step 500, lowest draw
  fraction = 1.0;
  EXPECT_EQ(backoff.NextDelay(), milliseconds(1000));  // step 1000, highest draw
  for (int i = 0; i < 10; ++i) {
    backoff.NextDelay();
  }
  EXPECT_EQ(backoff.current_step(), milliseconds(30'000));
  EXPECT_EQ(backoff.NextDelay(), milliseconds(30'000));
  fraction = 0.5;
  EXPECT_EQ(backoff.NextDelay(), milliseconds(22'500));
}

TEST(BackoffTest, ResetForgetsFailures) {
  Backoff backoff(Backoff::ProbeDefaults(), [] { return 1.0; });
  backoff.NextDelay();
  backoff.NextDelay();
  backoff.Reset();
  EXPECT_EQ(backoff.NextDelay(), milliseconds(500));
}

TEST(BackoffTest, DefaultRandomStaysWithinItsRange) {
  ManualClock clock;
  Backoff full(Backoff::KubernetesDefaults(), {}, &clock);
  Backoff half({.initial = milliseconds(400), .max = milliseconds(400), .min_fraction = 0.5});
  for (int i = 0; i < 50; ++i) {
    const auto step = full.current_step();
    const auto delay = full.NextDelay();
    EXPECT_GE(delay, milliseconds(0));
    EXPECT_LE(delay, step);
    const milliseconds bounded = half.NextDelay();
    EXPECT_GE(bounded, milliseconds(200));
    EXPECT_LE(bounded, milliseconds(400));
  }
}

}  // namespace
}  // namespace pharos
