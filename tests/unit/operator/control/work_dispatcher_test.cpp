#include "operator/control/work_dispatcher.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/manual_clock.h"

namespace pharos {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;

constexpr Millis k10s = Millis(10'000);
constexpr Millis k1m = Millis(60'000);
constexpr Millis k1h = Millis(3'600'000);
constexpr Millis kNoBatchWait = Millis(0);
constexpr Millis kBatchWait = Millis(20);  // what the probe API asks

class WorkDispatcherTest : public ::testing::Test {
 protected:
  WorkDispatcher::Options DefaultOptions() {
    WorkDispatcher::Options options;
    options.lease_grace = Millis(5'000);
    options.max_redeliveries = 3;
    options.probe_timeout = Millis(60'000);
    return options;
  }

  WorkItem Item(const std::string& uid, const std::string& region, Millis frequency,
                Clock::TimePoint scheduled_at, Millis timeout = Millis(10'000)) {
    WorkItem item;
    item.id = uid + "@" + region + "@" +
              std::to_string(std::chrono::floor<Millis>(scheduled_at.time_since_epoch()).count());
    item.monitor_uid = uid;
    item.monitor_key = "shop/" + uid;
    item.generation = 1;
    item.region = region;
    item.frequency = frequency;
    item.timeout = timeout;
    item.scheduled_at = scheduled_at;
    item.deadline = scheduled_at + frequency;
    return item;
  }

  ManualClock clock_;
  WorkDispatcher dispatcher_{clock_, DefaultOptions()};
};

TEST_F(WorkDispatcherTest, FrequencyClassIndexKnowsEveryClass) {
  for (size_t i = 0; i < kFrequencyClassCount; ++i) {
    EXPECT_EQ(FrequencyClassIndex(kFrequencyClasses[i]), i);
  }
  EXPECT_EQ(FrequencyClassIndex(Millis(15'000)), std::nullopt);
}

TEST_F(WorkDispatcherTest, LeaseHandsOutQueuedItemsOnceWithVisibilityTimeout) {
  const auto now = clock_.Now();
  dispatcher_.Enqueue({Item("a", "eu", k1m, now), Item("b", "eu", k1m, now)});
  EXPECT_EQ(dispatcher_.QueueDepth("eu", k1m), 2u);

  auto leased = dispatcher_.Lease("eu", "probe-1", 10);
  ASSERT_THAT(leased, SizeIs(2));
  EXPECT_EQ(leased[0].monitor_uid, "a");
  EXPECT_EQ(leased[1].monitor_uid, "b");
  EXPECT_EQ(leased[0].attempt, 1);
  EXPECT_EQ(dispatcher_.QueueDepth("eu", k1m), 0u);
  EXPECT_THAT(dispatcher_.Lease("eu", "probe-2", 10), IsEmpty());
  EXPECT_THAT(dispatcher_.Lease("us", "probe-3", 10), IsEmpty());
  // Visibility timeout = check timeout (10 s) + grace (5 s).
  EXPECT_EQ(dispatcher_.NextEventTime(), now + seconds(15));
  EXPECT_EQ(dispatcher_.Totals().in_flight, 2u);
}

TEST_F(WorkDispatcherTest, LeaseRespectsMaxItems) {
  const auto now = clock_.Now();
  dispatcher_.Enqueue(
      {Item("a", "eu", k1m, now), Item("b", "eu", k1m, now), Item("c", "eu", k1m, now)});
  EXPECT_THAT(dispatcher_.Lease("eu", "p", 2), SizeIs(2));
  EXPECT_THAT(dispatcher_.Lease("eu", "p", 0), IsEmpty());
  EXPECT_THAT(dispatcher_.Lease("eu", "p", 2), SizeIs(1));
}

TEST_F(WorkDispatcherTest, CompleteIsIdempotentAndDistinguishesUnknownIds) {
  const auto now = clock_.Now();
  dispatcher_.Enqueue({Item("a", "eu", k1m, now)});
  auto leased = dispatcher_.Lease("eu", "p", 1);
  ASSERT_THAT(leased, SizeIs(1));
  EXPECT_EQ(dispatcher_.Complete(leased[0].id), AckResult::kAcked);
  EXPECT_EQ(dispatcher_.Complete(leased[0].id), AckResult::kAlreadyAcked);
  EXPECT_EQ(dispatcher_.Complete("never-issued"), AckResult::kUnknown);
  EXPECT_STREQ(ToString(AckResult::kAlreadyAcked), "already_acked");
  const auto totals = dispatcher_.Totals();
  EXPECT_EQ(totals.acked, 1u);
  EXPECT_EQ(totals.in_flight, 0u);
  // An acked item is not redelivered when its lease would have expired.
  clock_.Advance(seconds(16));
  dispatcher_.Tick();
  EXPECT_THAT(dispatcher_.Lease("eu", "p", 1), IsEmpty());
  EXPECT_EQ(dispatcher_.Totals().redelivered, 0u);
}

TEST_F(WorkDispatcherTest, AckMemoryIsBoundedInTime) {
  const auto now = clock_.Now();
  dispatcher_.Enqueue({Item("a", "eu", k1m, now)});
  auto leased = dispatcher_.Lease("eu", "p", 1);
  ASSERT_EQ(dispatcher_.Complete(leased[0].id), AckResult::kAcked);
  clock_.Advance(Millis(600'000));
  dispatcher_.Tick();
  EXPECT_EQ(dispatcher_.Complete(leased[0].id), AckResult::kUnknown);
}

TEST_F(WorkDispatcherTest, ExpiredLeaseIsRedeliveredWithNextAttempt) {
  const auto now = clock_.Now();
  dispatcher_.Enqueue({Item("a", "eu", k1m, now)});
  ASSERT_THAT(dispatcher_.Lease("eu", "p1", 1), SizeIs(1));

  clock_.Advance(seconds(14));
  dispatcher_.Tick();
  EXPECT_THAT(dispatcher_.Lease("eu", "p2", 1), IsEmpty()) << "lease not yet expired";

  clock_.Advance(seconds(1));
  dispatcher_.Tick();
  EXPECT_EQ(dispatcher_.QueueDepth("eu", k1m), 1u);
  auto again = dispatcher_.Lease("eu", "p2", 1);
  ASSERT_THAT(again, SizeIs(1));
  EXPECT_EQ(again[0].attempt, 2);
  EXPECT_EQ(again[0].id, Item("a", "eu", k1m, now).id) << "a redelivery keeps the item id";
  EXPECT_EQ(dispatcher_.Totals().redelivered, 1u);
}

TEST_F(WorkDispatcherTest, LeaseItselfExpiresOverdueLeasesWithoutTick) {
  dispatcher_.Enqueue({Item("a", "eu", k1m, clock_.Now())});
  ASSERT_THAT(dispatcher_.Lease("eu", "p1", 1), SizeIs(1));
  clock_.Advance(seconds(15));
  auto again = dispatcher_.Lease("eu", "p2", 1);
  ASSERT_THAT(again, SizeIs(1));
  EXPECT_EQ(again[0].attempt, 2);
}

TEST_F(WorkDispatcherTest, ReportsErrorAfterThreeRedeliveries) {
  std::vector<CheckResult> failures;
  dispatcher_.SetFailureHandler([&](const CheckResult& result) { failures.push_back(result); });
  const auto scheduled = clock_.Now();
  dispatcher_.Enqueue({Item("a", "eu", k1m, scheduled)});

  for (int attempt = 1; attempt <= 4; ++attempt) {
    auto leased = dispatcher_.Lease("eu", "probe-" + std::to_string(attempt), 1);
    ASSERT_THAT(leased, SizeIs(1)) << "attempt " << attempt;
    EXPECT_EQ(leased[0].attempt, attempt);
    EXPECT_THAT(failures, IsEmpty());
    clock_.Advance(seconds(15));
    dispatcher_.Tick();
  }

  ASSERT_THAT(failures, SizeIs(1));
  const CheckResult& failure = failures[0];
  EXPECT_EQ(failure.outcome, Outcome::kError);
  EXPECT_EQ(failure.error, "no probe completed the check");
  EXPECT_EQ(failure.monitor_uid, "a");
  EXPECT_EQ(failure.monitor_namespace, "shop");
  EXPECT_EQ(failure.monitor_name, "a");
  EXPECT_EQ(failure.region, "eu");
  EXPECT_EQ(failure.probe, "probe-4");
  EXPECT_EQ(failure.item_id, Item("a", "eu", k1m, scheduled).id);
  EXPECT_EQ(failure.scheduled_at, scheduled);
  EXPECT_EQ(failure.attempts, 4);
  EXPECT_THAT(dispatcher_.Lease("eu", "p", 1), IsEmpty());
  const auto totals = dispatcher_.Totals();
  EXPECT_EQ(totals.redelivered, 3u);
  EXPECT_EQ(totals.failed, 1u);
  EXPECT_EQ(dispatcher_.Complete(failure.item_id), AckResult::kUnknown);
}

TEST_F(WorkDispatcherTest, LateResultOfRedeliveredItemStillAcks) {
  dispatcher_.Enqueue({Item("a", "eu", k1m, clock_.Now())});
  auto leased = dispatcher_.Lease("eu", "slow-probe", 1);
  clock_.Advance(seconds(15));
  dispatcher_.Tick();
  EXPECT_EQ(dispatcher_.QueueDepth("eu", k1m), 1u);
  EXPECT_EQ(dispatcher_.Complete(leased[0].id), AckResult::kAcked);
  EXPECT_EQ(dispatcher_.QueueDepth("eu", k1m), 0u);
  EXPECT_THAT(dispatcher_.Lease("eu", "p", 1), IsEmpty());
}

TEST_F(WorkDispatcherTest, LeaseOfAResultBeingCommittedNeverExpires) {
  std::vector<CheckResult> failures;
  dispatcher_.SetFailureHandler([&](const CheckResult& result) { failures.push_back(result); });
  dispatcher_.Enqueue({Item("a", "eu", k1m, clock_.Now())});
  auto leased = dispatcher_.Lease("eu", "p1", 1);
  ASSERT_THAT(leased, SizeIs(1));
  clock_.Advance(seconds(10));
  ASSERT_TRUE(dispatcher_.BeginCommit(leased[0].id));

  // The commit takes far longer than the 15 s visibility timeout and every redelivery limit.
  for (int i = 0; i < 10; ++i) {
    clock_.Advance(seconds(15));
    dispatcher_.Tick();
    EXPECT_THAT(dispatcher_.Lease("eu", "p2", 1), IsEmpty()) << "round " << i;
  }
  EXPECT_EQ(dispatcher_.Totals().redelivered, 0u);
  EXPECT_EQ(dispatcher_.Totals().in_flight, 1u);
  EXPECT_THAT(failures, IsEmpty());

  EXPECT_EQ(dispatcher_.Complete(leased[0].id), AckResult::kAcked);
  EXPECT_EQ(dispatcher_.Totals().in_flight, 0u);
  EXPECT_EQ(dispatcher_.Complete(leased[0].id), AckResult::kAlreadyAcked);
  EXPECT_EQ(dispatcher_.NextEventTime(), std::nullopt);
}

TEST_F(WorkDispatcherTest, FailedCommitRestartsTheLeaseThenRedelivers) {
  dispatcher_.Enqueue({Item("a", "eu", k1m, clock_.Now())});
  auto leased = dispatcher_.Lease("eu", "p1", 1);
  ASSERT_TRUE(dispatcher_.BeginCommit(leased[0].id));
  clock_.Advance(seconds(60));
  dispatcher_.Tick();
  int wakeups = 0;
  dispatcher_.SetWakeup([&] { ++wakeups; });

  dispatcher_.AbortCommit(leased[0].id);
  EXPECT_EQ(wakeups, 1) << "the re-armed lease is the next event";
  EXPECT_EQ(dispatcher_.NextEventTime(), clock_.Now() + seconds(15));
  clock_.Advance(seconds(14));
  dispatcher_.Tick();
  EXPECT_THAT(dispatcher_.Lease("eu", "p2", 1), IsEmpty()) << "the probe may still resend";

  clock_.Advance(seconds(1));
  dispatcher_.Tick();
  auto again = dispatcher_.Lease("eu", "p2", 1);
  ASSERT_THAT(again, SizeIs(1)) << "never lost: redelivered once the re-armed lease expires";
  EXPECT_EQ(again[0].attempt, 2);
  EXPECT_EQ(dispatcher_.Totals().redelivered, 1u);
}

TEST_F(WorkDispatcherTest, LeaseIsHeldUntilEveryCommitOfItEnds) {
  dispatcher_.Enqueue({Item("a", "eu", k1m, clock_.Now())});
  auto leased = dispatcher_.Lease("eu", "p1", 1);
  ASSERT_TRUE(dispatcher_.BeginCommit(leased[0].id));
  ASSERT_TRUE(dispatcher_.BeginCommit(leased[0].id)) << "the probe resent its result";
  dispatcher_.AbortCommit(leased[0].id);
  clock_.Advance(seconds(60));
  dispatcher_.Tick();
  EXPECT_THAT(dispatcher_.Lease("eu", "p2", 1), IsEmpty()) << "one commit still runs";
  EXPECT_EQ(dispatcher_.Complete(leased[0].id), AckResult::kAcked);
  dispatcher_.AbortCommit(leased[0].id);  // acked meanwhile: nothing to re-arm
  EXPECT_EQ(dispatcher_.NextEventTime(), std::nullopt);
}

TEST_F(WorkDispatcherTest, OnlyLeasedItemsCanBeHeld) {
  const auto now = clock_.Now();
  dispatcher_.Enqueue({Item("a", "eu", k1m, now)});
  EXPECT_FALSE(dispatcher_.BeginCommit(Item("a", "eu", k1m, now).id)) << "queued";
  EXPECT_FALSE(dispatcher_.BeginCommit("nobody@eu@0")) << "unknown";
  auto leased = dispatcher_.Lease("eu", "p1", 1);
  clock_.Advance(seconds(15));
  dispatcher_.Tick();
  EXPECT_FALSE(dispatcher_.BeginCommit(leased[0].id)) << "queued again after its lease expired";
  EXPECT_EQ(dispatcher_.Complete(leased[0].id), AckResult::kAcked);
  EXPECT_FALSE(dispatcher_.BeginCommit(leased[0].id)) << "acked";
}

TEST_F(WorkDispatcherTest, QueuedItemIsCoalescedByTheNextOne) {
  const auto first = clock_.Now();
  dispatcher_.Enqueue({Item("a", "eu", k10s, first), Item("a", "us", k10s, first)});
  clock_.Advance(seconds(10));
  const auto second = clock_.Now();
  dispatcher_.Enqueue({Item("a", "eu", k10s, second)});

  EXPECT_EQ(dispatcher_.QueueDepth("eu", k10s), 1u);
  EXPECT_EQ(dispatcher_.QueueDepth("us", k10s), 1u) << "other regions are not coalesced";
  EXPECT_EQ(dispatcher_.Totals().coalesced, 1u);
  EXPECT_EQ(dispatcher_.Find(Item("a", "eu", k10s, first).id), std::nullopt);
  auto leased = dispatcher_.Lease("eu", "p", 10);
  ASSERT_THAT(leased, SizeIs(1));
  EXPECT_EQ(leased[0].scheduled_at, second);
  EXPECT_EQ(dispatcher_.Complete(Item("a", "eu", k10s, first).id), AckResult::kUnknown);
}

TEST_F(WorkDispatcherTest, LeasedItemIsNotCoalesced) {
  const auto first = clock_.Now();
  dispatcher_.Enqueue({Item("a", "eu", k10s, first)});
  auto leased = dispatcher_.Lease("eu", "p", 1);
  clock_.Advance(seconds(10));
  dispatcher_.Enqueue({Item("a", "eu", k10s, clock_.Now())});
  EXPECT_EQ(dispatcher_.Totals().coalesced, 0u);
  EXPECT_EQ(dispatcher_.Complete(leased[0].id), AckResult::kAcked);
  EXPECT_THAT(dispatcher_.Lease("eu", "p", 10), SizeIs(1));
}

TEST_F(WorkDispatcherTest, DuplicateIdIsIgnored) {
  const auto now = clock_.Now();
  dispatcher_.Enqueue({Item("a", "eu", k1m, now)});
  dispatcher_.Enqueue({Item("a", "eu", k1m, now)});
  EXPECT_EQ(dispatcher_.QueueDepth("eu", k1m), 1u);
  EXPECT_EQ(dispatcher_.Totals().enqueued, 1u);
  EXPECT_EQ(dispatcher_.Totals().coalesced, 0u);
}

TEST_F(WorkDispatcherTest, DrainsFrequencyClassesFairly) {
  const auto now = clock_.Now();
  std::vector<WorkItem> flood;
  flood.reserve(1000);
  for (int i = 0; i < 1000; ++i) {
    flood.push_back(Item("fast-" + std::to_string(i), "eu", k10s, now));
  }
  dispatcher_.Enqueue(std::move(flood));
  dispatcher_.Enqueue({Item("hourly-1", "eu", k1h, now), Item("hourly-2", "eu", k1h, now),
                       Item("minutely", "eu", k1m, now)});

  auto leased = dispatcher_.Lease("eu", "p", 6);
  std::map<Millis, int> per_class;
  for (const auto& item : leased) {
    per_class[item.frequency]++;
  }
  EXPECT_EQ(per_class[k1h], 2) << "1h items are not starved by 1000 queued 10s items";
  EXPECT_EQ(per_class[k1m], 1);
  EXPECT_EQ(per_class[k10s], 3);
  EXPECT_EQ(dispatcher_.QueueDepth("eu", k10s), 997u);
  EXPECT_EQ(dispatcher_.QueueDepth("eu", k1h), 0u);
}

TEST_F(WorkDispatcherTest, RedeliveredItemGoesToTheFrontOfItsClass) {
  const auto now = clock_.Now();
  dispatcher_.Enqueue({Item("a", "eu", k1m, now)});
  ASSERT_THAT(dispatcher_.Lease("eu", "p", 1), SizeIs(1));
  dispatcher_.Enqueue({Item("b", "eu", k1m, now), Item("c", "eu", k1m, now)});
  clock_.Advance(seconds(15));
  dispatcher_.Tick();
  auto leased = dispatcher_.Lease("eu", "p", 1);
  ASSERT_THAT(leased, SizeIs(1));
  EXPECT_EQ(leased[0].monitor_uid, "a");
}

TEST_F(WorkDispatcherTest, MeasuresLatenessOfFirstDeliveries) {
  std::vector<std::pair<Millis, double>> observed;
  dispatcher_.SetLatenessObserver(
      [&](Millis frequency, double seconds) { observed.emplace_back(frequency, seconds); });
  const auto scheduled = clock_.Now();
  dispatcher_.Enqueue({Item("a", "eu", k1m, scheduled)});
  clock_.Advance(milliseconds(2'500));
  ASSERT_THAT(dispatcher_.Lease("eu", "p", 1), SizeIs(1));
  ASSERT_THAT(observed, SizeIs(1));
  EXPECT_EQ(observed[0].first, k1m);
  EXPECT_DOUBLE_EQ(observed[0].second, 2.5);

  clock_.Advance(seconds(15));
  ASSERT_THAT(dispatcher_.Lease("eu", "p", 1), SizeIs(1));
  EXPECT_THAT(observed, SizeIs(1)) << "redeliveries are not scheduling lateness";
}

TEST_F(WorkDispatcherTest, TracksConnectedProbesPerRegion) {
  dispatcher_.TouchProbe("eu", "probe-a");
  clock_.Advance(seconds(30));
  EXPECT_THAT(dispatcher_.Lease("eu", "probe-b", 25), IsEmpty());
  dispatcher_.Enqueue({Item("a", "eu", k1m, clock_.Now())});
  ASSERT_THAT(dispatcher_.Lease("eu", "probe-b", 25), SizeIs(1));
  dispatcher_.TouchProbe("us", "probe-c");

  auto probes = dispatcher_.ConnectedProbes("eu");
  ASSERT_THAT(probes, SizeIs(2));
  EXPECT_EQ(probes[0].name, "probe-a");
  EXPECT_EQ(probes[1].name, "probe-b");
  EXPECT_EQ(probes[1].max_items, 25u);
  EXPECT_EQ(probes[1].in_flight, 1u);
  EXPECT_EQ(probes[1].last_seen, clock_.Now());
  EXPECT_THAT(dispatcher_.ActiveRegions(), ElementsAre("eu", "us"));

  clock_.Advance(seconds(31));  // probe-a last seen 61 s ago, probe-b and probe-c 31 s ago
  dispatcher_.Tick();
  probes = dispatcher_.ConnectedProbes("eu");
  ASSERT_THAT(probes, SizeIs(1));
  EXPECT_EQ(probes[0].name, "probe-b");
  clock_.Advance(seconds(30));
  dispatcher_.Tick();
  EXPECT_THAT(dispatcher_.ConnectedProbes("eu"), IsEmpty());
  EXPECT_THAT(dispatcher_.ActiveRegions(), IsEmpty());
}

TEST_F(WorkDispatcherTest, LongPollAnswersAtOnceWhenWorkIsQueued) {
  dispatcher_.Enqueue({Item("a", "eu", k1m, clock_.Now())});
  std::optional<std::vector<WorkItem>> answer;
  const auto id =
      dispatcher_.LeaseOrWait("eu", "p", 5, clock_.Now() + seconds(30), kNoBatchWait,
                              [&](const std::vector<WorkItem>& items) { answer = items; });
  EXPECT_EQ(id, 0u);
  ASSERT_TRUE(answer.has_value());
  EXPECT_THAT(*answer, SizeIs(1));
}

TEST_F(WorkDispatcherTest, LongPollIsServedWhenWorkArrives) {
  int wakeups = 0;
  dispatcher_.SetWakeup([&] { ++wakeups; });
  std::optional<std::vector<WorkItem>> first;
  std::optional<std::vector<WorkItem>> second;
  const auto deadline = clock_.Now() + seconds(30);
  EXPECT_NE(dispatcher_.LeaseOrWait("eu", "p1", 1, deadline, kNoBatchWait,
                                    [&](const std::vector<WorkItem>& items) { first = items; }),
            0u);
  EXPECT_NE(dispatcher_.LeaseOrWait("eu", "p2", 1, deadline, kNoBatchWait,
                                    [&](const std::vector<WorkItem>& items) { second = items; }),
            0u);
  EXPECT_EQ(wakeups, 1) << "the first long-poll moved NextEventTime earlier";
  EXPECT_EQ(dispatcher_.NextEventTime(), deadline);
  EXPECT_FALSE(first.has_value());
  EXPECT_THAT(dispatcher_.ConnectedProbes("eu"), SizeIs(2));

  clock_.Advance(seconds(3));
  dispatcher_.Enqueue({Item("a", "eu", k1m, clock_.Now()), Item("b", "eu", k1m, clock_.Now())});
  ASSERT_TRUE(first.has_value());
  ASSERT_TRUE(second.has_value());
  ASSERT_THAT(*first, SizeIs(1));
  ASSERT_THAT(*second, SizeIs(1));
  EXPECT_EQ((*first)[0].monitor_uid, "a") << "first come, first served";
  EXPECT_EQ((*second)[0].monitor_uid, "b");
  EXPECT_EQ(dispatcher_.Totals().in_flight, 2u);
  EXPECT_EQ(wakeups, 2) << "the new leases expire before the long-polls' deadline";
}

TEST_F(WorkDispatcherTest, LongPollWaitsBrieflyForABatchAfterTheFirstItem) {
  // One request carries what comes due within the batch wait of the first item.
  std::optional<std::vector<WorkItem>> answer;
  const auto deadline = clock_.Now() + seconds(30);
  dispatcher_.LeaseOrWait("eu", "p", 5, deadline, kBatchWait,
                          [&](const std::vector<WorkItem>& items) { answer = items; });
  clock_.Advance(seconds(2));
  const auto first_due = clock_.Now();
  dispatcher_.Enqueue({Item("a", "eu", k1m, first_due)});
  EXPECT_FALSE(answer.has_value());
  EXPECT_EQ(dispatcher_.NextEventTime(), first_due + Millis(20));

  clock_.Advance(Millis(15));
  dispatcher_.Enqueue({Item("b", "eu", k1m, clock_.Now())});
  dispatcher_.Tick();
  EXPECT_FALSE(answer.has_value()) << "the wait counts from the first item, not the latest";
  EXPECT_EQ(dispatcher_.NextEventTime(), first_due + Millis(20));

  clock_.Advance(Millis(5));
  dispatcher_.Tick();
  ASSERT_TRUE(answer.has_value());
  EXPECT_THAT(*answer, SizeIs(2));
}

TEST_F(WorkDispatcherTest, LongPollIsAnsweredAtOnceWhenItsBatchIsFull) {
  std::optional<std::vector<WorkItem>> answer;
  dispatcher_.LeaseOrWait("eu", "p", 2, clock_.Now() + seconds(30), kBatchWait,
                          [&](const std::vector<WorkItem>& items) { answer = items; });
  dispatcher_.Enqueue({Item("a", "eu", k1m, clock_.Now())});
  EXPECT_FALSE(answer.has_value());
  dispatcher_.Enqueue({Item("b", "eu", k1m, clock_.Now())});
  ASSERT_TRUE(answer.has_value());
  EXPECT_THAT(*answer, SizeIs(2));
}

TEST_F(WorkDispatcherTest, LongPollNeverWaitsForABatchPastItsDeadline) {
  std::optional<std::vector<WorkItem>> answer;
  const auto deadline = clock_.Now() + seconds(30);
  dispatcher_.LeaseOrWait("eu", "p", 5, deadline, kBatchWait,
                          [&](const std::vector<WorkItem>& items) { answer = items; });
  clock_.Advance(seconds(30) - Millis(5));
  dispatcher_.Enqueue({Item("a", "eu", k1m, clock_.Now())});
  EXPECT_EQ(dispatcher_.NextEventTime(), deadline);
  clock_.Advance(Millis(5));
  dispatcher_.Tick();
  ASSERT_TRUE(answer.has_value());
  EXPECT_THAT(*answer, SizeIs(1)) << "answered with the item at its deadline, not empty";
}

TEST_F(WorkDispatcherTest, ABatchWaitStartsAgainWhenAnotherLeaseTookItsItems) {
  std::optional<std::vector<WorkItem>> answer;
  const auto deadline = clock_.Now() + seconds(30);
  dispatcher_.LeaseOrWait("eu", "p1", 5, deadline, kBatchWait,
                          [&](const std::vector<WorkItem>& items) { answer = items; });
  dispatcher_.Enqueue({Item("a", "eu", k1m, clock_.Now())});
  ASSERT_EQ(dispatcher_.NextEventTime(), clock_.Now() + kBatchWait);

  EXPECT_THAT(dispatcher_.Lease("eu", "p2", 5), SizeIs(1)) << "another probe takes the item";
  // Visibility timeout of the leased item = check timeout (10 s) + grace (5 s), before the
  // long-poll's deadline; the batch wait that is no longer needed is gone.
  EXPECT_EQ(dispatcher_.NextEventTime(), clock_.Now() + seconds(15))
      << "nothing to wait for but the lease's expiry and the deadline";

  clock_.Advance(seconds(1));
  dispatcher_.Tick();
  const auto second_due = clock_.Now();
  dispatcher_.Enqueue({Item("b", "eu", k1m, second_due)});
  EXPECT_FALSE(answer.has_value()) << "a fresh batch wait, not one that passed long ago";
  EXPECT_EQ(dispatcher_.NextEventTime(), second_due + kBatchWait);
  clock_.Advance(kBatchWait);
  dispatcher_.Tick();
  ASSERT_TRUE(answer.has_value());
  EXPECT_THAT(*answer, SizeIs(1));
}

TEST_F(WorkDispatcherTest, WithoutABatchWaitALongPollIsAnsweredAtTheFirstItem) {
  std::optional<std::vector<WorkItem>> answer;
  dispatcher_.LeaseOrWait("eu", "p", 5, clock_.Now() + seconds(30), kNoBatchWait,
                          [&](const std::vector<WorkItem>& items) { answer = items; });
  dispatcher_.Enqueue({Item("a", "eu", k1m, clock_.Now())});
  ASSERT_TRUE(answer.has_value());
  EXPECT_THAT(*answer, SizeIs(1));
}

TEST_F(WorkDispatcherTest, LongPollTimesOutEmptyAtItsDeadline) {
  std::optional<std::vector<WorkItem>> answer;
  dispatcher_.LeaseOrWait("eu", "p", 5, clock_.Now() + seconds(30), kNoBatchWait,
                          [&](const std::vector<WorkItem>& items) { answer = items; });
  clock_.Advance(seconds(29));
  dispatcher_.Tick();
  EXPECT_FALSE(answer.has_value());
  clock_.Advance(seconds(1));
  dispatcher_.Tick();
  ASSERT_TRUE(answer.has_value());
  EXPECT_THAT(*answer, IsEmpty());
  EXPECT_EQ(dispatcher_.NextEventTime(), std::nullopt);
}

TEST_F(WorkDispatcherTest, LongPollIsServedByARedelivery) {
  dispatcher_.Enqueue({Item("a", "eu", k1m, clock_.Now())});
  ASSERT_THAT(dispatcher_.Lease("eu", "crashed", 1), SizeIs(1));
  std::optional<std::vector<WorkItem>> answer;
  dispatcher_.LeaseOrWait("eu", "p", 5, clock_.Now() + seconds(60), kNoBatchWait,
                          [&](const std::vector<WorkItem>& items) { answer = items; });
  clock_.Advance(seconds(15));
  dispatcher_.Tick();
  ASSERT_TRUE(answer.has_value());
  ASSERT_THAT(*answer, SizeIs(1));
  EXPECT_EQ((*answer)[0].attempt, 2);
}

TEST_F(WorkDispatcherTest, AckedIdIsRememberedUntilItsLastLeaseExpiredPlusTheMargin) {
  const auto start = clock_.Now();
  dispatcher_.Enqueue({Item("a", "eu", k1m, start)});  // visibility: 10 s + 5 s grace
  auto first = dispatcher_.Lease("eu", "probe-1", 1);
  ASSERT_THAT(first, SizeIs(1));
  clock_.Advance(seconds(15));
  dispatcher_.Tick();  // probe-1's lease expired: redelivered to probe-2, lease until start+30s
  auto second = dispatcher_.Lease("eu", "probe-2", 1);
  ASSERT_THAT(second, SizeIs(1));
  EXPECT_EQ(second[0].attempt, 2);
  clock_.Advance(seconds(1));
  EXPECT_EQ(dispatcher_.Complete(second[0].id), AckResult::kAcked);

  // probe-1 finally reports too: a duplicate for as long as any lease of the item was visible,
  // plus the margin (30 s by default) for a probe resending a result whose answer it lost.
  clock_.Advance(seconds(4));
  EXPECT_EQ(dispatcher_.Complete(first[0].id), AckResult::kAlreadyAcked);
  EXPECT_TRUE(dispatcher_.WasAcked(first[0].id));
  clock_.SetNow(start + seconds(30 + 30) - milliseconds(1));
  dispatcher_.Tick();
  EXPECT_TRUE(dispatcher_.WasAcked(first[0].id));
  EXPECT_EQ(dispatcher_.Totals().remembered_acks, 1u);
  clock_.Advance(milliseconds(1));
  EXPECT_FALSE(dispatcher_.WasAcked(first[0].id));
  dispatcher_.Tick();
  EXPECT_EQ(dispatcher_.Totals().remembered_acks, 0u);
  EXPECT_EQ(dispatcher_.Complete(first[0].id), AckResult::kUnknown);
  EXPECT_FALSE(dispatcher_.WasAcked("never-issued"));
}

TEST_F(WorkDispatcherTest, LongTimeoutsAreRememberedLongerThanShortOnes) {
  const auto start = clock_.Now();
  dispatcher_.Enqueue({Item("short", "eu", k10s, start, Millis(2'000)),
                       Item("long", "eu", k1h, start, Millis(60'000))});
  auto leased = dispatcher_.Lease("eu", "p", 2);
  ASSERT_THAT(leased, SizeIs(2));
  for (const auto& item : leased) {
    EXPECT_EQ(dispatcher_.Complete(item.id), AckResult::kAcked);
  }
  const std::string short_id = leased[0].monitor_uid == "short" ? leased[0].id : leased[1].id;
  const std::string long_id = leased[0].monitor_uid == "long" ? leased[0].id : leased[1].id;
  clock_.SetNow(start + seconds(2 + 5 + 30));  // the short item's last lease + grace + margin
  EXPECT_FALSE(dispatcher_.WasAcked(short_id));
  EXPECT_TRUE(dispatcher_.WasAcked(long_id));
  clock_.SetNow(start + seconds(60 + 5 + 30));
  EXPECT_FALSE(dispatcher_.WasAcked(long_id));
}

// Duplicate detection is bounded by time, not by a count: at any load every id acked within its
// horizon is recognised, and the memory stays flat over hours instead of growing with the acks.
TEST_F(WorkDispatcherTest, DuplicateDetectionCoversTheHorizonWithMemoryBoundedByTime) {
  constexpr int kMonitors = 1000;
  constexpr int kRounds = 360;  // one hour of 10 s rounds
  const Millis timeout(5'000);  // visibility 10 s; remembered until due + 10 s + 30 s (margin)
  std::vector<std::string> previous_round;
  std::vector<std::string> four_rounds_ago;
  std::vector<std::vector<std::string>> history;
  size_t peak = 0;
  for (int round = 0; round < kRounds; ++round) {
    const auto due = clock_.Now();
    std::vector<WorkItem> items;
    items.reserve(kMonitors);
    for (int m = 0; m < kMonitors; ++m) {
      items.push_back(Item("m" + std::to_string(m), "eu", k10s, due, timeout));
    }
    dispatcher_.Enqueue(std::move(items));
    auto leased = dispatcher_.Lease("eu", "p", kMonitors);
    ASSERT_THAT(leased, SizeIs(kMonitors));
    clock_.Advance(seconds(1));
    std::vector<std::string> ids;
    for (const auto& item : leased) {
      ASSERT_EQ(dispatcher_.Complete(item.id), AckResult::kAcked);
      ids.push_back(item.id);
    }
    // Results of the last three rounds are still within their horizon: duplicates.
    for (size_t back = 1; back <= 3 && back <= history.size(); ++back) {
      for (const auto& id : history[history.size() - back]) {
        ASSERT_EQ(dispatcher_.Complete(id), AckResult::kAlreadyAcked) << "round " << round;
      }
    }
    history.push_back(std::move(ids));
    if (history.size() > 4) {
      history.erase(history.begin());
    }
    clock_.Advance(seconds(9));
    dispatcher_.Tick();
    peak = std::max(peak, dispatcher_.Totals().remembered_acks);
  }
  // Four rounds (40 s) remembered at most, whatever the number of acks so far (360,000).
  EXPECT_LE(peak, static_cast<size_t>(4 * kMonitors));
  EXPECT_GE(dispatcher_.Totals().remembered_acks, static_cast<size_t>(3 * kMonitors));
  EXPECT_EQ(dispatcher_.Totals().acked, static_cast<uint64_t>(kMonitors) * kRounds);
}

TEST_F(WorkDispatcherTest, CancelledLongPollIsNeverCalled) {
  bool called = false;
  const auto id = dispatcher_.LeaseOrWait("eu", "p", 5, clock_.Now() + seconds(30), kNoBatchWait,
                                          [&](const std::vector<WorkItem>&) { called = true; });
  EXPECT_TRUE(dispatcher_.CancelWait(id));
  EXPECT_FALSE(dispatcher_.CancelWait(id));
  dispatcher_.Enqueue({Item("a", "eu", k1m, clock_.Now())});
  clock_.Advance(seconds(31));
  dispatcher_.Tick();
  EXPECT_FALSE(called);
  EXPECT_EQ(dispatcher_.QueueDepth("eu", k1m), 1u);
}

TEST_F(WorkDispatcherTest, RemovedMonitorLosesQueuedItemsAndLeasedOnesAreNotRedelivered) {
  std::vector<CheckResult> failures;
  dispatcher_.SetFailureHandler([&](const CheckResult& result) { failures.push_back(result); });
  const auto now = clock_.Now();
  dispatcher_.Enqueue(
      {Item("a", "eu", k1m, now), Item("a", "us", k1m, now), Item("b", "eu", k1m, now)});
  auto leased = dispatcher_.Lease("us", "p", 1);
  ASSERT_THAT(leased, SizeIs(1));

  dispatcher_.RemoveMonitor("a");
  EXPECT_EQ(dispatcher_.QueueDepth("eu", k1m), 1u);
  EXPECT_EQ(dispatcher_.Totals().dropped, 1u);
  // The running check may still report.
  EXPECT_EQ(dispatcher_.Complete(leased[0].id), AckResult::kAcked);

  dispatcher_.Enqueue({Item("c", "us", k1m, now)});
  ASSERT_THAT(dispatcher_.Lease("us", "p", 1), SizeIs(1));
  dispatcher_.RemoveMonitor("c");
  clock_.Advance(seconds(15));
  dispatcher_.Tick();
  EXPECT_THAT(dispatcher_.Lease("us", "p", 5), IsEmpty());
  EXPECT_THAT(failures, IsEmpty());
  EXPECT_EQ(dispatcher_.Totals().redelivered, 0u);
  EXPECT_EQ(dispatcher_.Totals().in_flight, 0u);
}

TEST_F(WorkDispatcherTest, UpdateMonitorRestampsQueuedItemsAndDropsOldRegions) {
  const auto now = clock_.Now();
  dispatcher_.Enqueue({Item("a", "eu", k1m, now), Item("a", "us", k1m, now)});
  dispatcher_.UpdateMonitor("a", 7, Millis(3'000), {"eu"});
  auto eu = dispatcher_.Lease("eu", "p", 5);
  ASSERT_THAT(eu, SizeIs(1));
  EXPECT_EQ(eu[0].generation, 7);
  EXPECT_EQ(eu[0].timeout, Millis(3'000));
  EXPECT_EQ(dispatcher_.NextEventTime(), now + seconds(8));
  EXPECT_THAT(dispatcher_.Lease("us", "p", 5), IsEmpty());
}

TEST_F(WorkDispatcherTest, StatsRowsPerRegionAndFrequency) {
  const auto now = clock_.Now();
  dispatcher_.Enqueue(
      {Item("a", "eu", k1m, now), Item("b", "eu", k10s, now), Item("c", "us", k1m, now)});
  ASSERT_THAT(dispatcher_.Lease("eu", "p", 1), SizeIs(1));
  auto stats = dispatcher_.Stats();
  ASSERT_THAT(stats, SizeIs(3));
  EXPECT_EQ(stats[0].region, "eu");
  EXPECT_EQ(stats[0].frequency, k10s);
  EXPECT_EQ(stats[1].region, "eu");
  EXPECT_EQ(stats[1].frequency, k1m);
  EXPECT_EQ(stats[2].region, "us");
  EXPECT_EQ(stats[0].queued + stats[1].queued, 1u);
  EXPECT_EQ(stats[0].in_flight + stats[1].in_flight, 1u);
  EXPECT_EQ(stats[2].queued, 1u);
  EXPECT_EQ(stats[2].enqueued, 1u);
}

TEST_F(WorkDispatcherTest, ConcurrentLeasesNeverHandOutAnItemTwice) {
  constexpr int kItems = 4000;
  std::atomic<bool> producing{true};
  std::thread producer([&] {
    for (int i = 0; i < kItems; i += 100) {
      std::vector<WorkItem> batch;
      for (int j = i; j < i + 100; ++j) {
        batch.push_back(Item("m" + std::to_string(j), "eu", k1m, clock_.Now()));
      }
      dispatcher_.Enqueue(std::move(batch));
    }
    producing = false;
  });
  std::vector<std::vector<std::string>> seen(3);
  std::vector<std::thread> consumers;
  consumers.reserve(3);
  for (int c = 0; c < 3; ++c) {
    consumers.emplace_back([&, c] {
      while (true) {
        const bool done = !producing;
        auto items = dispatcher_.Lease("eu", "p" + std::to_string(c), 7);
        for (const auto& item : items) {
          seen[c].push_back(item.id);
          EXPECT_EQ(dispatcher_.Complete(item.id), AckResult::kAcked);
        }
        if (done && items.empty()) {
          break;
        }
      }
    });
  }
  producer.join();
  for (auto& consumer : consumers) {
    consumer.join();
  }
  std::vector<std::string> all;
  for (const auto& ids : seen) {
    all.insert(all.end(), ids.begin(), ids.end());
  }
  std::sort(all.begin(), all.end());
  EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end());
  EXPECT_EQ(all.size(), static_cast<size_t>(kItems));
  EXPECT_EQ(dispatcher_.Totals().acked, static_cast<uint64_t>(kItems));
}

}  // namespace
}  // namespace pharos
