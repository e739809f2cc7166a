#include "operator/analytics/fallback_history_reader.h"

#include "common/logging.h"

namespace pharos {

FallbackHistoryReader::FallbackHistoryReader(HistoryReader& shared, HistoryReader& local,
                                             LocalFirst local_first, MetricsRegistry& registry,
                                             const Clock& clock)
    : shared_(shared),
      local_(local),
      local_first_(std::move(local_first)),
      clock_(clock),
      reads_(registry.AddCounter("pharos_history_reads_total",
                                 "History reads (uptime, latency, results, status-page bars) by "
                                 "the store that answered: clickhouse or sqlite.",
                                 {"source"})),
      fallbacks_(registry.AddCounter(
          "pharos_history_fallbacks_total",
          "History reads answered from the local SQLite instead of ClickHouse, by reason: spool "
          "(results wait in the spool), away (ClickHouse did not take the last statement), "
          "starting (tables not checked yet), error (the query failed).",
          {"reason"})) {
  for (const char* source : {"clickhouse", "sqlite"}) reads_.WithLabels({source});
  for (const char* reason : {"spool", "away", "starting", "error"}) fallbacks_.WithLabels({reason});
}

template <typename T>
Result<T> FallbackHistoryReader::Read(const std::function<Result<T>(HistoryReader&)>& read) {
  if (std::optional<std::string> reason = local_first_()) {
    fallbacks_.WithLabels({*reason}).Inc();
    reads_.WithLabels({"sqlite"}).Inc();
    return read(local_);
  }
  Result<T> shared = read(shared_);
  if (shared || shared.error_kind() == ErrorKind::kInvalidArgument) {
    reads_.WithLabels({"clickhouse"}).Inc();
    return shared;
  }
  LogFallback(shared.error());
  fallbacks_.WithLabels({"error"}).Inc();
  reads_.WithLabels({"sqlite"}).Inc();
  return read(local_);
}

void FallbackHistoryReader::LogFallback(const std::string& error) {
  const auto now = clock_.SteadyNow();
  {
    MutexLock lock(log_mu_);
    if (last_log_ && now - *last_log_ < std::chrono::minutes(1)) return;
    last_log_ = now;
  }
  Logger("clickhouse")
      .Warn(
          "history read from ClickHouse failed; answered from this replica's SQLite, which "
          "may lack what other replicas recorded (check that ClickHouse is up and "
          "pharos_clickhouse_up; repeats at most once a minute)",
          {{"error", error}});
}

Result<WindowStats> FallbackHistoryReader::Stats(const StatsQuery& query) {
  return Read<WindowStats>([&](HistoryReader& reader) { return reader.Stats(query); });
}

Result<std::vector<Rollup>> FallbackHistoryReader::Rollups(const RollupQuery& query) {
  return Read<std::vector<Rollup>>([&](HistoryReader& reader) { return reader.Rollups(query); });
}

Result<std::vector<CheckResult>> FallbackHistoryReader::Results(const ResultQuery& query) {
  return Read<std::vector<CheckResult>>(
      [&](HistoryReader& reader) { return reader.Results(query); });
}

Result<std::vector<Incident>> FallbackHistoryReader::Incidents(const IncidentQuery& query) {
  return local_.Incidents(query);
}

Result<std::vector<BucketCounts>> FallbackHistoryReader::CountRollups(
    const BucketCountsQuery& query) {
  return Read<std::vector<BucketCounts>>(
      [&](HistoryReader& reader) { return reader.CountRollups(query); });
}

Result<std::vector<Rollup>> FallbackHistoryReader::ResultSeries(const SeriesQuery& query) {
  return Read<std::vector<Rollup>>(
      [&](HistoryReader& reader) { return reader.ResultSeries(query); });
}

Result<std::vector<MonitorSummary>> FallbackHistoryReader::SummarizeMany(
    const std::vector<std::string>& monitor_uids, TimePoint now) {
  return Read<std::vector<MonitorSummary>>(
      [&](HistoryReader& reader) { return reader.SummarizeMany(monitor_uids, now); });
}

}  // namespace pharos
