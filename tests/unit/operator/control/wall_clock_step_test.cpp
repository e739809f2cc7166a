// Scenarios of issue #16 "Time": the wall clock steps back or forward an hour under a running
// OperatorCore (virtual time: ManualClock moves wall and monotonic time independently). Checks
// keep their cadence (no stall, no burst), leases expire after their monotonic timeout only,
// the failure threshold counts rounds as before, and item ids stay unique and ordered, also
// across a restart under a clock that went back.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "common/manual_clock.h"
#include "operator/control/operator_core.h"
#include "operator/control/schedule_clock.h"
#include "unit/operator/control/core_test_support.h"

namespace pharos {
namespace {

using ::pharos::testing::MakeMonitor;
using ::pharos::testing::MakeResult;
using ::pharos::testing::OpenCore;
using ::pharos::testing::TempDirectory;
using ::pharos::testing::TestCore;
using std::chrono::hours;
using std::chrono::seconds;

// The ms number at the end of an item id ("<uid>@<region>@<ms>").
int64_t IdMillis(const std::string& id) { return std::stoll(id.substr(id.rfind('@') + 1)); }

class WallClockStepTest : public ::testing::Test {
 protected:
  void SetUp() override {
    core_ = OpenCore(clock_, DbPath());
    ASSERT_TRUE(core_);
  }

  std::string DbPath() const { return (dir_.path() / "pharos.db").string(); }

  MonitorState StateOf(const std::string& uid) {
    auto status = core_->Snapshot(uid);
    return status ? status->state : MonitorState::kPending;
  }

  // Runs `duration` of monotonic time in 1 s steps (wall time moves along): each second the core
  // ticks, a probe leases what is due and answers it at once with `outcome`. Returns the ids it
  // got, in lease order.
  std::vector<std::string> RunProbe(const Monitor& monitor, seconds duration,
                                    Outcome outcome = Outcome::kUp) {
    std::vector<std::string> ids;
    for (seconds passed(0); passed < duration; passed += seconds(1)) {
      clock_.Advance(seconds(1));
      core_->Tick();
      for (const WorkItem& item : core_->dispatcher_for_testing().Lease("local", "probe-1", 100)) {
        CheckResult result = MakeResult(monitor, item.region, item.scheduled_at, outcome);
        result.item_id = item.id;
        result.started_at = clock_.Now();  // what is recorded: the wall clock
        auto report = core_->IngestAndWait({result});
        EXPECT_TRUE(report.ok());
        ids.push_back(item.id);
      }
      core_->Tick();
    }
    return ids;
  }

  static void ExpectOrderedAndUnique(const std::vector<std::string>& ids) {
    std::set<std::string> unique(ids.begin(), ids.end());
    EXPECT_EQ(unique.size(), ids.size()) << "an item id was repeated";
    for (size_t i = 1; i < ids.size(); ++i) {
      EXPECT_LT(IdMillis(ids[i - 1]), IdMillis(ids[i])) << ids[i - 1] << " then " << ids[i];
    }
  }

  ManualClock clock_;
  TempDirectory dir_;
  TestCore core_;
};

TEST_F(WallClockStepTest, ABackwardStepNeitherStallsTheScheduleNorRepeatsIds) {
  const Monitor api = MakeMonitor("api");
  ASSERT_TRUE(core_->UpsertMonitor(api).ok());
  std::vector<std::string> ids = RunProbe(api, seconds(60));
  EXPECT_EQ(ids.size(), 6u);
  EXPECT_EQ(StateOf(api.uid), MonitorState::kUp);

  clock_.StepWall(-hours(1));
  const std::vector<std::string> after = RunProbe(api, seconds(60));
  EXPECT_EQ(after.size(), 6u) << "a 10 s monitor is checked 6 times a minute, clock step or not";
  ids.insert(ids.end(), after.begin(), after.end());
  ExpectOrderedAndUnique(ids);
  EXPECT_EQ(StateOf(api.uid), MonitorState::kUp);
  const auto totals = core_->dispatcher_for_testing().Totals();
  EXPECT_EQ(totals.redelivered, 0u);
  EXPECT_EQ(totals.failed, 0u);
  EXPECT_EQ(core_->scheduler_for_testing().totals().missed_slots, 0u);
}

TEST_F(WallClockStepTest, AForwardStepFiresNoBurstAndSkipsNothing) {
  const Monitor api = MakeMonitor("api");
  ASSERT_TRUE(core_->UpsertMonitor(api).ok());
  std::vector<std::string> ids = RunProbe(api, seconds(60));
  ASSERT_EQ(ids.size(), 6u);

  clock_.StepWall(hours(1));
  // The first tick after the step: at most the one item whose slot is due now.
  const std::vector<std::string> first = RunProbe(api, seconds(1));
  EXPECT_LE(first.size(), 1u) << "an hour of slots must not be fired at once";
  const std::vector<std::string> rest = RunProbe(api, seconds(59));
  EXPECT_EQ(first.size() + rest.size(), 6u);
  ids.insert(ids.end(), first.begin(), first.end());
  ids.insert(ids.end(), rest.begin(), rest.end());
  ExpectOrderedAndUnique(ids);
  EXPECT_EQ(StateOf(api.uid), MonitorState::kUp);
  EXPECT_EQ(core_->scheduler_for_testing().totals().missed_slots, 0u);
  EXPECT_EQ(core_->dispatcher_for_testing().Totals().failed, 0u);
}

TEST_F(WallClockStepTest, TheFailureThresholdCountsRoundsAcrossAStep) {
  const Monitor api = MakeMonitor("api", {"local"}, /*failure_threshold=*/2);
  ASSERT_TRUE(core_->UpsertMonitor(api).ok());
  RunProbe(api, seconds(20));
  ASSERT_EQ(StateOf(api.uid), MonitorState::kUp);

  // One bad round, then the clock goes back, then the second bad round.
  EXPECT_EQ(RunProbe(api, seconds(10), Outcome::kDown).size(), 1u);
  EXPECT_EQ(StateOf(api.uid), MonitorState::kUp) << "one bad round is below the threshold";
  clock_.StepWall(-hours(1));
  EXPECT_EQ(RunProbe(api, seconds(10), Outcome::kDown).size(), 1u);
  EXPECT_EQ(StateOf(api.uid), MonitorState::kDown) << "the round after the step counts";
  auto status = core_->Snapshot(api.uid);
  ASSERT_TRUE(status && status->incident);

  // Forward again: one good round brings it back (successThreshold 1), the incident resolves.
  clock_.StepWall(hours(2));
  EXPECT_EQ(RunProbe(api, seconds(10)).size(), 1u);
  EXPECT_EQ(StateOf(api.uid), MonitorState::kUp);
  IncidentQuery all;
  auto incidents = core_.store().Incidents(all);
  ASSERT_TRUE(incidents.ok());
  ASSERT_EQ(incidents->size(), 1u) << "one incident, opened once and resolved once";
  EXPECT_TRUE(incidents->front().resolved_at.has_value());
}

TEST_F(WallClockStepTest, LeasesExpireAfterTheirMonotonicTimeoutOnly) {
  const Monitor api = MakeMonitor("api");  // timeout 5 s + lease grace 10 s
  ASSERT_TRUE(core_->UpsertMonitor(api).ok());
  clock_.Advance(seconds(10));
  core_->Tick();
  auto leased = core_->dispatcher_for_testing().Lease("local", "slow-probe", 1);
  ASSERT_EQ(leased.size(), 1u);

  clock_.StepWall(hours(1));
  core_->Tick();
  EXPECT_EQ(core_->dispatcher_for_testing().Totals().redelivered, 0u)
      << "the wall clock moved, the lease's time did not";

  clock_.StepWall(-hours(2));
  clock_.Advance(seconds(16));
  core_->Tick();
  EXPECT_EQ(core_->dispatcher_for_testing().Totals().redelivered, 1u)
      << "15 s of monotonic time expire the lease, however far the wall clock went back";
}

TEST_F(WallClockStepTest, ARoundWithoutAllRegionsClosesByMonotonicTime) {
  const Monitor api = MakeMonitor("api", {"eu", "us"});  // round timeout: 5 s + 30 s grace
  ASSERT_TRUE(core_->UpsertMonitor(api).ok());
  clock_.Advance(seconds(10));
  core_->Tick();
  auto leased = core_->dispatcher_for_testing().Lease("eu", "probe-eu", 10);
  ASSERT_EQ(leased.size(), 1u);
  CheckResult result = MakeResult(api, "eu", leased.front().scheduled_at, Outcome::kUp);
  result.item_id = leased.front().id;
  ASSERT_TRUE(core_->IngestAndWait({result}).ok());
  ASSERT_EQ(StateOf(api.uid), MonitorState::kPending) << "us has not reported";

  clock_.StepWall(hours(1));
  core_->Tick();
  EXPECT_EQ(StateOf(api.uid), MonitorState::kPending) << "a forward step closes no round early";

  clock_.StepWall(-hours(2));
  clock_.Advance(seconds(36));
  core_->Tick();
  EXPECT_EQ(StateOf(api.uid), MonitorState::kUp)
      << "the round closes by monotonic time although the wall clock is behind its deadline";
}

TEST_F(WallClockStepTest, IdsStayOrderedAcrossARestartUnderAClockThatWentBack) {
  const Monitor api = MakeMonitor("api");
  ASSERT_TRUE(core_->UpsertMonitor(api).ok());
  std::vector<std::string> ids = RunProbe(api, seconds(30));
  ASSERT_EQ(ids.size(), 3u);
  core_.Close();

  // A new process: its wall clock an hour behind, its monotonic clock started afresh.
  ManualClock behind(clock_.Now() - hours(1));
  core_ = OpenCore(behind, DbPath());
  ASSERT_TRUE(core_);
  ASSERT_TRUE(core_->UpsertMonitor(api).ok());
  for (int second = 0; second < 30; ++second) {
    behind.Advance(seconds(1));
    core_->Tick();
    for (const WorkItem& item : core_->dispatcher_for_testing().Lease("local", "probe-1", 10)) {
      CheckResult result = MakeResult(api, item.region, item.scheduled_at, Outcome::kUp);
      result.item_id = item.id;
      auto report = core_->IngestAndWait({result});
      ASSERT_TRUE(report.ok());
      ASSERT_EQ(report->outcomes.size(), 1u);
      EXPECT_EQ(report->outcomes.front().kind, IngestOutcome::Kind::kAccepted)
          << "a result after the restart is not a duplicate of an older one";
      ids.push_back(item.id);
    }
  }
  EXPECT_EQ(ids.size(), 6u);
  ExpectOrderedAndUnique(ids);
  EXPECT_EQ(StateOf(api.uid), MonitorState::kUp);
}

TEST(ScheduleClockTest, FollowsMonotonicTimeFromTheWallClockAtItsStart) {
  ManualClock clock;
  const auto start = clock.Now();
  ScheduleClock schedule(clock);
  EXPECT_EQ(schedule.Now(), start);
  clock.Advance(seconds(5));
  EXPECT_EQ(schedule.Now(), start + seconds(5));
  clock.StepWall(-hours(1));
  clock.Advance(seconds(5));
  EXPECT_EQ(schedule.Now(), start + seconds(10)) << "a wall-clock step does not move it";
  clock.StepWall(hours(3));
  EXPECT_EQ(schedule.Now(), start + seconds(10));
}

TEST(ScheduleClockTest, NotBeforeOnlyMovesItForward) {
  ManualClock clock;
  const auto start = clock.Now();
  ScheduleClock schedule(clock);
  schedule.NotBefore(start - hours(1));
  EXPECT_EQ(schedule.Now(), start);
  schedule.NotBefore(start + hours(1));
  EXPECT_GT(schedule.Now(), start + hours(1));
  EXPECT_LE(schedule.Now(), start + hours(1) + std::chrono::milliseconds(1));
  clock.Advance(seconds(1));
  EXPECT_GT(schedule.Now(), start + hours(1) + seconds(1));
}

}  // namespace
}  // namespace pharos
