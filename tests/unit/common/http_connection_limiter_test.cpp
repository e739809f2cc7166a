#include "common/http_connection_limiter.h"

#include <gtest/gtest.h>

namespace pharos {
namespace {

using Verdict = HttpConnectionLimiter::Verdict;

TEST(HttpConnectionLimiterTest, AdmitsUpToTheLimitWithoutEvicting) {
  HttpConnectionLimiter limiter({.max_connections = 3});
  for (int i = 0; i < 3; ++i) {
    const auto decision = limiter.Admit("10.0.0.1");
    EXPECT_EQ(decision.verdict, Verdict::kAdmit);
    EXPECT_NE(decision.id, 0u);
    EXPECT_EQ(decision.evict, 0u);
  }
  EXPECT_EQ(limiter.open(), 3u);
}

// At the limit, the connection waiting longest for a request makes room; busy ones never do.
TEST(HttpConnectionLimiterTest, AtTheLimitTheLongestWaitingConnectionIsEvicted) {
  HttpConnectionLimiter limiter({.max_connections = 3});
  const uint64_t first = limiter.Admit("a").id;
  const uint64_t second = limiter.Admit("b").id;
  const uint64_t third = limiter.Admit("c").id;
  limiter.Busy(first);  // reading a body, parked, or being answered
  limiter.Busy(second);
  limiter.Waiting(second);  // answered; waits for its next request, behind `third`

  const auto fourth = limiter.Admit("d");
  EXPECT_EQ(fourth.verdict, Verdict::kAdmit);
  EXPECT_EQ(fourth.evict, third);
  const auto fifth = limiter.Admit("e");
  EXPECT_EQ(fifth.verdict, Verdict::kAdmit);
  EXPECT_EQ(fifth.evict, second);
  // `fourth` waits, `fifth` waits: the oldest of them goes next.
  const auto sixth = limiter.Admit("f");
  EXPECT_EQ(sixth.evict, fourth.id);
}

TEST(HttpConnectionLimiterTest, WhenEveryConnectionIsBusyNewOnesAreRefused) {
  HttpConnectionLimiter limiter({.max_connections = 2});
  limiter.Busy(limiter.Admit("a").id);
  limiter.Busy(limiter.Admit("b").id);
  EXPECT_EQ(limiter.Admit("c").verdict, Verdict::kRefuseAtLimit);
  EXPECT_EQ(limiter.open(), 2u);
}

// Evicted connections close asynchronously: only a bounded number of extra ones get in meanwhile.
TEST(HttpConnectionLimiterTest, PendingEvictionsAreBounded) {
  HttpConnectionLimiter limiter({.max_connections = 4, .max_pending_evictions = 2});
  for (int i = 0; i < 4; ++i) {
    limiter.Admit("a");
  }
  const auto first = limiter.Admit("a");
  const auto second = limiter.Admit("a");
  ASSERT_NE(first.evict, 0u);
  ASSERT_NE(second.evict, 0u);
  EXPECT_EQ(limiter.Admit("a").verdict, Verdict::kRefuseAtLimit);
  EXPECT_EQ(limiter.open(), 6u);
  limiter.Closed(first.evict);
  EXPECT_EQ(limiter.Admit("a").verdict, Verdict::kAdmit);
  EXPECT_EQ(limiter.open(), 6u);
}

TEST(HttpConnectionLimiterTest, PerClientLimitRefusesWithoutEvictingOthers) {
  HttpConnectionLimiter limiter({.max_connections = 10, .max_per_client = 2});
  const uint64_t first = limiter.Admit("10.0.0.1").id;
  limiter.Admit("10.0.0.1");
  const auto third = limiter.Admit("10.0.0.1");
  EXPECT_EQ(third.verdict, Verdict::kRefuseClientLimit);
  EXPECT_EQ(third.evict, 0u);
  EXPECT_EQ(limiter.Admit("10.0.0.2").verdict, Verdict::kAdmit);
  limiter.Closed(first);
  EXPECT_EQ(limiter.Admit("10.0.0.1").verdict, Verdict::kAdmit);
}

TEST(HttpConnectionLimiterTest, ClosedConnectionsFreeTheirPlaceAndUnknownIdsAreIgnored) {
  HttpConnectionLimiter limiter({.max_connections = 1});
  const uint64_t only = limiter.Admit("a").id;
  limiter.Busy(only);
  EXPECT_EQ(limiter.Admit("b").verdict, Verdict::kRefuseAtLimit);
  limiter.Closed(only);
  limiter.Closed(only);
  limiter.Closed(12345);
  limiter.Waiting(12345);
  limiter.Busy(12345);
  EXPECT_EQ(limiter.open(), 0u);
  const auto next = limiter.Admit("b");
  EXPECT_EQ(next.verdict, Verdict::kAdmit);
  EXPECT_EQ(next.evict, 0u);
}

// An evicted connection that becomes busy or waits again before it closes is not evicted twice.
TEST(HttpConnectionLimiterTest, AnEvictedConnectionIsNotPickedAgain) {
  HttpConnectionLimiter limiter({.max_connections = 1});
  const uint64_t victim = limiter.Admit("a").id;
  const auto newcomer = limiter.Admit("b");
  ASSERT_EQ(newcomer.evict, victim);
  limiter.Waiting(victim);
  const auto third = limiter.Admit("c");
  EXPECT_EQ(third.evict, newcomer.id);
}

}  // namespace
}  // namespace pharos
