#include "operator/kube/jittered_backoff.h"

#include <gtest/gtest.h>

#include <chrono>

#include "common/manual_clock.h"

namespace pharos {
namespace {

using std::chrono::milliseconds;

TEST(JitteredBackoffTest, DoublesFrom800msUpTo30s) {
  ManualClock clock;
  // The largest jitter draw: the delay is the whole step.
  JitteredBackoff backoff({}, clock, [] { return 1.0; });
  const int64_t expected[] = {800, 1600, 3200, 6400, 12800, 25600, 30000, 30000};
  for (int64_t want : expected) {
    EXPECT_EQ(backoff.NextDelay(), milliseconds(want));
    clock.Advance(std::chrono::seconds(1));
  }
}

TEST(JitteredBackoffTest, FullJitterDrawsFromZeroToTheStep) {
  ManualClock clock;
  double draw = 0.0;
  JitteredBackoff backoff({}, clock, [&] { return draw; });
  draw = 0.0;
  EXPECT_EQ(backoff.NextDelay(), milliseconds(0));
  draw = 0.5;
  EXPECT_EQ(backoff.NextDelay(), milliseconds(800));  // half of the second step, 1600 ms
  draw = 0.25;
  EXPECT_EQ(backoff.NextDelay(), milliseconds(800));  // a quarter of 3200 ms
}

TEST(JitteredBackoffTest, ResetsAfterTwoMinutesWithoutFailure) {
  ManualClock clock;
  JitteredBackoff backoff({}, clock, [] { return 1.0; });
  backoff.NextDelay();
  backoff.NextDelay();
  EXPECT_EQ(backoff.NextDelay(), milliseconds(3200));
  clock.Advance(std::chrono::seconds(119));
  EXPECT_EQ(backoff.NextDelay(), milliseconds(6400));  // failures still close together
  clock.Advance(std::chrono::seconds(120));
  EXPECT_EQ(backoff.NextDelay(), milliseconds(800));
  EXPECT_EQ(backoff.current_step(), milliseconds(1600));
}

TEST(JitteredBackoffTest, ResetForgetsFailures) {
  ManualClock clock;
  JitteredBackoff backoff({}, clock, [] { return 1.0; });
  backoff.NextDelay();
  backoff.NextDelay();
  backoff.Reset();
  EXPECT_EQ(backoff.NextDelay(), milliseconds(800));
}

TEST(JitteredBackoffTest, DefaultRandomStaysWithinTheStep) {
  ManualClock clock;
  JitteredBackoff backoff({}, clock);
  for (int i = 0; i < 50; ++i) {
    const auto step = backoff.current_step();
    const auto delay = backoff.NextDelay();
    EXPECT_GE(delay, milliseconds(0));
    EXPECT_LE(delay, step);
  }
}

}  // namespace
}  // namespace pharos
