// Scheduler::Upsert(std::shared_ptr<const Monitor>): the scheduler keeps the caller's Monitor
// instead of copies, and its uid index views the uid inside it. Run under ASan, these catch a view
// left pointing into a released Monitor.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "common/manual_clock.h"
#include "operator/control/scheduler.h"
#include "operator/control/work_dispatcher.h"

namespace pharos {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;

constexpr Millis k1m = Millis(60'000);

std::string Uid(int n) {
  // 36 characters, beyond the small-string buffer, as Kubernetes uids are.
  std::string uid = "0000000" + std::to_string(n) + "-aaaa-4bbb-8ccc-dddddddddddd";
  return uid.substr(uid.size() - 36);
}

std::shared_ptr<const Monitor> MakeMonitor(const std::string& uid, int64_t generation,
                                           Millis frequency = k1m) {
  auto monitor = std::make_shared<Monitor>();
  monitor->namespace_name = "shop";
  monitor->name = "mon-" + std::to_string(generation);
  monitor->uid = uid;
  monitor->generation = generation;
  monitor->frequency = frequency;
  monitor->timeout = Millis(5'000);
  monitor->regions = {"eu"};
  return monitor;
}

class SchedulerSharedMonitorTest : public ::testing::Test {
 protected:
  std::vector<WorkItem> Drain() {
    auto items = dispatcher_.Lease("eu", "probe", 1'000'000);
    for (const auto& item : items) {
      dispatcher_.Complete(item.id);
    }
    return items;
  }

  ManualClock clock_{Clock::TimePoint(std::chrono::hours(24 * 20'000))};
  WorkDispatcher dispatcher_{clock_, WorkDispatcher::Options{}};
  Scheduler scheduler_{clock_, dispatcher_, Scheduler::Options{}};
};

TEST_F(SchedulerSharedMonitorTest, HoldsTheMonitorItIsGivenAndReleasesItOnRemove) {
  auto monitor = MakeMonitor(Uid(1), 1);
  ASSERT_TRUE(scheduler_.Upsert(monitor).ok());
  EXPECT_EQ(monitor.use_count(), 2) << "kept, not copied";
  EXPECT_TRUE(scheduler_.Remove(Uid(1)));
  EXPECT_EQ(monitor.use_count(), 1);
  EXPECT_FALSE(scheduler_.Find(Uid(1)).has_value());
}

TEST_F(SchedulerSharedMonitorTest, RejectsAMissingMonitor) {
  const Status status = scheduler_.Upsert(std::shared_ptr<const Monitor>());
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.error(), HasSubstr("no monitor"));
  EXPECT_EQ(scheduler_.totals().monitors, 0u);
}

TEST_F(SchedulerSharedMonitorTest, ReplacingMonitorsManyTimesKeepsTheIndexValid) {
  constexpr int kMonitors = 50;
  constexpr int kGenerations = 200;
  std::vector<std::weak_ptr<const Monitor>> previous(kMonitors);
  std::vector<Millis> phases;
  for (int m = 0; m < kMonitors; ++m) {
    ASSERT_TRUE(scheduler_.Upsert(MakeMonitor(Uid(m), 1)).ok());
    phases.push_back(scheduler_.Find(Uid(m))->phase);
  }
  for (int generation = 2; generation <= kGenerations; ++generation) {
    for (int m = 0; m < kMonitors; ++m) {
      auto replacement = MakeMonitor(Uid(m), generation);
      previous[m] = replacement;
      // The only owner of the new monitor is the scheduler from here on; the one it replaces
      // (and the uid its index pointed into) is released inside Upsert.
      ASSERT_TRUE(scheduler_.Upsert(std::move(replacement)).ok());
    }
  }
  for (int m = 0; m < kMonitors; ++m) {
    const auto schedule = scheduler_.Find(Uid(m));  // a separate string: compares the key text
    ASSERT_TRUE(schedule.has_value());
    EXPECT_EQ(schedule->generation, kGenerations);
    EXPECT_EQ(schedule->key, "shop/mon-" + std::to_string(kGenerations));
    EXPECT_EQ(schedule->phase, phases[m]) << "an unchanged frequency keeps its phase";
    EXPECT_EQ(previous[m].use_count(), 1) << "only the latest monitor is held";
  }
  EXPECT_EQ(scheduler_.totals().monitors, static_cast<size_t>(kMonitors));

  // Emits from the latest monitor.
  clock_.Advance(k1m);
  scheduler_.Tick();
  const auto items = Drain();
  ASSERT_THAT(items, SizeIs(kMonitors));
  for (const auto& item : items) {
    EXPECT_EQ(item.generation, kGenerations);
    EXPECT_EQ(item.monitor_key, "shop/mon-" + std::to_string(kGenerations));
  }

  // Removing releases every monitor; the uids can be added again.
  for (int m = 0; m < kMonitors; ++m) {
    EXPECT_TRUE(scheduler_.Remove(Uid(m)));
    EXPECT_TRUE(previous[m].expired());
    EXPECT_FALSE(scheduler_.Remove(Uid(m)));
  }
  EXPECT_EQ(scheduler_.totals().monitors, 0u);
  ASSERT_TRUE(scheduler_.Upsert(MakeMonitor(Uid(3), 1)).ok());
  EXPECT_TRUE(scheduler_.Find(Uid(3)).has_value());
}

TEST_F(SchedulerSharedMonitorTest, AFrequencyChangeOnReplacementRePhases) {
  const auto uid = Uid(7);
  ASSERT_TRUE(scheduler_.Upsert(MakeMonitor(uid, 1, k1m)).ok());
  ASSERT_TRUE(scheduler_.Upsert(MakeMonitor(uid, 2, Millis(10'000))).ok());
  const auto schedule = scheduler_.Find(uid);
  ASSERT_TRUE(schedule.has_value());
  EXPECT_EQ(schedule->frequency, Millis(10'000));
  EXPECT_EQ(schedule->phase, Scheduler::PhaseFor(uid, Millis(10'000)));
}

TEST_F(SchedulerSharedMonitorTest, ARegionNamedTwiceIsCheckedOnce) {
  auto monitor = std::make_shared<Monitor>(*MakeMonitor(Uid(9), 1));
  monitor->regions = {"eu", "us", "eu"};
  ASSERT_TRUE(scheduler_.Upsert(monitor).ok());
  EXPECT_THAT(scheduler_.Find(Uid(9))->regions, ElementsAre("eu", "us"));
  EXPECT_THAT(scheduler_.KnownRegions(), ElementsAre("eu", "us"));
  clock_.Advance(k1m);
  scheduler_.Tick();
  EXPECT_THAT(Drain(), SizeIs(1));
  EXPECT_THAT(dispatcher_.Lease("us", "probe", 10), SizeIs(1));
}

}  // namespace
}  // namespace pharos
