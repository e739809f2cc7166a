#include "operator/kube/token_bucket.h"

#include <gtest/gtest.h>

#include <chrono>

#include "common/manual_clock.h"

namespace pharos {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;

TEST(TokenBucketTest, AllowsABurstThenTheRate) {
  ManualClock clock;
  TokenBucket bucket(10, 3, clock);
  EXPECT_TRUE(bucket.TryAcquire());
  EXPECT_TRUE(bucket.TryAcquire());
  EXPECT_TRUE(bucket.TryAcquire());
  EXPECT_FALSE(bucket.TryAcquire());
  clock.Advance(milliseconds(99));
  EXPECT_FALSE(bucket.TryAcquire());
  clock.Advance(milliseconds(1));
  EXPECT_TRUE(bucket.TryAcquire());
  EXPECT_FALSE(bucket.TryAcquire());
}

TEST(TokenBucketTest, ReserveBorrowsFromTheFuture) {
  ManualClock clock;
  TokenBucket bucket(10, 2, clock);
  EXPECT_EQ(bucket.Reserve(), nanoseconds(0));
  EXPECT_EQ(bucket.Reserve(), nanoseconds(0));
  EXPECT_EQ(std::chrono::round<milliseconds>(bucket.Reserve()), milliseconds(100));
  EXPECT_EQ(std::chrono::round<milliseconds>(bucket.Reserve()), milliseconds(200));
  clock.Advance(milliseconds(200));
  EXPECT_EQ(std::chrono::round<milliseconds>(bucket.Reserve()), milliseconds(100));
}

TEST(TokenBucketTest, NeverHoldsMoreThanTheBurst) {
  ManualClock clock;
  TokenBucket bucket(100, 2, clock);
  clock.Advance(std::chrono::hours(1));
  EXPECT_TRUE(bucket.TryAcquire());
  EXPECT_TRUE(bucket.TryAcquire());
  EXPECT_FALSE(bucket.TryAcquire());
}

TEST(TokenBucketTest, ZeroQpsMeansUnlimited) {
  ManualClock clock;
  TokenBucket bucket(0, 1, clock);
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(bucket.TryAcquire());
  EXPECT_EQ(bucket.Reserve(), nanoseconds(0));
}

TEST(TokenBucketTest, AcquireReturnsFalseWhenCancelledWhileWaiting) {
  SystemClock clock;
  TokenBucket bucket(0.001, 1, clock);  // the second token is ~1000 s away
  ASSERT_TRUE(bucket.Acquire());
  std::stop_source stop;
  stop.request_stop();
  EXPECT_FALSE(bucket.Acquire(stop.get_token()));
}

}  // namespace
}  // namespace pharos
