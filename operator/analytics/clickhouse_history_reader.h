#pragma once

// ClickHouseHistoryReader: the history (uptime windows, latency percentiles, rollup bars, raw
// results) read from the ClickHouse tables every writer shares (docs/analytics.md, "Reading
// history"), so every replica and every new leader shows the same figures.
//
// Rules:
// * Raw results are read with FINAL (a batch sent twice counts once, and of a scheduled check
//   two processes both recorded the row the rollups were computed from counts). Rollups are read
//   without FINAL: per (monitor, region, bucket) the row with the largest count, i.e. the latest
//   recomputation, by argMax in a GROUP BY, which ClickHouse runs in parallel where FINAL merges.
// * A window [from, to) is planned as SQLite plans it: the partial hours at both ends from raw
//   results, whole hours from check_rollups_hourly, whole days from check_rollups_daily, except
//   that everything after `settled` (the start of the hour before the current one) comes from raw
//   results: the rollups of the last hours may not be recomputed yet (the writers refresh them
//   every few seconds; a writer that stopped mid-hour leaves the rest to the next one).
// * SummarizeMany (the JSON API's summaries of every monitor, each minute) is the exception: its
//   windows are whole hours (those starting in the last 24 h, 7 d, 30 d, the current one
//   included) read from the rollups alone, up to the last refresh (at most ~15 s old). Raw reads
//   made it cost 50,000 monitors ~10 minutes per refresh (BENCHMARKS.md §5b).
// * The rollup segments of all windows are read by one SELECT per table, each row tagged with
//   the windows it lies in (arrayJoin); raw segments are a SELECT each.
// * Latency percentiles come from the LatencyHistogram buckets SQLite keeps too (error below
//   one bucket, 10%); uptime counts are exact.
// * Incidents are not in ClickHouse: Incidents() fails with kInvalidArgument (the caller reads the
//   local store). Results lack DNS answers, ICMP details and per-address results (not copied).
// * One statement answers all the windows of a call (SummarizeMany: 24 h, 7 d and 30 d): the
//   SELECTs above in one UNION ALL, rows tagged with their window's index.
// Every call is one HTTP request; a failure (ClickHouse away, an error answer) is an Error of
// kind kUnavailable whose text says what ClickHouse answered.
// Thread-safety: stateless besides the transport, which is thread-safe.

#include <string>
#include <vector>

#include "common/clock.h"
#include "operator/analytics/clickhouse_transport.h"
#include "operator/control/result_store.h"

namespace pharos {

class ClickHouseHistoryReader final : public HistoryReader {
 public:
  // `transport` and `clock` must outlive the reader.
  ClickHouseHistoryReader(ClickHouseTransport& transport, std::string database, const Clock& clock)
      : transport_(transport), database_(std::move(database)), clock_(clock) {}

  Result<WindowStats> Stats(const StatsQuery& query) override;
  Result<std::vector<Rollup>> Rollups(const RollupQuery& query) override;
  Result<std::vector<CheckResult>> Results(const ResultQuery& query) override;
  Result<std::vector<Incident>> Incidents(const IncidentQuery& query) override;
  Result<std::vector<BucketCounts>> CountRollups(const BucketCountsQuery& query) override;
  Result<std::vector<Rollup>> ResultSeries(const SeriesQuery& query) override;
  // One query for the three windows of every monitor at once.
  Result<std::vector<MonitorSummary>> SummarizeMany(const std::vector<std::string>& monitor_uids,
                                                    TimePoint now) override;

 private:
  struct Selection;
  struct Row;
  struct Window {
    int64_t from_ms;
    int64_t to_ms;
  };
  // The rows of every window (Row::window: its index) in one query.
  Result<std::vector<Row>> Aggregate(const Selection& selection,
                                     const std::vector<Window>& windows);
  Result<std::string> Query(const std::string& sql);
  int64_t SettledMs() const;

  ClickHouseTransport& transport_;
  const std::string database_;
  const Clock& clock_;
};

}  // namespace pharos
