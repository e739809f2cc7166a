#pragma once

// SqliteResultStore: the embedded ResultStore (docs/architecture.md, "Storage"): one SQLite file in
// WAL mode with raw results, hourly and daily rollups, incidents and monitor states.
// * Hourly rollups are updated in the same transaction as the raw rows they count (so they are
//   never behind, late results land in the right bucket and a duplicate is never counted twice),
//   and each keeps a fixed-bucket LatencyHistogram: percentiles stay available for as long as the
//   rollups are kept (hourly 35 days, daily 400 days by default), after raw rows are pruned.
// * A day's daily rollups are computed from its hourly rollups once the day is over (Prune);
//   until then queries sum its hours. Writing every result into two rollup rows of a monitor
//   cost a random page each; a late result for a compacted day updates both rows.
// * Results are unique by (scheduled time, item id): that index grows at its end.
// * Two connections: writes go through one, queries through the other, so status pages and
//   API reads do not wait behind a batch commit (WAL readers see the last committed state).
// * Prune records how far it pruned; a window reaching into pruned raw time is widened to whole
//   hours (whole days past the hourly retention) instead of silently missing rows.
// * Times are stored with millisecond precision (Unix ms, UTC).
// Thread-safety: every method may be called from any thread (one lock per connection).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "common/mutex.h"
#include "operator/control/result_store.h"
#include "operator/storage/sqlite_database.h"

namespace pharos {

class SqliteResultStore final : public ResultStore {
 public:
  struct Options {
    std::string path;  // a file; ":memory:" for a private in-memory store (tests)
    std::chrono::milliseconds busy_timeout{5'000};
    // See SqliteDatabase::Options. NORMAL by default: with WAL a commit still survives a
    // crash of the process (what an ack to a probe promises); FULL adds an fsync per commit.
    bool synchronous_full = false;
    std::chrono::hours raw_retention{24 * 30};
    std::chrono::hours hourly_retention{24 * 35};
    std::chrono::hours daily_retention{24 * 400};
    std::chrono::hours incident_retention{24 * 400};  // resolved incidents only
    // Page cache of the query connection: a status page of hundreds of monitors reads a few MiB
    // of rollups, which must not be read again from the file (system calls) on every request.
    int64_t reader_cache_kib = int64_t{32} * 1024;
    // See SqliteDatabase::Options. Every result rewrites its monitor's hourly and daily rollup
    // rows and index pages all over the file; with SQLite's default of 1000 pages nearly every
    // commit also checkpointed, copying the same pages to the file again and again.
    int64_t wal_autocheckpoint_pages = 8'192;
  };

  // The name of this store's tables in schema_version, and their migrations (oldest first).
  static constexpr std::string_view kSchemaComponent = "results";
  static const std::vector<SqliteDatabase::Migration>& Migrations();

  // Opens or creates the database and migrates it to the current schema.
  static Result<std::unique_ptr<SqliteResultStore>> Open(Options options);

  Result<AppendResult> Append(const std::vector<CheckResult>& results) override;
  Result<WindowStats> Stats(const StatsQuery& query) override;
  Result<std::vector<Rollup>> Rollups(const RollupQuery& query) override;
  Result<std::vector<CheckResult>> Results(const ResultQuery& query) override;
  // One query over every listed monitor (the counts and latency sums are columns: no histogram
  // is decoded).
  Result<std::vector<BucketCounts>> CountRollups(const BucketCountsQuery& query) override;
  // Aggregated from the raw rows (the columns it needs only); percentiles from a histogram.
  Result<std::vector<Rollup>> ResultSeries(const SeriesQuery& query) override;
  Status SaveMonitorState(const MonitorStateSnapshot& state,
                          const std::vector<StateEvent>& events) override;
  Status SaveMonitorStates(const std::vector<MonitorStateSave>& saves) override;
  Result<std::vector<MonitorStateSnapshot>> LoadMonitorStates() override;
  Status ForgetMonitor(std::string_view monitor_uid, TimePoint now) override;
  Result<std::vector<Incident>> Incidents(const IncidentQuery& query) override;
  Result<std::vector<Incident>> IncidentsInWindow(const IncidentWindowQuery& query) override;
  Result<PruneReport> Prune(TimePoint now) override;

  const Options& options() const { return options_; }

 private:
  struct Key {
    explicit Key() = default;
  };

 public:
  // Use Open.
  SqliteResultStore(Key, Options options, std::unique_ptr<SqliteDatabase> writer,
                    std::unique_ptr<SqliteDatabase> reader);

 private:
  // Runs `body` in a read transaction on the query connection.
  Status Read(const std::function<Status(SqliteDatabase&)>& body);
  Status LoadPruneMarks() REQUIRES(write_mutex_);
  // Computes the daily rollups of the days from daily_mark_ up to `until_ms` (day-aligned) from
  // their hourly rollups, one transaction per day, and moves the mark; counts the days.
  Status CompactDays(int64_t until_ms, int64_t& days) REQUIRES(write_mutex_);
  Status DeleteInChunks(std::string_view sql, int64_t cutoff_ms, int64_t& deleted)
      REQUIRES(write_mutex_);
  // Writes one state and its incident changes. In a transaction.
  Status WriteMonitorState(const MonitorStateSnapshot& state, const std::vector<StateEvent>& events)
      REQUIRES(write_mutex_);

  // Rows older than these may have been pruned (raw results; hourly rollups): windows reaching
  // before them are widened to whole hours (days). Persisted in prune_marks.
  std::atomic<int64_t> raw_mark_{std::numeric_limits<int64_t>::min()};
  std::atomic<int64_t> hourly_mark_{std::numeric_limits<int64_t>::min()};
  // Daily rollups are complete for the days before this (Unix ms, day-aligned; persisted in
  // rollup_marks); later days are read from their hourly rollups until Prune compacts them.
  // The minimum: nothing compacted yet.
  std::atomic<int64_t> daily_mark_{std::numeric_limits<int64_t>::min()};

  const Options options_;
  Mutex write_mutex_;
  std::unique_ptr<SqliteDatabase> writer_ PT_GUARDED_BY(write_mutex_);
  Mutex read_mutex_;
  std::unique_ptr<SqliteDatabase> reader_ PT_GUARDED_BY(read_mutex_);  // null for ":memory:"
};

}  // namespace pharos
