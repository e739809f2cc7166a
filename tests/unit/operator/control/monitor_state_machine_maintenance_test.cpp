// Scenarios of maintenance windows in MonitorStateMachine (the rules atop its header): entering
// Maintenance drops rounds and ignores results, no incident opens, an open one stays, and the
// end of the window decides the state afresh from Pending.

#include <gtest/gtest.h>

#include "common/manual_clock.h"
#include "operator/control/monitor_state_machine.h"

namespace pharos {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

const TimePoint kStart = ManualClock::DefaultStart();
const MonitorIdentity kIdentity{"uid-m", "shop", "db"};

StateMachineSettings Settings(bool maintenance, bool suspended = false) {
  StateMachineSettings settings;
  settings.regions = {"eu"};
  settings.failure_threshold = 1;
  settings.success_threshold = 1;
  settings.maintenance = maintenance;
  settings.suspended = suspended;
  return settings;
}

CheckResult MakeCheck(int round, Outcome outcome) {
  CheckResult r;
  r.monitor_uid = "uid-m";
  r.region = "eu";
  r.scheduled_at = kStart + minutes(round);
  r.started_at = r.scheduled_at;
  r.outcome = outcome;
  r.error = outcome == Outcome::kDown ? "connection refused" : "";
  return r;
}

class MaintenanceScenario : public ::testing::Test {
 protected:
  std::vector<StateEvent> Observe(int round, Outcome outcome) {
    return machine_
        .Observe(kIdentity, MakeCheck(round, outcome), kStart + minutes(round) + seconds(1))
        .events;
  }
  std::vector<StateEvent> Window(bool on, int minute) {
    return machine_.Reconfigure(kIdentity, Settings(on), kStart + minutes(minute));
  }
  MonitorStateMachine machine_{Settings(false), kStart};
};

TEST_F(MaintenanceScenario, InsideAWindowResultsChangeNothingAndNoIncidentOpens) {
  ASSERT_EQ(Observe(0, Outcome::kUp).size(), 1u);
  std::vector<StateEvent> entered = Window(true, 1);
  ASSERT_EQ(entered.size(), 1u);
  EXPECT_EQ(entered[0].from, MonitorState::kUp);
  EXPECT_EQ(entered[0].to, MonitorState::kMaintenance);
  EXPECT_EQ(entered[0].reason, "in a maintenance window");
  for (int round = 2; round < 6; ++round) {
    ObserveResult observed =
        machine_.Observe(kIdentity, MakeCheck(round, Outcome::kDown), kStart + minutes(round));
    EXPECT_FALSE(observed.accepted);
    EXPECT_TRUE(observed.events.empty());
  }
  EXPECT_EQ(machine_.state(), MonitorState::kMaintenance);
  EXPECT_TRUE(machine_.progress().open_incident_id.empty());
  EXPECT_TRUE(machine_.Tick(kIdentity, kStart + minutes(10)).empty());
}

TEST_F(MaintenanceScenario, AnOpenIncidentStaysOpenAndIsResolvedByTheFirstGoodRoundAfter) {
  std::vector<StateEvent> down = Observe(0, Outcome::kDown);
  ASSERT_EQ(down.size(), 1u);
  const std::string incident = down[0].opened_incident_id;
  ASSERT_FALSE(incident.empty());
  ASSERT_EQ(Window(true, 1).size(), 1u);
  EXPECT_EQ(machine_.progress().open_incident_id.str(), incident);
  std::vector<StateEvent> ended = Window(false, 5);
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_EQ(ended[0].from, MonitorState::kMaintenance);
  EXPECT_EQ(ended[0].to, MonitorState::kPending);
  EXPECT_TRUE(ended[0].resolved_incident_id.empty());
  std::vector<StateEvent> up = Observe(6, Outcome::kUp);
  ASSERT_EQ(up.size(), 1u);
  EXPECT_EQ(up[0].to, MonitorState::kUp);
  EXPECT_EQ(up[0].resolved_incident_id, incident);
}

TEST_F(MaintenanceScenario, StillDownAfterTheWindowKeepsTheSameIncident) {
  const std::string incident = Observe(0, Outcome::kDown)[0].opened_incident_id;
  Window(true, 1);
  Window(false, 5);
  std::vector<StateEvent> down = Observe(6, Outcome::kDown);
  ASSERT_EQ(down.size(), 1u);
  EXPECT_EQ(down[0].to, MonitorState::kDown);
  EXPECT_TRUE(down[0].opened_incident_id.empty());  // no second incident
  EXPECT_EQ(machine_.progress().open_incident_id.str(), incident);
}

TEST_F(MaintenanceScenario, SuspensionWinsOverMaintenanceAndRestoreFollowsTheWindow) {
  Observe(0, Outcome::kUp);
  std::vector<StateEvent> paused =
      machine_.Reconfigure(kIdentity, Settings(true, /*suspended=*/true), kStart + minutes(1));
  ASSERT_EQ(paused.size(), 1u);
  EXPECT_EQ(paused[0].to, MonitorState::kPaused);
  std::vector<StateEvent> resumed = Window(true, 2);
  ASSERT_EQ(resumed.size(), 1u);
  EXPECT_EQ(resumed[0].to, MonitorState::kMaintenance);

  // A state saved in Maintenance, restored after the window: Pending.
  MonitorStateMachine restored(Settings(false), kStart + minutes(9));
  Result<std::vector<StateEvent>> events =
      restored.Restore(kIdentity, machine_.Snapshot(kIdentity), kStart + minutes(10));
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ(events->front().to, MonitorState::kPending);
}

TEST(MaintenanceStart, AMonitorAddedInsideAWindowStartsInMaintenance) {
  MonitorStateMachine machine(Settings(true), kStart);
  EXPECT_EQ(machine.state(), MonitorState::kMaintenance);
  EXPECT_FALSE(machine.Observe(kIdentity, MakeCheck(0, Outcome::kDown), kStart).accepted);
  std::vector<StateEvent> ended = machine.Reconfigure(kIdentity, Settings(false), kStart);
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_EQ(ended[0].to, MonitorState::kPending);
}

TEST_F(MaintenanceScenario, AnInvalidMonitorStaysInvalid) {
  machine_.MarkInvalid(kIdentity, "bad spec", kStart);
  EXPECT_EQ(machine_.state(), MonitorState::kInvalid);
  // The owner reconfigures only valid monitors; once valid inside a window: Maintenance.
  std::vector<StateEvent> fixed = Window(true, 1);
  ASSERT_EQ(fixed.size(), 1u);
  EXPECT_EQ(fixed[0].to, MonitorState::kMaintenance);
}

}  // namespace
}  // namespace pharos
