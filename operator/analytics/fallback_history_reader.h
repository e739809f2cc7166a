#pragma once

// FallbackHistoryReader: reads history from a shared store (ClickHouse) and falls back to the
// local one (this process's SQLite) whenever the shared store cannot answer, so that a reader
// never fails because ClickHouse is away (docs/analytics.md, "Reading history").
//
// Rules:
// * `local_first` is asked before every read: a reason ("spool": this process has results waiting
//   in the ClickHouse spool, which SQLite has and ClickHouse not yet; "away": the sink's last
//   statement failed; "starting": the tables are not known to exist yet) sends the read to the
//   local store directly, without waiting for ClickHouse to time out.
// * A read the shared store fails (kUnavailable: unreachable, an error answer) is answered from
//   the local store too (reason "error"), logged once per minute with what to do.
// * Incidents always come from the local store (ClickHouse does not keep them).
// Metrics: pharos_history_reads_total{source}, pharos_history_fallbacks_total{reason}.
// Thread-safety: every method may be called from any thread (the readers are thread-safe).

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "common/clock.h"
#include "common/metrics_registry.h"
#include "common/mutex.h"
#include "operator/control/result_store.h"

namespace pharos {

class FallbackHistoryReader final : public HistoryReader {
 public:
  // nullopt: read the shared store; else the reason to read the local one.
  using LocalFirst = std::function<std::optional<std::string>()>;

  // Every reference must outlive the reader. The metrics are registered at once.
  FallbackHistoryReader(HistoryReader& shared, HistoryReader& local, LocalFirst local_first,
                        MetricsRegistry& registry, const Clock& clock);

  Result<WindowStats> Stats(const StatsQuery& query) override;
  Result<std::vector<Rollup>> Rollups(const RollupQuery& query) override;
  Result<std::vector<CheckResult>> Results(const ResultQuery& query) override;
  Result<std::vector<Incident>> Incidents(const IncidentQuery& query) override;
  Result<std::vector<BucketCounts>> CountRollups(const BucketCountsQuery& query) override;
  Result<std::vector<Rollup>> ResultSeries(const SeriesQuery& query) override;
  Result<std::vector<MonitorSummary>> SummarizeMany(const std::vector<std::string>& monitor_uids,
                                                    TimePoint now) override;

 private:
  template <typename T>
  Result<T> Read(const std::function<Result<T>(HistoryReader&)>& read);
  void LogFallback(const std::string& error);

  HistoryReader& shared_;
  HistoryReader& local_;
  const LocalFirst local_first_;
  const Clock& clock_;
  CounterFamily& reads_;
  CounterFamily& fallbacks_;
  Mutex log_mu_;
  std::optional<std::chrono::steady_clock::time_point> last_log_ GUARDED_BY(log_mu_);
};

}  // namespace pharos
