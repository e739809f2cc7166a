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

// What a read does for one monitor.
enum class Plan {
  kReuse,   // its kept buckets are the window's
  kExtend,  // keep those still in the window, read those completed since
  kFull,    // read every complete bucket
};

struct MonitorPlan {
  std::string uid;
  std::string key;
  Plan plan = Plan::kFull;
  std::shared_ptr<const std::vector<BucketCounts>> kept;  // kReuse, kExtend
  TimePoint kept_until{};                                 // kExtend
  TimePoint fetched_at{};                                 // kExtend
};

}  // namespace

size_t RollupCountsCache::size() const {
  MutexLock lock(mu_);
  return entries_.size();
}

Status RollupCountsCache::ReadInto(const std::vector<std::string>& uids,
                                   const BucketCountsQuery& query, TimePoint from, TimePoint to,
                                   std::map<std::string, std::vector<BucketCounts>>& out) {
  if (uids.empty() || !(from < to)) return OkStatus();
  Result<std::vector<BucketCounts>> read =
      history_.CountRollups(BucketCountsQuery{uids, query.period, query.regions, from, to});
  if (!read) return Error{read.error(), read.error_kind()};
  for (BucketCounts& bucket : *read) {
    std::vector<BucketCounts>& of = out[bucket.monitor_uid];
    of.push_back(std::move(bucket));
  }
  return OkStatus();
}

Result<std::vector<RollupCountsCache::MonitorBuckets>> RollupCountsCache::Read(
    const BucketCountsQuery& query, TimePoint now) {
  const std::chrono::system_clock::duration period =
      query.period == RollupPeriod::kDay
          ? std::chrono::system_clock::duration(std::chrono::hours(24))
          : std::chrono::system_clock::duration(std::chrono::hours(1));
  const TimePoint current(now.time_since_epoch() - now.time_since_epoch() % period);
  const TimePoint split = std::clamp(current, query.from, query.to);

  std::vector<MonitorPlan> plans;
  for (const std::string& uid : query.monitor_uids) plans.push_back(MonitorPlan{uid});
  std::sort(plans.begin(), plans.end(),
            [](const MonitorPlan& a, const MonitorPlan& b) { return a.uid < b.uid; });
  plans.erase(
      std::unique(plans.begin(), plans.end(),
                  [](const MonitorPlan& a, const MonitorPlan& b) { return a.uid == b.uid; }),
      plans.end());

  // 1. What each monitor needs.
  std::vector<std::string> full;
  std::map<TimePoint, std::vector<std::string>> since;  // by the end of what is kept
  {
    MutexLock lock(mu_);
    for (MonitorPlan& plan : plans) {
      plan.key = KeyOf(plan.uid, query.period, query.regions);
      const auto found = entries_.find(plan.key);
      if (found == entries_.end() || now - found->second.fetched_at >= options_.ttl ||
          now < found->second.fetched_at || found->second.from > query.from ||
          found->second.until > split) {
        plan.plan = Plan::kFull;
        full.push_back(plan.uid);
        continue;
      }
      plan.kept = found->second.buckets;
      if (found->second.from == query.from && found->second.until == split) {
        plan.plan = Plan::kReuse;
        continue;
      }
      plan.plan = Plan::kExtend;
      plan.kept_until = found->second.until;
      plan.fetched_at = found->second.fetched_at;
      since[plan.kept_until].push_back(plan.uid);
    }
  }

  // 2. The store, outside the lock: complete buckets as needed, the current bucket always.
  std::map<std::string, std::vector<BucketCounts>> complete;
  if (Status read = ReadInto(full, query, query.from, split, complete); !read) {
    return Error{read.error(), read.error_kind()};
  }
  for (const auto& [kept_until, uids] : since) {
    if (Status read = ReadInto(uids, query, kept_until, split, complete); !read) {
      return Error{read.error(), read.error_kind()};
    }
  }
  std::map<std::string, std::vector<BucketCounts>> fresh;
  std::vector<std::string> all;
  all.reserve(plans.size());
  for (const MonitorPlan& plan : plans) all.push_back(plan.uid);
  if (Status read = ReadInto(all, query, split, query.to, fresh); !read) {
    return Error{read.error(), read.error_kind()};
  }

  // 3. The new complete buckets of the monitors read.
  for (MonitorPlan& plan : plans) {
    if (plan.plan == Plan::kReuse) continue;
    auto buckets = std::make_shared<std::vector<BucketCounts>>();
    if (plan.plan == Plan::kExtend) {
      for (const BucketCounts& bucket : *plan.kept) {
        if (bucket.bucket_start >= query.from) buckets->push_back(bucket);
      }
    }
    const auto read = complete.find(plan.uid);
    if (read != complete.end()) {
      for (BucketCounts& bucket : read->second) buckets->push_back(std::move(bucket));
    }
    plan.kept = std::move(buckets);
  }

  std::vector<MonitorBuckets> out;
  out.reserve(query.monitor_uids.size());
  for (const std::string& uid : query.monitor_uids) {
    const auto plan = std::lower_bound(
        plans.begin(), plans.end(), uid,
        [](const MonitorPlan& one, const std::string& wanted) { return one.uid < wanted; });
    MonitorBuckets buckets{plan->kept, {}};
    const auto read = fresh.find(uid);
    if (read != fresh.end()) buckets.current = read->second;
    out.push_back(std::move(buckets));
  }

  MutexLock lock(mu_);
  ++reads_;
  for (const MonitorPlan& plan : plans) {
    Entry& entry = entries_[plan.key];
    entry.last_read = reads_;
    if (plan.plan == Plan::kReuse) continue;
    entry.from = query.from;
    entry.until = split;
    entry.fetched_at = plan.plan == Plan::kFull ? now : plan.fetched_at;
    entry.buckets = plan.kept;
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
