#pragma once

// RollupCountsCache: the rollup counts of status-page monitors, read through to
// HistoryReader::CountRollups. Complete buckets (days before today, hours before the current
// one) are kept per monitor and handed out shared, without a copy; only the current bucket is
// read at every call. When the window moves on (a new hour, a new UTC day) only the buckets that
// became complete since are read and the ones that left the window are dropped, so a page of
// hundreds of components reads a few hundred rows per build and copies nothing it kept.
// Every `ttl` a monitor's complete buckets are read again in full: that is when a result
// delivered late into a complete bucket (a probe that was cut off), a result another replica
// wrote, or a bucket the retention prune dropped shows. At most `max_entries` monitor × period
// × regions entries are kept; beyond, the least recently read half is dropped.
// Thread-safety: Read may be called from any thread (one lock; the store is read outside it).

#include <chrono>
#include <map>
#include <memory>
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

  // One monitor's buckets of a query, oldest first: the complete ones (kept; never null) and
  // those of the current bucket (read now). Buckets without results are absent.
  struct MonitorBuckets {
    std::shared_ptr<const std::vector<BucketCounts>> complete;
    std::vector<BucketCounts> current;
  };

  RollupCountsCache(HistoryReader& history, Options options)
      : history_(history), options_(options) {}

  // What HistoryReader::CountRollups answers for `query`, one MonitorBuckets per
  // query.monitor_uids, in that order; `now` decides which bucket is current.
  // query.to must not be earlier than the current bucket's start.
  Result<std::vector<MonitorBuckets>> Read(const BucketCountsQuery& query, TimePoint now);

  // Entries kept (tests).
  size_t size() const;

 private:
  using Buckets = std::shared_ptr<const std::vector<BucketCounts>>;
  struct Entry {
    TimePoint from{};  // the complete buckets cover [from, until)
    TimePoint until{};
    TimePoint fetched_at{};  // of the last full read, for the ttl (the caller's time)
    uint64_t last_read = 0;  // for eviction
    Buckets buckets;
  };

  // Reads [from, to) of `uids` and files the buckets by uid into `out`.
  Status ReadInto(const std::vector<std::string>& uids, const BucketCountsQuery& query,
                  TimePoint from, TimePoint to,
                  std::map<std::string, std::vector<BucketCounts>>& out);

  HistoryReader& history_;
  const Options options_;
  mutable Mutex mu_;
  std::map<std::string, Entry> entries_ GUARDED_BY(mu_);  // by uid, period and regions
  uint64_t reads_ GUARDED_BY(mu_) = 0;
};

}  // namespace pharos
