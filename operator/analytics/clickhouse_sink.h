#pragma once

// ClickHouseSink: copies newly stored check results to ClickHouse (docs/analytics.md). Rows are
// encoded as they arrive (Add) and sent in batches of at most `batch_rows` rows, or when the
// oldest waiting row is `max_delay` old, as one gzip-compressed `INSERT ... FORMAT JSONEachRow`.
//
// When ClickHouse is unreachable, refuses the credentials, lost its table or answers any other
// error, the batch goes to the ClickHouseSpool on disk and ClickHouse is retried with backoff
// (`retry_initial` doubling up to `retry_max`); while it is away new batches go straight to the
// spool. Once a statement succeeds again the spool is drained oldest first, one segment per step,
// interleaved with live batches. A missing table makes the next attempt create the schema again.
// Every failure is logged with what to do (once per change of failure kind, then every
// `log_repeat`) and counted. Rows refused by a full spool are counted as dropped (SQLite keeps
// them). Retried batches may reach ClickHouse twice; the ReplacingMergeTree keyed by item id
// collapses them (ClickHouseSchema).
//
// Rollups: every batch ClickHouse took marks the (hour, monitor) pairs it holds; at most every
// `rollup_interval` (and at Stop) those hours' hourly rollups and their days' daily rollups are
// recomputed from check_results FINAL (ClickHouseSchema::RefreshHourly/RefreshDaily). A failed
// refresh keeps the marks and is retried with the backoff of any failed statement. The marks
// live in memory: a writer that dies between an insert and its refresh leaves those hours short
// in the rollups (which the JSON API's summaries read alone). So until the end of the hour after
// the start, the first batch holding a monitor also marks that monitor's hour of the start and
// the hour before: a new leader (or a restart) recomputes what its predecessor may have left.
//
// Pump() is one step of that logic in virtual time (tests call it directly with a ManualClock);
// Start() runs it on a thread "pharos-ch-sink" and Stop() sends what is waiting once, spooling
// it when that fails, so a clean shutdown loses nothing. Rows waiting in memory are journaled
// in the spool folder too (ClickHouseSpool), so after a crash the next start sends them.
// Thread-safety: Add, Stop and the accessors from any thread; Pump from one thread at a time
// (the sink's own once started).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/check_result.h"
#include "common/clock.h"
#include "common/metrics_registry.h"
#include "common/mutex.h"
#include "operator/analytics/clickhouse_schema.h"
#include "operator/analytics/clickhouse_spool.h"
#include "operator/analytics/clickhouse_transport.h"

namespace pharos {

class ClickHouseSink {
 public:
  struct Options {
    std::string database = "pharos";
    size_t batch_rows = 1000;
    std::chrono::milliseconds max_delay{5'000};
    std::chrono::milliseconds retry_initial{1'000};
    std::chrono::milliseconds retry_max{30'000};
    // Rows kept in memory while a send is in flight; beyond it Add spools them itself.
    size_t max_buffered_rows = 50'000;
    bool gzip = true;
    std::chrono::milliseconds log_repeat{60'000};
    std::chrono::milliseconds rollup_interval{10'000};
    // Monitors per rollup statement (keeps the statement under ClickHouse's max_query_size).
    size_t rollup_monitors_per_statement = 500;
  };

  // `transport`, `spool`, `clock` and `registry` must outlive the sink. The metrics
  // (pharos_clickhouse_*) are registered at once.
  ClickHouseSink(ClickHouseTransport& transport, ClickHouseSpool& spool, const Clock& clock,
                 MetricsRegistry& registry, Options options);
  ~ClickHouseSink();  // Stop()
  ClickHouseSink(const ClickHouseSink&) = delete;
  ClickHouseSink& operator=(const ClickHouseSink&) = delete;

  // Queues the rows of `results` (results newly stored in the primary store).
  void Add(const std::vector<CheckResult>& results);

  // One step: ensures the schema, sends the batch that is due, or one spooled segment. Returns
  // when the next step is due (sooner when rows arrive). `flush` sends a partial batch now.
  std::chrono::steady_clock::time_point Pump(bool flush = false);

  // Starts the sending thread.
  void Start();
  // Sends what is waiting (one attempt), spools it if that fails, stops the thread. Idempotent.
  void Stop();

  // For tests and the metrics.
  size_t buffered_rows() const;
  bool schema_ready() const;
  // Why history should be read from the local store rather than ClickHouse now, or nullopt:
  // "starting" (tables not created yet), "away" (the last statement failed), "spool" (results
  // wait in the spool: SQLite has them, ClickHouse not yet). Any thread.
  std::optional<std::string> LocalReadReason() const;
  // Hours whose rollups wait to be recomputed (Pump's thread, or after Stop).
  size_t pending_rollup_hours() const { return touched_.size(); }

 private:
  struct Batch {
    std::string body;
    size_t rows = 0;
    std::chrono::system_clock::time_point oldest{};
    uint64_t journal = 0;  // the journal holding these rows, dropped once they are handled
  };

  // Sends one INSERT; records metrics; nullopt on success.
  std::optional<ClickHouseError> Insert(const std::string& body, size_t rows);
  bool EnsureSchema();
  void Failed(const ClickHouseError& error, std::string_view what);
  void Recovered();
  void SpoolBatch(const Batch& batch, std::string_view why);
  void UpdateSpoolGauges();
  // Marks the hours and monitors of the rows in `body` (JSONEachRow) for a rollup refresh.
  void Touch(const std::string& body);
  // Recomputes the marked rollups; false when ClickHouse refused (the marks stay).
  bool RefreshRollups();
  bool Waiting(std::chrono::steady_clock::time_point now) const REQUIRES(mutex_);
  // At most max_rows rows from the front of buffer_, the rest journaled anew.
  Batch TakeBatch(size_t max_rows) REQUIRES(mutex_);
  // The batch was sent, spooled or dropped: its journal goes.
  void Handled(const Batch& batch);
  void Run();

  ClickHouseTransport& transport_;
  ClickHouseSpool& spool_;
  const Clock& clock_;
  const Options options_;
  const std::string insert_statement_;

  Counter& rows_sent_;
  Counter& rows_spooled_;
  Counter& rows_dropped_;
  CounterFamily& batches_failed_;
  Gauge& spool_bytes_;
  Gauge& spool_rows_;
  Gauge& spool_oldest_age_;
  Gauge& up_;
  Histogram& insert_seconds_;

  mutable Mutex mutex_;
  CondVar wake_;
  Batch buffer_ GUARDED_BY(mutex_);
  std::chrono::steady_clock::time_point buffer_since_ GUARDED_BY(mutex_) = {};
  uint64_t next_local_id_ GUARDED_BY(mutex_) = 0;
  std::string local_id_prefix_ GUARDED_BY(mutex_);
  bool stopping_ GUARDED_BY(mutex_) = false;
  bool stopped_ GUARDED_BY(mutex_) = false;
  uint64_t journal_ GUARDED_BY(mutex_) = 0;  // the spool journal of buffer_'s rows; 0 = none

  // Pump's own state (one Pump at a time).
  std::atomic<bool> schema_ready_{false};
  std::atomic<bool> away_{false};  // down_, for other threads
  bool down_ = false;
  std::chrono::steady_clock::time_point next_attempt_{};
  std::chrono::milliseconds backoff_{0};
  std::optional<ClickHouseFailure> last_logged_kind_;
  std::chrono::steady_clock::time_point last_logged_at_{};
  std::map<int64_t, std::set<std::string>> touched_;  // hour start (Unix s) -> monitor uids
  // The catch-up after the start: the start's hour, and the monitors whose hours were marked.
  int64_t start_hour_s_ = 0;
  bool catching_up_ = true;
  std::set<std::string> caught_up_;
  std::chrono::steady_clock::time_point next_refresh_{};

  std::thread thread_;
};

}  // namespace pharos
