#pragma once

// AnalyticsResultStore: a ResultStore that keeps everything in the primary store (SQLite) and
// copies each newly stored result to the ClickHouseSink. Only results the primary reports as
// kNew are copied, after its commit: a result delivered twice by a probe reaches ClickHouse once,
// and ClickHouse never holds a result the primary refused. History reads go to `history` (the
// ClickHouse reader falling back to the primary, FallbackHistoryReader); states and incidents
// to the primary.
// Thread-safety: as the primary (the sink is thread-safe).

#include "operator/analytics/clickhouse_sink.h"
#include "operator/control/result_store.h"

namespace pharos {

class AnalyticsResultStore final : public ResultStore {
 public:
  // `primary`, `sink` and `history` must outlive the store.
  AnalyticsResultStore(ResultStore& primary, ClickHouseSink& sink, HistoryReader& history)
      : primary_(primary), sink_(sink), history_(history) {}

  Result<AppendResult> Append(const std::vector<CheckResult>& results) override;

  Result<WindowStats> Stats(const StatsQuery& query) override { return history_.Stats(query); }
  Result<std::vector<Rollup>> Rollups(const RollupQuery& query) override {
    return history_.Rollups(query);
  }
  Result<std::vector<CheckResult>> Results(const ResultQuery& query) override {
    return history_.Results(query);
  }
  Result<std::vector<Incident>> Incidents(const IncidentQuery& query) override {
    return history_.Incidents(query);
  }
  Result<std::vector<BucketCounts>> CountRollups(const BucketCountsQuery& query) override {
    return history_.CountRollups(query);
  }
  Result<std::vector<Rollup>> ResultSeries(const SeriesQuery& query) override {
    return history_.ResultSeries(query);
  }
  Result<std::vector<MonitorSummary>> SummarizeMany(const std::vector<std::string>& monitor_uids,
                                                    TimePoint now) override {
    return history_.SummarizeMany(monitor_uids, now);
  }
  Status SaveMonitorState(const MonitorStateSnapshot& state,
                          const std::vector<StateEvent>& events) override {
    return primary_.SaveMonitorState(state, events);
  }
  Status SaveMonitorStates(const std::vector<MonitorStateSave>& saves) override {
    return primary_.SaveMonitorStates(saves);
  }
  Result<std::vector<MonitorStateSnapshot>> LoadMonitorStates() override {
    return primary_.LoadMonitorStates();
  }
  Status ForgetMonitor(std::string_view monitor_uid, TimePoint now) override {
    return primary_.ForgetMonitor(monitor_uid, now);
  }
  Result<PruneReport> Prune(TimePoint now) override { return primary_.Prune(now); }

 private:
  ResultStore& primary_;
  ClickHouseSink& sink_;
  HistoryReader& history_;
};

}  // namespace pharos
