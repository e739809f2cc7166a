#include "probe/retry_backoff.h"

#include <gtest/gtest.h>

namespace pharos {
namespace {

using std::chrono::milliseconds;

TEST(RetryBackoffTest, DoublesFromInitialToMaxWithinHalfAndFullStep) {
  double fraction = 0.0;
  RetryBackoff backoff({.initial = milliseconds(500), .max = milliseconds(30'000)},
                       [&] { return fraction; });
  EXPECT_EQ(backoff.NextDelay(), milliseconds(250));  // step 500, lowest draw
  fraction = 1.0;
  EXPECT_EQ(backoff.NextDelay(), milliseconds(1000));  // step 1000, highest draw
  for (int i = 0; i < 10; ++i) backoff.NextDelay();
  EXPECT_EQ(backoff.current_step(), milliseconds(30'000));
  EXPECT_EQ(backoff.NextDelay(), milliseconds(30'000));
  fraction = 0.5;
  EXPECT_EQ(backoff.NextDelay(), milliseconds(22'500));
}

TEST(RetryBackoffTest, ResetStartsOver) {
  RetryBackoff backoff({.initial = milliseconds(500), .max = milliseconds(30'000)},
                       [] { return 1.0; });
  backoff.NextDelay();
  backoff.NextDelay();
  backoff.Reset();
  EXPECT_EQ(backoff.NextDelay(), milliseconds(500));
}

TEST(RetryBackoffTest, RealRandomStaysInRange) {
  RetryBackoff backoff({.initial = milliseconds(400), .max = milliseconds(400)});
  for (int i = 0; i < 100; ++i) {
    const milliseconds delay = backoff.NextDelay();
    EXPECT_GE(delay, milliseconds(200));
    EXPECT_LE(delay, milliseconds(400));
  }
}

}  // namespace
}  // namespace pharos
