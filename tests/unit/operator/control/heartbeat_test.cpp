#include "operator/control/heartbeat.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/manual_clock.h"
#include "unit/common/latency_assertion_builder.h"

namespace pharos {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using TimePoint = Heartbeat::TimePoint;

PushSpec Spec(Millis every, Millis grace, std::optional<Millis> max_run_time = std::nullopt) {
  PushSpec spec;
  spec.expect_every = every;
  spec.grace = grace;
  spec.max_run_time = max_run_time;
  return spec;
}

class HeartbeatTest : public ::testing::Test {
 protected:
  const TimePoint t0_ = ManualClock::DefaultStart();
};

TEST_F(HeartbeatTest, NothingIsDueBeforeExpectEveryPlusGrace) {
  Heartbeat heartbeat(Spec(Millis(60'000), Millis(10'000)), std::nullopt, t0_);
  EXPECT_THAT(heartbeat.Due(t0_ + Millis(69'999)), IsEmpty());
  EXPECT_EQ(heartbeat.deadline(), t0_ + Millis(70'000));
}

TEST_F(HeartbeatTest, AMissedPingIsDownAtTheDeadlineAndAgainEveryPeriod) {
  Heartbeat heartbeat(Spec(Millis(60'000), Millis(10'000)), std::nullopt, t0_);
  std::vector<HeartbeatVerdict> missed = heartbeat.Due(t0_ + Millis(70'000));
  ASSERT_THAT(missed, SizeIs(1));
  EXPECT_EQ(missed[0].outcome, Outcome::kDown);
  EXPECT_EQ(missed[0].at, t0_ + Millis(70'000));
  EXPECT_EQ(missed[0].rule, "missed");
  EXPECT_THAT(missed[0].message, HasSubstr("no ping within expectEvery 1m + grace 10s"));
  EXPECT_THAT(heartbeat.Due(t0_ + Millis(139'999)), IsEmpty());
  missed = heartbeat.Due(t0_ + Millis(140'000));
  ASSERT_THAT(missed, SizeIs(1));
  EXPECT_EQ(missed[0].at, t0_ + Millis(140'000));
}

TEST_F(HeartbeatTest, ALongSilenceGivesOneVerdictNotOnePerPeriod) {
  Heartbeat heartbeat(Spec(Millis(1'000), Millis(0)), std::nullopt, t0_);
  const TimePoint later = t0_ + Millis(3'600'000);
  EXPECT_THAT(heartbeat.Due(later), SizeIs(1));
  EXPECT_EQ(heartbeat.deadline(), later + Millis(1'000));
}

TEST_F(HeartbeatTest, APingMovesTheDeadline) {
  Heartbeat heartbeat(Spec(Millis(60'000), Millis(10'000)), std::nullopt, t0_);
  std::optional<HeartbeatVerdict> ping = heartbeat.Ping(PushPing::kSuccess, t0_ + Millis(50'000));
  ASSERT_TRUE(ping);
  EXPECT_EQ(ping->outcome, Outcome::kUp);
  EXPECT_EQ(ping->at, t0_ + Millis(50'000));
  EXPECT_FALSE(ping->run_time);
  EXPECT_TRUE(ping->message.empty());
  EXPECT_THAT(heartbeat.Due(t0_ + Millis(119'999)), IsEmpty());
  EXPECT_THAT(heartbeat.Due(t0_ + Millis(120'000)), SizeIs(1));
}

TEST_F(HeartbeatTest, AFailPingIsDownWithTheRunTime) {
  Heartbeat heartbeat(Spec(Millis(60'000), Millis(0)), std::nullopt, t0_);
  EXPECT_FALSE(heartbeat.Ping(PushPing::kStart, t0_ + Millis(1'000)));
  std::optional<HeartbeatVerdict> fail = heartbeat.Ping(PushPing::kFail, t0_ + Millis(4'500));
  ASSERT_TRUE(fail);
  EXPECT_EQ(fail->outcome, Outcome::kDown);
  EXPECT_EQ(fail->rule, "fail");
  EXPECT_EQ(fail->run_time, Millis(3'500));
}

TEST_F(HeartbeatTest, AStartPingDoesNotMoveTheDeadline) {
  Heartbeat heartbeat(Spec(Millis(60'000), Millis(0)), std::nullopt, t0_);
  EXPECT_FALSE(heartbeat.Ping(PushPing::kStart, t0_ + Millis(59'000)));
  EXPECT_THAT(heartbeat.Due(t0_ + Millis(60'000)), SizeIs(1));
}

TEST_F(HeartbeatTest, StartThenSuccessRecordsTheRunTime) {
  Heartbeat heartbeat(Spec(Millis(60'000), Millis(0), Millis(10'000)), std::nullopt, t0_);
  heartbeat.Ping(PushPing::kStart, t0_ + Millis(1'000));
  std::optional<HeartbeatVerdict> done = heartbeat.Ping(PushPing::kSuccess, t0_ + Millis(8'250));
  ASSERT_TRUE(done);
  EXPECT_EQ(done->outcome, Outcome::kUp);
  EXPECT_EQ(done->run_time, Millis(7'250));
  EXPECT_FALSE(heartbeat.run_deadline());
}

TEST_F(HeartbeatTest, ARunLongerThanMaxRunTimeIsDownEvenWithASuccessPing) {
  Heartbeat heartbeat(Spec(Millis(60'000), Millis(0), Millis(10'000)), std::nullopt, t0_);
  heartbeat.Ping(PushPing::kStart, t0_);
  std::optional<HeartbeatVerdict> done = heartbeat.Ping(PushPing::kSuccess, t0_ + Millis(10'001));
  ASSERT_TRUE(done);
  EXPECT_EQ(done->outcome, Outcome::kDown);
  EXPECT_EQ(done->rule, "maxRunTime");
  EXPECT_THAT(done->message, HasSubstr("longer than maxRunTime 10s"));
}

TEST_F(HeartbeatTest, ARunStillGoingAtMaxRunTimeIsDownThenAndOnce) {
  Heartbeat heartbeat(Spec(Millis(60'000), Millis(0), Millis(10'000)), std::nullopt, t0_);
  heartbeat.Ping(PushPing::kStart, t0_ + Millis(5'000));
  EXPECT_EQ(heartbeat.run_deadline(), t0_ + Millis(15'000));
  EXPECT_THAT(heartbeat.Due(t0_ + Millis(14'999)), IsEmpty());
  std::vector<HeartbeatVerdict> overrun = heartbeat.Due(t0_ + Millis(15'000));
  ASSERT_THAT(overrun, SizeIs(1));
  EXPECT_EQ(overrun[0].outcome, Outcome::kDown);
  EXPECT_EQ(overrun[0].at, t0_ + Millis(15'000));
  EXPECT_EQ(overrun[0].rule, "maxRunTime");
  EXPECT_THAT(overrun[0].message, HasSubstr("has not finished within maxRunTime 10s"));
  EXPECT_THAT(heartbeat.Due(t0_ + Millis(30'000)), IsEmpty());
}

TEST_F(HeartbeatTest, AnOverrunAndAMissedPingComeOldestFirst) {
  Heartbeat heartbeat(Spec(Millis(10'000), Millis(0), Millis(8'000)), std::nullopt, t0_);
  heartbeat.Ping(PushPing::kStart, t0_ + Millis(1'000));
  std::vector<HeartbeatVerdict> verdicts = heartbeat.Due(t0_ + Millis(20'000));
  ASSERT_THAT(verdicts, SizeIs(2));
  EXPECT_EQ(verdicts[0].at, t0_ + Millis(9'000));
  EXPECT_EQ(verdicts[0].rule, "maxRunTime");
  EXPECT_EQ(verdicts[1].at, t0_ + Millis(10'000));
  EXPECT_EQ(verdicts[1].rule, "missed");
}

TEST_F(HeartbeatTest, ARunSlowerThanDegradedAfterIsDegraded) {
  Heartbeat heartbeat(Spec(Millis(60'000), Millis(0)), Millis(2'000), t0_);
  heartbeat.Ping(PushPing::kStart, t0_);
  std::optional<HeartbeatVerdict> done = heartbeat.Ping(PushPing::kSuccess, t0_ + Millis(3'000));
  ASSERT_TRUE(done);
  EXPECT_EQ(done->outcome, Outcome::kDegraded);
  EXPECT_EQ(done->rule, "degradedAfter");
}

TEST_F(HeartbeatTest, ARunBreakingALatencyAssertionIsDownInTheProbesWords) {
  Heartbeat heartbeat(
      Spec(Millis(60'000), Millis(0)), std::nullopt, t0_,
      {LatencyAssertion(CompareOp::kGt, "1s"), LatencyAssertion(CompareOp::kLt, "5s")});
  heartbeat.Ping(PushPing::kStart, t0_);
  std::optional<HeartbeatVerdict> done = heartbeat.Ping(PushPing::kSuccess, t0_ + Millis(7'250));
  ASSERT_TRUE(done);
  EXPECT_EQ(done->outcome, Outcome::kDown);
  EXPECT_EQ(done->rule, "latency");
  EXPECT_EQ(done->expected, "lt 5s");
  EXPECT_EQ(done->actual, "7.25s");
  EXPECT_EQ(done->message, "latency is 7.25s, expected lt 5s");
  EXPECT_EQ(done->run_time, Millis(7'250));

  heartbeat.Ping(PushPing::kStart, t0_ + Millis(10'000));
  done = heartbeat.Ping(PushPing::kSuccess, t0_ + Millis(10'500));
  ASSERT_TRUE(done);
  EXPECT_EQ(done->outcome, Outcome::kDown) << "the first assertion that fails is given";
  EXPECT_EQ(done->message, "latency is 500ms, expected gt 1s");

  heartbeat.Ping(PushPing::kStart, t0_ + Millis(20'000));
  done = heartbeat.Ping(PushPing::kSuccess, t0_ + Millis(25'000));
  ASSERT_TRUE(done);
  EXPECT_EQ(done->message, "latency is 5s, expected lt 5s") << "lt is strict";

  heartbeat.Ping(PushPing::kStart, t0_ + Millis(30'000));
  done = heartbeat.Ping(PushPing::kSuccess, t0_ + Millis(34'999));
  ASSERT_TRUE(done);
  EXPECT_EQ(done->outcome, Outcome::kUp);
  EXPECT_TRUE(done->message.empty());
}

TEST_F(HeartbeatTest, LatencyAssertionsNeedAMeasuredRun) {
  Heartbeat heartbeat(Spec(Millis(60'000), Millis(0)), std::nullopt, t0_,
                      {LatencyAssertion(CompareOp::kGt, "24h")});
  std::optional<HeartbeatVerdict> done = heartbeat.Ping(PushPing::kSuccess, t0_ + Millis(1'000));
  ASSERT_TRUE(done);
  EXPECT_FALSE(done->run_time);
  EXPECT_EQ(done->outcome, Outcome::kUp) << "no /start: no run time to judge";

  // A start after the success ping's time (clock moved back) gives no run time either.
  heartbeat.Ping(PushPing::kStart, t0_ + Millis(5'000));
  done = heartbeat.Ping(PushPing::kSuccess, t0_ + Millis(4'000));
  ASSERT_TRUE(done);
  EXPECT_FALSE(done->run_time);
  EXPECT_EQ(done->outcome, Outcome::kUp);
}

TEST_F(HeartbeatTest, LatencyComesAfterMaxRunTimeAndFailAndBeforeDegradedAfter) {
  Heartbeat heartbeat(Spec(Millis(60'000), Millis(0), Millis(10'000)), Millis(1'000), t0_,
                      {LatencyAssertion(CompareOp::kLt, "2s")});
  heartbeat.Ping(PushPing::kStart, t0_);
  std::optional<HeartbeatVerdict> done = heartbeat.Ping(PushPing::kSuccess, t0_ + Millis(11'000));
  ASSERT_TRUE(done);
  EXPECT_EQ(done->rule, "maxRunTime");
  EXPECT_TRUE(done->expected.empty());

  heartbeat.Ping(PushPing::kStart, t0_ + Millis(20'000));
  done = heartbeat.Ping(PushPing::kFail, t0_ + Millis(23'000));
  ASSERT_TRUE(done);
  EXPECT_EQ(done->rule, "fail");

  heartbeat.Ping(PushPing::kStart, t0_ + Millis(30'000));
  done = heartbeat.Ping(PushPing::kSuccess, t0_ + Millis(33'000));
  ASSERT_TRUE(done);
  EXPECT_EQ(done->outcome, Outcome::kDown);
  EXPECT_EQ(done->rule, "latency");

  heartbeat.Ping(PushPing::kStart, t0_ + Millis(40'000));
  done = heartbeat.Ping(PushPing::kSuccess, t0_ + Millis(41'500));
  ASSERT_TRUE(done);
  EXPECT_EQ(done->outcome, Outcome::kDegraded);
  EXPECT_EQ(done->rule, "degradedAfter");
}

TEST_F(HeartbeatTest, ReconfigureAppliesNewAssertions) {
  Heartbeat heartbeat(Spec(Millis(60'000), Millis(0)), std::nullopt, t0_);
  heartbeat.Ping(PushPing::kStart, t0_);
  heartbeat.Reconfigure(Spec(Millis(60'000), Millis(0)), std::nullopt,
                        {LatencyAssertion(CompareOp::kLte, "1s")});
  std::optional<HeartbeatVerdict> done = heartbeat.Ping(PushPing::kSuccess, t0_ + Millis(1'001));
  ASSERT_TRUE(done);
  EXPECT_EQ(done->outcome, Outcome::kDown);
  EXPECT_EQ(done->message, "latency is 1.001s, expected lte 1s");
  heartbeat.Reconfigure(Spec(Millis(60'000), Millis(0)), std::nullopt);
  heartbeat.Ping(PushPing::kStart, t0_ + Millis(2'000));
  done = heartbeat.Ping(PushPing::kSuccess, t0_ + Millis(9'000));
  ASSERT_TRUE(done);
  EXPECT_EQ(done->outcome, Outcome::kUp);
}

TEST_F(HeartbeatTest, ReconfigureKeepsTheLastPingAndAppliesTheNewPeriod) {
  Heartbeat heartbeat(Spec(Millis(60'000), Millis(0)), std::nullopt, t0_);
  heartbeat.Ping(PushPing::kSuccess, t0_ + Millis(1'000));
  heartbeat.Reconfigure(Spec(Millis(5'000), Millis(1'000)), std::nullopt);
  EXPECT_EQ(heartbeat.deadline(), t0_ + Millis(7'000));
}

}  // namespace
}  // namespace pharos
