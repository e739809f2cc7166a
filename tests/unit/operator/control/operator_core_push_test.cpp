// Push (heartbeat) monitors in the OperatorCore, in virtual time: pings and missed pings are
// results like any other (stored, counted, judged by the state machine, incidents), and push
// monitors are never scheduled for probes.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <future>

#include "common/manual_clock.h"
#include "operator/control/operator_core.h"
#include "unit/operator/control/core_test_support.h"

namespace pharos {
namespace {

using ::pharos::testing::MakeMonitor;
using ::pharos::testing::OpenCore;
using ::pharos::testing::SampleValue;
using ::pharos::testing::TempDirectory;
using ::pharos::testing::TestCore;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

// shop/<name>: a push monitor expecting a ping every minute, 10 s of grace.
Monitor PushMonitor(const std::string& name, std::optional<Millis> max_run_time = std::nullopt) {
  Monitor monitor;
  monitor.namespace_name = "shop";
  monitor.name = name;
  monitor.uid = "uid-" + name;
  monitor.type = MonitorType::kPush;
  monitor.push = PushSpec{};
  monitor.push->expect_every = Millis(60'000);
  monitor.push->grace = Millis(10'000);
  monitor.push->max_run_time = max_run_time;
  monitor.alerting.failure_threshold = 1;
  return monitor;
}

class OperatorCorePushTest : public ::testing::Test {
 protected:
  void SetUp() override {
    core_ = OpenCore(clock_, DbPath());
    ASSERT_TRUE(core_);
  }

  std::string DbPath() const { return (dir_.path() / "pharos.db").string(); }

  Result<std::optional<HeartbeatVerdict>> Ping(const std::string& uid, PushPing ping) {
    std::promise<Result<std::optional<HeartbeatVerdict>>> promise;
    auto future = promise.get_future();
    core_->Ping(uid, ping, [&promise](Result<std::optional<HeartbeatVerdict>> verdict) {
      promise.set_value(std::move(verdict));
    });
    return future.get();
  }

  void PingOk(const std::string& uid, PushPing ping) {
    auto verdict = Ping(uid, ping);
    ASSERT_TRUE(verdict.ok()) << verdict.error();
  }

  // Moves virtual time and runs one housekeeping pass (deadlines), then waits for its results.
  void AdvanceAndTick(Millis step) {
    clock_.Advance(step);
    core_->Tick();
    core_->Flush();
  }

  MonitorState StateOf(const std::string& uid) {
    auto status = core_->Snapshot(uid);
    EXPECT_TRUE(status.has_value());
    return status ? status->state : MonitorState::kInvalid;
  }

  std::vector<CheckResult> Stored(const std::string& uid) {
    ResultQuery query;
    query.monitor_uid = uid;
    auto stored = core_.store().Results(query);
    EXPECT_TRUE(stored.ok());
    return stored.ok() ? *stored : std::vector<CheckResult>{};
  }

  TempDirectory dir_;
  ManualClock clock_;
  TestCore core_;
};

TEST_F(OperatorCorePushTest, APushMonitorIsNeverScheduledForProbes) {
  ASSERT_TRUE(core_->UpsertMonitor(PushMonitor("backup")).ok());
  ASSERT_TRUE(core_->UpsertMonitor(MakeMonitor("api")).ok());
  EXPECT_EQ(core_->scheduled_count(), 1u) << "only the http monitor";
  EXPECT_EQ(StateOf("uid-backup"), MonitorState::kPending);
}

TEST_F(OperatorCorePushTest, DownAfterAMissedPingAndUpAfterTheNext) {
  const Monitor backup = PushMonitor("backup");
  std::vector<StateEvent> events;
  core_->OnStateChange([&](const Monitor&, const StateEvent& event) { events.push_back(event); });
  ASSERT_TRUE(core_->UpsertMonitor(backup).ok());

  AdvanceAndTick(Millis(30'000));
  PingOk(backup.uid, PushPing::kSuccess);
  EXPECT_EQ(StateOf(backup.uid), MonitorState::kUp);

  AdvanceAndTick(Millis(69'000));  // 69 s after the ping: within expectEvery + grace
  EXPECT_EQ(StateOf(backup.uid), MonitorState::kUp);
  AdvanceAndTick(Millis(1'000));  // 70 s: late
  EXPECT_EQ(StateOf(backup.uid), MonitorState::kDown);
  auto status = core_->Snapshot(backup.uid);
  ASSERT_TRUE(status && status->incident);
  EXPECT_THAT(status->reason, HasSubstr("no ping within expectEvery 1m + grace 10s"));
  EXPECT_EQ(SampleValue(core_.registry().Expose(), "pharos_incidents_open"), 1.0);

  AdvanceAndTick(Millis(5'000));
  PingOk(backup.uid, PushPing::kSuccess);
  EXPECT_EQ(StateOf(backup.uid), MonitorState::kUp);
  status = core_->Snapshot(backup.uid);
  ASSERT_TRUE(status);
  EXPECT_FALSE(status->incident);

  const std::vector<CheckResult> stored = Stored(backup.uid);
  ASSERT_THAT(stored, SizeIs(3));
  EXPECT_EQ(stored[0].outcome, Outcome::kUp);
  EXPECT_EQ(stored[1].outcome, Outcome::kDown);
  EXPECT_EQ(stored[1].scheduled_at, ManualClock::DefaultStart() + Millis(100'000));
  ASSERT_TRUE(stored[1].failed_assertion);
  EXPECT_EQ(stored[1].failed_assertion->type, "missed");
  EXPECT_EQ(stored[2].outcome, Outcome::kUp);
  for (const CheckResult& result : stored) {
    EXPECT_EQ(result.region, "push");
    EXPECT_EQ(result.type, MonitorType::kPush);
  }
  EXPECT_EQ(SampleValue(core_.registry().Expose(),
                        "pharos_check_results_total{namespace=\"shop\",monitor=\"backup\","
                        "region=\"push\",outcome=\"up\"}"),
            2.0);
  ASSERT_THAT(events, SizeIs(3));
  EXPECT_EQ(events[1].to, MonitorState::kDown);
  EXPECT_EQ(events[2].to, MonitorState::kUp);
}

TEST_F(OperatorCorePushTest, AMonitorNeverPingedGoesDownAfterItsFirstDeadline) {
  const Monitor backup = PushMonitor("backup");
  ASSERT_TRUE(core_->UpsertMonitor(backup).ok());
  AdvanceAndTick(Millis(69'999));
  EXPECT_EQ(StateOf(backup.uid), MonitorState::kPending);
  AdvanceAndTick(Millis(1));
  EXPECT_EQ(StateOf(backup.uid), MonitorState::kDown);
}

TEST_F(OperatorCorePushTest, StartThenFailIsDownWithTheRunTimeAsLatency) {
  const Monitor backup = PushMonitor("backup");
  ASSERT_TRUE(core_->UpsertMonitor(backup).ok());
  PingOk(backup.uid, PushPing::kStart);
  EXPECT_EQ(StateOf(backup.uid), MonitorState::kPending) << "a start ping judges nothing";
  EXPECT_THAT(Stored(backup.uid), IsEmpty());
  clock_.Advance(Millis(2'500));
  auto verdict = Ping(backup.uid, PushPing::kFail);
  ASSERT_TRUE(verdict.ok());
  ASSERT_TRUE(verdict->has_value());
  EXPECT_EQ((*verdict)->outcome, Outcome::kDown);

  EXPECT_EQ(StateOf(backup.uid), MonitorState::kDown);
  const std::vector<CheckResult> stored = Stored(backup.uid);
  ASSERT_THAT(stored, SizeIs(1));
  EXPECT_EQ(stored[0].timings.total_us, 2'500'000);
  ASSERT_TRUE(stored[0].failed_assertion);
  EXPECT_EQ(stored[0].failed_assertion->type, "fail");
}

TEST_F(OperatorCorePushTest, ARunBreakingALatencyAssertionIsStoredDownWithTheAssertion) {
  Monitor backup = PushMonitor("backup");
  Assertion latency;
  latency.type = AssertionType::kLatency;
  latency.op = CompareOp::kLt;
  latency.value = "2s";
  backup.assertions.push_back(latency);
  ASSERT_TRUE(core_->UpsertMonitor(backup).ok());
  PingOk(backup.uid, PushPing::kStart);
  clock_.Advance(Millis(2'000));
  auto verdict = Ping(backup.uid, PushPing::kSuccess);
  ASSERT_TRUE(verdict.ok());
  ASSERT_TRUE(verdict->has_value());
  EXPECT_EQ((*verdict)->outcome, Outcome::kDown);

  EXPECT_EQ(StateOf(backup.uid), MonitorState::kDown);
  auto status = core_->Snapshot(backup.uid);
  ASSERT_TRUE(status);
  EXPECT_THAT(status->reason, HasSubstr("latency is 2s, expected lt 2s"));
  std::vector<CheckResult> stored = Stored(backup.uid);
  ASSERT_THAT(stored, SizeIs(1));
  EXPECT_EQ(stored[0].outcome, Outcome::kDown);
  EXPECT_EQ(stored[0].timings.total_us, 2'000'000);
  ASSERT_TRUE(stored[0].failed_assertion);
  EXPECT_EQ(stored[0].failed_assertion->type, "latency");
  EXPECT_EQ(stored[0].failed_assertion->expected, "lt 2s");
  EXPECT_EQ(stored[0].failed_assertion->actual, "2s");
  EXPECT_EQ(stored[0].failed_assertion->message, "latency is 2s, expected lt 2s");

  // A success ping without /start has no run time: the assertion cannot fail.
  clock_.Advance(Millis(1'000));
  PingOk(backup.uid, PushPing::kSuccess);
  EXPECT_EQ(StateOf(backup.uid), MonitorState::kUp);

  // Changed assertions apply to the next run.
  backup.assertions[0].value = "3s";
  ASSERT_TRUE(core_->UpsertMonitor(backup).ok());
  PingOk(backup.uid, PushPing::kStart);
  clock_.Advance(Millis(2'000));
  PingOk(backup.uid, PushPing::kSuccess);
  EXPECT_EQ(StateOf(backup.uid), MonitorState::kUp);
  stored = Stored(backup.uid);
  ASSERT_THAT(stored, SizeIs(3));
}

TEST_F(OperatorCorePushTest, ARunPastMaxRunTimeIsDownOnTheControlPlanesClock) {
  const Monitor backup = PushMonitor("backup", Millis(20'000));
  ASSERT_TRUE(core_->UpsertMonitor(backup).ok());
  PingOk(backup.uid, PushPing::kSuccess);
  PingOk(backup.uid, PushPing::kStart);
  AdvanceAndTick(Millis(19'000));
  EXPECT_EQ(StateOf(backup.uid), MonitorState::kUp);
  AdvanceAndTick(Millis(1'000));
  EXPECT_EQ(StateOf(backup.uid), MonitorState::kDown);
  auto status = core_->Snapshot(backup.uid);
  ASSERT_TRUE(status);
  EXPECT_THAT(status->reason, HasSubstr("has not finished within maxRunTime 20s"));

  // The next run, within maxRunTime, brings it back.
  PingOk(backup.uid, PushPing::kStart);
  clock_.Advance(Millis(3'000));
  PingOk(backup.uid, PushPing::kSuccess);
  EXPECT_EQ(StateOf(backup.uid), MonitorState::kUp);
}

TEST_F(OperatorCorePushTest, TheDeadlineResumesFromTheLastPingAfterARestart) {
  const Monitor backup = PushMonitor("backup");
  ASSERT_TRUE(core_->UpsertMonitor(backup).ok());
  PingOk(backup.uid, PushPing::kSuccess);
  clock_.Advance(Millis(50'000));
  core_.Close();

  core_ = OpenCore(clock_, DbPath());
  ASSERT_TRUE(core_);
  ASSERT_TRUE(core_->UpsertMonitor(backup).ok());
  EXPECT_EQ(StateOf(backup.uid), MonitorState::kUp);
  AdvanceAndTick(Millis(19'999));
  EXPECT_EQ(StateOf(backup.uid), MonitorState::kUp);
  AdvanceAndTick(Millis(1));  // 70 s after the ping made before the restart
  EXPECT_EQ(StateOf(backup.uid), MonitorState::kDown);
}

TEST_F(OperatorCorePushTest, PingsOfUnknownOrNonPushMonitorsAreRefusedAsInvalid) {
  ASSERT_TRUE(core_->UpsertMonitor(MakeMonitor("api")).ok());
  for (const std::string uid : {"uid-api", "uid-nothing"}) {
    auto verdict = Ping(uid, PushPing::kSuccess);
    ASSERT_FALSE(verdict.ok()) << uid;
    EXPECT_EQ(verdict.error_kind(), ErrorKind::kInvalidArgument);
  }
}

TEST_F(OperatorCorePushTest, ANonLeaderRefusesPingsAsUnavailable) {
  const Monitor backup = PushMonitor("backup");
  ASSERT_TRUE(core_->UpsertMonitor(backup).ok());
  core_->SetScheduling(false);
  auto verdict = Ping(backup.uid, PushPing::kSuccess);
  ASSERT_FALSE(verdict.ok());
  EXPECT_EQ(verdict.error_kind(), ErrorKind::kUnavailable);
  core_->SetScheduling(true);
  EXPECT_EQ(core_->scheduled_count(), 0u);
  PingOk(backup.uid, PushPing::kSuccess);
  EXPECT_EQ(StateOf(backup.uid), MonitorState::kUp);
}

TEST_F(OperatorCorePushTest, ASuspendedMonitorRecordsNoMissedPings) {
  Monitor backup = PushMonitor("backup");
  backup.suspend = true;
  ASSERT_TRUE(core_->UpsertMonitor(backup).ok());
  AdvanceAndTick(Millis(200'000));
  EXPECT_EQ(StateOf(backup.uid), MonitorState::kPaused);
  EXPECT_THAT(Stored(backup.uid), IsEmpty());
}

}  // namespace
}  // namespace pharos
