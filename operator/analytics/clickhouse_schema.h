#pragma once

// ClickHouseSchema: the tables Pharos keeps in ClickHouse (docs/analytics.md prints the same DDL),
// how a check result becomes a row of them, and how a failed statement is classified.
//
// Rules:
// * check_results is a ReplacingMergeTree ordered by (monitor_uid, time, item_id): a batch sent
//   twice (an answer lost, a spool drained after a timeout that had in fact inserted) collapses to
//   one row per item id when parts merge. Readers use FINAL, or count uniqExact(item_id), to see
//   each result once before the merge happened.
// * A result without an item id gets one at encoding time ("local-<n>" per process start and
//   row), so a retry of its batch is still deduplicated.
// * schema_version holds one row per applied version; Ensure refuses a database written by a
//   newer Pharos (kInvalidArgument) and applies the missing steps otherwise.
// * check_rollups_hourly and check_rollups_daily hold one row per (monitor, region, bucket), a
//   ReplacingMergeTree whose version is the bucket's result count. They are not materialized views
//   (a view would count a batch sent twice twice): the sink recomputes the buckets a batch touched
//   from check_results FINAL (RefreshHourly, then RefreshDaily from the hourly rows). Results are
//   only ever added, so the latest recomputation has the largest count and wins; several writers
//   recomputing the same bucket converge on the complete one.
// * Latency percentiles in the rollups are the same fixed-bucket histogram SQLite keeps
//   (LatencyHistogram): bucket indexes and counts in two arrays, merged with sumMap.
// * Version 3 recomputes the rollups of version 2: their histograms were wrong on ClickHouse
//   18.16, where the bucket expression's lambda parameter (then `b`) was replaced by the SELECT's
//   alias `b` (the hour), putting every latency in bucket 0. Current releases scope it right;
//   the parameter's name is now one no SELECT uses.
// * Migrations recompute rollups from every stored result: long on a big database (BENCHMARKS.md
//   §5: ~20 s per day of 10,000 monitors at one result per 5 minutes on 2 cores), so they are
//   sent with kMigrationTimeout; docs/analytics.md gives the statements to run by hand instead.
// * Statements are plain SQL that ClickHouse 18.16 and current releases both accept.
// Thread-safety: stateless functions.

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "common/check_result.h"
#include "common/result.h"
#include "operator/analytics/clickhouse_transport.h"

namespace pharos {

// Why ClickHouse did not take a statement; the label of pharos_clickhouse_batches_failed_total.
enum class ClickHouseFailure {
  kUnreachable,   // no answer: connection refused, timeout, TLS
  kAuth,          // wrong user or password, or the user may not do it
  kMissingTable,  // the database or table is gone (dropped): the schema is created again
  kRefused,       // any other error answer (server overloaded, too many parts, ...)
};
const char* ToString(ClickHouseFailure failure);  // "unreachable" "auth" "missing_table" "refused"

// A failed statement: its kind and the words for the log (ClickHouse's own message included).
struct ClickHouseError {
  ClickHouseFailure kind = ClickHouseFailure::kRefused;
  std::string message;
};

// The answer's exception code ("Code: 60" at the start of ClickHouse's error text), 0 if none.
int ClickHouseExceptionCode(std::string_view body);
// Classifies a non-200 answer by ClickHouse's exception code and the HTTP status.
ClickHouseError ClassifyClickHouseAnswer(const ClickHouseResponse& response);

class ClickHouseSchema {
 public:
  static constexpr int kVersion = 3;
  static constexpr std::chrono::milliseconds kMigrationTimeout{6 * 3'600'000};
  static constexpr std::string_view kResultsTable = "check_results";
  static constexpr std::string_view kHourlyTable = "check_rollups_hourly";
  static constexpr std::string_view kDailyTable = "check_rollups_daily";
  static constexpr std::string_view kVersionTable = "schema_version";

  // True for a usable database name (letters, digits, underscore; not starting with a digit).
  static bool ValidDatabaseName(std::string_view database);
  // The DDL of version kVersion, in order (CREATE ... IF NOT EXISTS).
  static std::vector<std::string> Statements(std::string_view database);
  // Creates what is missing and records the version. kInvalidArgument when the database holds a
  // newer schema.
  static Result<void> Ensure(ClickHouseTransport& transport, std::string_view database,
                             ClickHouseError* failure = nullptr);

  // Version 1 -> 3: fills the rollup tables from the results already stored.
  static std::vector<std::string> MigrationFrom1(std::string_view database);
  // Version 2 -> 3: empties the rollup tables (a recomputation has the same count as the row it
  // replaces, so it would not win over it) and fills them again from the stored results.
  static std::vector<std::string> MigrationFrom2(std::string_view database);

  // SQL expression of the LatencyHistogram bucket index of the column `micros` (UInt16).
  static std::string LatencyBucketExpression(std::string_view micros);
  // Recomputes the hourly rollups of `monitor_uids` for the hours in [from_s, to_s) (Unix
  // seconds, hour-aligned) from check_results FINAL; empty `monitor_uids` = every monitor.
  static std::string RefreshHourly(std::string_view database,
                                   const std::vector<std::string>& monitor_uids, int64_t from_s,
                                   int64_t to_s);
  // The same for the daily rollups of the days in [from_s, to_s), from the hourly rollups.
  static std::string RefreshDaily(std::string_view database,
                                  const std::vector<std::string>& monitor_uids, int64_t from_s,
                                  int64_t to_s);
  // `'a', 'b'`: string literals for an IN list.
  static std::string QuoteList(const std::vector<std::string>& values);
  static std::string Quote(std::string_view value);

  // `INSERT INTO db.check_results FORMAT JSONEachRow`.
  static std::string InsertStatement(std::string_view database);
  // One JSONEachRow line (ending in '\n') of `result`; `fallback_item_id` when it has none.
  static std::string EncodeRow(const CheckResult& result, std::string_view fallback_item_id);
};

}  // namespace pharos
