#include "common/latency_assertion.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "unit/common/latency_assertion_builder.h"

namespace pharos {
namespace {

using std::chrono::microseconds;
using ::testing::StartsWith;

TEST(LatencyAssertionTest, ComparesMicrosecondsWithTheDuration) {
  const microseconds measured(250'000);
  EXPECT_FALSE(JudgeLatency(LatencyAssertion(CompareOp::kLt, "500ms"), measured));
  EXPECT_TRUE(JudgeLatency(LatencyAssertion(CompareOp::kLt, "250ms"), measured));
  EXPECT_FALSE(JudgeLatency(LatencyAssertion(CompareOp::kLte, "250ms"), measured));
  EXPECT_FALSE(JudgeLatency(LatencyAssertion(CompareOp::kEq, "0.25s"), measured));
  EXPECT_TRUE(JudgeLatency(LatencyAssertion(CompareOp::kNotEq, "0.25s"), measured));
  EXPECT_FALSE(JudgeLatency(LatencyAssertion(CompareOp::kGt, "249ms"), measured));
  EXPECT_TRUE(JudgeLatency(LatencyAssertion(CompareOp::kGte, "251ms"), measured));
  // Sub-millisecond measurements are not rounded to the limit's unit.
  EXPECT_TRUE(JudgeLatency(LatencyAssertion(CompareOp::kLte, "1ms"), microseconds(1'001)));
}

TEST(LatencyAssertionTest, AFailureSaysWhatWasMeasuredAndExpected) {
  const auto failure =
      JudgeLatency(LatencyAssertion(CompareOp::kLt, "200ms"), microseconds(734'500));
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->type, "latency");
  EXPECT_EQ(failure->expected, "lt 200ms");
  EXPECT_EQ(failure->actual, "734.5ms");
  EXPECT_EQ(failure->message, "latency is 734.5ms, expected lt 200ms");
}

TEST(LatencyAssertionTest, ValuesAndOpsValidationRejectsStillFail) {
  const auto no_unit = JudgeLatency(LatencyAssertion(CompareOp::kLt, "300"), microseconds(1));
  ASSERT_TRUE(no_unit);
  EXPECT_THAT(no_unit->message, StartsWith("invalid duration \"300\""));
  const auto text_op = JudgeLatency(LatencyAssertion(CompareOp::kContains, "1s"), microseconds(1));
  ASSERT_TRUE(text_op);
  EXPECT_EQ(text_op->message,
            "latency assertions compare durations with eq, not_eq, gt, gte, lt or lte, not "
            "contains");
}

}  // namespace
}  // namespace pharos
