#include "operator/web/rollup_counts_cache.h"

#include <gtest/gtest.h>

#include "unit/operator/web/web_test_doubles.h"

namespace pharos {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using namespace ::pharos::testing;

const TimePoint kHour = TimePoint(kNow.time_since_epoch() - kNow.time_since_epoch() % hours(1));

TEST(RollupCountsCacheTest, CompleteBucketsAreReadOncePerTtlTheCurrentOneAlways) {
  FakeHistory history;
  for (int h = 0; h < 24; ++h) history.AddHour("a", kHour - hours(h), 10 + h, 1'000);
  history.AddHour("b", kHour - hours(2), 7, 1'000);
  RollupCountsCache cache(history, {minutes(10), 100});
  const BucketCountsQuery query{
      {"a", "b"}, RollupPeriod::kHour, {}, kHour - hours(23), kHour + hours(1)};
  Result<std::vector<BucketCounts>> direct = history.CountRollups(query);
  history.count_calls = 0;

  Result<std::vector<BucketCounts>> first = cache.Read(query, kNow);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(*first, *direct);
  EXPECT_EQ(history.count_calls, 2);  // complete hours, then the current one
  Result<std::vector<BucketCounts>> second = cache.Read(query, kNow + minutes(5));
  EXPECT_EQ(*second, *direct);
  EXPECT_EQ(history.count_calls, 3);  // the current hour only

  // A result in the current hour shows at once; a late one in a complete hour after the ttl.
  history.AddHour("b", kHour, 1, 500);
  history.AddHour("b", kHour - hours(5), 3, 500);
  Result<std::vector<BucketCounts>> third = cache.Read(query, kNow + minutes(6));
  ASSERT_EQ(third->back().monitor_uid, "b");
  EXPECT_EQ(third->back().bucket_start, kHour);
  EXPECT_EQ(third->size(), direct->size() + 1);
  Result<std::vector<BucketCounts>> after_ttl = cache.Read(query, kNow + minutes(11));
  EXPECT_EQ(*after_ttl, *history.CountRollups(query));
}

TEST(RollupCountsCacheTest, ANewCurrentBucketReadsTheOneThatJustClosed) {
  FakeHistory history;
  history.AddHour("a", kHour, 10, 1'000);
  RollupCountsCache cache(history, {minutes(10), 100});
  const BucketCountsQuery query{
      {"a"}, RollupPeriod::kHour, {}, kHour - hours(23), kHour + hours(1)};
  ASSERT_EQ(cache.Read(query, kNow)->size(), 1u);
  history.AddHour("a", kHour + hours(1), 4, 1'000);
  const BucketCountsQuery next{{"a"}, RollupPeriod::kHour, {}, kHour - hours(22), kHour + hours(2)};
  Result<std::vector<BucketCounts>> later = cache.Read(next, kNow + hours(1));
  ASSERT_EQ(later->size(), 2u);
  EXPECT_EQ((*later)[0].up, 10);
  EXPECT_EQ((*later)[1].up, 4);
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
