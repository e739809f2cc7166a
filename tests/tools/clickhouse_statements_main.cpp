// pharos-clickhouse-statements: prints every statement Pharos sends to ClickHouse, one JSON object
// per line ({"kind", "name", "sql"}), in the order a test should run them: what
// ClickHouseSchema::Ensure sends to a database of schema version 1 (the DDL, the version check,
// the migration, the new version), an INSERT with sample rows (ClickHouseSchema::EncodeRow), the
// sink's rollup refreshes, and every query ClickHouseHistoryReader issues (windows with raw
// edges, hourly and daily rollups, per region, summaries, result series, result lists). The
// statements come from the code's own builders, so tests/integration/test_clickhouse_current.py
// runs exactly them against a current ClickHouse engine. Times are relative to --now.
//
//   pharos-clickhouse-statements [--now UNIX_SECONDS]
//   pharos-clickhouse-statements --migration [--database pharos]
//
// --migration prints instead, one per line, the statements that migrate a database of schema
// version 2 (docs/analytics.md, "Upgrading"), to run by hand.

#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/command_line.h"
#include "common/manual_clock.h"
#include "operator/analytics/clickhouse_history_reader.h"
#include "operator/analytics/clickhouse_schema.h"

namespace pharos {
namespace {

constexpr std::string_view kDatabase = "pharos";

// Keeps the statements; answers the version check with `stored_version` (so Ensure migrates)
// and the rest with an empty success.
class RecordingTransport final : public ClickHouseTransport {
 public:
  explicit RecordingTransport(int stored_version = 1) : stored_version_(stored_version) {}
  Result<ClickHouseResponse> Send(const ClickHouseRequest& request) override {
    statements.push_back(request.body);
    const bool version = request.body.find("max(version)") != std::string::npos;
    return ClickHouseResponse{200, version ? std::to_string(stored_version_) + "\n" : ""};
  }
  std::vector<std::string> statements;

 private:
  int stored_version_;
};

void Print(std::string_view kind, std::string_view name, const std::string& sql) {
  std::cout << nlohmann::json{{"kind", kind}, {"name", name}, {"sql", sql}}.dump() << "\n";
}

// Two monitors, two regions, one result every 10 minutes over the last three days, every
// outcome, with timings, a failed assertion and a certificate expiry on some.
std::string SampleRows(TimePoint now) {
  std::string rows;
  int n = 0;
  for (const char* uid : {"file:shop/home", "file:shop/cart"}) {
    for (const char* region : {"eu", "us"}) {
      for (int i = 0; i < 3 * 24 * 6; ++i, ++n) {
        CheckResult result;
        result.item_id = std::string(uid) + "@" + region + "@" + std::to_string(i);
        result.monitor_uid = uid;
        result.monitor_namespace = "shop";
        result.monitor_name = std::string(uid).substr(10);
        result.generation = 1;
        result.target = "https://example.test/";
        result.region = region;
        result.probe = "probe-" + std::string(region);
        result.scheduled_at = now - std::chrono::minutes(10 * i + 3);
        result.started_at = result.scheduled_at + std::chrono::milliseconds(12);
        const Outcome outcomes[] = {Outcome::kUp,       Outcome::kUp,   Outcome::kUp,
                                    Outcome::kDegraded, Outcome::kDown, Outcome::kError};
        result.outcome = outcomes[n % 6];
        result.status_code = result.outcome == Outcome::kDown ? 503 : 200;
        result.timings = {1000 + n % 7, 2000 + n % 11,          3000, 40'000 + 997 * (n % 50),
                          500,          46'500 + 997 * (n % 50)};
        result.attempts = 1;
        if (result.outcome == Outcome::kDown) {
          result.failed_assertion =
              FailedAssertion{"statusCode", "200", "503", "status code 503, expected 200"};
        }
        if (i % 5 == 0) result.cert_expiry = now + std::chrono::hours(24 * 40);
        if (result.outcome == Outcome::kError) result.error = "connection refused";
        rows += ClickHouseSchema::EncodeRow(result, "");
      }
    }
  }
  return rows;
}

// Every query of ClickHouseHistoryReader, each named with `suffix` appended.
void PrintReads(const ManualClock& clock, const std::vector<std::string>& uids,
                const std::string& suffix) {
  const TimePoint now = clock.Now();
  RecordingTransport reads;
  ClickHouseHistoryReader reader(reads, std::string(kDatabase), clock);
  using std::chrono::hours;
  using std::chrono::minutes;
  const auto read = [&](const std::string& name, auto&& call) {
    reads.statements.clear();
    if (!call()) {
      std::cerr << name << " failed on an empty answer\n";
      std::exit(1);
    }
    for (const std::string& sql : reads.statements) Print("read", name + suffix, sql);
  };
  const TimePoint three_days = now - hours(72) + minutes(17);
  read("Stats", [&] { return reader.Stats({uids[0], std::nullopt, three_days, now}); });
  read("Stats/region", [&] { return reader.Stats({uids[0], "eu", three_days, now}); });
  read("SummarizeMany", [&] { return reader.SummarizeMany(uids, now); });
  read("Rollups/hour", [&] {
    return reader.Rollups({uids[0], RollupPeriod::kHour, std::nullopt, now - hours(30), now});
  });
  read("Rollups/day/region", [&] {
    return reader.Rollups({uids[1], RollupPeriod::kDay, "us", now - hours(96), now});
  });
  read("CountRollups/day", [&] {
    return reader.CountRollups(
        {uids, RollupPeriod::kDay, {}, now - hours(24 * 90), now + hours(24)});
  });
  read("CountRollups/hour/region", [&] {
    return reader.CountRollups({uids, RollupPeriod::kHour, {"eu"}, now - hours(24), now});
  });
  read("ResultSeries", [&] {
    return reader.ResultSeries({uids[0], std::nullopt, now - hours(6), now, minutes(5)});
  });
  read("Results/newest", [&] {
    return reader.Results({uids[0], std::nullopt, now - hours(24), 100, true});
  });
  read("Results/region", [&] {
    return reader.Results({uids[1], "us", now - hours(48), 50, false});
  });
}

int Main(int argc, char** argv) {
  CommandLine flags;
  flags.AddFlag("now", '\0', "UNIX_SECONDS", "the time the statements are made at", "0");
  flags.AddSwitch("migration", '\0', "print the version 2 -> 3 migration");
  flags.AddFlag("database", '\0', "NAME", "the database of --migration", "pharos");
  if (Status parsed = flags.Parse(std::vector<std::string>(argv + 1, argv + argc)); !parsed) {
    std::cerr << parsed.error() << "\n";
    return 2;
  }
  if (flags.IsSet("migration")) {
    if (!ClickHouseSchema::ValidDatabaseName(flags.Get("database"))) {
      std::cerr << "--database: letters, digits and underscores, not starting with a digit\n";
      return 2;
    }
    for (const std::string& sql : ClickHouseSchema::MigrationFrom2(flags.Get("database"))) {
      std::cout << sql << ";\n";
    }
    std::cout << "INSERT INTO " << flags.Get("database")
              << ".schema_version (version, applied_at) VALUES (" << ClickHouseSchema::kVersion
              << ", now());\n";
    return 0;
  }
  const int64_t now_s = std::stoll(flags.Get("now"));
  ManualClock clock(now_s > 0 ? TimePoint(std::chrono::seconds(now_s)) : SystemClock().Now());
  const TimePoint now = clock.Now();
  const int64_t at_s =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();

  RecordingTransport ensure;
  if (Status ensured = ClickHouseSchema::Ensure(ensure, kDatabase); !ensured) {
    std::cerr << ensured.error() << "\n";
    return 1;
  }
  for (const std::string& sql : ensure.statements) Print("ensure", "Ensure", sql);

  Print("insert", "InsertStatement+EncodeRow",
        ClickHouseSchema::InsertStatement(kDatabase) + "\n" + SampleRows(now));

  const std::vector<std::string> uids = {"file:shop/home", "file:shop/cart"};
  const int64_t first_hour = (at_s - int64_t{4} * 86400) / 3600 * 3600;
  for (int64_t hour = first_hour; hour <= at_s; hour += 3600) {
    Print("refresh", "RefreshHourly",
          ClickHouseSchema::RefreshHourly(kDatabase, uids, hour, hour + 3600));
  }
  for (int64_t day = first_hour / 86400 * 86400; day <= at_s; day += 86400) {
    Print("refresh", "RefreshDaily",
          ClickHouseSchema::RefreshDaily(kDatabase, uids, day, day + 86400));
  }

  PrintReads(clock, uids, "");
  // A database of version 2 migrated (its rollups emptied and filled again), then the same reads:
  // a test expects the answers of before.
  RecordingTransport from2(2);
  if (Status ensured = ClickHouseSchema::Ensure(from2, kDatabase); !ensured) {
    std::cerr << ensured.error() << "\n";
    return 1;
  }
  bool migrating = false;
  for (const std::string& sql : from2.statements) {
    migrating = migrating || sql.find("max(version)") != std::string::npos;
    if (migrating && sql.find("max(version)") == std::string::npos) {
      Print("migrate", "MigrationFrom2", sql);
    }
  }
  PrintReads(clock, uids, "/migrated");
  return 0;
}

}  // namespace
}  // namespace pharos

int main(int argc, char** argv) { return pharos::Main(argc, argv); }
