#include "operator/storage/sqlite_result_store.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "common/manual_clock.h"
#include "operator/control/monitor_state_machine.h"
#include "operator/storage/latency_histogram.h"
#include "operator/storage/sqlite_database.h"

namespace pharos {
namespace {

using std::chrono::days;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const TimePoint kStart = ManualClock::DefaultStart();  // 2026-01-01T00:00:00Z

}  // namespace

// Readable failures of comparisons of bucket lists.
void PrintTo(const BucketCounts& b, std::ostream* out) {
  *out << "{" << b.monitor_uid << " @" << b.bucket_start.time_since_epoch().count() << " total "
       << b.total << " up " << b.up << " degraded " << b.degraded << " down " << b.down
       << " errors " << b.errors << " latency_sum " << b.latency_sum_us << "}";
}

namespace {

CheckResult MakeResult(const std::string& item, const std::string& region, TimePoint at,
                       Outcome outcome, int64_t total_us = 10'000,
                       const std::string& uid = "uid-1") {
  CheckResult r;
  r.monitor_uid = uid;
  r.monitor_namespace = "shop";
  r.monitor_name = "checkout";
  r.generation = 3;
  r.target = "https://shop.example.com/health";
  r.region = region;
  r.probe = "probe-" + region;
  r.item_id = item;
  r.scheduled_at = at;
  r.started_at = at + milliseconds(20);
  r.outcome = outcome;
  r.status_code = outcome == Outcome::kDown ? 503 : 200;
  r.timings.total_us = total_us;
  if (outcome == Outcome::kDown) {
    r.failed_assertion = FailedAssertion{"statusCode", "eq 200", "503", "status code 503"};
  }
  return r;
}

class SqliteResultStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "pharos-store-XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    path_ = dir_ + "/pharos.db";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<SqliteResultStore> OpenStore(SqliteResultStore::Options options = {}) {
    options.path = path_;
    Result<std::unique_ptr<SqliteResultStore>> store = SqliteResultStore::Open(options);
    EXPECT_TRUE(store.ok()) << store.error();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  // Runs SQL on the file directly (to simulate old or foreign databases).
  void RawSql(const std::string& sql) {
    Result<std::unique_ptr<SqliteDatabase>> db = SqliteDatabase::Open(path_, {});
    ASSERT_TRUE(db.ok()) << db.error();
    Status status = (*db)->Exec(sql);
    ASSERT_TRUE(status.ok()) << status.error();
  }

  // The single number `sql` selects from the file directly.
  int64_t RawCount(const std::string& sql) {
    Result<std::unique_ptr<SqliteDatabase>> db = SqliteDatabase::Open(path_, {});
    EXPECT_TRUE(db.ok());
    if (!db.ok()) return -1;
    Result<SqliteStatement> select = (*db)->Prepare(sql);
    EXPECT_TRUE(select.ok()) << select.error();
    if (!select.ok()) return -1;
    Result<bool> row = select->Step();
    EXPECT_TRUE(row.ok() && *row);
    return row.ok() && *row ? select->Int64(0) : -1;
  }

  int SchemaVersion() {
    Result<std::unique_ptr<SqliteDatabase>> db = SqliteDatabase::Open(path_, {});
    EXPECT_TRUE(db.ok());
    Result<int> version = (*db)->SchemaVersion(SqliteResultStore::kSchemaComponent);
    EXPECT_TRUE(version.ok());
    return version.ok() ? *version : -1;
  }

  static void Append(ResultStore& store, const std::vector<CheckResult>& results) {
    Result<AppendResult> appended = store.Append(results);
    ASSERT_TRUE(appended.ok()) << appended.error();
    ASSERT_EQ(appended->Count(AppendStatus::kNew), results.size());
  }

  static WindowStats StatsOf(ResultStore& store, TimePoint from, TimePoint to,
                             std::optional<std::string> region = std::nullopt) {
    Result<WindowStats> stats = store.Stats(StatsQuery{"uid-1", std::move(region), from, to});
    EXPECT_TRUE(stats.ok()) << stats.error();
    return stats.ok() ? *stats : WindowStats{};
  }

  std::string dir_;
  std::string path_;
};

// --- schema and migrations -------------------------------------------------------------------

TEST_F(SqliteResultStoreTest, FreshDatabaseGetsTheLatestSchema) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  store.reset();
  EXPECT_EQ(SchemaVersion(), static_cast<int>(SqliteResultStore::Migrations().size()));
  EXPECT_EQ(SqliteResultStore::Migrations().size(), 5u);
}

TEST_F(SqliteResultStoreTest, ReopenKeepsDataAndSchema) {
  auto store = OpenStore();
  Append(*store, {MakeResult("a", "eu", kStart, Outcome::kUp)});
  store.reset();
  store = OpenStore();
  ASSERT_NE(store, nullptr);
  Result<std::vector<CheckResult>> results = store->Results({"uid-1", {}, {}, 10, false});
  ASSERT_TRUE(results.ok());
  EXPECT_EQ(results->size(), 1u);
  EXPECT_EQ(SchemaVersion(), 5);
}

TEST_F(SqliteResultStoreTest, UpgradesAnOlderSchemaKeepingData) {
  auto store = OpenStore();
  Append(*store, {MakeResult("a", "eu", kStart, Outcome::kUp)});
  store.reset();
  // Make the file look like one written by a Pharos that only had migration 1.
  RawSql(
      "DROP TABLE region_states; DROP TABLE monitor_states; DROP TABLE incidents;"
      "UPDATE schema_version SET version = 1 WHERE component = 'results';");
  ASSERT_EQ(SchemaVersion(), 1);

  RawSql(
      "ALTER TABLE rollups DROP COLUMN latency_sum_us; ALTER TABLE rollups DROP COLUMN "
      "phase_samples; ALTER TABLE rollups DROP COLUMN dns_sum_us; ALTER TABLE rollups DROP COLUMN "
      "connect_sum_us; ALTER TABLE rollups DROP COLUMN tls_sum_us; ALTER TABLE rollups DROP "
      "COLUMN first_byte_sum_us; ALTER TABLE rollups DROP COLUMN transfer_sum_us;"
      "ALTER TABLE results DROP COLUMN details; DROP TABLE rollup_marks;");
  store = OpenStore();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(SchemaVersion(), 5);
  Result<std::vector<CheckResult>> results = store->Results({"uid-1", {}, {}, 10, false});
  ASSERT_TRUE(results.ok());
  EXPECT_EQ(results->size(), 1u);
  Result<std::vector<Incident>> incidents = store->Incidents({});
  ASSERT_TRUE(incidents.ok()) << incidents.error();  // the v2 tables exist again
}

TEST_F(SqliteResultStoreTest, RefusesADatabaseFromANewerPharos) {
  OpenStore().reset();
  RawSql("UPDATE schema_version SET version = 99 WHERE component = 'results'");
  SqliteResultStore::Options options;
  options.path = path_;
  Result<std::unique_ptr<SqliteResultStore>> store = SqliteResultStore::Open(options);
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.error(), HasSubstr(path_));
  EXPECT_THAT(store.error(), HasSubstr("schema version 99"));
  EXPECT_THAT(store.error(), HasSubstr("newer Pharos"));
  EXPECT_EQ(SchemaVersion(), 99);  // left untouched
}

TEST_F(SqliteResultStoreTest, RefusesAFileThatIsNotADatabase) {
  std::ofstream(path_) << "this is a text file, not SQLite\n";
  SqliteResultStore::Options options;
  options.path = path_;
  Result<std::unique_ptr<SqliteResultStore>> store = SqliteResultStore::Open(options);
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.error(), HasSubstr(path_));
  EXPECT_THAT(store.error(), HasSubstr("not a database"));
}

TEST_F(SqliteResultStoreTest, RefusesMisnumberedMigrations) {
  Result<std::unique_ptr<SqliteDatabase>> db = SqliteDatabase::Open(path_, {});
  ASSERT_TRUE(db.ok());
  Status status = (*db)->Migrate("x", {{1, "a", "CREATE TABLE a (x)"}, {3, "b", "SELECT 1"}});
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.error(), HasSubstr("numbered"));
}

TEST_F(SqliteResultStoreTest, UsesWalAndForeignKeys) {
  auto store = OpenStore();
  store.reset();
  Result<std::unique_ptr<SqliteDatabase>> db = SqliteDatabase::Open(path_, {});
  ASSERT_TRUE(db.ok());
  Result<SqliteStatement> mode = (*db)->Prepare("PRAGMA journal_mode");
  ASSERT_TRUE(mode.ok());
  ASSERT_TRUE(*mode->Step());
  EXPECT_EQ(mode->Text(0), "wal");
  Result<SqliteStatement> fk = (*db)->Prepare("PRAGMA foreign_keys");
  ASSERT_TRUE(fk.ok());
  ASSERT_TRUE(*fk->Step());
  EXPECT_EQ(fk->Int64(0), 1);
}

TEST(SqliteDatabaseTest, CheckpointsTheWalAfterTheConfiguredNumberOfPages) {
  SqliteDatabase::Options options;
  options.wal_autocheckpoint_pages = 8'192;
  Result<std::unique_ptr<SqliteDatabase>> db = SqliteDatabase::Open(":memory:", options);
  ASSERT_TRUE(db.ok()) << db.error();
  Result<SqliteStatement> pages = (*db)->Prepare("PRAGMA wal_autocheckpoint");
  ASSERT_TRUE(pages.ok());
  ASSERT_TRUE(*pages->Step());
  EXPECT_EQ(pages->Int64(0), 8'192);

  Result<std::unique_ptr<SqliteDatabase>> default_db = SqliteDatabase::Open(":memory:", {});
  ASSERT_TRUE(default_db.ok());
  Result<SqliteStatement> default_pages = (*default_db)->Prepare("PRAGMA wal_autocheckpoint");
  ASSERT_TRUE(default_pages.ok());
  ASSERT_TRUE(*default_pages->Step());
  EXPECT_EQ(default_pages->Int64(0), 1'000) << "SQLite's own default when not asked";
}

// --- appending ------------------------------------------------------------------------------

TEST_F(SqliteResultStoreTest, AResultDeliveredTwiceIsStoredOnce) {
  auto store = OpenStore();
  Result<AppendResult> first = store->Append({MakeResult("a", "eu", kStart, Outcome::kUp),
                                              MakeResult("b", "eu", kStart, Outcome::kDown),
                                              MakeResult("a", "eu", kStart, Outcome::kUp)});
  ASSERT_TRUE(first.ok()) << first.error();
  EXPECT_THAT(first->statuses,
              ElementsAre(AppendStatus::kNew, AppendStatus::kNew, AppendStatus::kDuplicate));
  Result<AppendResult> again = store->Append({MakeResult("b", "eu", kStart, Outcome::kDown)});
  ASSERT_TRUE(again.ok());
  EXPECT_THAT(again->statuses, ElementsAre(AppendStatus::kDuplicate));

  const WindowStats stats = StatsOf(*store, kStart, kStart + hours(1));
  EXPECT_EQ(stats.total, 2);
  EXPECT_EQ(stats.down, 1);
  Result<std::vector<Rollup>> daily =
      store->Rollups({"uid-1", RollupPeriod::kDay, {}, kStart, kStart + days(1)});
  ASSERT_TRUE(daily.ok());
  ASSERT_EQ(daily->size(), 1u);
  EXPECT_EQ((*daily)[0].stats.total, 2);  // the duplicate was not counted in the rollup either
}

TEST_F(SqliteResultStoreTest, ResultsWithoutItemIdAreAlwaysNew) {
  auto store = OpenStore();
  Append(*store, {MakeResult("", "eu", kStart, Outcome::kUp)});
  Append(*store, {MakeResult("", "eu", kStart, Outcome::kUp)});
  EXPECT_EQ(StatsOf(*store, kStart, kStart + hours(1)).total, 2);
}

TEST_F(SqliteResultStoreTest, RejectsResultsItCannotFileAndStoresTheRest) {
  auto store = OpenStore();
  CheckResult no_uid = MakeResult("x", "eu", kStart, Outcome::kUp, 1, "");
  CheckResult no_region = MakeResult("y", "", kStart, Outcome::kUp);
  CheckResult no_time = MakeResult("z", "eu", TimePoint{}, Outcome::kUp);
  no_time.started_at = {};
  Result<AppendResult> appended =
      store->Append({no_uid, MakeResult("ok", "eu", kStart, Outcome::kUp), no_region, no_time});
  ASSERT_TRUE(appended.ok()) << appended.error();
  EXPECT_THAT(appended->statuses, ElementsAre(AppendStatus::kRejected, AppendStatus::kNew,
                                              AppendStatus::kRejected, AppendStatus::kRejected));
  ASSERT_EQ(appended->rejections.size(), 3u);
  EXPECT_EQ(appended->rejections[0].index, 0u);
  EXPECT_THAT(appended->rejections[0].reason, HasSubstr("monitor uid is empty"));
  EXPECT_EQ(appended->rejections[1].index, 2u);
  EXPECT_THAT(appended->rejections[1].reason, HasSubstr("item 'y'"));
  EXPECT_THAT(appended->rejections[2].reason, HasSubstr("scheduledAt"));
  EXPECT_EQ(StatsOf(*store, kStart, kStart + hours(1)).total, 1);
}

TEST_F(SqliteResultStoreTest, KeepsEveryFieldOfAResult) {
  auto store = OpenStore();
  CheckResult r = MakeResult("item-7", "eu-west", kStart + minutes(3), Outcome::kDown);
  r.type = MonitorType::kTcp;
  r.timings = Timings{1, 2, 3, 4, 5, 15};
  r.cert_expiry = kStart + days(90);
  r.cert_earliest_expiry = kStart + days(30);
  r.failed_assertion =
      FailedAssertion{"statusCode", "eq 200", "503", "status code 503, expected eq 200"};
  r.error = "connection reset by peer";
  r.attempts = 3;
  r.dns_records = {"93.184.216.34", "93.184.216.35"};
  Append(*store, {r});

  Result<std::vector<CheckResult>> read = store->Results({"uid-1", {}, {}, 10, false});
  ASSERT_TRUE(read.ok()) << read.error();
  ASSERT_EQ(read->size(), 1u);
  const CheckResult& got = (*read)[0];
  EXPECT_EQ(got.item_id, "item-7");
  EXPECT_EQ(got.monitor_uid, "uid-1");
  EXPECT_EQ(got.monitor_namespace, "shop");
  EXPECT_EQ(got.monitor_name, "checkout");
  EXPECT_EQ(got.generation, 3);
  EXPECT_EQ(got.type, MonitorType::kTcp);
  EXPECT_EQ(got.target, r.target);
  EXPECT_EQ(got.region, "eu-west");
  EXPECT_EQ(got.probe, "probe-eu-west");
  EXPECT_EQ(got.scheduled_at, r.scheduled_at);
  EXPECT_EQ(got.started_at, r.started_at);
  EXPECT_EQ(got.outcome, Outcome::kDown);
  EXPECT_EQ(got.status_code, 503);
  EXPECT_EQ(got.timings.dns_us, 1);
  EXPECT_EQ(got.timings.connect_us, 2);
  EXPECT_EQ(got.timings.tls_us, 3);
  EXPECT_EQ(got.timings.first_byte_us, 4);
  EXPECT_EQ(got.timings.transfer_us, 5);
  EXPECT_EQ(got.timings.total_us, 15);
  EXPECT_EQ(got.cert_expiry, r.cert_expiry);
  EXPECT_EQ(got.cert_earliest_expiry, r.cert_earliest_expiry);
  ASSERT_TRUE(got.failed_assertion.has_value());
  EXPECT_EQ(got.failed_assertion->type, "statusCode");
  EXPECT_EQ(got.failed_assertion->expected, "eq 200");
  EXPECT_EQ(got.failed_assertion->actual, "503");
  EXPECT_EQ(got.failed_assertion->message, "status code 503, expected eq 200");
  EXPECT_EQ(got.error, "connection reset by peer");
  EXPECT_EQ(got.attempts, 3);
  EXPECT_THAT(got.dns_records, ElementsAre("93.184.216.34", "93.184.216.35"));
}

TEST_F(SqliteResultStoreTest, KeepsIcmpStatsAndTheCheckOfEveryAddress) {
  auto store = OpenStore();
  CheckResult ping = MakeResult("ping", "eu", kStart + minutes(1), Outcome::kDown);
  ping.type = MonitorType::kIcmp;
  ping.status_code = 0;
  ping.icmp = IcmpStats{3, 2, 150, 200, 310};
  ping.addresses = {{"127.0.0.1", "", Outcome::kUp, 0, 200, "", IcmpStats{3, 3, 100, 200, 300}},
                    {"::1", "web-7d9f", Outcome::kDown, 0, 0, "no reply", IcmpStats{3, 0}}};
  CheckResult plain = MakeResult("plain", "eu", kStart + minutes(2), Outcome::kUp);
  Append(*store, {ping, plain});

  Result<std::vector<CheckResult>> read = store->Results({"uid-1", {}, {}, 10, false});
  ASSERT_TRUE(read.ok()) << read.error();
  ASSERT_EQ(read->size(), 2u);
  EXPECT_EQ((*read)[0].icmp, ping.icmp);
  EXPECT_EQ((*read)[0].addresses, ping.addresses);
  EXPECT_FALSE((*read)[1].icmp);
  EXPECT_THAT((*read)[1].addresses, IsEmpty());
  store.reset();
  EXPECT_EQ(RawCount("SELECT COUNT(*) FROM results WHERE details IS NULL"), 1)
      << "a result with neither keeps no details";

  // A row whose details are damaged is an error naming it, not a crash or a silent loss.
  RawSql("UPDATE results SET details = '{\"icmp\": 3}' WHERE item_id = 'ping'");
  store = OpenStore();
  read = store->Results({"uid-1", {}, {}, 10, false});
  ASSERT_FALSE(read.ok());
  EXPECT_THAT(read.error(), HasSubstr("item 'ping'"));
  EXPECT_THAT(read.error(), HasSubstr("icmp"));
}

TEST_F(SqliteResultStoreTest, ResultsSinceWithLimitAndOrder) {
  auto store = OpenStore();
  std::vector<CheckResult> results;
  results.reserve(10);
  for (int i = 0; i < 10; ++i) {
    results.push_back(MakeResult("i" + std::to_string(i), i % 2 ? "us" : "eu", kStart + minutes(i),
                                 Outcome::kUp));
  }
  results.push_back(MakeResult("other", "eu", kStart, Outcome::kUp, 1, "uid-2"));
  Append(*store, results);

  auto items = [](const std::vector<CheckResult>& rs) {
    std::vector<std::string> ids;
    ids.reserve(rs.size());
    for (const auto& r : rs) ids.push_back(r.item_id);
    return ids;
  };
  Result<std::vector<CheckResult>> since =
      store->Results({"uid-1", {}, kStart + minutes(6), 3, false});
  ASSERT_TRUE(since.ok());
  EXPECT_THAT(items(*since), ElementsAre("i6", "i7", "i8"));
  Result<std::vector<CheckResult>> newest = store->Results({"uid-1", {}, {}, 2, true});
  ASSERT_TRUE(newest.ok());
  EXPECT_THAT(items(*newest), ElementsAre("i9", "i8"));
  Result<std::vector<CheckResult>> us = store->Results({"uid-1", "us", {}, 100, false});
  ASSERT_TRUE(us.ok());
  EXPECT_THAT(items(*us), ElementsAre("i1", "i3", "i5", "i7", "i9"));
}

// --- uptime, rollups, percentiles ------------------------------------------------------------

TEST_F(SqliteResultStoreTest, UptimeSimpleNumbers) {
  auto store = OpenStore();
  const TimePoint now = kStart + hours(10) + minutes(30);
  Append(*store, {MakeResult("1", "eu", now - minutes(50), Outcome::kUp),
                  MakeResult("2", "eu", now - minutes(40), Outcome::kUp),
                  MakeResult("3", "us", now - minutes(30), Outcome::kUp),
                  MakeResult("4", "us", now - minutes(20), Outcome::kDegraded),
                  MakeResult("5", "eu", now - minutes(10), Outcome::kDown),
                  MakeResult("6", "eu", now - minutes(5), Outcome::kError)});
  Result<MonitorSummary> summary = store->Summarize("uid-1", now);
  ASSERT_TRUE(summary.ok()) << summary.error();
  const WindowStats& day = summary->last_24h;
  EXPECT_EQ(day.total, 6);
  EXPECT_EQ(day.up, 3);
  EXPECT_EQ(day.degraded, 1);
  EXPECT_EQ(day.down, 1);
  EXPECT_EQ(day.errors, 1);
  EXPECT_DOUBLE_EQ(*day.UptimePercent(), 80.0);  // 4 passed of 5 decided; errors excluded
  EXPECT_DOUBLE_EQ(*summary->last_30d.UptimePercent(), 80.0);
  EXPECT_DOUBLE_EQ(*StatsOf(*store, now - hours(1), now, "us").UptimePercent(), 100.0);
  EXPECT_EQ(StatsOf(*store, now - days(2), now - days(1)).UptimePercent(), std::nullopt);
}

TEST_F(SqliteResultStoreTest, WindowEdgesAreExact) {
  auto store = OpenStore();
  const TimePoint now = kStart + days(3) + hours(7) + minutes(13);
  Append(*store, {MakeResult("before", "eu", now - hours(24) - milliseconds(1), Outcome::kDown),
                  MakeResult("first", "eu", now - hours(24), Outcome::kUp),
                  MakeResult("last", "eu", now - milliseconds(1), Outcome::kUp),
                  MakeResult("at-now", "eu", now, Outcome::kDown)});
  const WindowStats day = StatsOf(*store, now - hours(24), now);
  EXPECT_EQ(day.total, 2);
  EXPECT_EQ(day.down, 0);
}

// Results every 10 minutes for 35 days in two regions with a fixed pattern; every window must
// agree exactly with a brute-force count over the same results.
TEST_F(SqliteResultStoreTest, UptimeWindowsMatchABruteForceCount) {
  auto store = OpenStore();
  const TimePoint now = kStart + days(40) + hours(5) + minutes(30) + seconds(7);
  std::vector<CheckResult> all;
  for (TimePoint t = now - days(35); t < now; t += minutes(10)) {
    const auto k = static_cast<int>((t - (now - days(35))) / minutes(10));
    Outcome outcome = Outcome::kUp;
    if (k % 7 == 0) {
      outcome = Outcome::kDown;
    } else if (k % 11 == 0) {
      outcome = Outcome::kDegraded;
    } else if (k % 13 == 0) {
      outcome = Outcome::kError;
    }
    all.push_back(MakeResult("eu-" + std::to_string(k), "eu", t, outcome, 1'000 + (k % 50) * 997));
    if (k % 3 == 0) {
      all.push_back(MakeResult("us-" + std::to_string(k), "us", t + seconds(3),
                               k % 9 == 0 ? Outcome::kDown : Outcome::kUp, 20'000));
    }
  }
  for (size_t i = 0; i < all.size(); i += 500) {
    Append(*store, std::vector<CheckResult>(
                       all.begin() + static_cast<std::ptrdiff_t>(i),
                       all.begin() + static_cast<std::ptrdiff_t>(std::min(i + 500, all.size()))));
  }
  auto expect_window = [&](TimePoint from, TimePoint to, std::optional<std::string> region) {
    WindowStats expected;
    for (const CheckResult& r : all) {
      if (r.scheduled_at < from || r.scheduled_at >= to) continue;
      if (region && r.region != *region) continue;
      ++expected.total;
      expected.up += r.outcome == Outcome::kUp;
      expected.degraded += r.outcome == Outcome::kDegraded;
      expected.down += r.outcome == Outcome::kDown;
      expected.errors += r.outcome == Outcome::kError;
    }
    const WindowStats got = StatsOf(*store, from, to, region);
    SCOPED_TRACE(::testing::Message() << "window of " << (to - from) / minutes(1) << " min");
    EXPECT_EQ(got.total, expected.total);
    EXPECT_EQ(got.up, expected.up);
    EXPECT_EQ(got.degraded, expected.degraded);
    EXPECT_EQ(got.down, expected.down);
    EXPECT_EQ(got.errors, expected.errors);
    EXPECT_EQ(got.latency.samples, expected.up + expected.degraded);
    EXPECT_GT(expected.total, 0);
  };
  for (auto length : {hours(1), hours(24), hours(24 * 7), hours(24 * 30)}) {
    expect_window(now - length, now, std::nullopt);
    expect_window(now - length, now, "us");
  }
  expect_window(now - days(3) - minutes(17), now - days(1) + minutes(4), std::nullopt);

  // Pruning raw rows older than 30 days changes none of the standard windows.
  Result<MonitorSummary> before = store->Summarize("uid-1", now);
  ASSERT_TRUE(before.ok());
  Result<PruneReport> pruned = store->Prune(now);
  ASSERT_TRUE(pruned.ok()) << pruned.error();
  EXPECT_GT(pruned->results, 0);
  Result<MonitorSummary> after = store->Summarize("uid-1", now);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->last_30d.total, before->last_30d.total);
  EXPECT_EQ(after->last_30d.down, before->last_30d.down);
  EXPECT_EQ(after->last_7d.total, before->last_7d.total);
  EXPECT_EQ(after->last_24h.latency.p95_us, before->last_24h.latency.p95_us);
}

TEST_F(SqliteResultStoreTest, PercentilesSurviveRawPruning) {
  SqliteResultStore::Options options;
  options.raw_retention = hours(24);
  auto store = OpenStore(options);
  const TimePoint hour = kStart + days(10) + hours(14);
  std::vector<CheckResult> results;
  for (int i = 1; i <= 100; ++i) {
    results.push_back(MakeResult(std::to_string(i), "eu", hour + seconds(30 * i), Outcome::kUp,
                                 int64_t{i} * 1'000));  // 1 ms .. 100 ms
  }
  results.push_back(MakeResult("slow-fail", "eu", hour + minutes(55), Outcome::kDown, 9'000'000));
  Append(*store, results);

  // A window not aligned to the hour is answered from raw rows.
  const WindowStats raw = StatsOf(*store, hour + milliseconds(1), hour + hours(1));
  EXPECT_EQ(raw.latency.samples, 100);  // the failed check's time is not a latency
  EXPECT_EQ(raw.latency.min_us, 1'000);
  EXPECT_EQ(raw.latency.max_us, 100'000);
  EXPECT_EQ(raw.latency.mean_us, 50'500);
  EXPECT_NEAR(static_cast<double>(*raw.latency.p50_us), 50'000, 5'000);
  EXPECT_NEAR(static_cast<double>(*raw.latency.p95_us), 95'000, 9'500);
  EXPECT_NEAR(static_cast<double>(*raw.latency.p99_us), 99'000, 9'900);

  Result<PruneReport> pruned = store->Prune(kStart + days(20));
  ASSERT_TRUE(pruned.ok()) << pruned.error();
  EXPECT_EQ(pruned->results, 101);
  Result<std::vector<CheckResult>> left = store->Results({"uid-1", {}, {}, 1000, false});
  ASSERT_TRUE(left.ok());
  EXPECT_THAT(*left, IsEmpty());

  // The same window now comes from the hourly rollup: identical figures.
  const WindowStats rolled = StatsOf(*store, hour + milliseconds(1), hour + hours(1));
  EXPECT_EQ(rolled.total, 101);
  EXPECT_EQ(rolled.down, 1);
  EXPECT_EQ(rolled.latency.samples, raw.latency.samples);
  EXPECT_EQ(rolled.latency.p50_us, raw.latency.p50_us);
  EXPECT_EQ(rolled.latency.p95_us, raw.latency.p95_us);
  EXPECT_EQ(rolled.latency.p99_us, raw.latency.p99_us);
  EXPECT_EQ(rolled.latency.min_us, raw.latency.min_us);
  EXPECT_EQ(rolled.latency.max_us, raw.latency.max_us);

  // How far pruning went is remembered across a restart.
  store.reset();
  store = OpenStore(options);
  const WindowStats reopened = StatsOf(*store, hour + milliseconds(1), hour + hours(1));
  EXPECT_EQ(reopened.total, 101);
  EXPECT_EQ(reopened.latency.p95_us, raw.latency.p95_us);
}

TEST_F(SqliteResultStoreTest, DailyRollupsMergeRegions) {
  auto store = OpenStore();
  Append(*store,
         {MakeResult("1", "eu", kStart + hours(1), Outcome::kUp, 10'000),
          MakeResult("2", "us", kStart + hours(2), Outcome::kDown),
          MakeResult("3", "eu", kStart + days(1) + hours(3), Outcome::kDegraded, 30'000),
          MakeResult("4", "eu", kStart + days(1) + hours(23) + minutes(59), Outcome::kUp, 50'000)});
  Result<std::vector<Rollup>> merged =
      store->Rollups({"uid-1", RollupPeriod::kDay, {}, kStart, kStart + days(7)});
  ASSERT_TRUE(merged.ok()) << merged.error();
  ASSERT_EQ(merged->size(), 2u);
  EXPECT_EQ((*merged)[0].bucket_start, kStart);
  EXPECT_EQ((*merged)[0].region, "");
  EXPECT_EQ((*merged)[0].stats.total, 2);
  EXPECT_DOUBLE_EQ(*(*merged)[0].stats.UptimePercent(), 50.0);
  EXPECT_EQ((*merged)[1].bucket_start, kStart + days(1));
  EXPECT_EQ((*merged)[1].stats.degraded, 1);
  EXPECT_EQ((*merged)[1].stats.latency.max_us, 50'000);

  Result<std::vector<Rollup>> us =
      store->Rollups({"uid-1", RollupPeriod::kHour, "us", kStart, kStart + days(7)});
  ASSERT_TRUE(us.ok());
  ASSERT_EQ(us->size(), 1u);
  EXPECT_EQ((*us)[0].bucket_start, kStart + hours(2));
  EXPECT_EQ((*us)[0].region, "us");
  EXPECT_EQ((*us)[0].stats.down, 1);
}

TEST_F(SqliteResultStoreTest, LateResultsLandInTheirOwnBucket) {
  auto store = OpenStore();
  Append(*store, {MakeResult("1", "eu", kStart + hours(5), Outcome::kUp)});
  // Delivered hours later (a probe that was cut off): counted where it was scheduled.
  Append(*store, {MakeResult("0", "eu", kStart + hours(1), Outcome::kDown)});
  Result<std::vector<Rollup>> hourly =
      store->Rollups({"uid-1", RollupPeriod::kHour, {}, kStart, kStart + days(1)});
  ASSERT_TRUE(hourly.ok());
  ASSERT_EQ(hourly->size(), 2u);
  EXPECT_EQ((*hourly)[0].bucket_start, kStart + hours(1));
  EXPECT_EQ((*hourly)[0].stats.down, 1);
}

TEST_F(SqliteResultStoreTest, RollupsKeepPhaseMeansOfPassingResults) {
  auto store = OpenStore();
  auto with_phases = [](CheckResult result, int64_t dns, int64_t connect, int64_t tls,
                        int64_t first_byte, int64_t transfer) {
    result.timings = Timings{dns,        connect,  tls,
                             first_byte, transfer, dns + connect + tls + first_byte + transfer};
    return result;
  };
  Append(*store, {with_phases(MakeResult("1", "eu", kStart + minutes(1), Outcome::kUp), 1'000,
                              2'000, 3'000, 4'000, 5'000),
                  with_phases(MakeResult("2", "eu", kStart + minutes(2), Outcome::kDegraded), 3'000,
                              4'000, 5'000, 6'000, 7'000),
                  // A failed check's phases say nothing about the target's speed.
                  with_phases(MakeResult("3", "eu", kStart + minutes(3), Outcome::kDown), 900'000,
                              0, 0, 0, 0)});
  const PhaseMeans expected{2, 2'000, 3'000, 4'000, 5'000, 6'000};
  auto same = [](const PhaseMeans& a, const PhaseMeans& b) {
    return a.samples == b.samples && a.dns_us == b.dns_us && a.connect_us == b.connect_us &&
           a.tls_us == b.tls_us && a.first_byte_us == b.first_byte_us &&
           a.transfer_us == b.transfer_us;
  };
  Result<std::vector<Rollup>> hourly =
      store->Rollups({"uid-1", RollupPeriod::kHour, {}, kStart, kStart + hours(1)});
  ASSERT_TRUE(hourly.ok()) << hourly.error();
  ASSERT_EQ(hourly->size(), 1u);
  EXPECT_TRUE(same((*hourly)[0].stats.latency.phases, expected));
  // From raw rows (the current hour) and from rollups (whole hours) alike.
  EXPECT_TRUE(same(StatsOf(*store, kStart, kStart + minutes(30)).latency.phases, expected));
  EXPECT_TRUE(same(StatsOf(*store, kStart, kStart + hours(1)).latency.phases, expected));
}

TEST_F(SqliteResultStoreTest, UpgradeFillsLatencySumsFromTheHistograms) {
  auto store = OpenStore();
  Append(*store, {MakeResult("1", "eu", kStart + hours(1), Outcome::kUp, 10'000),
                  MakeResult("2", "eu", kStart + hours(1), Outcome::kUp, 30'000),
                  MakeResult("3", "us", kStart + hours(1), Outcome::kDown)});
  ASSERT_TRUE(store->Prune(kStart + days(1)).ok());  // its day compacted, as an older one had it
  store.reset();
  // A schema-2 file: rollups without the sum columns.
  RawSql(
      "ALTER TABLE rollups DROP COLUMN latency_sum_us; ALTER TABLE rollups DROP COLUMN "
      "phase_samples; ALTER TABLE rollups DROP COLUMN dns_sum_us; ALTER TABLE rollups DROP COLUMN "
      "connect_sum_us; ALTER TABLE rollups DROP COLUMN tls_sum_us; ALTER TABLE rollups DROP "
      "COLUMN first_byte_sum_us; ALTER TABLE rollups DROP COLUMN transfer_sum_us;"
      "ALTER TABLE results DROP COLUMN details; DROP TABLE rollup_marks;"
      "UPDATE schema_version SET version = 2 WHERE component = 'results';");
  store = OpenStore();
  ASSERT_NE(store, nullptr);
  Result<std::vector<BucketCounts>> counts =
      store->CountRollups({{"uid-1"}, RollupPeriod::kDay, {}, kStart, kStart + days(1)});
  ASSERT_TRUE(counts.ok()) << counts.error();
  ASSERT_EQ(counts->size(), 1u);
  EXPECT_EQ((*counts)[0].latency_sum_us, 40'000);
  EXPECT_EQ((*counts)[0].MeanLatencyUs(), 20'000);
  EXPECT_EQ((*counts)[0].down, 1);
  // Phases of rows written before the upgrade are unknown, not zero.
  Result<std::vector<Rollup>> daily =
      store->Rollups({"uid-1", RollupPeriod::kDay, {}, kStart, kStart + days(1)});
  ASSERT_TRUE(daily.ok());
  EXPECT_EQ((*daily)[0].stats.latency.phases.samples, 0);
  EXPECT_EQ((*daily)[0].stats.latency.mean_us, 20'000);
}

TEST_F(SqliteResultStoreTest, UpgradeFromSchema4KeepsResultsAndItsDailyRollups) {
  {
    // A file written by the Pharos before: the first four migrations, one result, its rollups.
    Result<std::unique_ptr<SqliteDatabase>> db = SqliteDatabase::Open(path_, {});
    ASSERT_TRUE(db.ok()) << db.error();
    const std::vector<SqliteDatabase::Migration> older(SqliteResultStore::Migrations().begin(),
                                                       SqliteResultStore::Migrations().begin() + 4);
    ASSERT_TRUE((*db)->Migrate(SqliteResultStore::kSchemaComponent, older).ok());
  }
  const int64_t at = std::chrono::duration_cast<milliseconds>(kStart.time_since_epoch()).count();
  LatencyHistogram histogram;
  histogram.Add(5'000);
  RawSql(fmt::format(
      "INSERT INTO results (item_id, monitor_uid, monitor_namespace, monitor_name, generation, "
      "type, target, region, probe, at_ms, scheduled_at_ms, started_at_ms, outcome, status_code, "
      "dns_us, connect_us, tls_us, first_byte_us, transfer_us, total_us, error, attempts, "
      "dns_records) VALUES ('old', 'uid-1', 'shop', 'checkout', 3, 'http', 'https://x', 'eu', "
      "'p', {0}, {0}, {0}, 'up', 200, 0, 0, 0, 0, 0, 5000, '', 1, '[]');"
      "INSERT INTO rollups (monitor_uid, period_ms, bucket_start_ms, region, total, up, degraded, "
      "down, errors, latency) VALUES ('uid-1', 3600000, {0}, 'eu', 1, 1, 0, 0, 0, '{1}'),"
      "('uid-1', 86400000, {0}, 'eu', 1, 1, 0, 0, 0, '{1}');",
      at, histogram.Encode()));
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(SchemaVersion(), 5);
  Result<std::vector<CheckResult>> results = store->Results({"uid-1", {}, {}, 10, false});
  ASSERT_TRUE(results.ok()) << results.error();
  ASSERT_EQ(results->size(), 1u);
  EXPECT_EQ((*results)[0].item_id, "old");
  // The file had rollups, so its daily rows count as complete up to the day of the upgrade.
  EXPECT_GT(RawCount("SELECT through_ms FROM rollup_marks WHERE kind = 'daily'"), at);
  Result<std::vector<Rollup>> daily =
      store->Rollups({"uid-1", RollupPeriod::kDay, {}, kStart, kStart + days(1)});
  ASSERT_TRUE(daily.ok()) << daily.error();
  ASSERT_EQ(daily->size(), 1u);
  EXPECT_EQ((*daily)[0].stats.total, 1);
  // The old item id is no longer unique on its own: (scheduled time, item id) is.
  EXPECT_EQ(RawCount("SELECT count(*) FROM pragma_index_list('results') WHERE \"unique\" = 1 "
                     "AND name = 'results_by_item'"),
            1);
  Result<AppendResult> again = store->Append({MakeResult("old", "eu", kStart, Outcome::kUp)});
  ASSERT_TRUE(again.ok()) << again.error();
  EXPECT_EQ(again->statuses[0], AppendStatus::kDuplicate);
}

TEST_F(SqliteResultStoreTest, ARepeatedItemIsADuplicateAndAMismatchedScheduleIsRefused) {
  auto store = OpenStore();
  const int64_t at = std::chrono::duration_cast<milliseconds>(kStart.time_since_epoch()).count();
  const std::string item = "uid-1@eu@" + std::to_string(at);
  Append(*store, {MakeResult(item, "eu", kStart, Outcome::kUp)});
  // The same check sent again, even as seen by another probe, is stored once.
  CheckResult resent = MakeResult(item, "eu", kStart, Outcome::kDown);
  resent.probe = "probe-other";
  Result<AppendResult> again = store->Append({resent});
  ASSERT_TRUE(again.ok()) << again.error();
  EXPECT_EQ(again->statuses[0], AppendStatus::kDuplicate);
  // An id naming another scheduled time than the result's would be a second row: refused.
  Result<AppendResult> skewed =
      store->Append({MakeResult(item, "eu", kStart + seconds(1), Outcome::kUp)});
  ASSERT_TRUE(skewed.ok()) << skewed.error();
  EXPECT_EQ(skewed->statuses[0], AppendStatus::kRejected);
  ASSERT_EQ(skewed->rejections.size(), 1u);
  EXPECT_THAT(skewed->rejections[0].reason,
              HasSubstr(fmt::format("names scheduled time {} ms, but its scheduledAt is {} ms", at,
                                    at + 1'000)));
  EXPECT_EQ(StatsOf(*store, kStart, kStart + days(1)).total, 1);
}

TEST_F(SqliteResultStoreTest, DaysAreReadFromTheirHoursUntilCompactedAndAlikeAfter) {
  auto store = OpenStore();
  std::vector<CheckResult> results;
  for (int i = 0; i < 3 * 24 * 4; ++i) {  // every 15 minutes for 3 days, two regions
    const Outcome outcome = i % 7 == 0 ? Outcome::kDown : Outcome::kUp;
    results.push_back(MakeResult("a" + std::to_string(i), i % 2 == 0 ? "eu" : "us",
                                 kStart + minutes(15 * i), outcome, int64_t{1'000} * (i % 13 + 1)));
  }
  Append(*store, results);
  const auto snapshot = [&]() {
    std::vector<std::string> lines;
    for (const std::optional<std::string>& region :
         {std::optional<std::string>(), std::optional<std::string>("eu")}) {
      Result<std::vector<Rollup>> daily =
          store->Rollups({"uid-1", RollupPeriod::kDay, region, kStart, kStart + days(5)});
      if (!daily.ok()) {
        ADD_FAILURE() << daily.error();
        continue;
      }
      for (const Rollup& r : *daily) {
        lines.push_back(fmt::format("{} {} {} {} {} {}", r.bucket_start.time_since_epoch().count(),
                                    r.region, r.stats.total, r.stats.down,
                                    r.stats.latency.p95_us.value_or(-1), r.stats.latency.sum_us));
      }
    }
    Result<std::vector<BucketCounts>> counts =
        store->CountRollups({{"uid-1"}, RollupPeriod::kDay, {}, kStart, kStart + days(5)});
    EXPECT_TRUE(counts.ok()) << counts.error();
    for (const BucketCounts& b : counts.ok() ? *counts : std::vector<BucketCounts>{}) {
      lines.push_back(fmt::format("counts {} {} {} {}", b.bucket_start.time_since_epoch().count(),
                                  b.total, b.down, b.latency_sum_us));
    }
    const WindowStats week = StatsOf(*store, kStart - days(1), kStart + days(6));
    lines.push_back(
        fmt::format("stats {} {} {}", week.total, week.down, week.latency.p50_us.value_or(-1)));
    return lines;
  };
  const std::vector<std::string> from_hours = snapshot();
  ASSERT_EQ(from_hours.size(), 3u + 3u + 3u + 1u);
  EXPECT_EQ(RawCount("SELECT count(*) FROM rollups WHERE period_ms = 86400000"), 0);

  Result<PruneReport> pruned = store->Prune(kStart + days(3) + hours(5));
  ASSERT_TRUE(pruned.ok()) << pruned.error();
  EXPECT_EQ(pruned->compacted_days, 3);
  EXPECT_EQ(RawCount("SELECT count(*) FROM rollups WHERE period_ms = 86400000"), 3 * 2);
  EXPECT_EQ(snapshot(), from_hours);

  // A late result for a compacted day counts in its hour and in its day.
  Append(*store, {MakeResult("late", "eu", kStart + days(1) + hours(2), Outcome::kDown)});
  Result<std::vector<Rollup>> day2 =
      store->Rollups({"uid-1", RollupPeriod::kDay, {}, kStart + days(1), kStart + days(2)});
  ASSERT_TRUE(day2.ok());
  ASSERT_EQ(day2->size(), 1u);
  Result<std::vector<Rollup>> hours2 =
      store->Rollups({"uid-1", RollupPeriod::kHour, {}, kStart + days(1), kStart + days(2)});
  ASSERT_TRUE(hours2.ok());
  int64_t hourly_total = 0;
  for (const Rollup& r : *hours2) hourly_total += r.stats.total;
  EXPECT_EQ((*day2)[0].stats.total, hourly_total);
  EXPECT_EQ((*day2)[0].stats.total, 24 * 4 + 1);

  // Reopened, the store knows which days are compacted.
  store.reset();
  store = OpenStore();
  ASSERT_NE(store, nullptr);
  Result<PruneReport> again = store->Prune(kStart + days(3) + hours(6));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->compacted_days, 0);
}

TEST_F(SqliteResultStoreTest, HoursOfADayNotCompactedOutliveAShortHourlyRetention) {
  SqliteResultStore::Options options;
  options.hourly_retention = hours(2);
  auto store = OpenStore(options);
  Append(*store, {MakeResult("a", "eu", kStart + hours(1), Outcome::kUp),
                  MakeResult("b", "eu", kStart + days(1) + hours(1), Outcome::kUp)});
  // Day 1 is compacted, then its hours go; day 2 is not over: its hours stay.
  Result<PruneReport> pruned = store->Prune(kStart + days(1) + hours(10));
  ASSERT_TRUE(pruned.ok()) << pruned.error();
  EXPECT_EQ(pruned->compacted_days, 1);
  EXPECT_EQ(pruned->hourly_rollups, 1);
  Result<std::vector<Rollup>> daily =
      store->Rollups({"uid-1", RollupPeriod::kDay, {}, kStart, kStart + days(2)});
  ASSERT_TRUE(daily.ok());
  ASSERT_EQ(daily->size(), 2u);
  EXPECT_EQ((*daily)[0].stats.total, 1);
  EXPECT_EQ((*daily)[1].stats.total, 1);
}

TEST_F(SqliteResultStoreTest, CountRollupsMatchesRollupsOfEachMonitor) {
  auto store = OpenStore();
  std::vector<CheckResult> results;
  int item = 0;
  const Outcome outcomes[] = {Outcome::kUp, Outcome::kUp, Outcome::kDegraded, Outcome::kDown,
                              Outcome::kError};
  for (const char* uid : {"uid-a", "uid-b", "uid-c"}) {
    for (int i = 0; i < 300; ++i) {
      const char* region = i % 3 == 0 ? "us" : "eu";
      results.push_back(MakeResult(std::to_string(item++), region, kStart + minutes(37 * i),
                                   outcomes[(i * 7 + uid[4]) % 5], int64_t{1'000} * (i % 50 + 1),
                                   uid));
    }
  }
  Append(*store, results);
  for (RollupPeriod period : {RollupPeriod::kHour, RollupPeriod::kDay}) {
    for (const std::vector<std::string>& regions :
         {std::vector<std::string>{}, std::vector<std::string>{"eu"},
          std::vector<std::string>{"eu", "us"}}) {
      // "uid-c" is left out and "uid-x" has no results.
      const BucketCountsQuery query{
          {"uid-b", "uid-a", "uid-x"}, period, regions, kStart + hours(3), kStart + days(6)};
      Result<std::vector<BucketCounts>> bulk = store->CountRollups(query);
      Result<std::vector<BucketCounts>> one_by_one = store->HistoryReader::CountRollups(query);
      ASSERT_TRUE(bulk.ok()) << bulk.error();
      ASSERT_TRUE(one_by_one.ok()) << one_by_one.error();
      EXPECT_FALSE(bulk->empty());
      EXPECT_EQ(*bulk, *one_by_one);
      for (const BucketCounts& bucket : *bulk) EXPECT_NE(bucket.monitor_uid, "uid-c");
    }
  }
  Result<std::vector<BucketCounts>> none = store->CountRollups({});
  ASSERT_TRUE(none.ok());
  EXPECT_THAT(*none, IsEmpty());
}

TEST_F(SqliteResultStoreTest, ResultSeriesBucketsRawResults) {
  auto store = OpenStore();
  std::vector<CheckResult> results;
  for (int i = 0; i < 120; ++i) {
    CheckResult result =
        MakeResult(std::to_string(i), i % 2 ? "eu" : "us", kStart + minutes(i),
                   i % 10 == 9 ? Outcome::kDown : Outcome::kUp, int64_t{1'000} * (i + 1));
    result.timings.dns_us = 100;
    result.timings.first_byte_us = int64_t{900} * (i + 1);
    results.push_back(result);
  }
  Append(*store, results);
  const SeriesQuery query{"uid-1", std::nullopt, kStart + minutes(10), kStart + minutes(70),
                          minutes(15)};
  Result<std::vector<Rollup>> series = store->ResultSeries(query);
  ASSERT_TRUE(series.ok()) << series.error();
  ASSERT_EQ(series->size(), 4u);
  EXPECT_EQ((*series)[0].bucket_start, kStart + minutes(10));
  EXPECT_EQ((*series)[3].bucket_start, kStart + minutes(55));
  EXPECT_EQ((*series)[0].stats.total, 15);
  EXPECT_EQ((*series)[0].stats.down, 1);  // minute 19
  EXPECT_EQ((*series)[0].stats.latency.phases.dns_us, 100);
  // Percentiles within the histogram's 10 %, counts and means exact, against the plain reading.
  Result<std::vector<Rollup>> plain = store->HistoryReader::ResultSeries(query);
  ASSERT_TRUE(plain.ok()) << plain.error();
  ASSERT_EQ(plain->size(), series->size());
  for (size_t i = 0; i < series->size(); ++i) {
    const WindowStats& a = (*series)[i].stats;
    const WindowStats& b = (*plain)[i].stats;
    EXPECT_EQ((*series)[i].bucket_start, (*plain)[i].bucket_start);
    EXPECT_EQ(a.total, b.total);
    EXPECT_EQ(a.up, b.up);
    EXPECT_EQ(a.down, b.down);
    EXPECT_EQ(a.latency.mean_us, b.latency.mean_us);
    EXPECT_EQ(a.latency.phases.first_byte_us, b.latency.phases.first_byte_us);
    EXPECT_NEAR(static_cast<double>(*a.latency.p50_us), static_cast<double>(*b.latency.p50_us),
                0.1 * static_cast<double>(*b.latency.p50_us));
  }
  Result<std::vector<Rollup>> eu = store->ResultSeries(
      {"uid-1", std::string("eu"), kStart, kStart + minutes(120), std::chrono::hours(1)});
  ASSERT_TRUE(eu.ok());
  ASSERT_EQ(eu->size(), 2u);
  EXPECT_EQ((*eu)[0].region, "eu");
  EXPECT_EQ((*eu)[0].stats.total, 30);
  EXPECT_FALSE(store->ResultSeries({"uid-1", {}, kStart, kStart + hours(1), minutes(0)}).ok());
}

// --- retention --------------------------------------------------------------------------------

TEST_F(SqliteResultStoreTest, PruneDropsOnlyWhatIsPastRetention) {
  auto store = OpenStore();  // raw 30 d, hourly 35 d, daily 400 d, resolved incidents 400 d
  const TimePoint now = kStart + days(500);
  Append(*store, {MakeResult("raw-old", "eu", now - days(30) - minutes(1), Outcome::kUp),
                  MakeResult("raw-kept", "eu", now - days(30) + minutes(1), Outcome::kUp),
                  MakeResult("hour-old", "eu", now - days(36), Outcome::kUp),
                  MakeResult("day-old", "eu", now - days(402), Outcome::kUp)});
  MonitorStateSnapshot state;
  state.monitor_uid = "uid-1";
  state.monitor_key = "shop/checkout";
  StateEvent old_incident{"uid-1", "shop/checkout", MonitorState::kUp, MonitorState::kDown,
                          now - days(450)};
  old_incident.opened_incident_id = "old";
  StateEvent resolve_old = old_incident;
  resolve_old.opened_incident_id.clear();
  resolve_old.resolved_incident_id = "old";
  resolve_old.at = now - days(401);
  StateEvent open_incident = old_incident;
  open_incident.opened_incident_id = "open";
  open_incident.at = now - days(420);
  state.open_incident_id = "open";
  ASSERT_TRUE(store->SaveMonitorState(state, {old_incident, resolve_old, open_incident}).ok());

  Result<PruneReport> report = store->Prune(now);
  ASSERT_TRUE(report.ok()) << report.error();
  EXPECT_EQ(report->results, 3);         // raw-old, hour-old, day-old
  EXPECT_EQ(report->hourly_rollups, 2);  // hour-old, day-old
  EXPECT_EQ(report->daily_rollups, 1);   // day-old
  EXPECT_EQ(report->incidents, 1);       // "old"; the open one stays however old

  Result<std::vector<CheckResult>> left = store->Results({"uid-1", {}, {}, 10, false});
  ASSERT_TRUE(left.ok());
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ((*left)[0].item_id, "raw-kept");
  Result<std::vector<Incident>> incidents = store->Incidents({});
  ASSERT_TRUE(incidents.ok());
  ASSERT_EQ(incidents->size(), 1u);
  EXPECT_EQ((*incidents)[0].id, "open");
  // hour-old survives in its daily rollup.
  EXPECT_EQ(StatsOf(*store, now - days(37), now - days(35)).total, 1);

  Result<PruneReport> again = store->Prune(now);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->results + again->hourly_rollups + again->daily_rollups + again->incidents, 0);
}

TEST_F(SqliteResultStoreTest, PruneWorksThroughLargeBacklogsInChunks) {
  auto store = OpenStore();
  std::vector<CheckResult> results;
  results.reserve(12'000);
  for (int i = 0; i < 12'000; ++i) {
    results.push_back(MakeResult(std::to_string(i), "eu", kStart + seconds(i), Outcome::kUp));
  }
  Append(*store, results);
  Result<PruneReport> report = store->Prune(kStart + days(60));
  ASSERT_TRUE(report.ok()) << report.error();
  EXPECT_EQ(report->results, 12'000);
}

// --- states and incidents ---------------------------------------------------------------------

MonitorStateSnapshot FullSnapshot() {
  MonitorStateSnapshot s;
  s.monitor_uid = "uid-1";
  s.monitor_key = "shop/checkout";
  s.state = MonitorState::kDown;
  s.since = kStart + minutes(3);
  s.reason = "eu: status code 503";
  s.consecutive_failures = 4;
  s.consecutive_successes = 0;
  s.open_incident_id = "inc-1";
  s.streak_first_error = "eu: status code 503";
  s.last_round_at = kStart + minutes(5);
  RegionStateSnapshot eu;
  eu.region = "eu";
  eu.state = MonitorState::kDown;
  eu.since = kStart + minutes(2);
  eu.last_scheduled_at = kStart + minutes(6);
  eu.last_check_at = kStart + minutes(6) + milliseconds(12);
  eu.latency_us = 1234;
  eu.status_code = 503;
  eu.message = "status code 503";
  RegionStateSnapshot us;
  us.region = "us";
  us.state = MonitorState::kUp;
  us.since = kStart;
  us.probe_error = true;
  us.probe_error_message = "probe lost the item";
  s.regions = {eu, us};
  s.open_rounds = {OpenRound{kStart + minutes(6), {RoundVerdict{"eu", Outcome::kDown, "503"}}}};
  s.updated_at = kStart + minutes(6) + seconds(1);
  return s;
}

StateEvent OpenEvent(const std::string& id, TimePoint at, const std::string& uid = "uid-1") {
  StateEvent e;
  e.monitor_uid = uid;
  e.monitor_key = "shop/" + uid;
  e.from = MonitorState::kUp;
  e.to = MonitorState::kDown;
  e.at = at;
  e.failing_regions = {"eu", "us"};
  e.first_error = "eu: status code 503";
  e.opened_incident_id = id;
  return e;
}

StateEvent ResolveEvent(const std::string& id, TimePoint at, const std::string& uid = "uid-1") {
  StateEvent e;
  e.monitor_uid = uid;
  e.monitor_key = "shop/" + uid;
  e.from = MonitorState::kDown;
  e.to = MonitorState::kUp;
  e.at = at;
  e.resolved_incident_id = id;
  return e;
}

TEST_F(SqliteResultStoreTest, SavesAndLoadsMonitorStates) {
  auto store = OpenStore();
  const MonitorStateSnapshot saved = FullSnapshot();
  ASSERT_TRUE(store->SaveMonitorState(saved, {OpenEvent("inc-1", kStart + minutes(3))}).ok());
  // Saving the same thing again is harmless.
  Status again = store->SaveMonitorState(saved, {OpenEvent("inc-1", kStart + minutes(3))});
  ASSERT_TRUE(again.ok()) << again.error();

  Result<std::vector<MonitorStateSnapshot>> loaded = store->LoadMonitorStates();
  ASSERT_TRUE(loaded.ok()) << loaded.error();
  ASSERT_EQ(loaded->size(), 1u);
  EXPECT_EQ((*loaded)[0], saved);

  Result<std::vector<Incident>> incidents = store->Incidents({});
  ASSERT_TRUE(incidents.ok());
  ASSERT_EQ(incidents->size(), 1u);
  const Incident& incident = (*incidents)[0];
  EXPECT_EQ(incident.id, "inc-1");
  EXPECT_EQ(incident.monitor_uid, "uid-1");
  EXPECT_EQ(incident.monitor_key, "shop/uid-1");
  EXPECT_EQ(incident.opened_at, kStart + minutes(3));
  EXPECT_EQ(incident.resolved_at, std::nullopt);
  EXPECT_THAT(incident.failing_regions, ElementsAre("eu", "us"));
  EXPECT_EQ(incident.first_error, "eu: status code 503");

  // Fewer regions on the next save: the dropped region's row goes.
  MonitorStateSnapshot fewer = saved;
  fewer.regions.pop_back();
  ASSERT_TRUE(store->SaveMonitorState(fewer, {}).ok());
  loaded = store->LoadMonitorStates();
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ((*loaded)[0].regions.size(), 1u);
}

TEST_F(SqliteResultStoreTest, FailingRegionsOfEveryShapeReadBackAsSaved) {
  auto store = OpenStore();
  // Plain names take a fast path; quotes, backslashes, control and non-ASCII characters and an
  // empty list go through the JSON parser or must read back the same either way.
  const std::vector<std::vector<std::string>> shapes = {
      {}, {"eu"}, {"eu", "us", "ap"}, {"a\"b", "c\\d"}, {"tab\there"}, {"zürich", ""}};
  for (size_t i = 0; i < shapes.size(); ++i) {
    StateEvent open = OpenEvent("inc-" + std::to_string(i), kStart + minutes(static_cast<int>(i)),
                                "uid-" + std::to_string(i));
    open.failing_regions = shapes[i];
    MonitorStateSnapshot state;
    state.monitor_uid = open.monitor_uid;
    state.monitor_key = open.monitor_key;
    state.state = MonitorState::kDown;
    state.open_incident_id = open.opened_incident_id;
    ASSERT_TRUE(store->SaveMonitorState(state, {open}).ok());
  }
  IncidentQuery query;
  query.limit = 100;
  Result<std::vector<Incident>> incidents = store->Incidents(query);
  ASSERT_TRUE(incidents.ok()) << incidents.error();
  ASSERT_EQ(incidents->size(), shapes.size());
  for (const Incident& incident : *incidents) {
    const size_t i = std::stoul(incident.id.substr(4));
    EXPECT_EQ(incident.failing_regions, shapes[i]) << incident.id;
  }
}

TEST_F(SqliteResultStoreTest, OneOpenIncidentPerMonitor) {
  auto store = OpenStore();
  MonitorStateSnapshot state = FullSnapshot();
  ASSERT_TRUE(store->SaveMonitorState(state, {OpenEvent("inc-1", kStart)}).ok());
  state.open_incident_id = "inc-2";
  Status second = store->SaveMonitorState(state, {OpenEvent("inc-2", kStart + minutes(1))});
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(second.error(), HasSubstr("inc-2"));
  EXPECT_THAT(second.error(), HasSubstr("still open"));
  // Nothing of the failed save was kept.
  Result<std::vector<MonitorStateSnapshot>> loaded = store->LoadMonitorStates();
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ((*loaded)[0].open_incident_id, "inc-1");

  // Resolve, then a new one may open.
  state.open_incident_id = CompactString();
  ASSERT_TRUE(store->SaveMonitorState(state, {ResolveEvent("inc-1", kStart + minutes(2))}).ok());
  state.open_incident_id = "inc-2";
  ASSERT_TRUE(store->SaveMonitorState(state, {OpenEvent("inc-2", kStart + minutes(3))}).ok());
}

TEST_F(SqliteResultStoreTest, StateMustReferenceAStoredIncident) {
  auto store = OpenStore();
  MonitorStateSnapshot state = FullSnapshot();
  state.open_incident_id = "never-opened";
  Status status = store->SaveMonitorState(state, {});
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.error(), HasSubstr("FOREIGN KEY"));
}

TEST_F(SqliteResultStoreTest, IncidentsOpenFirstThenMostRecent) {
  auto store = OpenStore();
  auto save = [&](const std::string& uid, const std::vector<StateEvent>& events, bool open) {
    MonitorStateSnapshot s;
    s.monitor_uid = uid;
    s.monitor_key = "shop/" + uid;
    s.open_incident_id = open ? events.front().opened_incident_id : "";
    Status status = store->SaveMonitorState(s, events);
    ASSERT_TRUE(status.ok()) << status.error();
  };
  save("a", {OpenEvent("a-1", kStart + hours(1), "a"), ResolveEvent("a-1", kStart + hours(2), "a")},
       false);
  save("b", {OpenEvent("b-1", kStart + hours(3), "b")}, true);
  save("c", {OpenEvent("c-1", kStart + hours(5), "c"), ResolveEvent("c-1", kStart + hours(6), "c")},
       false);
  save("d", {OpenEvent("d-1", kStart + hours(4), "d")}, true);

  auto ids = [](const Result<std::vector<Incident>>& incidents) {
    std::vector<std::string> out;
    for (const Incident& i : *incidents) out.push_back(i.id);
    return out;
  };
  Result<std::vector<Incident>> all = store->Incidents({});
  ASSERT_TRUE(all.ok());
  EXPECT_THAT(ids(all), ElementsAre("d-1", "b-1", "c-1", "a-1"));
  EXPECT_EQ((*all)[2].resolved_at, kStart + hours(6));
  Result<std::vector<Incident>> open = store->Incidents({std::nullopt, false, 10});
  EXPECT_THAT(ids(open), ElementsAre("d-1", "b-1"));
  Result<std::vector<Incident>> of_c = store->Incidents({"c", true, 10});
  EXPECT_THAT(ids(of_c), ElementsAre("c-1"));
  Result<std::vector<Incident>> limited = store->Incidents({std::nullopt, true, 1});
  EXPECT_THAT(ids(limited), ElementsAre("d-1"));
}

// One query for a status page's monitors gives what one query per monitor gave, in the window.
TEST_F(SqliteResultStoreTest, IncidentsInWindowOfSeveralMonitors) {
  auto store = OpenStore();
  auto save = [&](const std::string& uid, const std::vector<StateEvent>& events, bool open) {
    MonitorStateSnapshot s;
    s.monitor_uid = uid;
    s.monitor_key = "shop/" + uid;
    s.open_incident_id = open ? events.back().opened_incident_id : "";
    Status status = store->SaveMonitorState(s, events);
    ASSERT_TRUE(status.ok()) << status.error();
  };
  // a: one over before the window, one across its start, one inside, one open.
  save("a",
       {OpenEvent("a-1", kStart + hours(1), "a"), ResolveEvent("a-1", kStart + hours(2), "a"),
        OpenEvent("a-2", kStart + hours(9), "a"), ResolveEvent("a-2", kStart + hours(11), "a"),
        OpenEvent("a-3", kStart + hours(12), "a"), ResolveEvent("a-3", kStart + hours(13), "a"),
        OpenEvent("a-4", kStart + hours(14), "a")},
       true);
  // b: one resolved the millisecond it opened, at the window's start; one after its end.
  save("b",
       {OpenEvent("b-1", kStart + hours(10), "b"), ResolveEvent("b-1", kStart + hours(10), "b"),
        OpenEvent("b-2", kStart + hours(20), "b"), ResolveEvent("b-2", kStart + hours(21), "b")},
       false);
  // c: not asked for.
  save("c", {OpenEvent("c-1", kStart + hours(12), "c")}, true);

  auto ids = [](const Result<std::vector<Incident>>& incidents) {
    std::vector<std::string> out;
    for (const Incident& i : *incidents) out.push_back(i.id);
    return out;
  };
  IncidentWindowQuery query{{"b", "a"}, kStart + hours(10), kStart + hours(20), 100};
  Result<std::vector<Incident>> window = store->IncidentsInWindow(query);
  ASSERT_TRUE(window.ok()) << window.error();
  EXPECT_THAT(ids(window), ElementsAre("a-4", "a-3", "a-2", "b-1"));
  // The same as the default's one query per monitor (monitors in another order).
  Result<std::vector<Incident>> one_by_one = store->HistoryReader::IncidentsInWindow(query);
  ASSERT_TRUE(one_by_one.ok());
  EXPECT_THAT(ids(one_by_one), ElementsAre("b-1", "a-4", "a-3", "a-2"));
  EXPECT_EQ((*window)[0].failing_regions, (*one_by_one)[1].failing_regions);
  EXPECT_EQ((*window)[1].resolved_at, kStart + hours(13));

  query.limit_per_monitor = 2;
  EXPECT_THAT(ids(store->IncidentsInWindow(query)), ElementsAre("a-4", "a-3", "b-1"));
  query.limit_per_monitor = 1;  // the open one first
  EXPECT_THAT(ids(store->IncidentsInWindow(query)), ElementsAre("a-4", "b-1"));
  query.limit_per_monitor = 0;
  EXPECT_THAT(ids(store->IncidentsInWindow(query)), IsEmpty());
  query.monitor_uids.clear();
  EXPECT_THAT(ids(store->IncidentsInWindow(query)), IsEmpty());
}

TEST_F(SqliteResultStoreTest, ForgetMonitorDropsStateAndClosesItsIncident) {
  auto store = OpenStore();
  ASSERT_TRUE(store->SaveMonitorState(FullSnapshot(), {OpenEvent("inc-1", kStart)}).ok());
  ASSERT_TRUE(store->ForgetMonitor("uid-1", kStart + hours(1)).ok());
  Result<std::vector<MonitorStateSnapshot>> loaded = store->LoadMonitorStates();
  ASSERT_TRUE(loaded.ok());
  EXPECT_THAT(*loaded, IsEmpty());
  Result<std::vector<Incident>> incidents = store->Incidents({});
  ASSERT_TRUE(incidents.ok());
  ASSERT_EQ(incidents->size(), 1u);
  EXPECT_EQ((*incidents)[0].resolved_at, kStart + hours(1));
}

// The whole path: results → state machine → store; the process "restarts" (store reopened,
// machine rebuilt from the stored snapshot) and carries on exactly.
TEST_F(SqliteResultStoreTest, RestartRestoresStatesAndIncidents) {
  const MonitorIdentity identity{"uid-1", "shop", "checkout"};
  StateMachineSettings config;
  config.regions = {"eu", "us"};
  config.failure_threshold = 2;
  config.success_threshold = 2;
  int item = 0;
  auto run_round = [&](ResultStore& store, MonitorStateMachine& machine, int n, Outcome eu,
                       Outcome us) {
    const TimePoint at = kStart + minutes(n);
    std::vector<CheckResult> results = {MakeResult(std::to_string(item++), "eu", at, eu),
                                        MakeResult(std::to_string(item++), "us", at, us)};
    Append(store, results);
    std::vector<StateEvent> events;
    for (const CheckResult& r : results) {
      ObserveResult observed = machine.Observe(identity, r, at + seconds(2));
      events.insert(events.end(), observed.events.begin(), observed.events.end());
    }
    Status saved = store.SaveMonitorState(machine.Snapshot(identity), events);
    ASSERT_TRUE(saved.ok()) << saved.error();
  };

  auto store = OpenStore();
  MonitorStateMachine machine(config, kStart);
  run_round(*store, machine, 0, Outcome::kUp, Outcome::kUp);
  run_round(*store, machine, 1, Outcome::kDown, Outcome::kUp);
  run_round(*store, machine, 2, Outcome::kDown, Outcome::kDown);  // Down: incident opens
  run_round(*store, machine, 3, Outcome::kUp, Outcome::kUp);      // 1 of 2 good rounds
  ASSERT_EQ(machine.state(), MonitorState::kDown);
  const MonitorStateSnapshot before = machine.Snapshot(identity);
  store.reset();

  store = OpenStore();
  Result<std::vector<MonitorStateSnapshot>> loaded = store->LoadMonitorStates();
  ASSERT_TRUE(loaded.ok()) << loaded.error();
  ASSERT_EQ(loaded->size(), 1u);
  EXPECT_EQ((*loaded)[0], before);
  Result<std::vector<Incident>> open = store->Incidents({std::nullopt, false, 10});
  ASSERT_TRUE(open.ok());
  ASSERT_EQ(open->size(), 1u);
  EXPECT_EQ((*open)[0].id, before.open_incident_id);
  EXPECT_EQ((*open)[0].first_error, "eu: status code 503");  // from the first failing round

  MonitorStateMachine restarted(config, kStart + minutes(4));
  Result<std::vector<StateEvent>> restored =
      restarted.Restore(identity, (*loaded)[0], kStart + minutes(4));
  ASSERT_TRUE(restored.ok()) << restored.error();
  EXPECT_THAT(*restored, IsEmpty());
  EXPECT_EQ(restarted.state(), MonitorState::kDown);  // not reset to Pending

  run_round(*store, restarted, 4, Outcome::kUp, Outcome::kUp);  // 2nd good round: Up
  EXPECT_EQ(restarted.state(), MonitorState::kUp);
  Result<std::vector<Incident>> incidents = store->Incidents({});
  ASSERT_TRUE(incidents.ok());
  ASSERT_EQ(incidents->size(), 1u);
  EXPECT_EQ((*incidents)[0].resolved_at, kStart + minutes(4) + seconds(2));
}

TEST_F(SqliteResultStoreTest, ReadsAndWritesFromSeveralThreads) {
  auto store = OpenStore();
  std::atomic<int> failures{0};
  std::thread writer([&] {
    for (int i = 0; i < 200; ++i) {
      Result<AppendResult> r = store->Append(
          {MakeResult("w" + std::to_string(i), "eu", kStart + seconds(i), Outcome::kUp)});
      if (!r.ok()) ++failures;
    }
  });
  std::thread reader([&] {
    for (int i = 0; i < 200; ++i) {
      if (!store->Stats({"uid-1", std::nullopt, kStart, kStart + days(1)}).ok()) ++failures;
    }
  });
  writer.join();
  reader.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(StatsOf(*store, kStart, kStart + days(1)).total, 200);
}

TEST_F(SqliteResultStoreTest, InMemoryStoreWorks) {
  SqliteResultStore::Options options;
  options.path = ":memory:";
  Result<std::unique_ptr<SqliteResultStore>> store = SqliteResultStore::Open(options);
  ASSERT_TRUE(store.ok()) << store.error();
  Append(**store, {MakeResult("a", "eu", kStart, Outcome::kUp)});
  EXPECT_EQ(StatsOf(**store, kStart, kStart + hours(1)).total, 1);
}

}  // namespace
}  // namespace pharos
