#include "operator/control/scheduler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/manual_clock.h"
#include "common/stable_hash.h"
#include "operator/control/work_dispatcher.h"

namespace pharos {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

constexpr Millis k10s = Millis(10'000);
constexpr Millis k1m = Millis(60'000);
constexpr Millis k5m = Millis(300'000);

int64_t EpochMs(Clock::TimePoint time) {
  return std::chrono::floor<Millis>(time.time_since_epoch()).count();
}

// A Kubernetes-like UID, deterministic in `n`.
std::string FakeUid(int n) {
  const uint64_t a = StableHash64("a" + std::to_string(n));
  const uint64_t b = StableHash64("b" + std::to_string(n));
  char text[40];
  std::snprintf(text, sizeof text, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xffff),
                static_cast<unsigned>(b >> 48),
                static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return text;
}

Monitor MakeMonitor(const std::string& uid, Millis frequency,
                    std::vector<std::string> regions = {"eu"}) {
  Monitor monitor;
  monitor.namespace_name = "shop";
  monitor.name = "mon-" + uid;
  monitor.uid = uid;
  monitor.generation = 1;
  monitor.frequency = frequency;
  monitor.timeout = Millis(5'000);
  monitor.regions = std::move(regions);
  return monitor;
}

class SchedulerTest : public ::testing::Test {
 protected:
  static WorkDispatcher::Options DispatcherOptions() {
    WorkDispatcher::Options options;
    options.lease_grace = Millis(5'000);
    return options;
  }

  // Advances to `time` and ticks.
  void TickAt(Clock::TimePoint time) {
    clock_.Advance(time - clock_.Now());
    scheduler_.Tick();
  }

  // Leases everything queued in `region` and acks it, as a fast probe would.
  std::vector<WorkItem> Drain(const std::string& region) {
    auto items = dispatcher_.Lease(region, "probe", 1'000'000);
    for (const auto& item : items) {
      EXPECT_EQ(dispatcher_.Complete(item.id), AckResult::kAcked);
    }
    return items;
  }

  ManualClock clock_;
  WorkDispatcher dispatcher_{clock_, DispatcherOptions()};
  Scheduler scheduler_{clock_, dispatcher_, Scheduler::Options{{"local"}, Millis(1'000)}};
};

TEST_F(SchedulerTest, PhaseIsStableAcrossProcessesAndBuilds) {
  // Golden values: if these change, every monitor of every installation moves in its period.
  EXPECT_EQ(Scheduler::PhaseFor("0b7e5b4a-6f0e-4c1e-9a53-3c1d2f0e8a11", k1m), Millis(57'317));
  EXPECT_EQ(Scheduler::PhaseFor("shop/checkout-api", Millis(3'600'000)), Millis(541'916));
  EXPECT_EQ(StableHash64(""), 0xefd01f60ba992926ULL);

  // A second scheduler (a restarted operator) puts the monitor at the same phase.
  ASSERT_TRUE(scheduler_.Upsert(MakeMonitor("0b7e5b4a-6f0e-4c1e-9a53-3c1d2f0e8a11", k1m)).ok());
  WorkDispatcher other_dispatcher(clock_, DispatcherOptions());
  Scheduler restarted(clock_, other_dispatcher, Scheduler::Options{{"local"}, Millis(1'000)});
  ASSERT_TRUE(restarted.Upsert(MakeMonitor("0b7e5b4a-6f0e-4c1e-9a53-3c1d2f0e8a11", k1m)).ok());
  EXPECT_EQ(scheduler_.Find("0b7e5b4a-6f0e-4c1e-9a53-3c1d2f0e8a11")->phase, Millis(57'317));
  EXPECT_EQ(restarted.Find("0b7e5b4a-6f0e-4c1e-9a53-3c1d2f0e8a11")->next_due,
            scheduler_.Find("0b7e5b4a-6f0e-4c1e-9a53-3c1d2f0e8a11")->next_due);

  for (Millis period : kFrequencyClasses) {
    for (int i = 0; i < 100; ++i) {
      const Millis phase = Scheduler::PhaseFor(FakeUid(i), period);
      EXPECT_GE(phase.count(), 0);
      EXPECT_LT(phase, period);
    }
  }
}

// 10,000 one-minute monitors fire spread over the minute: each one-second bucket holds
// 10000/60 ≈ 167 ± 25 % of them (a fixed set of UIDs, so the result is deterministic).
void ExpectEvenSpread(const std::vector<std::string>& uids) {
  ManualClock clock;
  WorkDispatcher dispatcher(clock, WorkDispatcher::Options{});
  Scheduler scheduler(clock, dispatcher, Scheduler::Options{{"local"}, Millis(1'000)});
  for (const auto& uid : uids) {
    ASSERT_TRUE(scheduler.Upsert(MakeMonitor(uid, k1m, {})).ok());
  }
  const auto start = clock.Now();  // a minute boundary
  std::array<int, 60> per_second{};
  size_t emitted = 0;
  for (int second = 0; second < 60; ++second) {
    clock.Advance(start + seconds(second) - clock.Now());
    scheduler.Tick();
    for (const auto& item : dispatcher.Lease("local", "probe", 1'000'000)) {
      EXPECT_EQ(dispatcher.Complete(item.id), AckResult::kAcked);
      const auto offset = item.scheduled_at - start;
      ASSERT_GE(offset, Millis(0));
      ASSERT_LT(offset, seconds(60));
      per_second[std::chrono::duration_cast<seconds>(offset).count()]++;
      ++emitted;
    }
  }
  clock.Advance(start + seconds(60) - Millis(1) - clock.Now());
  scheduler.Tick();
  for (const auto& item : dispatcher.Lease("local", "probe", 1'000'000)) {
    EXPECT_EQ(dispatcher.Complete(item.id), AckResult::kAcked);
    per_second[std::chrono::duration_cast<seconds>(item.scheduled_at - start).count()]++;
    ++emitted;
  }
  EXPECT_EQ(emitted, uids.size()) << "every monitor fires exactly once a minute";
  const double even = static_cast<double>(uids.size()) / 60.0;
  for (int second = 0; second < 60; ++second) {
    EXPECT_GT(per_second[second], even * 0.75) << "second " << second;
    EXPECT_LT(per_second[second], even * 1.25) << "second " << second;
  }
}

TEST(SchedulerSpreadTest, TenThousandKubernetesUidsSpreadEvenlyOverTheMinute) {
  std::vector<std::string> uids;
  uids.reserve(10'000);
  for (int i = 0; i < 10'000; ++i) {
    uids.push_back(FakeUid(i));
  }
  ExpectEvenSpread(uids);
}

TEST(SchedulerSpreadTest, TenThousandSequentialNamesSpreadEvenlyOverTheMinute) {
  std::vector<std::string> uids;  // file-based monitors: uid derived from namespace/name
  uids.reserve(10'000);
  for (int i = 0; i < 10'000; ++i) {
    uids.push_back("default/monitor-" + std::to_string(i));
  }
  ExpectEvenSpread(uids);
}

TEST_F(SchedulerTest, NoDriftOverTwentyFourHoursOfIrregularTicks) {
  std::vector<Monitor> monitors;
  for (size_t i = 0; i < kFrequencyClassCount; ++i) {
    monitors.push_back(
        MakeMonitor(FakeUid(static_cast<int>(i)), kFrequencyClasses[i], {"eu", "us"}));
    ASSERT_TRUE(scheduler_.Upsert(monitors.back()).ok());
  }
  const auto start = clock_.Now();  // midnight: every period divides the day
  const auto end = start + hours(24);
  std::map<std::pair<std::string, std::string>, std::vector<int64_t>> slots;
  double worst_lateness = 0;
  dispatcher_.SetLatenessObserver(
      [&](Millis, double seconds) { worst_lateness = std::max(worst_lateness, seconds); });

  uint64_t step = 0;
  while (clock_.Now() < end - Millis(1)) {
    // Ticks arrive late by anything from 1 ms to just under the shortest period.
    const auto jump =
        Millis(1 + static_cast<int64_t>(StableHash64(std::to_string(step++)) % 9'999));
    TickAt(std::min(clock_.Now() + jump, end - Millis(1)));
    for (const char* region : {"eu", "us"}) {
      for (const auto& item : Drain(region)) {
        slots[{item.monitor_uid, item.region}].push_back(EpochMs(item.scheduled_at));
      }
    }
  }

  ASSERT_EQ(slots.size(), 2 * kFrequencyClassCount);
  for (const auto& monitor : monitors) {
    const int64_t period = monitor.frequency.count();
    const int64_t phase = Scheduler::PhaseFor(monitor.uid, monitor.frequency).count();
    for (const char* region : {"eu", "us"}) {
      const auto& times = slots[{monitor.uid, region}];
      SCOPED_TRACE(monitor.uid + " every " + std::to_string(period) + "ms in " + region);
      EXPECT_EQ(static_cast<int64_t>(times.size()), 86'400'000 / period);
      for (size_t i = 0; i < times.size(); ++i) {
        EXPECT_EQ((times[i] - phase) % period, 0) << "slot " << i << " is off the grid";
        if (i > 0) {
          EXPECT_EQ(times[i] - times[i - 1], period) << "slot " << i;
        }
      }
    }
  }
  EXPECT_EQ(scheduler_.totals().missed_slots, 0u);
  EXPECT_LT(worst_lateness, 10.0);
  EXPECT_EQ(dispatcher_.Totals().coalesced, 0u);
}

TEST_F(SchedulerTest, StalledProcessEmitsOnlyTheLatestSlotAndCountsTheRest) {
  const auto uid = FakeUid(1);
  ASSERT_TRUE(scheduler_.Upsert(MakeMonitor(uid, k10s)).ok());
  const auto first = *scheduler_.Find(uid)->next_due;
  TickAt(first);
  ASSERT_THAT(Drain("eu"), SizeIs(1));

  TickAt(first + seconds(35));  // slots at +10 s and +20 s were missed, +30 s is the latest
  auto items = Drain("eu");
  ASSERT_THAT(items, SizeIs(1));
  EXPECT_EQ(items[0].scheduled_at, first + seconds(30));
  EXPECT_EQ(scheduler_.totals().missed_slots, 2u);
  EXPECT_EQ(scheduler_.Find(uid)->next_due, first + seconds(40)) << "the grid is unchanged";
}

TEST_F(SchedulerTest, LateTickKeepsItemsOnTheirSlot) {
  const auto uid = FakeUid(2);
  ASSERT_TRUE(scheduler_.Upsert(MakeMonitor(uid, k1m)).ok());
  const auto first = *scheduler_.Find(uid)->next_due;
  std::vector<double> lateness;
  dispatcher_.SetLatenessObserver([&](Millis, double seconds) { lateness.push_back(seconds); });

  TickAt(first + seconds(7));
  auto items = Drain("eu");
  ASSERT_THAT(items, SizeIs(1));
  EXPECT_EQ(items[0].scheduled_at, first);
  EXPECT_EQ(items[0].deadline, first + k1m);
  EXPECT_EQ(scheduler_.Find(uid)->next_due, first + k1m);
  EXPECT_THAT(lateness, ElementsAre(7.0));
  EXPECT_EQ(scheduler_.totals().missed_slots, 0u);
}

TEST_F(SchedulerTest, ItemsCarryTheMonitorsIdentity) {
  const auto uid = FakeUid(3);
  auto monitor = MakeMonitor(uid, k1m);
  monitor.generation = 4;
  monitor.timeout = Millis(2'500);
  ASSERT_TRUE(scheduler_.Upsert(monitor).ok());
  const auto due = *scheduler_.Find(uid)->next_due;
  TickAt(due);
  auto items = Drain("eu");
  ASSERT_THAT(items, SizeIs(1));
  const WorkItem& item = items[0];
  EXPECT_EQ(item.id, uid + "@eu@" + std::to_string(EpochMs(due)));
  EXPECT_EQ(item.id, Scheduler::ItemId(uid, "eu", due));
  EXPECT_EQ(item.monitor_uid, uid);
  EXPECT_EQ(item.monitor_key, "shop/mon-" + uid);
  EXPECT_EQ(item.generation, 4);
  EXPECT_EQ(item.region, "eu");
  EXPECT_EQ(item.frequency, k1m);
  EXPECT_EQ(item.timeout, Millis(2'500));
  EXPECT_EQ(item.scheduled_at, due);
  EXPECT_EQ(item.attempt, 1);
  EXPECT_EQ(scheduler_.totals().emitted, 1u);
}

TEST_F(SchedulerTest, NewMonitorIsScheduledAtOnceOnItsPhase) {
  TickAt(clock_.Now() + seconds(17));
  const auto uid = FakeUid(4);
  const auto phase = Scheduler::PhaseFor(uid, k1m);
  ASSERT_TRUE(scheduler_.Upsert(MakeMonitor(uid, k1m)).ok());
  const auto next_due = scheduler_.Find(uid)->next_due;
  ASSERT_TRUE(next_due.has_value());
  EXPECT_GE(*next_due, clock_.Now());
  EXPECT_LT(*next_due, clock_.Now() + k1m);
  EXPECT_EQ(EpochMs(*next_due) % k1m.count(), phase.count());
  EXPECT_EQ(scheduler_.NextDueTime(), next_due);

  TickAt(*next_due - Millis(1));
  EXPECT_THAT(Drain("eu"), IsEmpty());
  TickAt(*next_due);
  EXPECT_THAT(Drain("eu"), SizeIs(1));
}

TEST_F(SchedulerTest, ChangedMonitorKeepsItsPhaseAndItemsTakeTheNewGeneration) {
  const auto uid = FakeUid(5);
  auto monitor = MakeMonitor(uid, k1m);
  ASSERT_TRUE(scheduler_.Upsert(monitor).ok());
  const auto first = *scheduler_.Find(uid)->next_due;
  TickAt(first);  // an item of generation 1 waits in the queue

  monitor.generation = 2;
  monitor.timeout = Millis(9'000);
  ASSERT_TRUE(scheduler_.Upsert(monitor).ok());
  EXPECT_EQ(scheduler_.Find(uid)->phase, Scheduler::PhaseFor(uid, k1m));
  EXPECT_EQ(scheduler_.Find(uid)->next_due, first + k1m);
  const auto queued = dispatcher_.Find(Scheduler::ItemId(uid, "eu", first));
  ASSERT_TRUE(queued.has_value());
  EXPECT_EQ(queued->generation, 2) << "a queued item is checked against the current spec";
  EXPECT_EQ(queued->timeout, Millis(9'000));
  ASSERT_THAT(Drain("eu"), SizeIs(1));

  TickAt(first + k1m);
  auto items = Drain("eu");
  ASSERT_THAT(items, SizeIs(1));
  EXPECT_EQ(items[0].generation, 2);
  EXPECT_EQ(items[0].scheduled_at, first + k1m);
}

TEST_F(SchedulerTest, UnchangedUpsertIsANoOp) {
  const auto uid = FakeUid(6);
  ASSERT_TRUE(scheduler_.Upsert(MakeMonitor(uid, k1m)).ok());
  const auto before = scheduler_.Find(uid)->next_due;
  TickAt(clock_.Now() + seconds(1));
  ASSERT_TRUE(scheduler_.Upsert(MakeMonitor(uid, k1m)).ok());
  EXPECT_EQ(scheduler_.Find(uid)->next_due, before);
  EXPECT_EQ(scheduler_.totals().monitors, 1u);
}

TEST_F(SchedulerTest, FrequencyChangeMovesTheMonitorToItsNewPhase) {
  const auto uid = FakeUid(7);
  auto monitor = MakeMonitor(uid, k1m);
  ASSERT_TRUE(scheduler_.Upsert(monitor).ok());
  TickAt(*scheduler_.Find(uid)->next_due);
  ASSERT_THAT(Drain("eu"), SizeIs(1));

  monitor.frequency = k5m;
  monitor.generation = 2;
  ASSERT_TRUE(scheduler_.Upsert(monitor).ok());
  const auto schedule = *scheduler_.Find(uid);
  EXPECT_EQ(schedule.frequency, k5m);
  EXPECT_EQ(schedule.phase, Scheduler::PhaseFor(uid, k5m));
  const auto next = *schedule.next_due;
  EXPECT_GE(next, clock_.Now());
  EXPECT_LT(next, clock_.Now() + k5m);
  EXPECT_EQ(EpochMs(next) % k5m.count(), schedule.phase.count());

  std::vector<Clock::TimePoint> emitted;
  for (int i = 0; i < 15; ++i) {
    TickAt(clock_.Now() + k1m);
    for (const auto& item : Drain("eu")) {
      emitted.push_back(item.scheduled_at);
      EXPECT_EQ(item.frequency, k5m);
    }
  }
  ASSERT_THAT(emitted, SizeIs(3));
  EXPECT_EQ(emitted[0], next);
  EXPECT_EQ(emitted[1], next + k5m);
  EXPECT_EQ(emitted[2], next + 2 * k5m);
}

TEST_F(SchedulerTest, SuspendedMonitorProducesNoItemsAndResumesOnItsPhase) {
  const auto uid = FakeUid(8);
  auto monitor = MakeMonitor(uid, k10s);
  ASSERT_TRUE(scheduler_.Upsert(monitor).ok());
  const auto first = *scheduler_.Find(uid)->next_due;
  TickAt(first);
  EXPECT_EQ(dispatcher_.QueueDepth("eu", k10s), 1u);

  monitor.suspend = true;
  ASSERT_TRUE(scheduler_.Upsert(monitor).ok());
  EXPECT_EQ(dispatcher_.QueueDepth("eu", k10s), 0u) << "the waiting item is dropped";
  EXPECT_EQ(scheduler_.Find(uid)->next_due, std::nullopt);
  EXPECT_EQ(scheduler_.NextDueTime(), std::nullopt);
  for (int i = 0; i < 60; ++i) {
    TickAt(clock_.Now() + k10s);
  }
  EXPECT_THAT(Drain("eu"), IsEmpty());
  EXPECT_EQ(scheduler_.totals().scheduled, 0u);
  EXPECT_EQ(scheduler_.totals().monitors, 1u);

  TickAt(clock_.Now() + Millis(3'333));
  monitor.suspend = false;
  ASSERT_TRUE(scheduler_.Upsert(monitor).ok());
  const auto resumed = *scheduler_.Find(uid)->next_due;
  EXPECT_EQ((EpochMs(resumed) - EpochMs(first)) % k10s.count(), 0) << "same phase as before";
  EXPECT_GE(resumed, clock_.Now());
  TickAt(resumed);
  EXPECT_THAT(Drain("eu"), SizeIs(1));
}

TEST_F(SchedulerTest, RemovedMonitorStopsAndItsQueuedItemsAreDropped) {
  const auto uid = FakeUid(9);
  ASSERT_TRUE(scheduler_.Upsert(MakeMonitor(uid, k10s, {"eu", "us"})).ok());
  TickAt(*scheduler_.Find(uid)->next_due);
  EXPECT_EQ(dispatcher_.Totals().queued, 2u);

  EXPECT_TRUE(scheduler_.Remove(uid));
  EXPECT_FALSE(scheduler_.Remove(uid));
  EXPECT_EQ(dispatcher_.Totals().queued, 0u);
  EXPECT_EQ(scheduler_.Find(uid), std::nullopt);
  TickAt(clock_.Now() + minutes(5));
  EXPECT_THAT(scheduler_.KnownRegions(), ElementsAre("local")) << "no monitor names eu or us";
  EXPECT_THAT(Drain("eu"), IsEmpty());
  EXPECT_THAT(Drain("us"), IsEmpty());

  // The same UID can come back (an entry slot is reused without confusing the heap).
  ASSERT_TRUE(scheduler_.Upsert(MakeMonitor(uid, k10s)).ok());
  TickAt(*scheduler_.Find(uid)->next_due);
  EXPECT_THAT(Drain("eu"), SizeIs(1));
}

TEST_F(SchedulerTest, FansOutToEveryRegionItNamesOrEveryKnownRegion) {
  const auto named = FakeUid(10);
  const auto everywhere = FakeUid(11);
  ASSERT_TRUE(scheduler_.Upsert(MakeMonitor(named, k1m, {"eu", "us"})).ok());
  ASSERT_TRUE(scheduler_.Upsert(MakeMonitor(everywhere, k1m, {})).ok());
  dispatcher_.TouchProbe("ap", "probe-ap-1");  // a region known only from its probe
  EXPECT_THAT(scheduler_.KnownRegions(), ElementsAre("ap", "eu", "local", "us"));

  TickAt(clock_.Now() + k1m - Millis(1));  // both monitors are due in the first minute
  std::map<std::string, std::vector<std::string>> regions_of;
  for (const char* region : {"ap", "eu", "local", "us"}) {
    for (const auto& item : Drain(region)) {
      EXPECT_EQ(item.region, region);
      regions_of[item.monitor_uid].push_back(item.region);
    }
  }
  EXPECT_THAT(regions_of[named], ElementsAre("eu", "us"));
  EXPECT_THAT(regions_of[everywhere], ElementsAre("ap", "eu", "local", "us"));
}

TEST_F(SchedulerTest, RegionChangeDropsWaitingItemsOfRemovedRegions) {
  const auto uid = FakeUid(12);
  auto monitor = MakeMonitor(uid, k1m, {"eu", "us"});
  ASSERT_TRUE(scheduler_.Upsert(monitor).ok());
  TickAt(*scheduler_.Find(uid)->next_due);
  monitor.regions = {"eu"};
  monitor.generation = 2;
  ASSERT_TRUE(scheduler_.Upsert(monitor).ok());
  EXPECT_THAT(scheduler_.KnownRegions(), ElementsAre("eu", "local"));
  EXPECT_THAT(Drain("us"), IsEmpty());
  EXPECT_THAT(Drain("eu"), SizeIs(1));
}

TEST_F(SchedulerTest, RejectsMonitorsItCannotSchedule) {
  auto no_uid = MakeMonitor("", k1m);
  auto status = scheduler_.Upsert(no_uid);
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.error(), HasSubstr("uid"));

  auto odd_frequency = MakeMonitor(FakeUid(13), Millis(15'000));
  status = scheduler_.Upsert(odd_frequency);
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.error(), HasSubstr("spec.frequency"));

  auto no_timeout = MakeMonitor(FakeUid(14), k1m);
  no_timeout.timeout = Millis(0);
  status = scheduler_.Upsert(no_timeout);
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.error(), HasSubstr("spec.timeout"));
  EXPECT_EQ(scheduler_.totals().monitors, 0u);
}

TEST_F(SchedulerTest, ItemNobodyLeasesIsCoalescedByTheNextRound) {
  const auto uid = FakeUid(15);
  ASSERT_TRUE(scheduler_.Upsert(MakeMonitor(uid, k10s)).ok());
  const auto first = *scheduler_.Find(uid)->next_due;
  for (int round = 0; round < 5; ++round) {
    TickAt(first + round * k10s);
  }
  EXPECT_EQ(dispatcher_.QueueDepth("eu", k10s), 1u);
  EXPECT_EQ(dispatcher_.Totals().coalesced, 4u);
  auto items = Drain("eu");
  ASSERT_THAT(items, SizeIs(1));
  EXPECT_EQ(items[0].scheduled_at, first + 4 * k10s);
}

TEST_F(SchedulerTest, TickExpiresLeasesAndReportsAFailureAfterThreeRedeliveries) {
  std::vector<CheckResult> failures;
  dispatcher_.SetFailureHandler([&](const CheckResult& result) { failures.push_back(result); });
  const auto uid = FakeUid(16);
  ASSERT_TRUE(scheduler_.Upsert(MakeMonitor(uid, Millis(3'600'000))).ok());
  TickAt(*scheduler_.Find(uid)->next_due);

  for (int attempt = 1; attempt <= 4; ++attempt) {
    auto leased = dispatcher_.Lease("eu", "crashing-probe", 10);
    ASSERT_THAT(leased, SizeIs(1));
    EXPECT_EQ(leased[0].attempt, attempt);
    const auto next = scheduler_.Tick();
    ASSERT_TRUE(next.has_value());
    EXPECT_EQ(*next, clock_.Now() + seconds(10)) << "wakes for the lease expiry (5 s + 5 s)";
    TickAt(*next);
  }
  ASSERT_THAT(failures, SizeIs(1));
  EXPECT_EQ(failures[0].outcome, Outcome::kError);
  EXPECT_EQ(failures[0].monitor_uid, uid);
  EXPECT_EQ(dispatcher_.Totals().redelivered, 3u);
}

TEST_F(SchedulerTest, RunTicksWhenWokenAndStopsOnRequest) {
  const auto uid = FakeUid(17);
  ASSERT_TRUE(scheduler_.Upsert(MakeMonitor(uid, k1m)).ok());
  clock_.Advance(*scheduler_.Find(uid)->next_due - clock_.Now());

  auto wait_for_depth = [&](size_t depth) {
    const auto give_up = std::chrono::steady_clock::now() + seconds(10);
    while (dispatcher_.Totals().enqueued < depth && std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(milliseconds(1));
    }
    return dispatcher_.Totals().enqueued;
  };
  {
    std::jthread loop([this](const std::stop_token& stop) { scheduler_.Run(stop); });
    EXPECT_EQ(wait_for_depth(1), 1u);
    clock_.Advance(k1m);
    scheduler_.Wake();
    EXPECT_EQ(wait_for_depth(2), 2u);
  }  // the jthread requests stop and joins: Run returns promptly
  EXPECT_EQ(scheduler_.totals().emitted, 2u);
}

}  // namespace
}  // namespace pharos
