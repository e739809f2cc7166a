#pragma once

// Test doubles of the interfaces the web room reads: the live status of monitors, their stored
// history, incidents with timelines and notes, and maintenance periods.

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/manual_clock.h"
#include "operator/control/incident_reader.h"
#include "operator/control/maintenance_calendar.h"
#include "operator/control/result_store.h"
#include "operator/control/status_reader.h"
#include "operator/web/screenshot_index.h"
#include "unit/operator/control/empty_result_store.h"

namespace pharos::testing {

inline const TimePoint kNow = ManualClock::DefaultStart() + std::chrono::hours(24 * 100) +
                              std::chrono::hours(15) + std::chrono::minutes(20);

inline std::shared_ptr<const Monitor> WebMonitor(
    const std::string& namespace_name, const std::string& name,
    const std::map<std::string, std::string>& labels = {}, const std::string& display_name = "") {
  Monitor monitor;
  monitor.namespace_name = namespace_name;
  monitor.name = name;
  monitor.uid = "uid-" + namespace_name + "-" + name;
  monitor.http = HttpSpec{};
  monitor.http->url = "https://" + name + ".example.com/";
  for (const auto& [key, value] : labels) monitor.labels[key] = value;
  if (!display_name.empty()) monitor.annotations["pharos.dev/display-name"] = display_name;
  return std::make_shared<const Monitor>(std::move(monitor));
}

inline MonitorStatus StatusOf(std::shared_ptr<const Monitor> monitor, MonitorState state) {
  MonitorStatus status;
  status.monitor = std::move(monitor);
  status.state = state;
  status.last_transition_time = kNow - std::chrono::hours(2);
  status.regions.push_back(RegionStatus{"eu-west", state, kNow, 12'000, 200, ""});
  status.regions.push_back(RegionStatus{"us-east", state, kNow, 30'000, 200, ""});
  return status;
}

class FakeStatusReader final : public StatusReader {
 public:
  void Add(MonitorStatus status) { statuses_[status.monitor->Key()] = std::move(status); }

  std::optional<MonitorStatus> Snapshot(const std::string& uid) override {
    for (const auto& [key, status] : statuses_) {
      if (status.monitor->uid == uid) return status;
    }
    return std::nullopt;
  }
  std::optional<MonitorStatus> SnapshotByKey(const std::string& namespace_name,
                                             const std::string& name) override {
    const auto found = statuses_.find(namespace_name + "/" + name);
    if (found == statuses_.end()) return std::nullopt;
    return found->second;
  }
  std::vector<MonitorStatus> SnapshotAll() override {
    ++snapshot_all_calls;
    std::vector<MonitorStatus> all;
    for (const auto& [key, status] : statuses_) all.push_back(status);
    return all;
  }
  std::shared_ptr<const Monitor> MonitorSpec(const std::string& uid) const override {
    for (const auto& [key, status] : statuses_) {
      if (status.monitor->uid == uid) return status.monitor;
    }
    return nullptr;
  }
  std::shared_ptr<const std::string> MonitorJsonText(const std::string&) const override {
    return nullptr;
  }
  std::optional<uint64_t> MonitorSpecVersion(const std::string&) const override {
    return std::nullopt;
  }
  bool Ready(std::string*) const override { return true; }

  int snapshot_all_calls = 0;

 private:
  std::map<std::string, MonitorStatus> statuses_;
};

// History made of rollup counts given by the test; CountRollups answers from them (as a store
// would: buckets in [from, to), ordered by uid then time, regions merged). The other reads answer
// nothing.
class FakeHistory final : public EmptyResultStore {
 public:
  // A daily bucket alone (days whose hours the test does not need).
  void AddDay(const std::string& uid, TimePoint day, int64_t up, int64_t degraded, int64_t down,
              int64_t latency_sum_us = 0, const std::string& region = "eu-west") {
    buckets_.push_back(
        {uid, region, RollupPeriod::kDay,
         BucketCounts{uid, day, up + degraded + down, up, degraded, down, 0, latency_sum_us}});
  }
  // An hourly bucket, counted in its day's bucket too (as the store's rollups are).
  void AddHour(const std::string& uid, TimePoint hour, int64_t up, int64_t latency_sum_us,
               int64_t down = 0, const std::string& region = "eu-west") {
    const BucketCounts counts{uid, hour, up + down, up, 0, down, 0, latency_sum_us};
    buckets_.push_back({uid, region, RollupPeriod::kHour, counts});
    BucketCounts day = counts;
    day.bucket_start =
        TimePoint(hour.time_since_epoch() - hour.time_since_epoch() % std::chrono::hours(24));
    buckets_.push_back({uid, region, RollupPeriod::kDay, day});
  }

  // What the retention prune does: buckets that start before `cutoff` go.
  void DropBefore(TimePoint cutoff) {
    std::erase_if(buckets_,
                  [&](const Stored& stored) { return stored.counts.bucket_start < cutoff; });
  }

  Result<std::vector<BucketCounts>> CountRollups(const BucketCountsQuery& query) override {
    ++count_calls;
    queries.push_back(query);
    if (fail) return Error{"disk I/O error"};
    std::map<std::pair<std::string, TimePoint>, BucketCounts> merged;
    for (const Stored& stored : buckets_) {
      const BucketCounts& b = stored.counts;
      if (stored.period != query.period || b.bucket_start < query.from ||
          b.bucket_start >= query.to ||
          std::find(query.monitor_uids.begin(), query.monitor_uids.end(), b.monitor_uid) ==
              query.monitor_uids.end() ||
          (!query.regions.empty() && std::find(query.regions.begin(), query.regions.end(),
                                               stored.region) == query.regions.end())) {
        continue;
      }
      BucketCounts& into = merged[{b.monitor_uid, b.bucket_start}];
      into.monitor_uid = b.monitor_uid;
      into.bucket_start = b.bucket_start;
      into.total += b.total;
      into.up += b.up;
      into.degraded += b.degraded;
      into.down += b.down;
      into.errors += b.errors;
      into.latency_sum_us += b.latency_sum_us;
    }
    std::vector<BucketCounts> out;
    out.reserve(merged.size());
    for (auto& [key, bucket] : merged) out.push_back(bucket);
    return out;
  }

  int count_calls = 0;
  std::vector<BucketCountsQuery> queries;  // of CountRollups, in order
  bool fail = false;

 private:
  struct Stored {
    std::string uid;
    std::string region;
    RollupPeriod period;
    BucketCounts counts;
  };
  std::vector<Stored> buckets_;
};

class FakeIncidentReader final : public IncidentReader {
 public:
  void Add(IncidentRecord record) { records_.push_back(std::move(record)); }

  Result<std::vector<IncidentRecord>> ListIncidents(const IncidentQuery& query) override {
    asked.push_back(query.monitor_uid.value_or("*"));
    std::vector<IncidentRecord> out;
    for (const IncidentRecord& record : records_) {
      if (query.monitor_uid && record.incident.monitor_uid != *query.monitor_uid) continue;
      if (!query.include_resolved && record.incident.resolved_at) continue;
      out.push_back(record);
    }
    return out;
  }
  Result<std::optional<IncidentRecord>> GetIncident(const std::string& id) override {
    for (const IncidentRecord& record : records_) {
      if (record.incident.id == id) return std::optional(record);
    }
    return std::optional<IncidentRecord>();
  }

  std::vector<std::string> asked;  // monitor uids of the queries, in order

 private:
  std::vector<IncidentRecord> records_;
};

class FakeCalendar final : public MaintenanceCalendar {
 public:
  void Add(MaintenancePeriod period) {
    std::sort(period.monitor_keys.begin(), period.monitor_keys.end());
    periods_.push_back(std::move(period));
  }
  bool InMaintenance(const Monitor& monitor, TimePoint now) const override {
    for (const MaintenancePeriod& period : periods_) {
      if (period.start <= now && now < period.end &&
          std::binary_search(period.monitor_keys.begin(), period.monitor_keys.end(),
                             monitor.Key())) {
        return true;
      }
    }
    return false;
  }
  std::vector<MaintenancePeriod> Periods(TimePoint from, TimePoint to) const override {
    std::vector<MaintenancePeriod> out;
    for (const MaintenancePeriod& period : periods_) {
      if (period.start < to && period.end > from) out.push_back(period);
    }
    return out;
  }

 private:
  std::vector<MaintenancePeriod> periods_;
};

class FakeScreenshots final : public ScreenshotIndex {
 public:
  std::map<std::string, std::vector<std::string>> urls;
  std::vector<std::string> UrlsForIncident(const std::string& incident_id) const override {
    const auto found = urls.find(incident_id);
    return found == urls.end() ? std::vector<std::string>{} : found->second;
  }
};

}  // namespace pharos::testing
