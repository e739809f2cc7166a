#include "operator/storage/latency_histogram.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace pharos {
namespace {

// The exact nearest-rank percentile of `values`.
int64_t ExactPercentile(std::vector<int64_t> values, double q) {
  std::sort(values.begin(), values.end());
  const auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(values.size())));
  return values[std::max<size_t>(rank, 1) - 1];
}

TEST(LatencyHistogramTest, BucketsGrowByTenPercent) {
  EXPECT_EQ(LatencyHistogram::BucketUpperBound(0), 100);
  EXPECT_EQ(LatencyHistogram::BucketUpperBound(1), 110);
  EXPECT_EQ(LatencyHistogram::BucketUpperBound(2), 121);
  EXPECT_EQ(LatencyHistogram::BucketFor(0), 0);
  EXPECT_EQ(LatencyHistogram::BucketFor(99), 0);
  EXPECT_EQ(LatencyHistogram::BucketFor(100), 1);
  EXPECT_EQ(LatencyHistogram::BucketFor(110), 2);
  for (int i = 1; i + 1 < LatencyHistogram::BucketCount(); ++i) {
    const int64_t lower = LatencyHistogram::BucketUpperBound(i - 1);
    const int64_t upper = LatencyHistogram::BucketUpperBound(i);
    EXPECT_LE(upper - lower, lower / 10 + 1) << "bucket " << i;
  }
  // An hour-long latency still has a bucket: the last one, open-ended.
  EXPECT_EQ(LatencyHistogram::BucketFor(3'600'000'000), LatencyHistogram::BucketCount() - 1);
}

TEST(LatencyHistogramTest, EmptyHasNoPercentiles) {
  LatencyHistogram h;
  EXPECT_EQ(h.count(), 0);
  EXPECT_EQ(h.Percentile(0.5), std::nullopt);
  EXPECT_EQ(h.min_us(), std::nullopt);
}

TEST(LatencyHistogramTest, IdenticalValuesAreExact) {
  LatencyHistogram h;
  for (int i = 0; i < 1000; ++i) h.Add(42'000);
  EXPECT_EQ(h.Percentile(0.50), 42'000);
  EXPECT_EQ(h.Percentile(0.99), 42'000);
  EXPECT_EQ(h.min_us(), 42'000);
  EXPECT_EQ(h.max_us(), 42'000);
  EXPECT_EQ(h.sum_us(), 42'000'000);
}

TEST(LatencyHistogramTest, PercentilesWithinOneBucketOfExact) {
  std::mt19937_64 random(7);
  std::lognormal_distribution<double> latency(std::log(50'000.0), 0.8);  // ~50 ms, long tail
  std::vector<int64_t> values;
  LatencyHistogram h;
  for (int i = 0; i < 20'000; ++i) {
    values.push_back(static_cast<int64_t>(latency(random)));
    h.Add(values.back());
  }
  for (double q : {0.5, 0.9, 0.95, 0.99}) {
    const double exact = static_cast<double>(ExactPercentile(values, q));
    const double estimate = static_cast<double>(*h.Percentile(q));
    EXPECT_NEAR(estimate, exact, exact * 0.10) << "q=" << q;
  }
  EXPECT_EQ(h.min_us(), *std::min_element(values.begin(), values.end()));
  EXPECT_EQ(h.max_us(), *std::max_element(values.begin(), values.end()));
  EXPECT_EQ(h.Percentile(1.0), h.max_us());
}

TEST(LatencyHistogramTest, MergeEqualsAddingEverything) {
  LatencyHistogram a, b, all;
  for (int64_t v : {1'000, 5'000, 90'000}) {
    a.Add(v);
    all.Add(v);
  }
  for (int64_t v : {70, 2'000'000}) {
    b.Add(v);
    all.Add(v);
  }
  a.Merge(b);
  EXPECT_EQ(a, all);
  EXPECT_EQ(a.min_us(), 70);
  EXPECT_EQ(a.max_us(), 2'000'000);
}

TEST(LatencyHistogramTest, EncodeDecodeRoundTrip) {
  LatencyHistogram h;
  for (int64_t v : {10, 150, 150, 42'000, 9'000'000}) h.Add(v);
  const std::string text = h.Encode();
  EXPECT_THAT(text, ::testing::StartsWith("v1;5;9042310;10;9000000;0:1,"));
  Result<LatencyHistogram> decoded = LatencyHistogram::Decode(text);
  ASSERT_TRUE(decoded.ok()) << decoded.error();
  EXPECT_EQ(*decoded, h);
  Result<LatencyHistogram> empty = LatencyHistogram::Decode(LatencyHistogram().Encode());
  ASSERT_TRUE(empty.ok()) << empty.error();
  EXPECT_EQ(empty->count(), 0);
}

TEST(LatencyHistogramTest, DecodeRejectsGarbage) {
  for (const char* bad : {"", "v2;1;1;1;1;0:1", "v1;1;1;1", "v1;2;1;1;1;0:1", "v1;1;1;1;1;9999:1",
                          "v1;1;1;1;1;0:x"}) {
    Result<LatencyHistogram> decoded = LatencyHistogram::Decode(bad);
    EXPECT_FALSE(decoded.ok()) << bad;
    if (!decoded.ok()) {
      EXPECT_THAT(decoded.error(), ::testing::HasSubstr("latency histogram"));
    }
  }
}

}  // namespace
}  // namespace pharos
