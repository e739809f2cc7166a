#include "operator/web/rollup_counts_cache.h"

#include <algorithm>
#include <utility>

namespace pharos {
namespace {

std::string KeyOf(const std::string& uid, RollupPeriod period,
                  const std::vector<std::string>& regions) {
  std::string key = uid;
  key += period == RollupPeriod::kDay ? "\nd" : "\nh";
  for (const std::string& region : regions) key += "\n" + region;
  return key;
}

}  // namespace

size_t RollupCountsCache::size() const {
  MutexLock lock(mu_);
  return entries_.size();
}

Result<std::vector<BucketCounts>> RollupCountsCache::Read(const BucketCountsQuery& query,
                                                          TimePoint now) {
  const std::chrono::system_clock::duration period =
      query.period == RollupPeriod::kDay
          ? std::chrono::system_clock::duration(std::chrono::hours(24))
          : std::chrono::system_clock::duration(std::chrono::hours(1));
  const TimePoint current(now.time_since_epoch() - now.time_since_epoch() % period);
  const TimePoint split = std::clamp(current, query.from, query.to);

  // Which monitors' complete buckets must be read again.
  std::vector<std::string> stale;
  {
    MutexLock lock(mu_);
    for (const std::string& uid : query.monitor_uids) {
      const auto found = entries_.find(KeyOf(uid, query.period, query.regions));
      if (found == entries_.end() || found->second.from != query.from ||
          found->second.until != split || now - found->second.fetched_at >= options_.ttl ||
          now < found->second.fetched_at) {
        stale.push_back(uid);
      }
    }
  }
  std::map<std::string, std::vector<BucketCounts>> fetched;
  if (!stale.empty() && query.from < split) {
    Result<std::vector<BucketCounts>> complete = history_.CountRollups(
        BucketCountsQuery{stale, query.period, query.regions, query.from, split});
    if (!complete) return Error{complete.error(), complete.error_kind()};
    for (BucketCounts& bucket : *complete) fetched[bucket.monitor_uid].push_back(std::move(bucket));
  }
  // The current bucket, always.
  std::vector<BucketCounts> fresh;
  if (split < query.to) {
    Result<std::vector<BucketCounts>> current_buckets = history_.CountRollups(
        BucketCountsQuery{query.monitor_uids, query.period, query.regions, split, query.to});
    if (!current_buckets) return Error{current_buckets.error(), current_buckets.error_kind()};
    fresh = std::move(current_buckets).value();
  }

  std::vector<std::string> uids = query.monitor_uids;
  std::sort(uids.begin(), uids.end());
  uids.erase(std::unique(uids.begin(), uids.end()), uids.end());
  std::vector<BucketCounts> out;
  MutexLock lock(mu_);
  ++reads_;
  for (const std::string& uid : stale) {
    Entry& entry = entries_[KeyOf(uid, query.period, query.regions)];
    entry.from = query.from;
    entry.until = split;
    entry.fetched_at = now;
    entry.buckets = std::move(fetched[uid]);
  }
  size_t next_fresh = 0;
  for (const std::string& uid : uids) {
    Entry& entry = entries_[KeyOf(uid, query.period, query.regions)];
    entry.last_read = reads_;
    out.insert(out.end(), entry.buckets.begin(), entry.buckets.end());
    while (next_fresh < fresh.size() && fresh[next_fresh].monitor_uid < uid) ++next_fresh;
    while (next_fresh < fresh.size() && fresh[next_fresh].monitor_uid == uid) {
      out.push_back(fresh[next_fresh++]);
    }
  }
  if (entries_.size() > options_.max_entries) {
    std::vector<uint64_t> reads;
    reads.reserve(entries_.size());
    for (const auto& [key, entry] : entries_) reads.push_back(entry.last_read);
    std::nth_element(reads.begin(), reads.begin() + static_cast<std::ptrdiff_t>(reads.size() / 2),
                     reads.end());
    const uint64_t median = reads[reads.size() / 2];
    std::erase_if(entries_, [&](const auto& item) { return item.second.last_read < median; });
  }
  return out;
}

}  // namespace pharos
