#pragma once

// RollupCountsCache: the rollup counts of status-page monitors, read through to
// HistoryReader::CountRollups. Complete buckets (days before today, hours before the current
// one) are kept per monitor for `ttl` and only the current bucket is read at every call, so a
// page of hundreds of components reads a few hundred rows instead of tens of thousands. A result
// delivered late into a complete bucket (a probe that was cut off) shows once its monitor's
// entry is older than `ttl`. At most `max_entries` monitor × period × regions entries are kept;
// beyond, the least recently read half is dropped.
// Thread-safety: Read may be called from any thread (one lock; the store is read outside it).

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "common/mutex.h"
#include "common/result.h"
#include "operator/control/result_store.h"

namespace pharos {

class RollupCountsCache {
 public:
  struct Options {
    std::chrono::milliseconds ttl{600'000};
    size_t max_entries = 50'000;
  };

  RollupCountsCache(HistoryReader& history, Options options)
      : history_(history), options_(options) {}

  // As HistoryReader::CountRollups for `query`; `now` decides which bucket is current.
  // query.to must not be earlier than the current bucket's start.
  Result<std::vector<BucketCounts>> Read(const BucketCountsQuery& query, TimePoint now);

  // Entries kept (tests).
  size_t size() const;

 private:
  struct Entry {
    TimePoint from{};  // the complete buckets cover [from, until)
    TimePoint until{};
    TimePoint fetched_at{};  // for the ttl (the caller's time)
    uint64_t last_read = 0;  // for eviction
    std::vector<BucketCounts> buckets;
  };

  HistoryReader& history_;
  const Options options_;
  mutable Mutex mu_;
  std::map<std::string, Entry> entries_ GUARDED_BY(mu_);  // by uid, period and regions
  uint64_t reads_ GUARDED_BY(mu_) = 0;
};

}  // namespace pharos
