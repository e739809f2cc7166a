#include "operator/control/operator_core.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <future>
#include <mutex>
#include <string>
#include <vector>

#include "operator/storage/sqlite_result_store.h"
#include "unit/operator/control/core_test_support.h"

namespace pharos {
namespace {

using ::pharos::testing::MakeMonitor;
using ::pharos::testing::MakeResult;
using ::pharos::testing::OpenCore;
using ::pharos::testing::SampleValue;
using ::pharos::testing::TempDirectory;
using ::pharos::testing::TestCore;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using Kind = IngestOutcome::Kind;

// A store whose Append waits until the test opens its gate (then stores, or fails): a commit
// as slow as the test wants, in virtual time. Everything else goes straight to `inner`.
// Thread-safety: Append runs on the writer thread, the gate is opened from the test's.
class GatedStore final : public ResultStore {
 public:
  explicit GatedStore(std::unique_ptr<ResultStore> inner) : inner_(std::move(inner)) {}

  // Blocks until an Append is waiting at the gate.
  void WaitForBlockedAppend() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return blocked_ > 0; });
  }
  void Open(bool fail) {
    std::lock_guard lock(mu_);
    open_ = true;
    fail_ = fail;
    cv_.notify_all();
  }

  Result<AppendResult> Append(const std::vector<CheckResult>& results) override {
    {
      std::unique_lock lock(mu_);
      ++blocked_;
      cv_.notify_all();
      cv_.wait(lock, [&] { return open_; });
      --blocked_;
      if (fail_) {
        return Error{"disk I/O error (test)"};
      }
    }
    return inner_->Append(results);
  }
  Result<WindowStats> Stats(const StatsQuery& query) override { return inner_->Stats(query); }
  Result<std::vector<Rollup>> Rollups(const RollupQuery& query) override {
    return inner_->Rollups(query);
  }
  Result<std::vector<CheckResult>> Results(const ResultQuery& query) override {
    return inner_->Results(query);
  }
  Status SaveMonitorState(const MonitorStateSnapshot& state,
                          const std::vector<StateEvent>& events) override {
    return inner_->SaveMonitorState(state, events);
  }
  Status SaveMonitorStates(const std::vector<MonitorStateSave>& saves) override {
    return inner_->SaveMonitorStates(saves);
  }
  Result<std::vector<MonitorStateSnapshot>> LoadMonitorStates() override {
    return inner_->LoadMonitorStates();
  }
  Status ForgetMonitor(std::string_view monitor_uid, TimePoint now) override {
    return inner_->ForgetMonitor(monitor_uid, now);
  }
  Result<std::vector<Incident>> Incidents(const IncidentQuery& query) override {
    return inner_->Incidents(query);
  }
  Result<PruneReport> Prune(TimePoint now) override { return inner_->Prune(now); }

 private:
  std::unique_ptr<ResultStore> inner_;
  std::mutex mu_;
  std::condition_variable cv_;
  int blocked_ = 0;    // guarded by mu_
  bool open_ = false;  // guarded by mu_
  bool fail_ = false;  // guarded by mu_
};

class OperatorCoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    core_ = OpenCore(clock_, DbPath());
    ASSERT_TRUE(core_);
  }

  std::string DbPath() const { return (dir_.path() / "pharos.db").string(); }

  IngestReport Ingest(std::vector<CheckResult> results) {
    Result<IngestReport> report = core_->IngestAndWait(std::move(results));
    EXPECT_TRUE(report.ok()) << (report.ok() ? "" : report.error());
    return report.ok() ? std::move(report).value() : IngestReport{};
  }

  // Ingests one result of `monitor` in `region` for the next round (10 s after the previous).
  IngestOutcome Round(const Monitor& monitor, Outcome outcome,
                      const std::string& region = "local") {
    round_time_ += Millis(10'000);
    clock_.AdvanceTo(round_time_ + Millis(100));
    auto report = Ingest({MakeResult(monitor, region, round_time_, outcome)});
    return report.outcomes.empty() ? IngestOutcome{} : report.outcomes.front();
  }

  MonitorState StateOf(const std::string& uid) {
    auto status = core_->Snapshot(uid);
    EXPECT_TRUE(status.has_value());
    return status ? status->state : MonitorState::kInvalid;
  }

  std::string Metrics() { return core_.registry().Expose(); }

  // Exactly one result of shop/api is stored, and pharos_check_results_total counts it once.
  void ExpectStoredAndCountedOnce(const std::string& uid, const std::string& outcome) {
    ResultQuery query;
    query.monitor_uid = uid;
    auto stored = core_.store().Results(query);
    ASSERT_TRUE(stored.ok());
    EXPECT_EQ(stored->size(), 1u);
    EXPECT_EQ(SampleValue(Metrics(),
                          "pharos_check_results_total{namespace=\"shop\",monitor=\"api\","
                          "region=\"local\",outcome=\"" +
                              outcome + "\"}"),
              1.0);
  }

  TempDirectory dir_;
  ManualClock clock_;
  Clock::TimePoint round_time_ = ManualClock::DefaultStart();
  TestCore core_;
};

TEST_F(OperatorCoreTest, StoresAResultOnceAndReportsTheDuplicate) {
  const Monitor api = MakeMonitor("api");
  ASSERT_TRUE(core_->UpsertMonitor(api).ok());
  const CheckResult result = MakeResult(api, "local", round_time_, Outcome::kUp);

  auto first = Ingest({result});
  auto second = Ingest({result});

  ASSERT_EQ(first.outcomes.size(), 1u);
  EXPECT_EQ(first.outcomes[0].kind, Kind::kAccepted);
  EXPECT_EQ(first.outcomes[0].item_id, result.item_id);
  ASSERT_EQ(second.outcomes.size(), 1u);
  EXPECT_EQ(second.outcomes[0].kind, Kind::kDuplicate);
  ExpectStoredAndCountedOnce(api.uid, "up");
}

TEST_F(OperatorCoreTest, RejectsResultsOfUnknownMonitorsAndForeignRegionsWithAReason) {
  const Monitor api = MakeMonitor("api", {"eu-west"});
  ASSERT_TRUE(core_->UpsertMonitor(api).ok());
  Monitor ghost = MakeMonitor("ghost");

  auto report = Ingest({MakeResult(ghost, "local", round_time_, Outcome::kUp),
                        MakeResult(api, "us-east", round_time_, Outcome::kUp),
                        MakeResult(api, "eu-west", round_time_, Outcome::kUp)});

  ASSERT_EQ(report.outcomes.size(), 3u);
  EXPECT_EQ(report.outcomes[0].kind, Kind::kRejected);
  EXPECT_THAT(report.outcomes[0].reason, HasSubstr("unknown monitor uid 'uid-ghost'"));
  EXPECT_EQ(report.outcomes[1].kind, Kind::kRejected);
  EXPECT_THAT(report.outcomes[1].reason, HasSubstr("region 'us-east'"));
  EXPECT_EQ(report.outcomes[2].kind, Kind::kAccepted);
}

TEST_F(OperatorCoreTest, FillsTypeAndTargetOfResultsThatLackThem) {
  const Monitor api = MakeMonitor("api");
  ASSERT_TRUE(core_->UpsertMonitor(api).ok());
  CheckResult bare = MakeResult(api, "local", round_time_, Outcome::kError);
  bare.monitor_namespace.clear();
  bare.monitor_name.clear();
  bare.target.clear();
  bare.type = MonitorType::kDns;

  Ingest({bare});

  ResultQuery query;
  query.monitor_uid = api.uid;
  auto stored = core_.store().Results(query);
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->size(), 1u);
  EXPECT_EQ(stored->front().target, api.Target());
  EXPECT_EQ(stored->front().type, MonitorType::kHttp);
  EXPECT_EQ(stored->front().monitor_name, "api");
}

TEST_F(OperatorCoreTest, DownOpensAnIncidentAndUpResolvesIt) {
  const Monitor api = MakeMonitor("api", {"local"}, /*failure_threshold=*/2);
  std::vector<StateEvent> events;
  core_->OnStateChange([&](const Monitor& monitor, const StateEvent& event) {
    EXPECT_EQ(monitor.uid, api.uid);
    events.push_back(event);
  });
  ASSERT_TRUE(core_->UpsertMonitor(api).ok());

  Round(api, Outcome::kUp);
  EXPECT_EQ(StateOf(api.uid), MonitorState::kUp);
  Round(api, Outcome::kDown);
  EXPECT_EQ(StateOf(api.uid), MonitorState::kUp) << "one failure is below the threshold";
  Round(api, Outcome::kDown);
  EXPECT_EQ(StateOf(api.uid), MonitorState::kDown);

  auto status = core_->Snapshot(api.uid);
  ASSERT_TRUE(status && status->incident);
  const std::string incident_id = status->incident->id;
  IncidentQuery open;
  open.include_resolved = false;
  auto incidents = core_.store().Incidents(open);
  ASSERT_TRUE(incidents.ok());
  ASSERT_EQ(incidents->size(), 1u);
  EXPECT_EQ(incidents->front().id, incident_id);
  EXPECT_EQ(SampleValue(Metrics(), "pharos_incidents_open"), 1.0);
  EXPECT_EQ(SampleValue(Metrics(), "pharos_incidents_opened_total"), 1.0);
  EXPECT_EQ(SampleValue(Metrics(), "pharos_monitor_up{namespace=\"shop\",monitor=\"api\"}"), 0.0);

  Round(api, Outcome::kUp);
  EXPECT_EQ(StateOf(api.uid), MonitorState::kUp);
  incidents = core_.store().Incidents(open);
  ASSERT_TRUE(incidents.ok());
  EXPECT_THAT(*incidents, IsEmpty());
  EXPECT_EQ(SampleValue(Metrics(), "pharos_incidents_open"), 0.0);
  EXPECT_EQ(SampleValue(Metrics(), "pharos_monitor_up{namespace=\"shop\",monitor=\"api\"}"), 1.0);

  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].to, MonitorState::kUp);
  EXPECT_EQ(events[1].to, MonitorState::kDown);
  EXPECT_EQ(events[1].opened_incident_id, incident_id);
  EXPECT_EQ(events[2].resolved_incident_id, incident_id);
}

TEST_F(OperatorCoreTest, ProbeErrorsNeverMakeAMonitorDown) {
  const Monitor api = MakeMonitor("api");
  ASSERT_TRUE(core_->UpsertMonitor(api).ok());
  Round(api, Outcome::kUp);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(Round(api, Outcome::kError).kind, Kind::kAccepted);
  }
  auto status = core_->Snapshot(api.uid);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->state, MonitorState::kUp);
  EXPECT_FALSE(status->incident.has_value());
  ASSERT_EQ(status->regions.size(), 1u);
  EXPECT_THAT(status->regions[0].message, HasSubstr("probe error"));
  EXPECT_EQ(SampleValue(Metrics(),
                        "pharos_check_results_total{namespace=\"shop\",monitor=\"api\","
                        "region=\"local\",outcome=\"error\"}"),
            5.0);
}

TEST_F(OperatorCoreTest, RestartResumesStatesAndIncidentsFromTheSameDatabase) {
  const Monitor api = MakeMonitor("api", {"local"}, 1, /*success_threshold=*/2);
  const Monitor web = MakeMonitor("web");
  ASSERT_TRUE(core_->UpsertMonitor(api).ok());
  ASSERT_TRUE(core_->UpsertMonitor(web).ok());
  Round(api, Outcome::kDown);
  Round(web, Outcome::kUp);
  auto before = core_->Snapshot(api.uid);
  ASSERT_TRUE(before && before->incident);
  core_->Stop();
  core_.Close();

  // A result committed after the last state save (as if the process died before saving):
  // replayed at restore.
  {
    SqliteResultStore::Options options;
    options.path = DbPath();
    auto store = SqliteResultStore::Open(options);
    ASSERT_TRUE(store.ok());
    round_time_ += Millis(10'000);
    auto appended = (*store)->Append({MakeResult(api, "local", round_time_, Outcome::kUp)});
    ASSERT_TRUE(appended.ok());
  }

  core_ = OpenCore(clock_, DbPath());
  ASSERT_TRUE(core_);
  ASSERT_TRUE(core_->UpsertMonitor(api).ok());
  ASSERT_TRUE(core_->UpsertMonitor(web).ok());

  auto after = core_->Snapshot(api.uid);
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->state, MonitorState::kDown) << "restored, not Pending";
  ASSERT_TRUE(after->incident.has_value());
  EXPECT_EQ(after->incident->id, before->incident->id);
  EXPECT_EQ(after->incident->since, before->incident->since);
  EXPECT_EQ(StateOf(web.uid), MonitorState::kUp);
  // The replayed up round counted: one more good round makes the monitor Up.
  Round(api, Outcome::kUp);
  EXPECT_EQ(StateOf(api.uid), MonitorState::kUp);
}

TEST_F(OperatorCoreTest, ReplaceAllAddsChangesAndRemovesByUid) {
  Monitor a = MakeMonitor("a");
  Monitor b = MakeMonitor("b");
  auto first = core_->ReplaceAll({a, b});
  EXPECT_THAT(first.added, ElementsAre("shop/a", "shop/b"));
  Round(b, Outcome::kUp);
  ASSERT_TRUE(SampleValue(Metrics(),
                          "pharos_check_results_total{namespace=\"shop\",monitor=\"b\","
                          "region=\"local\",outcome=\"up\"}"));

  Monitor a2 = a;
  a2.generation = 2;
  a2.timeout = Millis(2'000);
  Monitor c = MakeMonitor("c");
  auto second = core_->ReplaceAll({a2, c});

  EXPECT_THAT(second.added, ElementsAre("shop/c"));
  EXPECT_THAT(second.changed, ElementsAre("shop/a"));
  EXPECT_THAT(second.removed, ElementsAre("shop/b"));
  EXPECT_THAT(second.errors, IsEmpty());
  EXPECT_FALSE(core_->scheduler_for_testing().Find(b.uid).has_value())
      << "removed monitors stop at once";
  ASSERT_TRUE(core_->scheduler_for_testing().Find(a.uid).has_value());
  EXPECT_EQ(core_->scheduler_for_testing().Find(a.uid)->generation, 2);
  EXPECT_EQ(core_->MonitorSpec(a.uid)->timeout, Millis(2'000));
  EXPECT_FALSE(core_->Snapshot(b.uid).has_value());
  const std::string metrics = Metrics();
  EXPECT_THAT(metrics, Not(HasSubstr("monitor=\"b\"")));
  EXPECT_THAT(metrics, HasSubstr("pharos_monitor_state{namespace=\"shop\",monitor=\"c\""));
  // A result of the removed monitor is refused.
  EXPECT_EQ(Round(b, Outcome::kUp).kind, Kind::kRejected);

  auto unchanged = core_->ReplaceAll({a2, c});
  EXPECT_THAT(unchanged.added, IsEmpty());
  EXPECT_THAT(unchanged.changed, IsEmpty());
  EXPECT_THAT(unchanged.removed, IsEmpty());
}

// The monitors are kept in a hash index: what is listed is still in uid order, whatever the
// order they were added in.
TEST_F(OperatorCoreTest, ListsAndRemovesMonitorsInUidOrder) {
  std::vector<Monitor> monitors;
  for (int i = 0; i < 40; ++i) {
    const int n = i * 7 % 40;  // every number once, out of order
    monitors.push_back(MakeMonitor(std::string(n < 10 ? "m0" : "m") + std::to_string(n)));
    ASSERT_TRUE(core_->UpsertMonitor(monitors.back()).ok());
  }
  const std::string metrics = Metrics();
  size_t previous = 0;
  for (int n = 0; n < 40; ++n) {
    const std::string name = std::string(n < 10 ? "m0" : "m") + std::to_string(n);
    const size_t at =
        metrics.find("pharos_monitor_state{namespace=\"shop\",monitor=\"" + name + "\"");
    ASSERT_NE(at, std::string::npos) << name;
    EXPECT_GT(at, previous) << name << " comes after the monitors of smaller uids";
    previous = at;
  }

  std::vector<Monitor> kept;
  std::vector<std::string> removed;
  for (int n = 0; n < 40; ++n) {
    const std::string name = std::string(n < 10 ? "m0" : "m") + std::to_string(n);
    if (n % 3 == 0) {
      kept.push_back(MakeMonitor(name));
    } else {
      removed.push_back("shop/" + name);
    }
  }
  const auto report = core_->ReplaceAll(kept);
  EXPECT_EQ(report.removed, removed);
  EXPECT_EQ(core_->monitor_count(), kept.size());
  for (const Monitor& monitor : monitors) {
    EXPECT_EQ(core_->Snapshot(monitor.uid).has_value(),
              std::find(removed.begin(), removed.end(), monitor.Key()) == removed.end())
        << monitor.Key();
  }
}

TEST_F(OperatorCoreTest, ReplaceAllForgetsStoredStatesOfMonitorsThatAreGone) {
  const Monitor gone = MakeMonitor("gone");
  ASSERT_TRUE(core_->UpsertMonitor(gone).ok());
  Round(gone, Outcome::kDown);
  core_->Stop();
  core_ = OpenCore(clock_, DbPath());
  ASSERT_TRUE(core_);

  core_->ReplaceAll({MakeMonitor("other")});

  auto states = core_.store().LoadMonitorStates();
  ASSERT_TRUE(states.ok());
  for (const MonitorStateSnapshot& state : *states) {
    EXPECT_NE(state.monitor_uid, gone.uid);
  }
  IncidentQuery open;
  open.include_resolved = false;
  auto incidents = core_.store().Incidents(open);
  ASSERT_TRUE(incidents.ok());
  EXPECT_THAT(*incidents, IsEmpty()) << "its incident was resolved";
}

TEST_F(OperatorCoreTest, RemovedRegionsLoseTheirSeries) {
  Monitor api = MakeMonitor("api", {"eu-west", "us-east"});
  ASSERT_TRUE(core_->UpsertMonitor(api).ok());
  Round(api, Outcome::kUp, "eu-west");
  Round(api, Outcome::kUp, "us-east");
  EXPECT_THAT(Metrics(), HasSubstr("region=\"us-east\""));

  api.regions = {"eu-west"};
  ASSERT_TRUE(core_->UpsertMonitor(api).ok());

  const std::string metrics = Metrics();
  EXPECT_THAT(metrics, Not(HasSubstr("region=\"us-east\",outcome")));
  EXPECT_THAT(metrics, HasSubstr("region=\"eu-west\",outcome=\"up\""));
}

TEST_F(OperatorCoreTest, SchedulesWorkAndAcksItAfterTheCommit) {
  const Monitor api = MakeMonitor("api");
  ASSERT_TRUE(core_->UpsertMonitor(api).ok());
  const auto due = core_->scheduler_for_testing().Find(api.uid)->next_due;
  ASSERT_TRUE(due.has_value());
  clock_.AdvanceTo(*due);
  core_->Tick();

  auto items = core_->dispatcher_for_testing().Lease("local", "probe-1", 10);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].monitor_uid, api.uid);
  EXPECT_TRUE(core_->dispatcher_for_testing().Find(items[0].id).has_value());

  auto report = Ingest({MakeResult(api, "local", items[0].scheduled_at, Outcome::kUp)});
  ASSERT_EQ(report.outcomes.size(), 1u);
  EXPECT_EQ(report.outcomes[0].item_id, items[0].id);
  EXPECT_EQ(report.outcomes[0].kind, Kind::kAccepted);
  EXPECT_FALSE(core_->dispatcher_for_testing().Find(items[0].id).has_value()) << "acked";
  EXPECT_EQ(StateOf(api.uid), MonitorState::kUp);
}

TEST_F(OperatorCoreTest, AnItemNoProbeCompletesIsRecordedAsAProbeError) {
  Monitor api = MakeMonitor("api");
  api.frequency = Millis(300'000);  // no next round while the leases expire
  ASSERT_TRUE(core_->UpsertMonitor(api).ok());
  Round(api, Outcome::kUp);
  const auto due = core_->scheduler_for_testing().Find(api.uid)->next_due;
  clock_.AdvanceTo(*due);
  core_->Tick();
  std::string item_id;
  // First delivery plus three redeliveries, each lease left to expire.
  for (int delivery = 0; delivery < 4; ++delivery) {
    auto items = core_->dispatcher_for_testing().Lease("local", "flaky-probe", 10);
    ASSERT_EQ(items.size(), 1u) << "delivery " << delivery;
    item_id = items[0].id;
    clock_.Advance(api.timeout + core_->lease_grace() + Millis(1));
    core_->Tick();
  }
  core_->Flush();

  ResultQuery query;
  query.monitor_uid = api.uid;
  query.newest_first = true;
  query.limit = 1;
  auto stored = core_.store().Results(query);
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->size(), 1u);
  EXPECT_EQ(stored->front().item_id, item_id);
  EXPECT_EQ(stored->front().outcome, Outcome::kError);
  EXPECT_EQ(stored->front().target, api.Target());
  EXPECT_EQ(StateOf(api.uid), MonitorState::kUp);
  EXPECT_EQ(SampleValue(Metrics(), "pharos_work_expired_total"), 1.0);
  EXPECT_EQ(SampleValue(Metrics(), "pharos_work_redelivered_total"), 3.0);
}

TEST_F(OperatorCoreTest, ANonLeaderNeitherSchedulesNorWrites) {
  const Monitor api = MakeMonitor("api");
  ASSERT_TRUE(core_->UpsertMonitor(api).ok());
  core_->SetScheduling(false);

  EXPECT_FALSE(core_->scheduler_for_testing().Find(api.uid).has_value());
  auto report = core_->IngestAndWait({MakeResult(api, "local", round_time_, Outcome::kUp)});
  EXPECT_FALSE(report.ok());
  EXPECT_EQ(SampleValue(Metrics(), "pharos_leader"), 0.0);

  core_->SetScheduling(true);
  EXPECT_TRUE(core_->scheduler_for_testing().Find(api.uid).has_value());
  EXPECT_EQ(Round(api, Outcome::kUp).kind, Kind::kAccepted);
  EXPECT_EQ(SampleValue(Metrics(), "pharos_leader"), 1.0);
}

// What a previous leader wrote to the Monitor's status: Down since `since`, last checked at
// `checked`, incident `incident_id` open since `since`.
StateSeed DownSeed(const Monitor& monitor, TimePoint since, TimePoint checked,
                   const std::string& incident_id) {
  StateSeed seed;
  seed.state.monitor_uid = monitor.uid;
  seed.state.monitor_key = monitor.Key();
  seed.state.state = MonitorState::kDown;
  seed.state.since = since;
  seed.state.reason = "HTTP 503";
  seed.state.streak_first_error = "HTTP 503";
  seed.state.consecutive_failures = monitor.alerting.failure_threshold;
  seed.state.open_incident_id = incident_id;
  RegionStateSnapshot region;
  region.region = "local";
  region.state = MonitorState::kDown;
  region.since = since;
  region.last_check_at = checked;
  region.status_code = 503;
  region.message = "HTTP 503";
  seed.state.regions.push_back(region);
  seed.state.updated_at = checked;
  seed.incident_since = since;
  seed.evidence_at = checked;
  return seed;
}

TEST_F(OperatorCoreTest, ANewLeaderResumesFromTheStatusWithoutPendingOrASecondIncident) {
  // failureThreshold 2: starting from Pending, the first bad round would show Pending.
  const Monitor api = MakeMonitor("api", {"local"}, /*failure_threshold=*/2);
  const TimePoint since = round_time_ - Millis(60'000);
  const std::string incident_id = api.uid + "-previous-leader";
  std::vector<StateEvent> events;
  core_->OnStateChange([&](const Monitor&, const StateEvent& event) { events.push_back(event); });
  core_->SetStateSeeder([&](const Monitor& monitor) -> std::optional<StateSeed> {
    if (monitor.uid != api.uid) {
      return std::nullopt;
    }
    return DownSeed(api, since, round_time_ - Millis(1'000), incident_id);
  });
  ASSERT_TRUE(core_->UpsertMonitor(api).ok());

  auto status = core_->Snapshot(api.uid);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->state, MonitorState::kDown);
  EXPECT_EQ(status->last_transition_time, since);
  ASSERT_TRUE(status->incident.has_value());
  EXPECT_EQ(status->incident->id, incident_id);
  EXPECT_EQ(status->incident->since, since);
  EXPECT_THAT(events, IsEmpty()) << "resuming is no transition";
  IncidentQuery open;
  open.include_resolved = false;
  auto incidents = core_.store().Incidents(open);
  ASSERT_TRUE(incidents.ok());
  ASSERT_EQ(incidents->size(), 1u) << "the store records the incident it resumed";
  EXPECT_EQ(incidents->front().id, incident_id);

  Round(api, Outcome::kDown);
  Round(api, Outcome::kDown);
  status = core_->Snapshot(api.uid);
  ASSERT_TRUE(status && status->incident);
  EXPECT_EQ(status->state, MonitorState::kDown);
  EXPECT_EQ(status->incident->id, incident_id);
  EXPECT_THAT(events, IsEmpty()) << "still Down: no MonitorDown again";

  Round(api, Outcome::kUp);  // successThreshold 1
  EXPECT_EQ(StateOf(api.uid), MonitorState::kUp);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].from, MonitorState::kDown);
  EXPECT_EQ(events[0].resolved_incident_id, incident_id);
  EXPECT_TRUE(events[0].opened_incident_id.empty());
  incidents = core_.store().Incidents(open);
  ASSERT_TRUE(incidents.ok());
  EXPECT_THAT(*incidents, IsEmpty());
}

TEST_F(OperatorCoreTest, TheStoreWinsOverAnOlderStatus) {
  const Monitor api = MakeMonitor("api");
  ASSERT_TRUE(core_->UpsertMonitor(api).ok());
  Round(api, Outcome::kDown);
  auto before = core_->Snapshot(api.uid);
  ASSERT_TRUE(before && before->incident);
  core_->Stop();
  core_.Close();

  core_ = OpenCore(clock_, DbPath());
  ASSERT_TRUE(core_);
  int seeder_calls = 0;
  core_->SetStateSeeder([&](const Monitor& monitor) -> std::optional<StateSeed> {
    ++seeder_calls;
    // Written before this replica's last check: stale.
    return DownSeed(monitor, round_time_ - Millis(30'000), round_time_ - Millis(20'000),
                    "stale-incident");
  });
  ASSERT_TRUE(core_->UpsertMonitor(api).ok());
  EXPECT_EQ(seeder_calls, 1);
  auto after = core_->Snapshot(api.uid);
  ASSERT_TRUE(after && after->incident);
  EXPECT_EQ(after->state, MonitorState::kDown);
  EXPECT_EQ(after->incident->id, before->incident->id);
}

TEST_F(OperatorCoreTest, ANewerStatusWinsOverTheStoreAndReplacesItsOpenIncident) {
  const Monitor api = MakeMonitor("api");
  ASSERT_TRUE(core_->UpsertMonitor(api).ok());
  Round(api, Outcome::kDown);  // this replica saw it go Down, with an incident...
  const std::string own_incident = core_->Snapshot(api.uid)->incident->id;
  core_->SetScheduling(false);  // ... then lost the lease; another leader carried on.
  const TimePoint since = round_time_ + Millis(20'000);
  round_time_ += Millis(60'000);
  const std::string their_incident = api.uid + "-other-leader";
  core_->SetStateSeeder([&](const Monitor& monitor) -> std::optional<StateSeed> {
    return DownSeed(monitor, since, round_time_, their_incident);
  });
  std::vector<StateEvent> events;
  core_->OnStateChange([&](const Monitor&, const StateEvent& event) { events.push_back(event); });
  clock_.AdvanceTo(round_time_ + Millis(500));
  core_->SetScheduling(true);

  auto status = core_->Snapshot(api.uid);
  ASSERT_TRUE(status && status->incident);
  EXPECT_EQ(status->state, MonitorState::kDown);
  EXPECT_EQ(status->incident->id, their_incident);
  EXPECT_THAT(events, IsEmpty());
  auto incidents = core_.store().Incidents(IncidentQuery{api.uid, true, 10});
  ASSERT_TRUE(incidents.ok());
  ASSERT_EQ(incidents->size(), 2u);
  for (const Incident& incident : *incidents) {
    if (incident.id == own_incident) {
      EXPECT_TRUE(incident.resolved_at.has_value()) << "the stale one is closed";
    } else {
      EXPECT_EQ(incident.id, their_incident);
      EXPECT_FALSE(incident.resolved_at.has_value());
    }
  }
}

TEST_F(OperatorCoreTest, AStandbyTakingOverResumesFromTheStatusAsItIsThen) {
  const Monitor api = MakeMonitor("api");
  core_->SetScheduling(false);
  std::optional<StateSeed> written;  // nothing written yet when the standby sees it
  core_->SetStateSeeder([&](const Monitor&) { return written; });
  ASSERT_TRUE(core_->UpsertMonitor(api).ok());
  EXPECT_EQ(StateOf(api.uid), MonitorState::kPending);

  written = DownSeed(api, round_time_, round_time_ + Millis(10'000), api.uid + "-x");
  clock_.AdvanceTo(round_time_ + Millis(15'000));
  core_->SetScheduling(true);
  EXPECT_EQ(StateOf(api.uid), MonitorState::kDown);
  EXPECT_TRUE(core_->scheduler_for_testing().Find(api.uid).has_value());
}

TEST_F(OperatorCoreTest, InvalidMonitorsAreNotCheckedUntilFixed) {
  Monitor api = MakeMonitor("api");
  ASSERT_TRUE(core_->UpsertMonitor(api).ok());
  ASSERT_TRUE(core_->MarkInvalid(api, "spec.http.url: scheme must be http or https").ok());
  EXPECT_EQ(StateOf(api.uid), MonitorState::kInvalid);
  EXPECT_EQ(core_->Snapshot(api.uid)->reason, "spec.http.url: scheme must be http or https");
  EXPECT_FALSE(core_->scheduler_for_testing().Find(api.uid).has_value());

  ASSERT_TRUE(core_->UpsertMonitor(api).ok());
  EXPECT_EQ(StateOf(api.uid), MonitorState::kPending);
  EXPECT_TRUE(core_->scheduler_for_testing().Find(api.uid).has_value());
}

// The operator stopped while two monitors were Invalid; meanwhile the user fixed one of them.
// After the restart the fixed one is checked again (as if fixed while the operator ran), the
// other stays Invalid.
TEST_F(OperatorCoreTest, AMonitorFixedWhileTheOperatorWasDownIsCheckedAfterTheRestart) {
  const Monitor api = MakeMonitor("api");
  const Monitor web = MakeMonitor("web");
  ASSERT_TRUE(core_->UpsertMonitor(api).ok());
  ASSERT_TRUE(core_->UpsertMonitor(web).ok());
  Round(api, Outcome::kUp);
  ASSERT_TRUE(core_->MarkInvalid(api, "spec.http.url: scheme must be http or https").ok());
  ASSERT_TRUE(core_->MarkInvalid(web, "spec.http.url: scheme must be http or https").ok());
  ASSERT_EQ(StateOf(api.uid), MonitorState::kInvalid);
  core_->Stop();
  core_.Close();

  core_ = OpenCore(clock_, DbPath());
  ASSERT_TRUE(core_);
  std::vector<StateEvent> events;
  core_->OnStateChange([&](const Monitor&, const StateEvent& event) { events.push_back(event); });
  ASSERT_TRUE(core_->UpsertMonitor(api).ok());  // fixed
  ASSERT_TRUE(core_->MarkInvalid(web, "spec.http.url: scheme must be http or https").ok());

  auto status = core_->Snapshot(api.uid);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->state, MonitorState::kPending) << "its spec is valid now";
  EXPECT_EQ(status->reason, "");
  EXPECT_TRUE(core_->scheduler_for_testing().Find(api.uid).has_value());
  ASSERT_EQ(events.size(), 1u) << "the same transition as fixing it while running";
  EXPECT_EQ(events[0].monitor_uid, api.uid);
  EXPECT_EQ(events[0].from, MonitorState::kInvalid);
  EXPECT_EQ(events[0].to, MonitorState::kPending);
  EXPECT_EQ(StateOf(web.uid), MonitorState::kInvalid) << "still invalid";
  EXPECT_EQ(core_->Snapshot(web.uid)->reason, "spec.http.url: scheme must be http or https");
  EXPECT_FALSE(core_->scheduler_for_testing().Find(web.uid).has_value());

  EXPECT_EQ(Round(api, Outcome::kUp).kind, Kind::kAccepted);
  EXPECT_EQ(StateOf(api.uid), MonitorState::kUp) << "its results count again";
  core_->Stop();
  core_.Close();

  core_ = OpenCore(clock_, DbPath());
  ASSERT_TRUE(core_);
  ASSERT_TRUE(core_->UpsertMonitor(api).ok());
  EXPECT_EQ(StateOf(api.uid), MonitorState::kUp) << "the recovered state was saved";
}

// `pharos run` adds its monitors with ReplaceAll: a stored Invalid state does not outlive the
// spec that caused it there either.
TEST_F(OperatorCoreTest, ReplaceAllChecksAMonitorStoredInvalidWhoseSpecIsValid) {
  const Monitor api = MakeMonitor("api");
  ASSERT_TRUE(core_->MarkInvalid(api, "spec.timeout: must be below spec.frequency").ok());
  core_->Stop();
  core_.Close();

  core_ = OpenCore(clock_, DbPath());
  ASSERT_TRUE(core_);
  auto report = core_->ReplaceAll({api});
  EXPECT_THAT(report.added, ElementsAre("shop/api"));
  EXPECT_EQ(StateOf(api.uid), MonitorState::kPending);
  EXPECT_EQ(Round(api, Outcome::kDown).kind, Kind::kAccepted);
  EXPECT_EQ(StateOf(api.uid), MonitorState::kDown);
}

TEST_F(OperatorCoreTest, RefusesMonitorsTheSchedulerCannotRun) {
  Monitor no_uid = MakeMonitor("x");
  no_uid.uid.clear();
  Monitor odd = MakeMonitor("odd");
  odd.frequency = Millis(7'000);
  EXPECT_FALSE(core_->UpsertMonitor(no_uid).ok());
  auto report = core_->ReplaceAll({odd});
  ASSERT_EQ(report.errors.size(), 1u);
  EXPECT_THAT(report.errors[0], HasSubstr("frequency"));
  EXPECT_EQ(core_->monitor_count(), 0u);
}

TEST_F(OperatorCoreTest, SnapshotCarriesUptimeLatencyAndRegions) {
  const Monitor api = MakeMonitor("api");
  ASSERT_TRUE(core_->UpsertMonitor(api).ok());
  Round(api, Outcome::kUp);
  Round(api, Outcome::kUp);
  Round(api, Outcome::kUp);
  Round(api, Outcome::kDown);
  core_->Tick();

  auto status = core_->Snapshot(api.uid);
  ASSERT_TRUE(status.has_value());
  ASSERT_TRUE(status->uptime_24h.has_value());
  EXPECT_DOUBLE_EQ(*status->uptime_24h, 75.0);
  ASSERT_TRUE(status->latency_p50_us.has_value());
  EXPECT_NEAR(static_cast<double>(*status->latency_p50_us), 3'350, 3'350 * 0.1);
  ASSERT_EQ(status->regions.size(), 1u);
  EXPECT_EQ(status->regions[0].name, "local");
  EXPECT_EQ(status->regions[0].state, MonitorState::kDown);
  EXPECT_EQ(status->regions[0].status_code, 503);
  EXPECT_EQ(status->last_check_time, round_time_ + Millis(5));
  EXPECT_EQ(SampleValue(Metrics(),
                        "pharos_monitor_uptime_ratio{namespace=\"shop\",monitor="
                        "\"api\",window=\"24h\"}"),
            0.75);
}

TEST_F(OperatorCoreTest, ExposesTheWholeMetricsContract) {
  const Monitor api = MakeMonitor("api");
  ASSERT_TRUE(core_->UpsertMonitor(api).ok());
  CheckResult result = MakeResult(api, "local", round_time_ + Millis(10'000), Outcome::kUp);
  result.cert_expiry = ManualClock::DefaultStart() + std::chrono::hours(24 * 90);
  Ingest({result});
  const auto due = core_->scheduler_for_testing().Find(api.uid)->next_due;
  clock_.AdvanceTo(*due + Millis(20'000));
  core_->Tick();
  core_->dispatcher_for_testing().Lease("local", "probe-1", 10);
  core_->Tick();
  const std::string metrics = Metrics();

  for (const char* name :
       {"pharos_check_results_total", "pharos_check_duration_seconds", "pharos_check_status_code",
        "pharos_monitor_up", "pharos_monitor_state", "pharos_monitor_uptime_ratio",
        "pharos_certificate_expiry_timestamp_seconds", "pharos_incidents_open",
        "pharos_incidents_opened_total", "pharos_scheduler_lateness_seconds", "pharos_queue_depth",
        "pharos_work_redelivered_total", "pharos_work_coalesced_total", "pharos_work_expired_total",
        "pharos_probes_connected", "pharos_store_write_seconds", "pharos_leader",
        "pharos_build_info"}) {
    EXPECT_THAT(metrics, HasSubstr(std::string("# TYPE ") + name + " ")) << name;
  }
  for (const char* state :
       {"Pending", "Up", "Degraded", "Down", "Paused", "Maintenance", "Invalid"}) {
    EXPECT_EQ(SampleValue(metrics, std::string("pharos_monitor_state{namespace=\"shop\",monitor="
                                               "\"api\",state=\"") +
                                       state + "\"}"),
              std::string(state) == "Up" ? 1.0 : 0.0)
        << state;
  }
  EXPECT_EQ(SampleValue(metrics, "pharos_build_info{version=\"test\"}"), 1.0);
  EXPECT_EQ(SampleValue(metrics, "pharos_leader"), 1.0);
  EXPECT_EQ(SampleValue(metrics, "pharos_probes_connected{region=\"local\"}"), 1.0);
  EXPECT_EQ(SampleValue(metrics,
                        "pharos_check_status_code{namespace=\"shop\",monitor=\"api\",region="
                        "\"local\"}"),
            200.0);
  EXPECT_EQ(SampleValue(metrics,
                        "pharos_certificate_expiry_timestamp_seconds{namespace=\"shop\","
                        "monitor=\"api\"}"),
            static_cast<double>(std::chrono::duration_cast<std::chrono::seconds>(
                                    result.cert_expiry->time_since_epoch())
                                    .count()));
  EXPECT_EQ(SampleValue(metrics,
                        "pharos_check_duration_seconds_count{namespace=\"shop\",monitor="
                        "\"api\",region=\"local\",phase=\"total\"}"),
            1.0);
  EXPECT_FALSE(SampleValue(metrics,
                           "pharos_check_duration_seconds_count{namespace=\"shop\","
                           "monitor=\"api\",region=\"local\",phase=\"tls\"}"))
      << "a phase that did not happen is not observed";
  EXPECT_EQ(SampleValue(metrics, "pharos_scheduler_lateness_seconds_count{frequency=\"10s\"}"),
            1.0);
}

// Two layers keep a result from counting twice: the dispatcher remembers acked ids for as long as
// a probe may still send them (no store write at all), the store refuses any later copy by its
// unique item id. Either way the state machine and the counters see the result once.
TEST_F(OperatorCoreTest, DuplicatesOfADispatchedItemAreRefusedByBothLayers) {
  const Monitor api = MakeMonitor("api");
  ASSERT_TRUE(core_->UpsertMonitor(api).ok());
  clock_.AdvanceTo(*core_->scheduler_for_testing().Find(api.uid)->next_due);
  core_->Tick();
  auto leased = core_->dispatcher_for_testing().Lease("local", "probe", 10);
  ASSERT_EQ(leased.size(), 1u);
  const CheckResult result = MakeResult(api, "local", leased[0].scheduled_at, Outcome::kDown);
  ASSERT_EQ(result.item_id, leased[0].id);
  auto writes = [&] {
    return SampleValue(Metrics(), "pharos_store_write_seconds_count").value_or(-1.0);
  };

  ASSERT_EQ(Ingest({result}).outcomes[0].kind, Kind::kAccepted);
  const double writes_after_first = writes();
  EXPECT_TRUE(core_->dispatcher_for_testing().WasAcked(result.item_id));
  clock_.Advance(Millis(5'000));
  EXPECT_EQ(Ingest({result}).outcomes[0].kind, Kind::kDuplicate);
  EXPECT_EQ(writes(), writes_after_first) << "answered by the dispatcher, no write";

  clock_.Advance(std::chrono::hours(1));
  core_->dispatcher_for_testing().Tick();
  EXPECT_FALSE(core_->dispatcher_for_testing().WasAcked(result.item_id));
  EXPECT_EQ(Ingest({result}).outcomes[0].kind, Kind::kDuplicate);
  EXPECT_GT(writes(), writes_after_first) << "answered by the store";

  ExpectStoredAndCountedOnce(api.uid, "down");
}

// A commit slower than the lease (here 60 s of virtual time against 5 s + 10 s) must not make
// the dispatcher redeliver the item: its result has arrived. A failed commit holds the result in
// memory (ResultWriter) and acknowledges it.
class SlowCommitTest : public ::testing::TestWithParam<bool> {};

TEST_P(SlowCommitTest, ItemsWhoseResultsAreBeingCommittedAreNotRedelivered) {
  const bool commit_fails = GetParam();
  TempDirectory dir;
  ManualClock clock;
  SqliteResultStore::Options store_options;
  store_options.path = (dir.path() / "pharos.db").string();
  auto sqlite = SqliteResultStore::Open(store_options);
  ASSERT_TRUE(sqlite.ok()) << sqlite.error();
  GatedStore gate(std::move(sqlite).value());
  MetricsRegistry registry;
  auto created = OperatorCore::Create(clock, gate, registry, ::pharos::testing::TestOptions());
  ASSERT_TRUE(created.ok()) << created.error();
  OperatorCore& core = **created;

  Monitor api = MakeMonitor("api");
  api.frequency = Millis(300'000);  // no next round meanwhile
  ASSERT_TRUE(core.UpsertMonitor(api).ok());
  clock.AdvanceTo(*core.scheduler_for_testing().Find(api.uid)->next_due);
  core.Tick();
  auto leased = core.dispatcher_for_testing().Lease("local", "probe", 10);
  ASSERT_EQ(leased.size(), 1u);

  std::promise<Result<IngestReport>> ingested;
  core.Ingest({MakeResult(api, "local", leased[0].scheduled_at, Outcome::kUp)},
              [&](const Result<IngestReport>& report) { ingested.set_value(report); });
  gate.WaitForBlockedAppend();
  for (int i = 0; i < 4; ++i) {
    clock.Advance(Millis(15'000));
    core.dispatcher_for_testing().Tick();
    EXPECT_TRUE(core.dispatcher_for_testing().Lease("local", "other-probe", 10).empty())
        << "tick " << i;
  }
  EXPECT_EQ(core.dispatcher_for_testing().Totals().redelivered, 0u);
  EXPECT_EQ(core.dispatcher_for_testing().Totals().failed, 0u);

  gate.Open(commit_fails);
  Result<IngestReport> report = ingested.get_future().get();
  if (!commit_fails) {
    ASSERT_TRUE(report.ok()) << report.error();
    EXPECT_EQ(report->outcomes[0].kind, Kind::kAccepted);
    EXPECT_FALSE(core.dispatcher_for_testing().Find(leased[0].id).has_value()) << "acked";
    EXPECT_TRUE(core.dispatcher_for_testing().WasAcked(leased[0].id));
  } else {
    // The store fails: the result is held in memory (written when the store recovers) and
    // acknowledged, so the item is done, not redelivered, and the monitor's state goes on.
    ASSERT_TRUE(report.ok()) << report.error();
    EXPECT_EQ(report->outcomes[0].kind, Kind::kAccepted);
    EXPECT_FALSE(core.dispatcher_for_testing().Find(leased[0].id).has_value()) << "acked";
    EXPECT_TRUE(core.dispatcher_for_testing().WasAcked(leased[0].id));
    EXPECT_EQ(core.Snapshot(api.uid)->state, MonitorState::kUp);
  }
  core.Stop();
}

INSTANTIATE_TEST_SUITE_P(CommitOutcome, SlowCommitTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? std::string("CommitFails")
                                             : std::string("CommitSucceeds");
                         });

}  // namespace
}  // namespace pharos
