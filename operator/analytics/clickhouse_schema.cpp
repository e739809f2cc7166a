#include "operator/analytics/clickhouse_schema.h"

#include <cctype>
#include <chrono>
#include <nlohmann/json.hpp>

#include "operator/storage/latency_histogram.h"

namespace pharos {
namespace {

int64_t EpochMs(std::chrono::system_clock::time_point at) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count();
}

int64_t EpochSeconds(std::chrono::system_clock::time_point at) {
  return std::chrono::duration_cast<std::chrono::seconds>(at.time_since_epoch()).count();
}

// The start of ClickHouse's error text for the log (it can carry a long stack trace).
std::string Excerpt(std::string_view body) {
  std::string text(body.substr(0, 300));
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
    text.pop_back();
  }
  return text;
}

}  // namespace

const char* ToString(ClickHouseFailure failure) {
  switch (failure) {
    case ClickHouseFailure::kUnreachable:
      return "unreachable";
    case ClickHouseFailure::kAuth:
      return "auth";
    case ClickHouseFailure::kMissingTable:
      return "missing_table";
    case ClickHouseFailure::kRefused:
      return "refused";
  }
  return "refused";
}

int ClickHouseExceptionCode(std::string_view body) {
  constexpr std::string_view kCode = "Code: ";
  const size_t at = body.find(kCode);
  if (at == std::string_view::npos || at > 64) {
    return 0;
  }
  int code = 0;
  for (size_t i = at + kCode.size();
       i < body.size() && std::isdigit(static_cast<unsigned char>(body[i])); ++i) {
    code = code * 10 + (body[i] - '0');
    if (code > 100000) {
      return 0;
    }
  }
  return code;
}

ClickHouseError ClassifyClickHouseAnswer(const ClickHouseResponse& response) {
  const int code = ClickHouseExceptionCode(response.body);
  ClickHouseError error;
  // 192 UNKNOWN_USER, 193 WRONG_PASSWORD, 194 REQUIRED_PASSWORD, 195 IP_ADDRESS_NOT_ALLOWED,
  // 497 ACCESS_DENIED, 516 AUTHENTICATION_FAILED; 60 UNKNOWN_TABLE, 81 UNKNOWN_DATABASE.
  if (code == 192 || code == 193 || code == 194 || code == 195 || code == 497 || code == 516 ||
      (code == 0 && (response.status == 401 || response.status == 403))) {
    error.kind = ClickHouseFailure::kAuth;
    error.message = "ClickHouse refused the credentials (HTTP " + std::to_string(response.status) +
                    "): check --clickhouse-user and --clickhouse-password-file, and that the user "
                    "may create and insert into the database. Server said: " +
                    Excerpt(response.body);
  } else if (code == 60 || code == 81) {
    error.kind = ClickHouseFailure::kMissingTable;
    error.message =
        "a Pharos table or database is missing in ClickHouse (dropped?); it is "
        "created again. Server said: " +
        Excerpt(response.body);
  } else {
    error.kind = ClickHouseFailure::kRefused;
    error.message = "ClickHouse answered HTTP " + std::to_string(response.status) +
                    "; the batch is kept and retried. Server said: " + Excerpt(response.body);
  }
  return error;
}

bool ClickHouseSchema::ValidDatabaseName(std::string_view database) {
  if (database.empty() || database.size() > 64 ||
      std::isdigit(static_cast<unsigned char>(database.front()))) {
    return false;
  }
  for (char c : database) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') {
      return false;
    }
  }
  return true;
}

namespace {

// The columns of both rollup tables, in INSERT order.
constexpr std::string_view kRollupColumns =
    "monitor_uid, region, bucket_start, total, up, degraded, down, errors, latency_sum_us, "
    "latency_min_us, latency_max_us, dns_us, connect_us, tls_us, first_byte_us, transfer_us, "
    "latency_buckets, latency_counts";

std::string RollupTable(const std::string& db, std::string_view table) {
  return "CREATE TABLE IF NOT EXISTS " + db + "." + std::string(table) +
         " (\n"
         "    monitor_uid String,\n"
         "    region String,\n"
         "    bucket_start DateTime('UTC'),\n"
         "    total UInt64,\n"
         "    up UInt64,\n"
         "    degraded UInt64,\n"
         "    down UInt64,\n"
         "    errors UInt64,\n"
         "    latency_sum_us Int64,\n"
         "    latency_min_us Int64,\n"
         "    latency_max_us Int64,\n"
         "    dns_us Int64,\n"
         "    connect_us Int64,\n"
         "    tls_us Int64,\n"
         "    first_byte_us Int64,\n"
         "    transfer_us Int64,\n"
         "    latency_buckets Array(UInt16),\n"
         "    latency_counts Array(UInt64)\n"
         ") ENGINE = ReplacingMergeTree(total)\n"
         "PARTITION BY toYYYYMM(bucket_start)\n"
         "ORDER BY (monitor_uid, bucket_start, region)";
}

std::string MonitorFilter(const std::vector<std::string>& monitor_uids) {
  return monitor_uids.empty()
             ? std::string()
             : " AND monitor_uid IN (" + ClickHouseSchema::QuoteList(monitor_uids) + ")";
}

std::string RollupInsert(const std::string& db, std::string_view table, const std::string& select) {
  return "INSERT INTO " + db + "." + std::string(table) + " (" + std::string(kRollupColumns) +
         ") SELECT m, r, b, n, n_up, n_degraded, n_down, n_errors, l_sum, l_min, l_max, p_dns, "
         "p_connect, p_tls, p_first_byte, p_transfer, h.1, h.2 FROM (" +
         select + ")";
}

}  // namespace

std::string ClickHouseSchema::Quote(std::string_view value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\'' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

std::string ClickHouseSchema::QuoteList(const std::vector<std::string>& values) {
  std::string out;
  for (const std::string& value : values) {
    if (!out.empty()) out += ", ";
    out += Quote(value);
  }
  return out;
}

std::string ClickHouseSchema::LatencyBucketExpression(std::string_view micros) {
  const int buckets = LatencyHistogram::BucketCount();
  std::string bounds;
  for (int i = 0; i < buckets; ++i) {
    if (i > 0) bounds += ",";
    bounds += std::to_string(LatencyHistogram::BucketUpperBound(i));
  }
  // arrayFirstIndex is 1-based and 0 when no bound is above the value (the open last bucket).
  return "toUInt16((arrayFirstIndex(latency_bound -> " + std::string(micros) +
         " < latency_bound, [" + bounds + "]) + " + std::to_string(buckets - 1) + ") % " +
         std::to_string(buckets) + ")";
}

std::string ClickHouseSchema::RefreshHourly(std::string_view database,
                                            const std::vector<std::string>& monitor_uids,
                                            int64_t from_s, int64_t to_s) {
  const std::string db(database);
  constexpr std::string_view kPassing = "outcome IN ('up', 'degraded')";
  const std::string passing(kPassing);
  const std::string select =
      "SELECT monitor_uid AS m, region AS r, toStartOfHour(time) AS b, count() AS n, "
      "countIf(outcome = 'up') AS n_up, countIf(outcome = 'degraded') AS n_degraded, "
      "countIf(outcome = 'down') AS n_down, countIf(outcome = 'error') AS n_errors, "
      "sumIf(total_us, " +
      passing + ") AS l_sum, minIf(total_us, " + passing + ") AS l_min, maxIf(total_us, " +
      passing + ") AS l_max, sumIf(dns_us, " + passing + ") AS p_dns, sumIf(connect_us, " +
      passing + ") AS p_connect, sumIf(tls_us, " + passing + ") AS p_tls, sumIf(first_byte_us, " +
      passing + ") AS p_first_byte, sumIf(transfer_us, " + passing + ") AS p_transfer, sumMapIf([" +
      LatencyBucketExpression("total_us") + "], [toUInt64(1)], " + passing + ") AS h FROM " + db +
      ".check_results FINAL WHERE time >= toDateTime(" + std::to_string(from_s) +
      ") AND time < toDateTime(" + std::to_string(to_s) + ")" + MonitorFilter(monitor_uids) +
      " GROUP BY m, r, b";
  return RollupInsert(db, kHourlyTable, select);
}

std::string ClickHouseSchema::RefreshDaily(std::string_view database,
                                           const std::vector<std::string>& monitor_uids,
                                           int64_t from_s, int64_t to_s) {
  const std::string db(database);
  const std::string select =
      "SELECT monitor_uid AS m, region AS r, toStartOfDay(bucket_start) AS b, sum(total) AS n, "
      "sum(up) AS n_up, sum(degraded) AS n_degraded, sum(down) AS n_down, sum(errors) AS "
      "n_errors, sum(latency_sum_us) AS l_sum, minIf(latency_min_us, up + degraded > 0) AS l_min, "
      "maxIf(latency_max_us, up + degraded > 0) AS l_max, sum(dns_us) AS p_dns, sum(connect_us) "
      "AS p_connect, sum(tls_us) AS p_tls, sum(first_byte_us) AS p_first_byte, sum(transfer_us) "
      "AS p_transfer, sumMap(latency_buckets, latency_counts) AS h FROM " +
      db + ".check_rollups_hourly FINAL WHERE bucket_start >= toDateTime(" +
      std::to_string(from_s) + ") AND bucket_start < toDateTime(" + std::to_string(to_s) + ")" +
      MonitorFilter(monitor_uids) + " GROUP BY m, r, b";
  return RollupInsert(db, kDailyTable, select);
}

std::vector<std::string> ClickHouseSchema::MigrationFrom1(std::string_view database) {
  // Every result stored before the rollups existed, month by month would be kinder to a huge
  // table; one statement each is what a version-1 database (weeks old at most) needs.
  return {RefreshHourly(database, {}, 0, 4102444800), RefreshDaily(database, {}, 0, 4102444800)};
}

std::vector<std::string> ClickHouseSchema::MigrationFrom2(std::string_view database) {
  const std::string db(database);
  std::vector<std::string> out = {"TRUNCATE TABLE " + db + "." + std::string(kHourlyTable),
                                  "TRUNCATE TABLE " + db + "." + std::string(kDailyTable)};
  for (std::string& statement : MigrationFrom1(database)) out.push_back(std::move(statement));
  return out;
}

std::vector<std::string> ClickHouseSchema::Statements(std::string_view database) {
  const std::string db(database);
  return {
      "CREATE DATABASE IF NOT EXISTS " + db,
      "CREATE TABLE IF NOT EXISTS " + db +
          ".schema_version (\n"
          "    version UInt32,\n"
          "    applied_at DateTime('UTC')\n"
          ") ENGINE = ReplacingMergeTree ORDER BY version",
      "CREATE TABLE IF NOT EXISTS " + db +
          ".check_results (\n"
          "    item_id String,\n"
          "    monitor_uid String,\n"
          "    monitor_namespace String,\n"
          "    monitor_name String,\n"
          "    generation Int64,\n"
          "    type String,\n"
          "    target String,\n"
          "    region String,\n"
          "    probe String,\n"
          "    time DateTime('UTC'),\n"
          "    scheduled_at_ms Int64,\n"
          "    started_at_ms Int64,\n"
          "    outcome Enum8('up' = 1, 'degraded' = 2, 'down' = 3, 'error' = 4),\n"
          "    status_code UInt16,\n"
          "    dns_us Int64,\n"
          "    connect_us Int64,\n"
          "    tls_us Int64,\n"
          "    first_byte_us Int64,\n"
          "    transfer_us Int64,\n"
          "    total_us Int64,\n"
          "    attempts UInt16,\n"
          "    cert_expiry Nullable(DateTime('UTC')),\n"
          "    cert_earliest_expiry Nullable(DateTime('UTC')),\n"
          "    assertion_type String,\n"
          "    assertion_expected String,\n"
          "    assertion_actual String,\n"
          "    assertion_message String,\n"
          "    error String\n"
          ") ENGINE = ReplacingMergeTree\n"
          "PARTITION BY toYYYYMM(time)\n"
          "ORDER BY (monitor_uid, time, item_id)",
      RollupTable(db, kHourlyTable),
      RollupTable(db, kDailyTable),
  };
}

std::string ClickHouseSchema::InsertStatement(std::string_view database) {
  return "INSERT INTO " + std::string(database) + ".check_results FORMAT JSONEachRow";
}

Result<void> ClickHouseSchema::Ensure(ClickHouseTransport& transport, std::string_view database,
                                      ClickHouseError* failure) {
  auto fail = [&](ClickHouseError error) -> Result<void> {
    const std::string message = error.message;
    if (failure) {
      *failure = std::move(error);
    }
    return Error{message, ErrorKind::kUnavailable};
  };
  auto run = [&](std::string statement,
                 std::chrono::milliseconds timeout =
                     std::chrono::milliseconds(0)) -> Result<ClickHouseResponse> {
    Result<ClickHouseResponse> answer = transport.Send({"", std::move(statement), false, timeout});
    if (!answer) {
      return Error{answer.error(), ErrorKind::kUnavailable};
    }
    return answer;
  };
  for (std::string& statement : Statements(database)) {
    Result<ClickHouseResponse> answer = run(std::move(statement));
    if (!answer) {
      return fail({ClickHouseFailure::kUnreachable, answer.error()});
    }
    if (!answer->ok()) {
      return fail(ClassifyClickHouseAnswer(*answer));
    }
  }
  const std::string db(database);
  Result<ClickHouseResponse> version =
      run("SELECT toUInt32(max(version)) FROM " + db + ".schema_version FORMAT TabSeparated");
  if (!version) {
    return fail({ClickHouseFailure::kUnreachable, version.error()});
  }
  if (!version->ok()) {
    return fail(ClassifyClickHouseAnswer(*version));
  }
  int stored = 0;
  for (char c : version->body) {
    if (!std::isdigit(static_cast<unsigned char>(c))) {
      break;
    }
    stored = stored * 10 + (c - '0');
  }
  if (stored > kVersion) {
    const std::string message = "the ClickHouse database " + db + " holds schema version " +
                                std::to_string(stored) + ", newer than this Pharos knows (" +
                                std::to_string(kVersion) +
                                "): upgrade Pharos, or point --clickhouse-database elsewhere";
    if (failure) {
      *failure = {ClickHouseFailure::kRefused, message};
    }
    return Error{message, ErrorKind::kInvalidArgument};
  }
  if (stored < kVersion) {
    // A fresh database (0) has nothing to migrate; version 1 had no rollups yet, version 2's
    // histograms were wrong on 18.16.
    if (stored == 1 || stored == 2) {
      for (std::string& statement :
           stored == 1 ? MigrationFrom1(database) : MigrationFrom2(database)) {
        Result<ClickHouseResponse> migrated = run(std::move(statement), kMigrationTimeout);
        if (!migrated) {
          return fail({ClickHouseFailure::kUnreachable, migrated.error()});
        }
        if (!migrated->ok()) {
          return fail(ClassifyClickHouseAnswer(*migrated));
        }
      }
    }
    Result<ClickHouseResponse> recorded =
        run("INSERT INTO " + db + ".schema_version (version, applied_at) VALUES (" +
            std::to_string(kVersion) + ", now())");
    if (!recorded) {
      return fail({ClickHouseFailure::kUnreachable, recorded.error()});
    }
    if (!recorded->ok()) {
      return fail(ClassifyClickHouseAnswer(*recorded));
    }
  }
  return {};
}

std::string ClickHouseSchema::EncodeRow(const CheckResult& result,
                                        std::string_view fallback_item_id) {
  const auto at =
      result.scheduled_at.time_since_epoch().count() != 0 ? result.scheduled_at : result.started_at;
  nlohmann::json row = {
      {"item_id", result.item_id.empty() ? std::string(fallback_item_id) : result.item_id},
      {"monitor_uid", result.monitor_uid},
      {"monitor_namespace", result.monitor_namespace},
      {"monitor_name", result.monitor_name},
      {"generation", result.generation},
      {"type", ToString(result.type)},
      {"target", result.target},
      {"region", result.region},
      {"probe", result.probe},
      {"time", EpochSeconds(at)},
      {"scheduled_at_ms", EpochMs(at)},
      {"started_at_ms", EpochMs(result.started_at)},
      {"outcome", ToString(result.outcome)},
      {"status_code", std::clamp(result.status_code, 0, 65535)},
      {"dns_us", result.timings.dns_us},
      {"connect_us", result.timings.connect_us},
      {"tls_us", result.timings.tls_us},
      {"first_byte_us", result.timings.first_byte_us},
      {"transfer_us", result.timings.transfer_us},
      {"total_us", result.timings.total_us},
      {"attempts", std::clamp(result.attempts, 0, 65535)},
      {"cert_expiry", result.cert_expiry ? nlohmann::json(EpochSeconds(*result.cert_expiry))
                                         : nlohmann::json(nullptr)},
      {"cert_earliest_expiry", result.cert_earliest_expiry
                                   ? nlohmann::json(EpochSeconds(*result.cert_earliest_expiry))
                                   : nlohmann::json(nullptr)},
      {"assertion_type", result.failed_assertion ? result.failed_assertion->type : ""},
      {"assertion_expected", result.failed_assertion ? result.failed_assertion->expected : ""},
      {"assertion_actual", result.failed_assertion ? result.failed_assertion->actual : ""},
      {"assertion_message", result.failed_assertion ? result.failed_assertion->message : ""},
      {"error", result.error},
  };
  // Probe-reported text may hold invalid UTF-8: replaced rather than thrown on.
  std::string line = row.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  line.push_back('\n');
  return line;
}

}  // namespace pharos
