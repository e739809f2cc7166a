#include "operator/control/result_store.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <utility>

namespace pharos {

size_t AppendResult::Count(AppendStatus status) const {
  return static_cast<size_t>(std::count(statuses.begin(), statuses.end(), status));
}

std::optional<double> WindowStats::UptimePercent() const {
  const int64_t passed = up + degraded;
  if (passed + down == 0) return std::nullopt;
  return 100.0 * static_cast<double>(passed) / static_cast<double>(passed + down);
}

std::optional<double> BucketCounts::UptimePercent() const {
  const int64_t passed = up + degraded;
  if (passed + down == 0) return std::nullopt;
  return 100.0 * static_cast<double>(passed) / static_cast<double>(passed + down);
}

std::optional<int64_t> BucketCounts::MeanLatencyUs() const {
  const int64_t passed = up + degraded;
  if (passed == 0) return std::nullopt;
  return latency_sum_us / passed;
}

bool IncidentWindowQuery::Covers(TimePoint opened, std::optional<TimePoint> resolved) const {
  if (opened >= to) return false;
  return !resolved || std::max(*resolved, opened + std::chrono::milliseconds(1)) > from;
}

Result<std::vector<Incident>> HistoryReader::IncidentsInWindow(const IncidentWindowQuery& query) {
  std::vector<Incident> out;
  for (const std::string& uid : query.monitor_uids) {
    IncidentQuery one;
    one.monitor_uid = uid;
    one.limit = query.limit_per_monitor;
    Result<std::vector<Incident>> incidents = Incidents(one);
    if (!incidents) return Error{incidents.error(), incidents.error_kind()};
    for (Incident& incident : *incidents) {
      if (query.Covers(incident.opened_at, incident.resolved_at)) {
        out.push_back(std::move(incident));
      }
    }
  }
  return out;
}

Result<std::vector<BucketCounts>> HistoryReader::CountRollups(const BucketCountsQuery& query) {
  std::vector<std::string> uids = query.monitor_uids;
  std::sort(uids.begin(), uids.end());
  uids.erase(std::unique(uids.begin(), uids.end()), uids.end());
  std::vector<std::optional<std::string>> regions;
  if (query.regions.empty()) {
    regions.emplace_back(std::nullopt);
  } else {
    regions.assign(query.regions.begin(), query.regions.end());
  }
  std::vector<BucketCounts> out;
  for (const std::string& uid : uids) {
    std::map<TimePoint, BucketCounts> buckets;
    for (const std::optional<std::string>& region : regions) {
      Result<std::vector<Rollup>> rollups =
          Rollups(RollupQuery{uid, query.period, region, query.from, query.to});
      if (!rollups) return Error{rollups.error(), rollups.error_kind()};
      for (const Rollup& rollup : *rollups) {
        BucketCounts& bucket = buckets[rollup.bucket_start];
        bucket.monitor_uid = uid;
        bucket.bucket_start = rollup.bucket_start;
        bucket.total += rollup.stats.total;
        bucket.up += rollup.stats.up;
        bucket.degraded += rollup.stats.degraded;
        bucket.down += rollup.stats.down;
        bucket.errors += rollup.stats.errors;
        bucket.latency_sum_us += rollup.stats.latency.sum_us;
      }
    }
    for (auto& [start, bucket] : buckets) out.push_back(std::move(bucket));
  }
  return out;
}

Result<std::vector<Rollup>> HistoryReader::ResultSeries(const SeriesQuery& query) {
  if (query.step <= std::chrono::milliseconds(0)) {
    return Error{"result series: the step must be positive", ErrorKind::kInvalidArgument};
  }
  Result<std::vector<CheckResult>> results =
      Results(ResultQuery{query.monitor_uid, query.region, query.from, 100'000, false});
  if (!results) return Error{results.error(), results.error_kind()};
  struct Bucket {
    WindowStats stats;
    std::vector<int64_t> latencies;
    int64_t phase[5] = {};
  };
  std::map<int64_t, Bucket> buckets;
  for (const CheckResult& result : *results) {
    const TimePoint at =
        result.scheduled_at != TimePoint{} ? result.scheduled_at : result.started_at;
    if (at < query.from || at >= query.to) continue;
    Bucket& bucket = buckets[(at - query.from) / query.step];
    ++bucket.stats.total;
    switch (result.outcome) {
      case Outcome::kUp:
      case Outcome::kDegraded:
        ++(result.outcome == Outcome::kUp ? bucket.stats.up : bucket.stats.degraded);
        bucket.latencies.push_back(result.timings.total_us);
        bucket.phase[0] += result.timings.dns_us;
        bucket.phase[1] += result.timings.connect_us;
        bucket.phase[2] += result.timings.tls_us;
        bucket.phase[3] += result.timings.first_byte_us;
        bucket.phase[4] += result.timings.transfer_us;
        break;
      case Outcome::kDown:
        ++bucket.stats.down;
        break;
      case Outcome::kError:
        ++bucket.stats.errors;
        break;
    }
  }
  std::vector<Rollup> out;
  for (auto& [index, bucket] : buckets) {
    LatencyStats& latency = bucket.stats.latency;
    std::vector<int64_t>& values = bucket.latencies;
    if (!values.empty()) {
      std::sort(values.begin(), values.end());
      const auto count = static_cast<int64_t>(values.size());
      const auto nearest_rank = [&](double q) {
        const auto rank = static_cast<int64_t>(std::ceil(q * static_cast<double>(count)));
        return values[static_cast<size_t>(std::clamp<int64_t>(rank, 1, count) - 1)];
      };
      int64_t sum = 0;
      for (int64_t value : values) sum += value;
      latency.samples = count;
      latency.p50_us = nearest_rank(0.50);
      latency.p95_us = nearest_rank(0.95);
      latency.p99_us = nearest_rank(0.99);
      latency.min_us = values.front();
      latency.max_us = values.back();
      latency.mean_us = sum / count;
      latency.sum_us = sum;
      latency.phases = PhaseMeans{count,
                                  bucket.phase[0] / count,
                                  bucket.phase[1] / count,
                                  bucket.phase[2] / count,
                                  bucket.phase[3] / count,
                                  bucket.phase[4] / count};
    }
    out.push_back(Rollup{query.from + index * query.step, query.region.value_or(""), bucket.stats});
  }
  return out;
}

Status ResultStore::SaveMonitorStates(const std::vector<MonitorStateSave>& saves) {
  for (const MonitorStateSave& save : saves) {
    if (Status saved = SaveMonitorState(save.state, save.events); !saved) return saved;
  }
  return OkStatus();
}

Result<MonitorSummary> HistoryReader::Summarize(std::string_view monitor_uid, TimePoint now) {
  using std::chrono::hours;
  MonitorSummary summary;
  const std::pair<hours, WindowStats*> windows[] = {{hours(24), &summary.last_24h},
                                                    {hours(24 * 7), &summary.last_7d},
                                                    {hours(24 * 30), &summary.last_30d}};
  for (const auto& [length, out] : windows) {
    Result<WindowStats> stats =
        Stats(StatsQuery{std::string(monitor_uid), std::nullopt, now - length, now});
    if (!stats) return Error{stats.error()};
    *out = std::move(stats).value();
  }
  return summary;
}

Result<std::vector<MonitorSummary>> HistoryReader::SummarizeMany(
    const std::vector<std::string>& monitor_uids, TimePoint now) {
  std::vector<MonitorSummary> out;
  out.reserve(monitor_uids.size());
  for (const std::string& uid : monitor_uids) {
    Result<MonitorSummary> summary = Summarize(uid, now);
    if (!summary) return Error{summary.error(), summary.error_kind()};
    out.push_back(std::move(summary).value());
  }
  return out;
}

}  // namespace pharos
