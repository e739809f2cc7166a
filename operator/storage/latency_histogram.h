#pragma once

// LatencyHistogram: a fixed-bucket histogram of check latencies (µs) kept in every rollup row,
// so p50/p95/p99 stay available for as long as the rollups are kept (long after the raw rows are
// pruned) and hourly rollups merge exactly into days and windows.
// Buckets: [0, 100 µs), then upper bounds growing by 10% (integer arithmetic: b' = b + b/10),
// the last one open-ended above ~10 minutes. A percentile is estimated by interpolating inside
// its bucket and clamping to the exact min/max, so its error is below one bucket width (≤ 10%).
// The layout is part of the stored format: changing it needs a schema migration.
// Thread-safety: a value type.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace pharos {

class LatencyHistogram {
 public:
  static int BucketCount();
  // Upper bound (exclusive) of bucket `index`; the last bucket has none (INT64_MAX).
  static int64_t BucketUpperBound(int index);
  static int BucketFor(int64_t micros);

  void Add(int64_t micros);
  void Merge(const LatencyHistogram& other);

  int64_t count() const { return count_; }
  int64_t sum_us() const { return sum_; }
  std::optional<int64_t> min_us() const;
  std::optional<int64_t> max_us() const;
  // Nearest-rank percentile estimate, q in (0, 1]; nullopt when empty.
  std::optional<int64_t> Percentile(double q) const;

  // Compact text form: "v1;<count>;<sum>;<min>;<max>;<bucket>:<n>,<bucket>:<n>..." (only
  // non-empty buckets). Decode rejects anything else with a message naming the problem.
  std::string Encode() const;
  static Result<LatencyHistogram> Decode(std::string_view text);

  bool operator==(const LatencyHistogram&) const = default;

 private:
  std::vector<int64_t> buckets_ = std::vector<int64_t>(BucketCount());
  int64_t count_ = 0;
  int64_t sum_ = 0;
  int64_t min_ = 0;
  int64_t max_ = 0;
};

}  // namespace pharos
