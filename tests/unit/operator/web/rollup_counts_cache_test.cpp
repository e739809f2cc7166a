#include "operator/web/rollup_counts_cache.h"

#include <gtest/gtest.h>

#include "common/manual_clock.h"
#include "unit/operator/web/web_test_doubles.h"

namespace pharos {
namespace {

using std::chrono::days;
using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using namespace ::pharos::testing;

const TimePoint kHour = TimePoint(kNow.time_since_epoch() - kNow.time_since_epoch() % hours(1));
const TimePoint kToday = TimePoint(kNow.time_since_epoch() - kNow.time_since_epoch() % days(1));

// The cache's answer as CountRollups gives it: ordered by monitor (as asked) then bucket.
std::vector<BucketCounts> Flat(const Result<std::vector<RollupCountsCache::MonitorBuckets>>& read) {
  EXPECT_TRUE(read.ok()) << read.error();
  std::vector<BucketCounts> out;
  if (!read) return out;
  for (const RollupCountsCache::MonitorBuckets& monitor : *read) {
    out.insert(out.end(), monitor.complete->begin(), monitor.complete->end());
    out.insert(out.end(), monitor.current.begin(), monitor.current.end());
  }
  return out;
}

// The daily bar's query at `now`: the 90 complete days before today.
BucketCountsQuery DaysBefore(std::vector<std::string> uids, TimePoint now) {
  const TimePoint today = TimePoint(now.time_since_epoch() - now.time_since_epoch() % days(1));
  return BucketCountsQuery{std::move(uids), RollupPeriod::kDay, {}, today - days(89), today};
}

TEST(RollupCountsCacheTest, CompleteBucketsAreKeptAndSharedTheCurrentOneIsReadAlways) {
  FakeHistory history;
  for (int h = 0; h < 24; ++h) history.AddHour("a", kHour - hours(h), 10 + h, 1'000);
  history.AddHour("b", kHour - hours(2), 7, 1'000);
  RollupCountsCache cache(history, {minutes(10), 100});
  const BucketCountsQuery query{
      {"a", "b"}, RollupPeriod::kHour, {}, kHour - hours(23), kHour + hours(1)};
  Result<std::vector<BucketCounts>> direct = history.CountRollups(query);
  history.count_calls = 0;

  Result<std::vector<RollupCountsCache::MonitorBuckets>> first = cache.Read(query, kNow);
  EXPECT_EQ(Flat(first), *direct);
  EXPECT_EQ(history.count_calls, 2);  // complete hours, then the current one
  Result<std::vector<RollupCountsCache::MonitorBuckets>> second =
      cache.Read(query, kNow + minutes(5));
  EXPECT_EQ(Flat(second), *direct);
  EXPECT_EQ(history.count_calls, 3);  // the current hour only
  // The very same complete buckets, not a copy.
  EXPECT_EQ((*first)[0].complete.get(), (*second)[0].complete.get());
  EXPECT_EQ((*second)[0].complete->size(), 23u);
  EXPECT_EQ((*second)[0].current.size(), 1u);

  // A result in the current hour shows at once.
  history.AddHour("b", kHour, 1, 500);
  const std::vector<BucketCounts> third = Flat(cache.Read(query, kNow + minutes(6)));
  ASSERT_EQ(third.back().monitor_uid, "b");
  EXPECT_EQ(third.back().bucket_start, kHour);
  EXPECT_EQ(third.size(), direct->size() + 1);
}

TEST(RollupCountsCacheTest, ALateResultForAPastDayShowsWhenTheTtlHasPassed) {
  ManualClock clock(kNow);
  FakeHistory history;
  history.AddDay("a", kToday - days(3), 100, 0, 0);
  RollupCountsCache cache(history, {minutes(10), 100});
  ASSERT_EQ(Flat(cache.Read(DaysBefore({"a"}, clock.Now()), clock.Now()))[0].down, 0);

  // A probe that was cut off delivers a failed check of three days ago.
  history.AddDay("a", kToday - days(3), 0, 0, 1);
  clock.Advance(minutes(9));
  const int calls = history.count_calls;
  EXPECT_EQ(Flat(cache.Read(DaysBefore({"a"}, clock.Now()), clock.Now()))[0].down, 0);
  EXPECT_EQ(history.count_calls, calls);  // nothing read: the days are complete
  clock.Advance(minutes(1));
  const std::vector<BucketCounts> after =
      Flat(cache.Read(DaysBefore({"a"}, clock.Now()), clock.Now()));
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].down, 1);
  EXPECT_EQ(after[0].up, 100);
  EXPECT_EQ(after, *history.CountRollups(DaysBefore({"a"}, clock.Now())));
}

TEST(RollupCountsCacheTest, AtMidnightUtcOnlyTheDayThatEndedIsRead) {
  ManualClock clock(kToday + hours(23) + minutes(59) + seconds(30));
  FakeHistory history;
  for (int d = 1; d <= 90; ++d) history.AddDay("a", kToday - days(d), 100 + d, 0, 0);
  history.AddDay("b", kToday - days(89), 5, 0, 0);  // only in the first day of the window
  RollupCountsCache cache(history, {hours(24), 100});
  const std::vector<BucketCounts> before =
      Flat(cache.Read(DaysBefore({"a", "b"}, clock.Now()), clock.Now()));
  ASSERT_EQ(before.size(), 90u);          // a's 89 days in the window and b's one
  history.AddDay("a", kToday, 50, 0, 1);  // today, complete at midnight

  clock.Advance(minutes(1));  // 00:00:30 the next day
  history.queries.clear();
  const Result<std::vector<RollupCountsCache::MonitorBuckets>> after =
      cache.Read(DaysBefore({"a", "b"}, clock.Now()), clock.Now());
  ASSERT_EQ(history.queries.size(), 1u);
  EXPECT_EQ(history.queries[0].from, kToday);  // the day that just ended, nothing else
  EXPECT_EQ(history.queries[0].to, kToday + days(1));
  EXPECT_EQ(Flat(after), *history.CountRollups(DaysBefore({"a", "b"}, clock.Now())));
  // a: the oldest day left the window, yesterday joined it; b's only day left it.
  ASSERT_EQ((*after)[0].complete->size(), 89u);
  EXPECT_EQ((*after)[0].complete->front().bucket_start, kToday - days(88));
  EXPECT_EQ((*after)[0].complete->back().bucket_start, kToday);
  EXPECT_EQ((*after)[0].complete->back().down, 1);
  EXPECT_TRUE((*after)[1].complete->empty());
}

TEST(RollupCountsCacheTest, DaysTheRetentionPruneDroppedGoAtTheNextFullRead) {
  ManualClock clock(kNow);
  FakeHistory history;
  for (int d = 1; d <= 60; ++d) history.AddDay("a", kToday - days(d), 10, 0, 0);
  RollupCountsCache cache(history, {minutes(10), 100});
  ASSERT_EQ(Flat(cache.Read(DaysBefore({"a"}, clock.Now()), clock.Now())).size(), 60u);
  history.DropBefore(kToday - days(30));  // a daily retention of 30 days
  clock.Advance(minutes(10));
  const std::vector<BucketCounts> after =
      Flat(cache.Read(DaysBefore({"a"}, clock.Now()), clock.Now()));
  EXPECT_EQ(after.size(), 30u);
  EXPECT_EQ(after.front().bucket_start, kToday - days(30));
}

TEST(RollupCountsCacheTest, ANewMonitorIsReadInFullTheOthersAreKept) {
  FakeHistory history;
  history.AddDay("a", kToday - days(2), 10, 0, 0);
  history.AddDay("b", kToday - days(2), 20, 0, 0);
  RollupCountsCache cache(history, {minutes(10), 100});
  ASSERT_TRUE(cache.Read(DaysBefore({"a"}, kNow), kNow).ok());
  history.queries.clear();
  const std::vector<BucketCounts> both = Flat(cache.Read(DaysBefore({"b", "a"}, kNow), kNow));
  ASSERT_EQ(history.queries.size(), 1u);
  EXPECT_EQ(history.queries[0].monitor_uids, std::vector<std::string>{"b"});
  ASSERT_EQ(both.size(), 2u);  // in the order asked
  EXPECT_EQ(both[0].up, 20);
  EXPECT_EQ(both[1].up, 10);
}

TEST(RollupCountsCacheTest, TimeGoingBackReadsEverythingAgain) {
  FakeHistory history;
  history.AddDay("a", kToday - days(2), 10, 0, 0);
  RollupCountsCache cache(history, {minutes(10), 100});
  ASSERT_TRUE(cache.Read(DaysBefore({"a"}, kNow), kNow).ok());
  history.queries.clear();
  const TimePoint earlier = kNow - days(1);
  EXPECT_EQ(Flat(cache.Read(DaysBefore({"a"}, earlier), earlier)),
            *history.CountRollups(DaysBefore({"a"}, earlier)));
  EXPECT_EQ(history.queries.front().from, DaysBefore({"a"}, earlier).from);
}

TEST(RollupCountsCacheTest, KeepsAtMostMaxEntries) {
  FakeHistory history;
  RollupCountsCache cache(history, {minutes(10), 10});
  for (int i = 0; i < 30; ++i) {
    ASSERT_TRUE(
        cache
            .Read({{"m" + std::to_string(i)}, RollupPeriod::kDay, {}, kHour - hours(24 * 9), kHour},
                  kNow)
            .ok());
  }
  EXPECT_LE(cache.size(), 11u);
}

TEST(RollupCountsCacheTest, ErrorsAreErrors) {
  FakeHistory history;
  history.fail = true;
  RollupCountsCache cache(history, {});
  EXPECT_FALSE(cache.Read({{"a"}, RollupPeriod::kDay, {}, kHour - hours(240), kHour}, kNow).ok());
}

}  // namespace
}  // namespace pharos
