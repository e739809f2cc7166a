#include "common/bad_token_guard.h"

#include <gtest/gtest.h>

#include "common/manual_clock.h"

namespace pharos {
namespace {

using std::chrono::seconds;

class BadTokenGuardTest : public ::testing::Test {
 protected:
  ManualClock clock_;
  MetricsRegistry registry_{MetricsRegistry::Options{}};
};

TEST_F(BadTokenGuardTest, AGuesserGetsItsBurstThenOneTryPerRefillInterval) {
  BadTokenGuard guard(clock_, registry_, {.burst = 3, .refill = seconds(6), .max_clients = 16});
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(guard.Admit("probe", "10.0.0.1"), std::nullopt) << i;
    guard.RecordFailure("probe", "10.0.0.1");
  }
  EXPECT_EQ(guard.Admit("probe", "10.0.0.1"), seconds(6));
  // Another client is not held back by the guesser.
  EXPECT_EQ(guard.Admit("probe", "10.0.0.2"), std::nullopt);

  clock_.Advance(seconds(4));
  EXPECT_EQ(guard.Admit("incidents", "10.0.0.1"), seconds(2));  // every API, one allowance
  clock_.Advance(seconds(2));
  ASSERT_EQ(guard.Admit("probe", "10.0.0.1"), std::nullopt);
  guard.RecordFailure("probe", "10.0.0.1");
  EXPECT_EQ(guard.Admit("probe", "10.0.0.1"), seconds(6));

  const std::string metrics = registry_.Expose();
  EXPECT_NE(metrics.find("pharos_auth_failures_total{api=\"probe\"} 4"), std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("pharos_auth_throttled_total{api=\"probe\"} 2"), std::string::npos);
  EXPECT_NE(metrics.find("pharos_auth_throttled_total{api=\"incidents\"} 1"), std::string::npos);
}

TEST_F(BadTokenGuardTest, TheAllowanceComesBackInFullAndNoFurther) {
  BadTokenGuard guard(clock_, registry_, {.burst = 2, .refill = seconds(5), .max_clients = 16});
  guard.RecordFailure("probe", "::1");
  guard.RecordFailure("probe", "::1");
  ASSERT_TRUE(guard.Admit("probe", "::1").has_value());
  clock_.Advance(std::chrono::hours(1));
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(guard.Admit("probe", "::1"), std::nullopt) << i;
    guard.RecordFailure("probe", "::1");
  }
  EXPECT_TRUE(guard.Admit("probe", "::1").has_value());
}

TEST_F(BadTokenGuardTest, ManyAddressesAreBoundedWithoutFreeingAThrottledOneFirst) {
  BadTokenGuard guard(clock_, registry_, {.burst = 1, .refill = seconds(60), .max_clients = 4});
  guard.RecordFailure("probe", "guesser");
  clock_.Advance(seconds(1));
  // Addresses whose allowance is back in full are forgotten before a throttled one...
  for (int i = 0; i < 3; ++i) guard.RecordFailure("probe", "other-" + std::to_string(i));
  clock_.Advance(seconds(60));
  guard.RecordFailure("probe", "guesser");
  clock_.Advance(seconds(1));
  guard.RecordFailure("probe", "newcomer");
  clock_.Advance(seconds(1));
  EXPECT_TRUE(guard.Admit("probe", "guesser").has_value());
  // ...and when every remembered address is throttled, the least recently seen makes room.
  for (int i = 0; i < 10; ++i) {
    clock_.Advance(seconds(1));
    guard.RecordFailure("probe", "flood-" + std::to_string(i));
  }
  EXPECT_EQ(guard.Admit("probe", "guesser"), std::nullopt);
  EXPECT_TRUE(guard.Admit("probe", "flood-9").has_value());
}

}  // namespace
}  // namespace pharos
