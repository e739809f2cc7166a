#pragma once

// ClickHouseHistoryReader: the history (uptime windows, latency percentiles, rollup bars, raw
// results) read from the ClickHouse tables every writer shares (docs/analytics.md, "Reading
// history"), so every replica and every new leader shows the same figures.
//
// Rules:
// * Raw results are read with FINAL (a batch sent twice counts once); rollups with FINAL too
//   (the row with the largest count, i.e. the latest recomputation, wins).
// * A window [from, to) is planned as SQLite plans it: the partial hours at both ends from raw
//   results, whole hours from check_rollups_hourly, whole days from check_rollups_daily, except
//   that everything after `settled` (the start of the hour before the current one) comes from raw
//   results: the rollups of the last hours may not be recomputed yet (the writers refresh them
//   every few seconds; a writer that stopped mid-hour leaves the rest to the next one).
// * Latency percentiles come from the LatencyHistogram buckets SQLite keeps too (error below
//   one bucket, 10%); uptime counts are exact.
// * Incidents are not in ClickHouse: Incidents() fails with kInvalidArgument (the caller reads the
//   local store). Results lack DNS answers, ICMP details and per-address results (not copied).
// Every call is a few HTTP requests; a failure (ClickHouse away, an error answer) is an Error of
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
  // Three queries (one per window) for every monitor at once.
  Result<std::vector<MonitorSummary>> SummarizeMany(const std::vector<std::string>& monitor_uids,
                                                    TimePoint now) override;

 private:
  struct Selection;
  struct Row;
  Result<std::vector<Row>> Aggregate(const Selection& selection, int64_t from_ms, int64_t to_ms);
  Result<std::string> Query(const std::string& sql);
  int64_t SettledMs() const;

  ClickHouseTransport& transport_;
  const std::string database_;
  const Clock& clock_;
};

}  // namespace pharos
