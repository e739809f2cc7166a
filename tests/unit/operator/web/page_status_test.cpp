#include "operator/web/page_status.h"

#include <gtest/gtest.h>

namespace pharos {
namespace {

using S = MonitorState;

TEST(PageStatusTest, OverallStatusRules) {
  EXPECT_EQ(OverallStatus({S::kUp, S::kUp}, false), PageStatus::kOperational);
  EXPECT_EQ(OverallStatus({}, false), PageStatus::kOperational);
  // Paused, Pending, Invalid and missing monitors are not watched.
  EXPECT_EQ(OverallStatus({S::kPaused, S::kPending, S::kInvalid, std::nullopt}, false),
            PageStatus::kOperational);
  EXPECT_EQ(OverallStatus({S::kDown, S::kPaused, std::nullopt}, false), PageStatus::kMajorOutage);
  EXPECT_EQ(OverallStatus({S::kDown, S::kUp}, false), PageStatus::kPartialOutage);
  EXPECT_EQ(OverallStatus({S::kDown, S::kDegraded}, false), PageStatus::kPartialOutage);
  EXPECT_EQ(OverallStatus({S::kDegraded, S::kUp, S::kMaintenance}, true), PageStatus::kDegraded);
  EXPECT_EQ(OverallStatus({S::kMaintenance, S::kUp}, false), PageStatus::kMaintenance);
  EXPECT_EQ(OverallStatus({S::kUp}, true), PageStatus::kMaintenance);
  EXPECT_STREQ(ToString(PageStatus::kPartialOutage), "partial_outage");
  EXPECT_STREQ(Headline(PageStatus::kOperational), "All systems operational");
  EXPECT_STREQ(Headline(PageStatus::kMaintenance), "Under maintenance");
}

TEST(PageStatusTest, DayLevelRules) {
  EXPECT_EQ(LevelOf({}), DayLevel::kNone);
  EXPECT_EQ(LevelOf({10, 0, 0, 0, false}), DayLevel::kUp);
  EXPECT_EQ(LevelOf({10, 1, 0, 0, false}), DayLevel::kDegraded);
  EXPECT_EQ(LevelOf({10, 0, 1, 0, false}), DayLevel::kDegraded);
  EXPECT_EQ(LevelOf({10, 0, 1, 0, true}), DayLevel::kMaintenance);
  EXPECT_EQ(LevelOf({10, 0, 1, 1, true}), DayLevel::kDown);
  EXPECT_EQ(LevelOf({0, 0, 0, 1, false}), DayLevel::kDown);
}

TEST(PageStatusTest, ComponentWords) {
  EXPECT_STREQ(ComponentStateLabel(S::kUp), "Operational");
  EXPECT_STREQ(ComponentStateLabel(S::kDown), "Outage");
  EXPECT_STREQ(ComponentStateLabel(S::kPending), "No data yet");
  EXPECT_STREQ(ComponentStateLabel(std::nullopt), "Unknown");
  EXPECT_STREQ(ComponentStateClass(S::kInvalid), "unknown");
}

}  // namespace
}  // namespace pharos
