#include "operator/control/monitor_state_machine.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/manual_clock.h"

namespace pharos {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr auto kUp = Outcome::kUp;
constexpr auto kDegraded = Outcome::kDegraded;
constexpr auto kDown = Outcome::kDown;
constexpr auto kError = Outcome::kError;

const TimePoint kStart = ManualClock::DefaultStart();

// The monitor every machine here judges, as its owner would hand it over.
const MonitorIdentity kIdentity{"uid-1", "shop", "checkout"};

// The scheduledAt of round `n` of a one-minute monitor.
TimePoint RoundAt(int n) { return kStart + minutes(n); }

CheckResult MakeResult(const std::string& region, Outcome outcome, TimePoint scheduled_at,
                       const std::string& error = "") {
  CheckResult r;
  r.monitor_uid = "uid-1";
  r.monitor_namespace = "shop";
  r.monitor_name = "checkout";
  r.region = region;
  r.scheduled_at = scheduled_at;
  r.started_at = scheduled_at + milliseconds(5);
  r.outcome = outcome;
  r.status_code = outcome == kDown ? 503 : 200;
  r.timings.total_us = 42'000;
  if (outcome == kDown && error.empty()) {
    r.failed_assertion =
        FailedAssertion{"statusCode", "eq 200", "503", "status code 503, expected eq 200"};
  }
  r.error = error;
  return r;
}

StateMachineSettings Config(std::vector<std::string> regions, std::optional<int> quorum = 1,
                            int failure_threshold = 2, int success_threshold = 1) {
  StateMachineSettings c;
  c.regions = std::move(regions);
  c.region_quorum = quorum;
  c.failure_threshold = failure_threshold;
  c.success_threshold = success_threshold;
  c.round_timeout = seconds(40);
  return c;
}

// Drives a machine round by round in virtual time, collecting every event.
class Driver {
 public:
  explicit Driver(StateMachineSettings config) : machine_(std::move(config), kStart) {}

  // Feeds round `n`: one result per expected region (sorted by name); outcomes[i] for the i-th.
  void Round(int n, const std::vector<Outcome>& outcomes) {
    std::vector<std::string> regions;
    for (const RegionStateSnapshot& region : machine_.progress().regions) {
      regions.push_back(region.region);
    }
    now_ = RoundAt(n) + seconds(1);
    for (size_t i = 0; i < outcomes.size(); ++i) {
      Feed(MakeResult(regions[i], outcomes[i], RoundAt(n)));
    }
  }

  ObserveResult Feed(const CheckResult& result) {
    ObserveResult observed = machine_.Observe(kIdentity, result, now_);
    events_.insert(events_.end(), observed.events.begin(), observed.events.end());
    return observed;
  }

  MonitorStateMachine& machine() { return machine_; }
  std::vector<StateEvent>& events() { return events_; }
  TimePoint& now() { return now_; }

 private:
  MonitorStateMachine machine_;
  std::vector<StateEvent> events_;
  TimePoint now_ = kStart;
};

struct TableCase {
  std::string name;
  std::vector<std::string> regions;
  std::optional<int> quorum;
  int failure_threshold;
  int success_threshold;
  std::vector<std::vector<Outcome>> rounds;
  std::vector<MonitorState> expected;  // state after each round
  int incidents_opened;
};

class StateTableTest : public ::testing::TestWithParam<TableCase> {};

TEST_P(StateTableTest, StatesAfterEachRound) {
  const TableCase& c = GetParam();
  Driver driver(Config(c.regions, c.quorum, c.failure_threshold, c.success_threshold));
  ASSERT_EQ(c.rounds.size(), c.expected.size());
  for (size_t i = 0; i < c.rounds.size(); ++i) {
    driver.Round(static_cast<int>(i), c.rounds[i]);
    EXPECT_EQ(ToString(driver.machine().state()), std::string(ToString(c.expected[i])))
        << "after round " << i;
  }
  int opened = 0;
  for (const StateEvent& e : driver.events()) opened += e.opened_incident_id.empty() ? 0 : 1;
  EXPECT_EQ(opened, c.incidents_opened);
}

using S = MonitorState;
const std::vector<std::string> kOne = {"eu"};
const std::vector<std::string> kTwo = {"eu", "us"};
const std::vector<std::string> kThree = {"ap", "eu", "us"};
const std::vector<std::string> kFour = {"ap", "eu", "sa", "us"};

INSTANTIATE_TEST_SUITE_P(
    Rules, StateTableTest,
    ::testing::Values(
        TableCase{"FirstGoodRoundIsUp", kOne, 1, 2, 1, {{kUp}}, {S::kUp}, 0},
        TableCase{"PendingNeedsThresholdToGoDown",
                  kOne,
                  1,
                  2,
                  1,
                  {{kDown}, {kDown}},
                  {S::kPending, S::kDown},
                  1},
        TableCase{"DownAfterFailureThreshold",
                  kOne,
                  1,
                  3,
                  1,
                  {{kUp}, {kDown}, {kDown}, {kDown}, {kDown}},
                  {S::kUp, S::kUp, S::kUp, S::kDown, S::kDown},
                  1},
        TableCase{"FlappingBelowThresholdOpensNothing",
                  kOne,
                  1,
                  2,
                  1,
                  {{kUp}, {kDown}, {kUp}, {kDown}, {kUp}, {kDown}, {kUp}},
                  {S::kUp, S::kUp, S::kUp, S::kUp, S::kUp, S::kUp, S::kUp},
                  0},
        TableCase{"SuccessThresholdTwo",
                  kOne,
                  1,
                  1,
                  2,
                  {{kUp}, {kDown}, {kUp}, {kDown}, {kUp}, {kUp}},
                  {S::kUp, S::kDown, S::kDown, S::kDown, S::kDown, S::kUp},
                  1},
        TableCase{"ThresholdOneGoesDownAtOnce",
                  kOne,
                  1,
                  1,
                  1,
                  {{kUp}, {kDown}, {kUp}, {kDown}},
                  {S::kUp, S::kDown, S::kUp, S::kDown},
                  2},
        TableCase{"QuorumOneAnyRegionFails",
                  kThree,
                  1,
                  1,
                  1,
                  {{kUp, kUp, kUp}, {kUp, kDown, kUp}},
                  {S::kUp, S::kDown},
                  1},
        TableCase{"QuorumTwoOneRegionIsNotEnough",
                  kThree,
                  2,
                  1,
                  1,
                  {{kUp, kUp, kUp}, {kDown, kUp, kUp}, {kDown, kUp, kDown}},
                  {S::kUp, S::kUp, S::kDown},
                  1},
        TableCase{"MajorityOfThreeIsTwo",
                  kThree,
                  std::nullopt,
                  1,
                  1,
                  {{kDown, kUp, kUp}, {kDown, kDown, kUp}},
                  {S::kUp, S::kDown},
                  1},
        TableCase{"MajorityOfTwoIsBoth",
                  kTwo,
                  std::nullopt,
                  1,
                  1,
                  {{kDown, kUp}, {kDown, kDown}},
                  {S::kUp, S::kDown},
                  1},
        TableCase{"MajorityOfFourIsThree",
                  kFour,
                  std::nullopt,
                  1,
                  1,
                  {{kDown, kDown, kUp, kUp}, {kDown, kDown, kDown, kUp}},
                  {S::kUp, S::kDown},
                  1},
        TableCase{"QuorumAboveRegionCountMeansAll",
                  kTwo,
                  5,
                  1,
                  1,
                  {{kDown, kUp}, {kDown, kDown}},
                  {S::kUp, S::kDown},
                  1},
        TableCase{"ErrorsAreNotTargetFailures",
                  kOne,
                  1,
                  1,
                  1,
                  {{kError}, {kError}, {kUp}, {kError}, {kError}},
                  {S::kPending, S::kPending, S::kUp, S::kUp, S::kUp},
                  0},
        TableCase{"ErrorsDoNotCompleteAQuorum",
                  kThree,
                  2,
                  1,
                  1,
                  {{kUp, kUp, kUp}, {kDown, kError, kError}, {kDown, kError, kUp}},
                  {S::kUp, S::kUp, S::kUp},
                  0},
        TableCase{"ErrorRoundsDoNotBreakAFailingStreak",
                  kOne,
                  1,
                  2,
                  1,
                  {{kUp}, {kDown}, {kError}, {kDown}},
                  {S::kUp, S::kUp, S::kUp, S::kDown},
                  1},
        TableCase{"DegradedQuorumOne",
                  kThree,
                  1,
                  2,
                  1,
                  {{kUp, kUp, kUp}, {kDegraded, kUp, kUp}, {kUp, kUp, kUp}},
                  {S::kUp, S::kDegraded, S::kUp},
                  0},
        TableCase{"DegradedNeedsTheQuorum",
                  kThree,
                  2,
                  2,
                  1,
                  {{kDegraded, kUp, kUp}, {kDegraded, kDegraded, kUp}, {kDown, kDegraded, kUp}},
                  {S::kUp, S::kDegraded, S::kDegraded},
                  0},
        TableCase{"DegradedThenDown",
                  kOne,
                  1,
                  2,
                  1,
                  {{kDegraded}, {kDown}, {kDown}, {kDegraded}},
                  {S::kDegraded, S::kDegraded, S::kDown, S::kDegraded},
                  1}),
    [](const ::testing::TestParamInfo<TableCase>& info) { return info.param.name; });

TEST(MonitorStateMachineTest, IncidentOpensOnDownAndResolvesOnUp) {
  Driver d(Config(kTwo, 1, 2, 1));
  d.Round(0, {kUp, kUp});
  d.Round(1, {kUp, kDown});  // first failing round: its error starts the streak
  d.Round(2, {kDown, kDown});
  ASSERT_EQ(d.machine().state(), S::kDown);
  ASSERT_EQ(d.events().size(), 2u);
  const StateEvent& down = d.events()[1];
  EXPECT_EQ(down.from, S::kUp);
  EXPECT_EQ(down.to, S::kDown);
  EXPECT_EQ(down.at, RoundAt(2) + seconds(1));
  EXPECT_EQ(down.round_scheduled_at, RoundAt(2));
  EXPECT_THAT(down.failing_regions, ElementsAre("eu", "us"));
  EXPECT_EQ(down.first_error, "us: status code 503, expected eq 200");
  const std::string incident =
      "uid-1-" +
      std::to_string(
          std::chrono::duration_cast<milliseconds>(RoundAt(2).time_since_epoch()).count());
  EXPECT_EQ(down.opened_incident_id, incident);
  EXPECT_EQ(d.machine().progress().open_incident_id, incident);
  EXPECT_EQ(d.machine().progress().reason, "us: status code 503, expected eq 200");

  d.Round(3, {kUp, kUp});
  ASSERT_EQ(d.events().size(), 3u);
  EXPECT_EQ(d.events()[2].to, S::kUp);
  EXPECT_EQ(d.events()[2].resolved_incident_id, incident);
  EXPECT_TRUE(d.machine().progress().open_incident_id.empty());
}

TEST(MonitorStateMachineTest, AtMostOneIncidentAcrossPauseAndResume) {
  Driver d(Config(kOne, 1, 1, 1));
  d.Round(0, {kDown});
  const std::string incident = d.machine().progress().open_incident_id;
  ASSERT_FALSE(incident.empty());

  StateMachineSettings paused = Config(kOne, 1, 1, 1);
  paused.suspended = true;
  std::vector<StateEvent> events = d.machine().Reconfigure(kIdentity, paused, RoundAt(1));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].to, S::kPaused);
  EXPECT_EQ(events[0].reason, "suspended");
  EXPECT_EQ(d.machine().progress().open_incident_id, incident);  // pausing resolves nothing

  d.Round(2, {kUp});  // ignored while paused
  EXPECT_EQ(d.machine().state(), S::kPaused);

  events = d.machine().Reconfigure(kIdentity, Config(kOne, 1, 1, 1), RoundAt(3));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].from, S::kPaused);
  EXPECT_EQ(events[0].to, S::kPending);

  d.events().clear();
  d.Round(4, {kDown});  // still down: the open incident is kept, no second one
  ASSERT_EQ(d.events().size(), 1u);
  EXPECT_EQ(d.events()[0].to, S::kDown);
  EXPECT_TRUE(d.events()[0].opened_incident_id.empty());
  EXPECT_EQ(d.machine().progress().open_incident_id, incident);

  d.Round(5, {kUp});
  EXPECT_EQ(d.events().back().resolved_incident_id, incident);
}

TEST(MonitorStateMachineTest, PausedIgnoresResults) {
  StateMachineSettings config = Config(kOne);
  config.suspended = true;
  Driver d(config);
  EXPECT_EQ(d.machine().state(), S::kPaused);
  ObserveResult observed = d.Feed(MakeResult("eu", kDown, RoundAt(0)));
  EXPECT_FALSE(observed.accepted);
  EXPECT_EQ(observed.ignored_because, "monitor is Paused");
}

TEST(MonitorStateMachineTest, InvalidUntilReconfigured) {
  Driver d(Config(kOne, 1, 1, 1));
  d.Round(0, {kUp});
  std::vector<StateEvent> events =
      d.machine().MarkInvalid(kIdentity, "spec.http.url: missing", RoundAt(1));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].from, S::kUp);
  EXPECT_EQ(events[0].to, S::kInvalid);
  EXPECT_EQ(events[0].reason, "spec.http.url: missing");
  EXPECT_THAT(d.machine().MarkInvalid(kIdentity, "another reason", RoundAt(1)), IsEmpty());
  EXPECT_EQ(d.machine().progress().reason, "another reason");

  d.Round(2, {kDown});
  EXPECT_EQ(d.machine().state(), S::kInvalid);

  events = d.machine().Reconfigure(kIdentity, Config(kOne, 1, 1, 1), RoundAt(3));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].to, S::kPending);
  d.Round(4, {kDown});
  EXPECT_EQ(d.machine().state(), S::kDown);
}

TEST(MonitorStateMachineTest, RoundWaitsForEveryExpectedRegion) {
  Driver d(Config(kThree, 1, 1, 1));
  d.Round(0, {kUp, kUp, kUp});
  d.Feed(MakeResult("ap", kDown, RoundAt(1)));
  d.Feed(MakeResult("eu", kUp, RoundAt(1)));
  EXPECT_EQ(d.machine().state(), S::kUp);
  ASSERT_EQ(d.machine().progress().open_rounds.size(), 1u);
  d.Feed(MakeResult("us", kUp, RoundAt(1)));
  EXPECT_EQ(d.machine().state(), S::kDown);
  EXPECT_THAT(d.machine().progress().open_rounds, IsEmpty());
}

TEST(MonitorStateMachineTest, SilentRegionRoundClosesAtItsDeadline) {
  Driver d(Config(kTwo, 1, 1, 1));
  d.Round(0, {kUp, kUp});
  d.Feed(MakeResult("eu", kDown, RoundAt(1)));  // "us" never reports round 1
  EXPECT_EQ(d.machine().state(), S::kUp);
  EXPECT_THAT(d.machine().Tick(kIdentity, RoundAt(1) + seconds(39)), IsEmpty());
  std::vector<StateEvent> events = d.machine().Tick(kIdentity, RoundAt(1) + seconds(40));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].to, S::kDown);
  EXPECT_EQ(events[0].at, RoundAt(1) + seconds(40));
  EXPECT_THAT(events[0].failing_regions, ElementsAre("eu"));

  // Its late result is ignored: the round was evaluated.
  ObserveResult late = d.Feed(MakeResult("us", kUp, RoundAt(1)));
  EXPECT_FALSE(late.accepted);
  EXPECT_THAT(late.ignored_because, ::testing::StartsWith("late:"));
}

TEST(MonitorStateMachineTest, ARoundPastTheDeadlineClosesOlderOpenRounds) {
  Driver d(Config(kTwo, 1, 1, 1));
  d.Round(0, {kUp, kUp});
  d.now() = RoundAt(1) + seconds(1);
  d.Feed(MakeResult("eu", kDown, RoundAt(1)));
  // A result of the next round (one minute later, past the 40 s deadline) closes round 1 even
  // without a Tick.
  d.now() = RoundAt(2) + seconds(1);
  d.Feed(MakeResult("eu", kUp, RoundAt(2)));
  EXPECT_EQ(d.machine().state(), S::kDown);
  ASSERT_EQ(d.machine().progress().open_rounds.size(), 1u);
  EXPECT_EQ(d.machine().progress().open_rounds[0].scheduled_at, RoundAt(2));
}

TEST(MonitorStateMachineTest, RoundsAreEvaluatedInOrder) {
  StateMachineSettings config = Config(kThree, 1, 1, 1);
  config.round_timeout = minutes(5);  // several rounds can be open at once
  Driver d(config);
  d.now() = RoundAt(1);
  d.Feed(MakeResult("ap", kDown, RoundAt(0)));
  d.Feed(MakeResult("ap", kUp, RoundAt(1)));  // "eu" and "us" stay silent
  EXPECT_EQ(d.machine().state(), S::kPending);
  EXPECT_EQ(d.machine().progress().open_rounds.size(), 2u);
  EXPECT_THAT(d.machine().Tick(kIdentity, RoundAt(4)), IsEmpty());
  std::vector<StateEvent> events = d.machine().Tick(kIdentity, RoundAt(6));
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].to, S::kDown);
  EXPECT_EQ(events[0].round_scheduled_at, RoundAt(0));
  EXPECT_EQ(events[1].to, S::kUp);
  EXPECT_EQ(events[1].round_scheduled_at, RoundAt(1));
}

TEST(MonitorStateMachineTest, ARoundIsCompleteOnceMissingRegionsMovedOn) {
  StateMachineSettings config = Config(kTwo, 1, 1, 1);
  config.round_timeout = minutes(5);
  Driver d(config);
  d.now() = RoundAt(1);
  d.Feed(MakeResult("eu", kDown, RoundAt(0)));
  d.Feed(MakeResult("us", kUp, RoundAt(1)));  // "us" skipped round 0: it can never report it
  ASSERT_EQ(d.events().size(), 1u);
  EXPECT_EQ(d.events()[0].to, S::kDown);
  EXPECT_EQ(d.events()[0].round_scheduled_at, RoundAt(0));
  d.Feed(MakeResult("eu", kUp, RoundAt(1)));
  ASSERT_EQ(d.events().size(), 2u);
  EXPECT_EQ(d.events()[1].to, S::kUp);
}

TEST(MonitorStateMachineTest, OlderResultsOfARegionAreIgnored) {
  Driver d(Config(kOne, 1, 1, 1));
  d.Round(5, {kUp});
  ObserveResult older = d.Feed(MakeResult("eu", kDown, RoundAt(3)));
  EXPECT_FALSE(older.accepted);
  ObserveResult repeated = d.Feed(MakeResult("eu", kDown, RoundAt(5)));
  EXPECT_FALSE(repeated.accepted);
  EXPECT_EQ(d.machine().state(), S::kUp);
}

TEST(MonitorStateMachineTest, ARegionCannotReportTwiceInOneRound) {
  Driver d(Config(kTwo, 1, 1, 1));
  d.Feed(MakeResult("eu", kUp, RoundAt(0)));
  ObserveResult again = d.Feed(MakeResult("eu", kDown, RoundAt(0)));
  EXPECT_FALSE(again.accepted);
  d.Feed(MakeResult("us", kUp, RoundAt(0)));
  EXPECT_EQ(d.machine().state(), S::kUp);
}

TEST(MonitorStateMachineTest, UnknownRegionsAndOtherMonitorsAreIgnored) {
  Driver d(Config(kOne));
  ObserveResult stranger = d.Feed(MakeResult("mars", kDown, RoundAt(0)));
  EXPECT_FALSE(stranger.accepted);
  EXPECT_EQ(stranger.ignored_because, "region 'mars' is not one of the monitor's regions");
  CheckResult other = MakeResult("eu", kDown, RoundAt(0));
  other.monitor_uid = "uid-2";
  EXPECT_FALSE(d.Feed(other).accepted);
}

TEST(MonitorStateMachineTest, RegionStateAndProbeErrors) {
  Driver d(Config(kOne, 1, 2, 1));
  d.Round(0, {kDown});
  const RegionStateSnapshot& eu = d.machine().progress().regions.at(0);
  EXPECT_EQ(eu.state, S::kDown);
  EXPECT_EQ(eu.status_code, 503);
  EXPECT_EQ(eu.message, "status code 503, expected eq 200");
  EXPECT_EQ(eu.since, RoundAt(0) + seconds(1));

  d.now() = RoundAt(1) + seconds(1);
  d.Feed(MakeResult("eu", kError, RoundAt(1), "probe could not start the check"));
  const RegionStateSnapshot& after = d.machine().progress().regions.at(0);
  EXPECT_EQ(after.state, S::kDown);  // unchanged by a probe error
  EXPECT_TRUE(after.probe_error);
  EXPECT_EQ(after.probe_error_message, "probe could not start the check");
  EXPECT_EQ(after.last_scheduled_at, RoundAt(1));
  EXPECT_EQ(d.machine().state(), S::kPending);

  d.Round(2, {kUp});
  EXPECT_FALSE(d.machine().progress().regions.at(0).probe_error);
  EXPECT_EQ(d.machine().progress().regions.at(0).state, S::kUp);
}

TEST(MonitorStateMachineTest, RemovingARegionDropsItsStateAndCompletesRounds) {
  Driver d(Config(kThree, 1, 1, 1));
  d.Round(0, {kUp, kUp, kUp});
  d.Feed(MakeResult("ap", kUp, RoundAt(1)));
  d.Feed(MakeResult("eu", kDown, RoundAt(1)));
  EXPECT_EQ(d.machine().state(), S::kUp);  // waiting for "us"

  std::vector<StateEvent> events = d.machine().Reconfigure(
      kIdentity, Config({"ap", "eu", "sa"}, 1, 1, 1), RoundAt(1) + seconds(2));
  // "us" is gone, "sa" is new: round 1 still waits for "sa".
  EXPECT_THAT(events, IsEmpty());
  std::vector<std::string> names;
  for (const auto& r : d.machine().progress().regions) names.push_back(r.region);
  EXPECT_THAT(names, ElementsAre("ap", "eu", "sa"));
  EXPECT_EQ(d.machine().progress().regions[2].state, S::kPending);

  events =
      d.machine().Reconfigure(kIdentity, Config({"ap", "eu"}, 1, 1, 1), RoundAt(1) + seconds(3));
  ASSERT_EQ(events.size(), 1u);  // nothing left to wait for
  EXPECT_EQ(events[0].to, S::kDown);
}

TEST(MonitorStateMachineTest, ResultWithoutScheduledAtUsesStartedAt) {
  Driver d(Config(kOne, 1, 1, 1));
  CheckResult r = MakeResult("eu", kDown, RoundAt(0));
  r.scheduled_at = {};
  r.started_at = RoundAt(7);
  EXPECT_TRUE(d.Feed(r).accepted);
  EXPECT_EQ(d.machine().progress().last_round_at, RoundAt(7));
}

TEST(MonitorStateMachineTest, RestoreResumesExactly) {
  Driver first(Config(kTwo, 1, 3, 2));
  first.Round(0, {kUp, kUp});
  first.Round(1, {kDown, kUp});
  first.Round(2, {kDown, kUp});
  first.Feed(MakeResult("eu", kDown, RoundAt(3)));  // round 3 open, waiting for "us"
  const MonitorStateSnapshot saved = first.machine().Snapshot(kIdentity);
  ASSERT_EQ(saved.consecutive_failures, 2);
  ASSERT_EQ(saved.open_rounds.size(), 1u);

  MonitorStateMachine restored(Config(kTwo, 1, 3, 2), RoundAt(3) + seconds(2));
  Result<std::vector<StateEvent>> events =
      restored.Restore(kIdentity, saved, RoundAt(3) + seconds(2));
  ASSERT_TRUE(events.ok()) << events.error();
  EXPECT_THAT(*events, IsEmpty());
  EXPECT_EQ(restored.state(), S::kUp);
  EXPECT_EQ(restored.progress().consecutive_failures, 2);

  // Replaying results already seen changes nothing.
  EXPECT_FALSE(
      restored.Observe(kIdentity, MakeResult("eu", kDown, RoundAt(2)), RoundAt(3)).accepted);
  EXPECT_FALSE(
      restored.Observe(kIdentity, MakeResult("eu", kDown, RoundAt(3)), RoundAt(3)).accepted);

  // The open round completes; the third failure in a row is the threshold.
  ObserveResult observed =
      restored.Observe(kIdentity, MakeResult("us", kUp, RoundAt(3)), RoundAt(3) + seconds(3));
  ASSERT_EQ(observed.events.size(), 1u);
  EXPECT_EQ(observed.events[0].to, S::kDown);
  EXPECT_EQ(observed.events[0].first_error, "eu: status code 503, expected eq 200");
}

TEST(MonitorStateMachineTest, ReplayLongAfterTheFactEvaluatesWholeRounds) {
  // Majority of two regions: a round is bad only when both are down.
  MonitorStateMachine machine(Config(kTwo, std::nullopt, 2, 1), kStart);
  const TimePoint much_later = RoundAt(0) + hours(6);
  std::vector<StateEvent> events;
  for (int n = 0; n < 3; ++n) {
    for (const char* region : {"eu", "us"}) {
      ObserveResult observed =
          machine.Observe(kIdentity, MakeResult(region, kDown, RoundAt(n)), much_later);
      ASSERT_TRUE(observed.accepted) << observed.ignored_because;
      events.insert(events.end(), observed.events.begin(), observed.events.end());
    }
  }
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].to, S::kDown);
  EXPECT_EQ(events[0].round_scheduled_at, RoundAt(1));
  EXPECT_THAT(events[0].failing_regions, ElementsAre("eu", "us"));
  EXPECT_EQ(events[0].at, much_later);
}

TEST(MonitorStateMachineTest, ObserveLeavesDeadlinesToTick) {
  Driver d(Config(kTwo, 1, 1, 1));
  d.now() = RoundAt(0) + hours(1);  // long past the round's deadline
  d.Feed(MakeResult("eu", kDown, RoundAt(0)));
  EXPECT_EQ(d.machine().progress().open_rounds.size(), 1u);
  std::vector<StateEvent> events = d.machine().Tick(kIdentity, d.now());
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].to, S::kDown);
}

TEST(MonitorStateMachineTest, RestoreAppliesTheCurrentConfiguration) {
  Driver first(Config(kTwo, 1, 1, 1));
  first.Round(0, {kUp, kUp});
  StateMachineSettings now_suspended = Config(kOne, 1, 1, 1);
  now_suspended.suspended = true;
  MonitorStateMachine restored(now_suspended, RoundAt(1));
  Result<std::vector<StateEvent>> events =
      restored.Restore(kIdentity, first.machine().Snapshot(kIdentity), RoundAt(1));
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].from, S::kUp);
  EXPECT_EQ((*events)[0].to, S::kPaused);
  ASSERT_EQ(restored.progress().regions.size(), 1u);
  EXPECT_EQ(restored.progress().regions[0].region, "eu");
}

TEST(MonitorStateMachineTest, RestoreKeepsInvalidAndRefusesAnotherMonitor) {
  Driver first(Config(kOne));
  first.machine().MarkInvalid(kIdentity, "bad url", RoundAt(0));
  MonitorStateMachine restored(Config(kOne), RoundAt(1));
  Result<std::vector<StateEvent>> events =
      restored.Restore(kIdentity, first.machine().Snapshot(kIdentity), RoundAt(1));
  ASSERT_TRUE(events.ok());
  EXPECT_THAT(*events, IsEmpty());
  EXPECT_EQ(restored.state(), S::kInvalid);

  MonitorStateSnapshot other = first.machine().Snapshot(kIdentity);
  other.monitor_uid = "uid-2";
  Result<std::vector<StateEvent>> refused = restored.Restore(kIdentity, other, RoundAt(1));
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.error(), ::testing::HasSubstr("uid-2"));
}

// The machine keeps no identity: events, incident ids and saved snapshots carry the one its owner
// hands over (so the events of a renamed monitor carry its new key).
TEST(MonitorStateMachineTest, EventsAndSnapshotsCarryTheOwnersIdentity) {
  Driver d(Config(kOne, 1, 1, 1));
  d.Round(0, {kDown});
  ASSERT_EQ(d.events().size(), 1u);
  EXPECT_EQ(d.events()[0].monitor_uid, "uid-1");
  EXPECT_EQ(d.events()[0].monitor_key, "shop/checkout");
  EXPECT_EQ(
      d.events()[0].opened_incident_id,
      "uid-1-" +
          std::to_string(
              std::chrono::duration_cast<milliseconds>(RoundAt(0).time_since_epoch()).count()));

  const MonitorStateSnapshot saved = d.machine().Snapshot(kIdentity);
  EXPECT_EQ(saved.monitor_uid, "uid-1");
  EXPECT_EQ(saved.monitor_key, "shop/checkout");
  EXPECT_EQ(static_cast<const MonitorProgress&>(saved), d.machine().progress());

  const MonitorIdentity renamed{"uid-1", "web", "checkout-v2"};
  ObserveResult observed =
      d.machine().Observe(renamed, MakeResult("eu", kUp, RoundAt(1)), RoundAt(1) + seconds(1));
  ASSERT_EQ(observed.events.size(), 1u);
  EXPECT_EQ(observed.events[0].monitor_uid, "uid-1");
  EXPECT_EQ(observed.events[0].monitor_key, "web/checkout-v2");
  EXPECT_EQ(observed.events[0].resolved_incident_id, d.events()[0].opened_incident_id);
  EXPECT_EQ(d.machine().Snapshot(renamed).monitor_key, "web/checkout-v2");

  const MonitorIdentity stranger{"uid-2", "shop", "checkout"};
  EXPECT_FALSE(
      d.machine().Observe(stranger, MakeResult("eu", kDown, RoundAt(2)), RoundAt(2)).accepted);
}

// The operator keeps one machine per monitor, for tens of thousands of monitors: what a steady
// monitor holds must stay small.
TEST(MonitorStateMachineTest, FitsItsMemoryBudget) {
  // jemalloc size classes on 64-bit libstdc++ (other standard libraries are smaller).
  EXPECT_LE(sizeof(MonitorStateMachine), 160u);
  EXPECT_LE(sizeof(RegionStateSnapshot), 112u);
  // The expected regions are kept once, as the per-region records: no list of names besides
  // them (a one-region monitor saved a 24-byte vector and its 32-byte buffer).
  EXPECT_EQ(sizeof(MonitorStateMachine), sizeof(StateMachineRules) + sizeof(MonitorProgress));
  MonitorStateMachine machine(Config(kTwo), kStart);
  ASSERT_EQ(machine.progress().regions.size(), 2u);
  EXPECT_EQ(machine.progress().regions.capacity(), 2u);
}

TEST(MonitorStateMachineTest, ExpectsTheRegionsOfItsRecords) {
  MonitorStateMachine machine(Config({"us", "eu", "us"}), kStart);
  ASSERT_EQ(machine.progress().regions.size(), 2u) << "sorted and unique";
  EXPECT_EQ(machine.progress().regions[0].region, "eu");
  EXPECT_TRUE(machine.ExpectsRegion("eu"));
  EXPECT_TRUE(machine.ExpectsRegion("us"));
  EXPECT_FALSE(machine.ExpectsRegion("ap"));
  EXPECT_FALSE(machine.ExpectsRegion(""));
  machine.Reconfigure(kIdentity, Config({"ap", "eu"}), RoundAt(1));
  EXPECT_TRUE(machine.ExpectsRegion("ap"));
  EXPECT_FALSE(machine.ExpectsRegion("us"));
}

// A stored state from when the monitor had other regions: the configuration in force decides
// which regions count, for the quorum too.
TEST(MonitorStateMachineTest, RestoreKeepsTheExpectedRegionsOfTheConfiguration) {
  Driver first(Config({"eu", "us"}, 1, 1, 1));
  first.Round(0, {kUp, kUp});
  // Now {ap, eu} with a majority quorum: two regions, both must be down.
  MonitorStateMachine restored(Config({"ap", "eu"}, std::nullopt, 1, 1), RoundAt(1));
  Result<std::vector<StateEvent>> events =
      restored.Restore(kIdentity, first.machine().Snapshot(kIdentity), RoundAt(1));
  ASSERT_TRUE(events.ok());
  EXPECT_THAT(*events, IsEmpty());
  ASSERT_EQ(restored.progress().regions.size(), 2u);
  EXPECT_EQ(restored.progress().regions[0].region, "ap");
  EXPECT_EQ(restored.progress().regions[0].state, S::kPending);
  EXPECT_EQ(restored.progress().regions[1].region, "eu");
  EXPECT_EQ(restored.progress().regions[1].state, S::kUp);
  EXPECT_FALSE(restored.ExpectsRegion("us"));

  const TimePoint at = RoundAt(1) + seconds(1);
  EXPECT_FALSE(restored.Observe(kIdentity, MakeResult("us", kDown, RoundAt(1)), at).accepted);
  restored.Observe(kIdentity, MakeResult("eu", kDown, RoundAt(1)), at);
  ObserveResult ap = restored.Observe(kIdentity, MakeResult("ap", kUp, RoundAt(1)), at);
  EXPECT_THAT(ap.events, IsEmpty()) << "one of two regions down is no majority";
  EXPECT_EQ(restored.state(), S::kUp);
  restored.Observe(kIdentity, MakeResult("eu", kDown, RoundAt(2)), at);
  ObserveResult down = restored.Observe(kIdentity, MakeResult("ap", kDown, RoundAt(2)), at);
  ASSERT_EQ(down.events.size(), 1u);
  EXPECT_EQ(down.events[0].to, S::kDown);
  EXPECT_EQ(restored.rules().failure_threshold, 1);
}

// An Invalid state keeps the records it was stored with (of the expected regions) until a valid
// configuration comes, which brings back every expected region.
TEST(MonitorStateMachineTest, RestoredInvalidStateGetsItsRegionsWhenReconfigured) {
  Driver first(Config(kOne));
  first.machine().MarkInvalid(kIdentity, "bad url", RoundAt(0));
  MonitorStateMachine restored(Config(kTwo), RoundAt(1));
  ASSERT_TRUE(restored.Restore(kIdentity, first.machine().Snapshot(kIdentity), RoundAt(1)).ok());
  EXPECT_EQ(restored.state(), S::kInvalid);
  ASSERT_EQ(restored.progress().regions.size(), 1u);
  EXPECT_EQ(restored.progress().regions[0].region, "eu");

  std::vector<StateEvent> events = restored.Reconfigure(kIdentity, Config(kTwo), RoundAt(2));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].to, S::kPending);
  ASSERT_EQ(restored.progress().regions.size(), 2u);
  EXPECT_TRUE(restored.ExpectsRegion("us"));
}

TEST(MonitorStateMachineTest, ClosedRoundsLeaveNoStorageBehind) {
  Driver one(Config(kOne, 1, 1, 1));
  one.Round(0, {kUp});
  one.Round(1, {kDown});
  EXPECT_EQ(one.machine().progress().open_rounds.capacity(), 0u);

  Driver two(Config(kTwo, 1, 1, 1));
  two.Feed(MakeResult("eu", kUp, RoundAt(0)));
  ASSERT_EQ(two.machine().progress().open_rounds.size(), 1u);
  two.Feed(MakeResult("us", kUp, RoundAt(0)));
  EXPECT_EQ(two.machine().state(), S::kUp);
  EXPECT_EQ(two.machine().progress().open_rounds.capacity(), 0u);

  two.Feed(MakeResult("eu", kUp, RoundAt(1)));  // "us" stays silent: closed by its deadline
  ASSERT_EQ(two.machine().progress().open_rounds.size(), 1u);
  two.machine().Tick(kIdentity, RoundAt(1) + seconds(40));
  EXPECT_EQ(two.machine().progress().last_round_at, RoundAt(1));
  EXPECT_EQ(two.machine().progress().open_rounds.capacity(), 0u);
}

TEST(MonitorStateMachineTest, RecoveryFreesTheMessagesOfTheOutage) {
  const std::string long_error(200, 'x');
  Driver d(Config(kOne, 1, 1, 1));
  d.now() = RoundAt(0) + seconds(1);
  d.Feed(MakeResult("eu", kDown, RoundAt(0), long_error));
  ASSERT_EQ(d.machine().state(), S::kDown);
  ASSERT_EQ(d.machine().progress().reason, "eu: " + long_error);
  d.now() = RoundAt(1) + seconds(1);
  d.Feed(MakeResult("eu", kError, RoundAt(1), long_error));
  ASSERT_EQ(d.machine().progress().regions[0].probe_error_message, long_error);

  d.Round(2, {kUp});
  const MonitorProgress& snapshot = d.machine().progress();
  ASSERT_EQ(snapshot.state, S::kUp);
  EXPECT_FALSE(d.events().back().resolved_incident_id.empty());
  // An empty CompactString is one null pointer: no buffer of the outage's messages is kept.
  static_assert(sizeof(CompactString) == sizeof(void*));
  EXPECT_TRUE(snapshot.reason.empty());
  EXPECT_TRUE(snapshot.streak_first_error.empty());
  EXPECT_TRUE(snapshot.open_incident_id.empty());
  EXPECT_TRUE(snapshot.regions[0].message.empty());
  EXPECT_TRUE(snapshot.regions[0].probe_error_message.empty());
}

TEST(MonitorStateMachineTest, ConfigFromMonitor) {
  Monitor monitor;
  monitor.namespace_name = "shop";
  monitor.name = "checkout";
  monitor.uid = "abc";
  monitor.timeout = milliseconds(10'000);
  monitor.alerting.failure_threshold = 3;
  monitor.alerting.success_threshold = 2;
  monitor.alerting.region_quorum = std::nullopt;
  StateMachineSettings config = StateMachineSettings::FromMonitor(monitor, {"eu", "us"});
  EXPECT_THAT(config.regions, ElementsAre("eu", "us"));
  EXPECT_EQ(config.failure_threshold, 3);
  EXPECT_EQ(config.success_threshold, 2);
  EXPECT_FALSE(config.region_quorum.has_value());
  EXPECT_EQ(config.round_timeout, milliseconds(40'000));
  monitor.regions = {"ap"};
  EXPECT_THAT(StateMachineSettings::FromMonitor(monitor, {"eu", "us"}).regions, ElementsAre("ap"));
}

TEST(MonitorStateMachineTest, IdentityOfMonitor) {
  Monitor monitor;
  monitor.namespace_name = "shop";
  monitor.name = "checkout";
  monitor.uid = "abc";
  const MonitorIdentity identity = MonitorIdentity::Of(monitor);
  EXPECT_EQ(identity.uid, "abc");
  EXPECT_EQ(identity.namespace_name, "shop");
  EXPECT_EQ(identity.name, "checkout");
  EXPECT_EQ(identity.Key(), "shop/checkout");
}

TEST(MonitorStateTest, NamesRoundTrip) {
  for (MonitorState s :
       {S::kPending, S::kUp, S::kDegraded, S::kDown, S::kPaused, S::kMaintenance, S::kInvalid}) {
    EXPECT_EQ(ParseMonitorState(ToString(s)), s);
  }
  EXPECT_EQ(ParseMonitorState("up"), std::nullopt);
}

}  // namespace
}  // namespace pharos
