#pragma once

// ClickHouseAnalytics: the ClickHouse sink of one process, assembled from its settings (the
// --clickhouse-* flags that `pharos run` and pharos-operator share): the HTTP transport, the disk
// spool and the sink, plus the ResultStore decorator that feeds it from the primary store.
//
// Flags (docs/analytics.md):
//   --clickhouse-url URL                 ClickHouse HTTP interface; unset = no ClickHouse
//   --clickhouse-database NAME           database of the Pharos tables (pharos)
//   --clickhouse-user NAME               user (default)
//   --clickhouse-password-file FILE      first line is the password; without it
//                                        $PHAROS_CLICKHOUSE_PASSWORD, else none
//   --clickhouse-batch-rows N            rows per INSERT at most (1000)
//   --clickhouse-flush-interval DURATION longest wait of a row before its batch is sent (5s)
//   --clickhouse-retry-max DURATION      longest wait between retries while it is away (30s)
//   --clickhouse-spool-dir DIR           spool folder (<db>.clickhouse-spool)
//   --clickhouse-spool-max-bytes N       spool size bound (1073741824)
//   --clickhouse-summary-batch N         monitors per uptime-summary query (2000)
//   --clickhouse-summary-pause DURATION  rest between two uptime-summary queries (0s)
// Thread-safety: Open and Stop from the owner's thread; the parts are thread-safe.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "common/clock.h"
#include "common/command_line.h"
#include "common/metrics_registry.h"
#include "common/result.h"
#include "operator/analytics/analytics_result_store.h"
#include "operator/analytics/clickhouse_history_reader.h"
#include "operator/analytics/clickhouse_sink.h"
#include "operator/analytics/clickhouse_spool.h"
#include "operator/analytics/curl_clickhouse_transport.h"
#include "operator/analytics/fallback_history_reader.h"

namespace pharos {

class ClickHouseAnalytics {
 public:
  struct Options {
    CurlClickHouseTransport::Options connection;
    ClickHouseSink::Options sink;
    std::filesystem::path spool_dir;
    uint64_t spool_max_bytes = 1ull << 30;
    // How the operator core refreshes uptime summaries from ClickHouse (SummaryRefresher): a
    // call of 2,000 costs ~0.7 ms a monitor where one of 200 costs 2.6 ms (BENCHMARKS.md §5b).
    size_t summary_batch = 2'000;
    std::chrono::milliseconds summary_pause{0};
  };

  static void AddFlags(CommandLine& flags);
  // nullopt without --clickhouse-url. `db_path` places the default spool next to the database.
  // Errors name the flag (kInvalidArgument).
  static Result<std::optional<Options>> OptionsFromFlags(const CommandLine& flags,
                                                         const std::string& db_path);

  // Opens the spool and starts the sink (tables are created by the sink's thread, so a
  // ClickHouse that is away at start delays nothing). Errors name the spool folder.
  static Result<std::unique_ptr<ClickHouseAnalytics>> Open(const Options& options,
                                                           const Clock& clock,
                                                           MetricsRegistry& registry);
  ~ClickHouseAnalytics();  // Stop()

  // The primary wrapped so that its new results reach ClickHouse too and history is read from
  // ClickHouse (falling back to the primary while ClickHouse is away or the spool holds
  // results). Call once; `primary` must outlive this object.
  std::unique_ptr<ResultStore> Wrap(ResultStore& primary);
  // Sends or spools what is waiting and stops the sink. Call after the last Append.
  void Stop();

  ClickHouseSink& sink() { return *sink_; }

 private:
  ClickHouseAnalytics() = default;
  std::unique_ptr<CurlClickHouseTransport> transport_;
  std::unique_ptr<CurlClickHouseTransport> read_transport_;  // shorter timeouts for readers
  std::unique_ptr<ClickHouseSpool> spool_;
  std::unique_ptr<ClickHouseSink> sink_;
  const Clock* clock_ = nullptr;
  MetricsRegistry* registry_ = nullptr;
  std::string database_;
  std::unique_ptr<ClickHouseHistoryReader> reader_;
  std::unique_ptr<FallbackHistoryReader> fallback_;
};

}  // namespace pharos
