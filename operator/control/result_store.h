#pragma once

// ResultStore: where the operator keeps check results, their hourly/daily rollups, monitor
// states and incidents (docs/architecture.md, "Storage"). An interface so that ingestion, the
// status page and the JSON API can be tested with a double; SqliteResultStore is the embedded
// implementation. Calls are synchronous; ResultWriter batches Append calls on its own thread.
// Thread-safety: implementations must be safe to call from any thread.
//
// Semantics shared by every implementation:
// * A result's time is its scheduledAt (startedAt when it has none); windows, rollups and
//   retention use it. Buckets are UTC hours and UTC days.
// * Idempotence: results are unique by item id: a result delivered twice is stored (and
//   counted in rollups) once. Results without an item id are always new.
// * Uptime = passed / (passed + failed) with passed = up + degraded, failed = down; `error`
//   results are probe failures and count in neither. Latency percentiles are over passing
//   results (total time); a failed check's time says nothing about the target's speed.
// * Stats over [from, to) are exact wherever raw results are still kept: whole UTC days come
//   from daily rollups, whole hours from hourly rollups, the partial hours at both ends (e.g. the
//   current hour) from raw results. Where raw results were already pruned the window is widened
//   to whole hours (whole days once hourly rollups are pruned too). With the default retention
//   the 24 h, 7 d and 30 d windows are always exact.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/check_result.h"
#include "common/result.h"
#include "operator/control/monitor_state.h"

namespace pharos {

enum class AppendStatus {
  kNew,        // stored now
  kDuplicate,  // an equal item id was already stored: nothing written
  kRejected,   // not storable (see AppendResult::rejections); nothing written
};

struct Rejection {
  size_t index = 0;    // position in the input
  std::string reason;  // "item 'x' of monitor 'y': region is empty"
};

struct AppendResult {
  std::vector<AppendStatus> statuses;  // one per input result, in input order
  std::vector<Rejection> rejections;   // one per kRejected status, in input order
  // Not committed yet: the store is failing and ResultWriter holds the results in memory until
  // it can write them (every status is kNew then).
  bool held = false;
  size_t Count(AppendStatus status) const;
};

// Mean time of each phase over the passing results that recorded their phases (µs). The phases of
// a result add up to its total time (minus what fell between phases), so the means stack into the
// mean total.
struct PhaseMeans {
  int64_t samples = 0;  // 0: unknown (e.g. rollups written before phases were kept)
  int64_t dns_us = 0;
  int64_t connect_us = 0;
  int64_t tls_us = 0;
  int64_t first_byte_us = 0;
  int64_t transfer_us = 0;
};

struct LatencyStats {
  int64_t samples = 0;
  std::optional<int64_t> p50_us, p95_us, p99_us, min_us, max_us;
  std::optional<int64_t> mean_us;
  int64_t sum_us = 0;  // total time summed over the samples
  PhaseMeans phases;
};

// Counts over a window (or a rollup bucket).
struct WindowStats {
  int64_t total = 0;  // every result, errors included
  int64_t up = 0;
  int64_t degraded = 0;
  int64_t down = 0;
  int64_t errors = 0;
  LatencyStats latency;
  // Percentage 0..100, nullopt without a passing or failing result.
  std::optional<double> UptimePercent() const;
};

struct StatsQuery {
  std::string monitor_uid;
  std::optional<std::string> region;  // nullopt = all regions
  TimePoint from{};
  TimePoint to{};
};

enum class RollupPeriod { kHour, kDay };

struct RollupQuery {
  std::string monitor_uid;
  RollupPeriod period = RollupPeriod::kDay;
  std::optional<std::string> region;  // nullopt = all regions, merged per bucket
  TimePoint from{};                   // buckets starting in [from, to)
  TimePoint to{};
};

struct Rollup {
  TimePoint bucket_start{};
  std::string region;  // empty when regions were merged
  WindowStats stats;
};

// Counts of many monitors' rollup buckets at once, without latency percentiles: what uptime bars
// and sparklines of a whole status page need, in one query instead of one per monitor.
struct BucketCountsQuery {
  std::vector<std::string> monitor_uids;
  RollupPeriod period = RollupPeriod::kDay;
  std::vector<std::string> regions;  // empty = every region; regions are merged per bucket
  TimePoint from{};                  // buckets starting in [from, to)
  TimePoint to{};
};

struct BucketCounts {
  std::string monitor_uid;
  TimePoint bucket_start{};
  int64_t total = 0;  // every result, errors included
  int64_t up = 0;
  int64_t degraded = 0;
  int64_t down = 0;
  int64_t errors = 0;
  int64_t latency_sum_us = 0;  // total time summed over the passing (up + degraded) results

  // As WindowStats::UptimePercent.
  std::optional<double> UptimePercent() const;
  // Mean total time of the passing results; nullopt without any.
  std::optional<int64_t> MeanLatencyUs() const;
  bool operator==(const BucketCounts&) const = default;
};

// Raw results aggregated into buckets of `step` (charts finer than an hour).
struct SeriesQuery {
  std::string monitor_uid;
  std::optional<std::string> region;  // nullopt = all regions, merged per bucket
  TimePoint from{};  // bucket i covers [from + i·step, from + (i+1)·step) ∩ [from, to)
  TimePoint to{};
  std::chrono::milliseconds step{300'000};
};

struct ResultQuery {
  std::string monitor_uid;
  std::optional<std::string> region;
  TimePoint since{};  // inclusive
  int limit = 100;
  bool newest_first = false;  // false: oldest first (replay order)
};

struct Incident {
  std::string id;
  std::string monitor_uid;
  std::string monitor_key;
  TimePoint opened_at{};
  std::optional<TimePoint> resolved_at;
  std::vector<std::string> failing_regions;
  std::string first_error;

  bool operator==(const Incident&) const = default;
};

struct IncidentQuery {
  std::optional<std::string> monitor_uid;  // nullopt = every monitor
  bool include_resolved = true;
  int limit = 50;
};

// The incidents of several monitors that were open at some time in [from, to): opened before
// `to`, and unresolved or resolved after `from` (an incident resolved the millisecond it opened
// counts as open for that millisecond). At most `limit_per_monitor` per monitor, the open one
// first, then the most recently opened (as IncidentQuery).
struct IncidentWindowQuery {
  std::vector<std::string> monitor_uids;
  TimePoint from{};
  TimePoint to{};
  int limit_per_monitor = 100;

  // Whether an incident opened at `opened` and resolved at `resolved` (nullopt: open) is in.
  bool Covers(TimePoint opened, std::optional<TimePoint> resolved) const;
};

// What the status and the JSON API show for a monitor.
struct MonitorSummary {
  WindowStats last_24h;
  WindowStats last_7d;
  WindowStats last_30d;
};

struct PruneReport {
  int64_t results = 0;
  int64_t hourly_rollups = 0;
  int64_t daily_rollups = 0;
  int64_t incidents = 0;
  int64_t compacted_days = 0;  // days whose daily rollups were computed from their hours
};

// One monitor state to persist with the events that produced it (SaveMonitorStates).
struct MonitorStateSave {
  MonitorStateSnapshot state;
  std::vector<StateEvent> events;
};

// HistoryReader: the read side of the stored history: what the JSON API, status pages and
// dashboards show (uptime windows, rollup bars, raw results, incidents). ResultStore is one;
// an analytics engine shared by every replica can be another.
class HistoryReader {
 public:
  virtual ~HistoryReader() = default;

  // Counts and latency percentiles over [from, to).
  virtual Result<WindowStats> Stats(const StatsQuery& query) = 0;
  // Rollup buckets, oldest first (uptime bars).
  virtual Result<std::vector<Rollup>> Rollups(const RollupQuery& query) = 0;
  // Raw results (kept for the raw retention).
  virtual Result<std::vector<CheckResult>> Results(const ResultQuery& query) = 0;
  // Open incidents first, then the most recently opened.
  virtual Result<std::vector<Incident>> Incidents(const IncidentQuery& query) = 0;
  // The incidents of `query`'s monitors in its window, grouped by monitor in no given order of
  // monitors. The default asks Incidents() once per monitor; stores override it with one query.
  virtual Result<std::vector<Incident>> IncidentsInWindow(const IncidentWindowQuery& query);
  // Rollup counts of every listed monitor, ordered by monitor uid then bucket; monitors or
  // buckets without results are absent. The default asks Rollups() once per monitor and region;
  // stores override it with one query.
  virtual Result<std::vector<BucketCounts>> CountRollups(const BucketCountsQuery& query);
  // Raw results of [from, to) aggregated per `step`, oldest first; buckets without results are
  // absent (Rollup::region is the query's region, or empty). Percentiles and phase means as in
  // Stats. Only as far back as raw results are kept. The default reads Results().
  virtual Result<std::vector<Rollup>> ResultSeries(const SeriesQuery& query);

  // Uptime and latency over the 24 h, 7 d and 30 d before `now` (three Stats calls).
  Result<MonitorSummary> Summarize(std::string_view monitor_uid, TimePoint now);
  // Summarize of each monitor, in the order given. The default calls Summarize per monitor and
  // stops at the first failure; a remote store overrides it with a few queries for all.
  virtual Result<std::vector<MonitorSummary>> SummarizeMany(
      const std::vector<std::string>& monitor_uids, TimePoint now);
};

class ResultStore : public HistoryReader {
 public:
  // Stores the results and updates their rollups, all in one transaction: either every storable
  // result is committed or (on error) none is.
  virtual Result<AppendResult> Append(const std::vector<CheckResult>& results) = 0;

  // Persists a monitor's state and applies the incidents its events open or resolve, in one
  // transaction. Idempotent: saving the same snapshot and events again changes nothing.
  virtual Status SaveMonitorState(const MonitorStateSnapshot& state,
                                  const std::vector<StateEvent>& events) = 0;
  // Saves several monitor states, each with its events, as SaveMonitorState would. The default
  // saves them one by one and stops at the first failure; SqliteResultStore saves all or none
  // in one transaction, so thousands of states (shutdown, housekeeping, a burst of
  // transitions) cost one commit instead of one per monitor.
  virtual Status SaveMonitorStates(const std::vector<MonitorStateSave>& saves);
  // Every stored monitor state, ordered by monitor key.
  virtual Result<std::vector<MonitorStateSnapshot>> LoadMonitorStates() = 0;
  // The monitor is gone: drops its state and resolves its open incident at `now` (history stays
  // until retention).
  virtual Status ForgetMonitor(std::string_view monitor_uid, TimePoint now) = 0;

  // Drops what is older than the retention periods, measured back from `now`.
  virtual Result<PruneReport> Prune(TimePoint now) = 0;
};

}  // namespace pharos
