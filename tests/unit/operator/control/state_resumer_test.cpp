#include "operator/control/state_resumer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>

#include "common/manual_clock.h"
#include "operator/storage/sqlite_result_store.h"
#include "unit/operator/control/core_test_support.h"

namespace pharos {
namespace {

using ::pharos::testing::MakeMonitor;
using ::pharos::testing::MakeResult;
using std::chrono::seconds;

class StateResumerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SqliteResultStore::Options options;
    options.path = ":memory:";
    auto store = SqliteResultStore::Open(options);
    ASSERT_TRUE(store.ok()) << store.error();
    store_ = std::move(store).value();
  }

  std::unique_ptr<MonitorStateMachine> NewMachine() {
    return std::make_unique<MonitorStateMachine>(
        StateMachineSettings::FromMonitor(monitor_, {}, std::chrono::seconds(30)), start_);
  }
  MonitorIdentity Identity() const { return MonitorIdentity::Of(monitor_); }

  const TimePoint start_ = ManualClock::DefaultStart();
  Monitor monitor_ = MakeMonitor("api");
  std::unique_ptr<SqliteResultStore> store_;
};

TEST_F(StateResumerTest, TheSeedWinsOnlyWithNewerEvidenceThanStoreAndMemory) {
  auto machine = NewMachine();
  MonitorStateSnapshot stored;
  stored.monitor_uid = monitor_.uid;
  stored.last_round_at = start_ + seconds(20);
  StateSeed seed;
  seed.evidence_at = start_ + seconds(10);
  EXPECT_EQ(StateResumer::Choose(machine->progress(), stored, seed), StateResumer::Source::kStore);
  seed.evidence_at = start_ + seconds(30);
  EXPECT_EQ(StateResumer::Choose(machine->progress(), stored, seed), StateResumer::Source::kSeed);
  EXPECT_EQ(StateResumer::Choose(machine->progress(), std::nullopt, seed),
            StateResumer::Source::kSeed);
  EXPECT_EQ(StateResumer::Choose(machine->progress(), std::nullopt, std::nullopt),
            StateResumer::Source::kNone);
}

TEST_F(StateResumerTest, FromStoreReplaysTheResultsStoredAfterTheSnapshot) {
  // The process stopped after storing a Down result but before saving the state it led to.
  auto before = NewMachine();
  MonitorStateSnapshot saved = before->Snapshot(Identity());
  saved.updated_at = start_;
  ASSERT_TRUE(
      store_->Append({MakeResult(monitor_, "local", start_ + seconds(10), Outcome::kDown)}).ok());

  auto machine = NewMachine();
  StateResumer resumer(*store_, std::chrono::minutes(10));
  auto resumed = resumer.FromStore(*machine, Identity(), saved, start_ + seconds(60));
  ASSERT_TRUE(resumed.ok()) << resumed.error();
  EXPECT_EQ(resumed->accepted_replays, 1u);
  EXPECT_EQ(resumed->replayed.size(), 1u);
  // One region, failure threshold 1: the replayed round (closed by its deadline) makes it Down.
  machine->Tick(Identity(), start_ + seconds(120));
  EXPECT_EQ(machine->state(), MonitorState::kDown);
}

TEST_F(StateResumerTest, FromSeedRecordsTheSeedsIncidentAndResolvesAStaleOne) {
  // This replica's store still has an incident open from when it last led.
  StateEvent stale;
  stale.monitor_uid = monitor_.uid;
  stale.monitor_key = monitor_.Key();
  stale.from = MonitorState::kUp;
  stale.to = MonitorState::kDown;
  stale.at = start_;
  stale.opened_incident_id = "old";
  auto first = NewMachine();
  ASSERT_TRUE(store_->SaveMonitorState(first->Snapshot(Identity()), {stale}).ok());

  StateSeed seed;
  seed.state.monitor_uid = monitor_.uid;
  seed.state.monitor_key = monitor_.Key();
  seed.state.state = MonitorState::kDown;
  seed.state.open_incident_id = "new";
  seed.state.streak_first_error = "connection refused";
  seed.state.consecutive_failures = 1;
  RegionStateSnapshot region;
  region.region = "local";
  region.state = MonitorState::kDown;
  region.last_check_at = start_ + seconds(50);
  seed.state.regions = {region};
  seed.state.updated_at = start_ + seconds(50);
  seed.evidence_at = start_ + seconds(50);
  seed.incident_since = start_ + seconds(40);

  auto machine = NewMachine();
  StateResumer resumer(*store_, std::chrono::minutes(10));
  auto resumed = resumer.FromSeed(*machine, Identity(), seed, start_ + seconds(60));
  ASSERT_TRUE(resumed.ok()) << resumed.error();
  EXPECT_EQ(machine->state(), MonitorState::kDown);
  EXPECT_EQ(resumed->incident_since, start_ + seconds(40));
  ASSERT_EQ(resumed->bookkeeping.size(), 2u);
  EXPECT_EQ(resumed->bookkeeping[0].resolved_incident_id, "old");
  EXPECT_EQ(resumed->bookkeeping[1].opened_incident_id, "new");
  EXPECT_EQ(resumed->bookkeeping[1].failing_regions, std::vector<std::string>{"local"});
  EXPECT_EQ(resumed->bookkeeping[1].first_error, "connection refused");
}

}  // namespace
}  // namespace pharos
