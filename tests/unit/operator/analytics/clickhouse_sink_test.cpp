// ClickHouseSink in virtual time against FakeClickHouseTransport: batching by rows and by time,
// the spool while ClickHouse is away (unreachable, bad credentials, dropped table, overloaded)
// and its drain afterwards with every item id delivered once, backoff, a full spool, shutdown,
// and AnalyticsResultStore copying only the results SQLite newly stored.

#include "operator/analytics/clickhouse_sink.h"

#include <gtest/gtest.h>

#include <regex>

#include "common/manual_clock.h"
#include "operator/analytics/analytics_result_store.h"
#include "operator/storage/sqlite_result_store.h"
#include "tests/unit/operator/analytics/fake_clickhouse_transport.h"
#include "tests/unit/operator/control/core_test_support.h"

namespace pharos {
namespace {

using ::pharos::testing::FakeClickHouseTransport;
using ::pharos::testing::MakeMonitor;
using ::pharos::testing::MakeResult;
using ::pharos::testing::TempDirectory;
using Mode = FakeClickHouseTransport::Mode;
using std::chrono::milliseconds;
using std::chrono::seconds;

// The value of a sample line "name{labels} value" in the exposition, -1 when absent.
double Sample(const MetricsRegistry& registry, const std::string& series) {
  const std::string text = registry.Expose();
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(series + " ", 0) == 0) {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return -1;
}

class ClickHouseSinkTest : public ::testing::Test {
 protected:
  ClickHouseSinkTest() { Reopen(ClickHouseSink::Options{}); }

  void Reopen(ClickHouseSink::Options options, uint64_t spool_max_bytes = 1 << 20) {
    sink_.reset();
    options.gzip = false;
    options.batch_rows = options.batch_rows == 1000 ? 3 : options.batch_rows;
    options.max_delay = milliseconds(5'000);
    options.retry_initial = milliseconds(1'000);
    options.retry_max = milliseconds(8'000);
    spool_.reset();
    spool_ = std::move(ClickHouseSpool::Open(dir_.path() / "spool", spool_max_bytes)).value();
    sink_ = std::make_unique<ClickHouseSink>(transport_, *spool_, clock_, registry_, options);
  }

  // `count` results of monitor `name`, one per 10 s, starting after the ones made before.
  std::vector<CheckResult> Results(const std::string& name, int count) {
    std::vector<CheckResult> results;
    const Monitor monitor = MakeMonitor(name);
    results.reserve(count);
    for (int i = 0; i < count; ++i) {
      results.push_back(MakeResult(monitor, "local",
                                   ManualClock::DefaultStart() + seconds(10 * next_slot_++),
                                   Outcome::kUp));
    }
    return results;
  }

  // Pumps until the spool is empty and nothing is buffered, advancing the clock to each wake.
  void Drain(int max_steps = 200) {
    for (int step = 0; step < max_steps; ++step) {
      const auto next = sink_->Pump();
      if (spool_->segments() == 0 && sink_->buffered_rows() == 0) {
        return;
      }
      if (next > clock_.SteadyNow()) {
        clock_.Advance(next - clock_.SteadyNow());
      }
    }
    FAIL() << "not drained: " << spool_->segments() << " segments, " << sink_->buffered_rows()
           << " rows buffered";
  }

  TempDirectory dir_;
  ManualClock clock_;
  MetricsRegistry registry_;
  FakeClickHouseTransport transport_;
  std::unique_ptr<ClickHouseSpool> spool_;
  std::unique_ptr<ClickHouseSink> sink_;
  int next_slot_ = 0;
};

TEST_F(ClickHouseSinkTest, SendsFullBatchesAtOnceAndThePartOneAfterMaxDelay) {
  sink_->Add(Results("shop", 7));
  sink_->Pump();  // schema, then the first full batch
  EXPECT_TRUE(sink_->schema_ready());
  EXPECT_EQ(transport_.stored_version(), ClickHouseSchema::kVersion);
  sink_->Pump();
  EXPECT_EQ(transport_.inserts(), 2);
  EXPECT_EQ(transport_.rows().size(), 6u);
  EXPECT_EQ(sink_->buffered_rows(), 1u);

  clock_.Advance(milliseconds(4'999));
  sink_->Pump();
  EXPECT_EQ(transport_.rows().size(), 6u) << "the last row waits for max_delay";
  clock_.Advance(milliseconds(1));
  sink_->Pump();
  EXPECT_EQ(transport_.rows().size(), 7u);
  EXPECT_EQ(Sample(registry_, "pharos_clickhouse_rows_sent_total"), 7);
  EXPECT_EQ(Sample(registry_, "pharos_clickhouse_up"), 1);
}

TEST_F(ClickHouseSinkTest, PumpSaysWhenThePartialBatchIsDue) {
  sink_->Add(Results("shop", 1));
  const auto due = sink_->Pump();
  EXPECT_EQ(due, clock_.SteadyNow() + milliseconds(1'000)) << "gauges refresh every second";
  clock_.Advance(milliseconds(4'500));
  EXPECT_EQ(sink_->Pump(), clock_.SteadyNow() + milliseconds(500));
}

TEST_F(ClickHouseSinkTest, UnreachableSpoolsThenDrainsEveryItemOnce) {
  transport_.set_mode(Mode::kUnreachable);
  for (int round = 0; round < 5; ++round) {
    sink_->Add(Results("shop", 3));
    sink_->Add(Results("cart", 3));
    sink_->Pump();
    sink_->Pump();
    clock_.Advance(seconds(2));
  }
  EXPECT_EQ(transport_.rows().size(), 0u);
  EXPECT_EQ(spool_->rows(), 30u);
  EXPECT_GT(Sample(registry_, "pharos_clickhouse_spool_bytes"), 0);
  EXPECT_GE(Sample(registry_, "pharos_clickhouse_spool_oldest_age_seconds"), 8);
  EXPECT_GE(Sample(registry_, "pharos_clickhouse_batches_failed_total{reason=\"unreachable\"}"), 1);
  EXPECT_EQ(Sample(registry_, "pharos_clickhouse_up"), 0);

  transport_.set_mode(Mode::kUp);
  Drain();
  const std::map<std::string, int> counts = transport_.ItemCounts();
  EXPECT_EQ(counts.size(), 30u);
  for (const auto& [item, count] : counts) {
    EXPECT_EQ(count, 1) << item;
  }
  EXPECT_EQ(Sample(registry_, "pharos_clickhouse_spool_bytes"), 0);
  EXPECT_EQ(Sample(registry_, "pharos_clickhouse_spool_oldest_age_seconds"), 0);
  EXPECT_EQ(Sample(registry_, "pharos_clickhouse_rows_sent_total"), 30);
  EXPECT_EQ(Sample(registry_, "pharos_clickhouse_rows_spooled_total"), 30);
}

TEST_F(ClickHouseSinkTest, BacksOffWithoutCallingClickHouseBeforeTheNextAttempt) {
  transport_.set_mode(Mode::kUnreachable);
  sink_->Add(Results("shop", 3));
  sink_->Pump();  // schema fails: 1 s backoff
  const int calls = transport_.calls();
  sink_->Add(Results("shop", 3));
  sink_->Pump();  // the batch goes to the spool without a try
  EXPECT_EQ(transport_.calls(), calls);
  EXPECT_EQ(spool_->rows(), 6u);
  clock_.Advance(milliseconds(1'000));
  sink_->Pump();  // tries the schema again: 2 s backoff
  EXPECT_EQ(transport_.calls(), calls + 1);
  clock_.Advance(milliseconds(1'999));
  sink_->Pump();
  EXPECT_EQ(transport_.calls(), calls + 1);
  clock_.Advance(milliseconds(1));
  sink_->Pump();
  EXPECT_EQ(transport_.calls(), calls + 2);
  for (int i = 0; i < 6; ++i) {  // doubling stops at retry_max (8 s)
    clock_.Advance(seconds(8));
    sink_->Pump();
  }
  EXPECT_EQ(transport_.calls(), calls + 8);
}

TEST_F(ClickHouseSinkTest, BadCredentialsAreCountedAsAuthAndNothingIsLost) {
  transport_.set_mode(Mode::kBadPassword);
  sink_->Add(Results("shop", 6));
  for (int i = 0; i < 3; ++i) {
    sink_->Pump();
    clock_.Advance(seconds(2));
  }
  EXPECT_GE(Sample(registry_, "pharos_clickhouse_batches_failed_total{reason=\"auth\"}"), 1);
  EXPECT_EQ(spool_->rows(), 6u);
  transport_.set_mode(Mode::kUp);
  Drain();
  EXPECT_EQ(transport_.ItemCounts().size(), 6u);
}

TEST_F(ClickHouseSinkTest, ADroppedTableIsCreatedAgainAndTheBatchDelivered) {
  sink_->Add(Results("shop", 3));
  sink_->Pump();
  ASSERT_EQ(transport_.rows().size(), 3u);
  transport_.DropTable();
  sink_->Add(Results("shop", 3));
  sink_->Pump();
  EXPECT_EQ(Sample(registry_, "pharos_clickhouse_batches_failed_total{reason=\"missing_table\"}"),
            1);
  EXPECT_FALSE(sink_->schema_ready());
  EXPECT_EQ(spool_->rows(), 3u);
  Drain();
  EXPECT_TRUE(sink_->schema_ready());
  EXPECT_EQ(transport_.ItemCounts().size(), 6u);
}

TEST_F(ClickHouseSinkTest, AnOverloadedServerIsRetriedFromTheSpool) {
  sink_->Add(Results("shop", 3));
  sink_->Pump();
  transport_.set_mode(Mode::kOverloaded);
  sink_->Add(Results("shop", 3));
  sink_->Pump();
  EXPECT_EQ(Sample(registry_, "pharos_clickhouse_batches_failed_total{reason=\"refused\"}"), 1);
  transport_.set_mode(Mode::kUp);
  Drain();
  EXPECT_EQ(transport_.ItemCounts().size(), 6u);
}

TEST_F(ClickHouseSinkTest, AFullSpoolDropsAndCountsTheRows) {
  Reopen(ClickHouseSink::Options{}, /*spool_max_bytes=*/4'000);
  transport_.set_mode(Mode::kUnreachable);
  for (int i = 0; i < 10; ++i) {
    sink_->Add(Results("shop", 3));
    sink_->Pump();
  }
  EXPECT_LE(spool_->bytes(), 4'000u);
  const double dropped = Sample(registry_, "pharos_clickhouse_rows_dropped_total");
  EXPECT_GT(dropped, 0);
  EXPECT_EQ(dropped + static_cast<double>(spool_->rows()), 30);
}

TEST_F(ClickHouseSinkTest, StopSendsThePartialBatchOrSpoolsIt) {
  sink_->Add(Results("shop", 8));
  sink_->Stop();
  EXPECT_EQ(transport_.rows().size(), 8u) << "everything buffered, in batches of at most 3";
  EXPECT_EQ(transport_.inserts(), 3);

  Reopen(ClickHouseSink::Options{});
  transport_.set_mode(Mode::kUnreachable);
  sink_->Add(Results("shop", 2));
  sink_->Stop();
  EXPECT_EQ(spool_->rows(), 2u) << "a shutdown while ClickHouse is away keeps the rows on disk";

  // The next process start drains them.
  Reopen(ClickHouseSink::Options{});
  transport_.set_mode(Mode::kUp);
  Drain();
  EXPECT_EQ(transport_.ItemCounts().size(), 10u);
}

TEST_F(ClickHouseSinkTest, RowsInMemoryAtACrashAreSentByTheNextStart) {
  sink_->Add(Results("shop", 2));
  sink_->Add(Results("cart", 4));
  sink_->Pump();  // schema, then one batch of 3 sent; 3 rows stay in memory
  ASSERT_EQ(transport_.rows().size(), 3u);
  ASSERT_EQ(sink_->buffered_rows(), 3u);
  // The process dies here: a new one opens the same spool folder.
  auto after_crash = std::move(ClickHouseSpool::Open(dir_.path() / "spool", 1 << 20)).value();
  EXPECT_EQ(after_crash->rows(), 3u) << "the rows in memory were journaled";
  MetricsRegistry registry;
  ClickHouseSink::Options options;
  options.gzip = false;
  ClickHouseSink next(transport_, *after_crash, clock_, registry, options);
  next.Pump();
  EXPECT_EQ(after_crash->rows(), 0u);
  const std::map<std::string, int> counts = transport_.ItemCounts();
  EXPECT_EQ(counts.size(), 6u) << "nothing lost";
  next.Stop();
}

TEST_F(ClickHouseSinkTest, ACleanStopLeavesNoJournal) {
  sink_->Add(Results("shop", 5));
  sink_->Pump();
  sink_->Stop();
  for (const auto& file : std::filesystem::directory_iterator(dir_.path() / "spool")) {
    ADD_FAILURE() << "left behind: " << file.path();
  }
}

TEST_F(ClickHouseSinkTest, ThreadSendsOnItsOwn) {
  sink_->Start();
  sink_->Add(Results("shop", 3));  // a full batch wakes the thread
  for (int i = 0; i < 2000 && transport_.rows().size() < 3; ++i) {
    std::this_thread::sleep_for(milliseconds(5));  // polling a condition, with a deadline
  }
  EXPECT_EQ(transport_.rows().size(), 3u);
  sink_->Stop();
}

TEST_F(ClickHouseSinkTest, RefusesADatabaseOfANewerSchema) {
  transport_.set_stored_version(ClickHouseSchema::kVersion + 1);
  sink_->Add(Results("shop", 3));
  sink_->Pump();
  EXPECT_FALSE(sink_->schema_ready());
  EXPECT_EQ(transport_.rows().size(), 0u);
  EXPECT_EQ(spool_->rows(), 3u);
}

TEST_F(ClickHouseSinkTest, RecomputesTheRollupsOfTheHoursABatchTouched) {
  ClickHouseSink::Options options;
  options.rollup_interval = milliseconds(10'000);
  Reopen(options);
  EXPECT_EQ(sink_->LocalReadReason(), "starting");
  sink_->Add(Results("shop", 3));
  sink_->Pump();  // schema, the batch, and the first refresh (none was due before)
  EXPECT_EQ(sink_->LocalReadReason(), std::nullopt);
  EXPECT_EQ(sink_->pending_rollup_hours(), 0u);
  const auto refreshes = [&] {
    std::vector<std::string> found;
    for (const std::string& statement : transport_.statements()) {
      if (statement.find("check_rollups") != std::string::npos &&
          statement.rfind("INSERT", 0) == 0) {
        found.push_back(statement);
      }
    }
    return found;
  };
  // The batch's hour, and (the first batch of the monitor since the start) the hour before,
  // which a predecessor that died before its refresh may have left short; then their days
  // (the start is at midnight: the hour before is on the day before).
  std::vector<std::string> done = refreshes();
  ASSERT_EQ(done.size(), 4u);
  const int64_t start =
      std::chrono::duration_cast<seconds>(ManualClock::DefaultStart().time_since_epoch()).count();
  const int64_t hour = start - start % 3600;
  EXPECT_NE(done[0].find("INSERT INTO pharos.check_rollups_hourly"), std::string::npos);
  EXPECT_NE(done[0].find("toDateTime(" + std::to_string(hour - 3600) + ")"), std::string::npos);
  EXPECT_NE(done[1].find("INSERT INTO pharos.check_rollups_hourly"), std::string::npos);
  EXPECT_NE(done[1].find("FROM pharos.check_results FINAL"), std::string::npos);
  EXPECT_NE(done[1].find("toDateTime(" + std::to_string(hour) + ")"), std::string::npos);
  EXPECT_NE(done[1].find("'" + MakeMonitor("shop").uid + "'"), std::string::npos);
  EXPECT_NE(done[2].find("INSERT INTO pharos.check_rollups_daily"), std::string::npos);
  EXPECT_NE(done[2].find("toDateTime(" + std::to_string(start - 86400) + ")"), std::string::npos);
  EXPECT_NE(done[3].find("INSERT INTO pharos.check_rollups_daily"), std::string::npos);
  EXPECT_NE(done[3].find("toDateTime(" + std::to_string(start - start % 86400) + ")"),
            std::string::npos);

  // The next batch waits for the interval before its hours are recomputed; the monitor's hour
  // before the start is not marked again.
  sink_->Add(Results("shop", 3));
  sink_->Pump();
  EXPECT_EQ(refreshes().size(), 4u);
  EXPECT_EQ(sink_->pending_rollup_hours(), 1u);
  clock_.Advance(milliseconds(10'000));
  sink_->Pump();
  EXPECT_EQ(refreshes().size(), 6u);

  // Another monitor's first batch marks its hour before the start too; two hours after the
  // start's hour nothing is caught up any more.
  sink_->Add(Results("cart", 3));
  sink_->Pump();
  EXPECT_EQ(sink_->pending_rollup_hours(), 2u);
  clock_.Advance(std::chrono::hours(2));
  sink_->Pump();
  EXPECT_EQ(sink_->pending_rollup_hours(), 0u);
  sink_->Add(Results("search", 3));
  sink_->Pump();
  EXPECT_EQ(sink_->pending_rollup_hours(), 1u);
  clock_.Advance(milliseconds(10'000));
  sink_->Pump();
  const size_t before_failure = refreshes().size();

  // A refresh ClickHouse cannot take keeps the hours and sends history reads to SQLite.
  sink_->Add(Results("shop", 3));
  sink_->Pump();
  transport_.set_mode(Mode::kUnreachable);
  clock_.Advance(milliseconds(10'000));
  sink_->Pump();
  EXPECT_EQ(sink_->pending_rollup_hours(), 1u);
  EXPECT_EQ(sink_->LocalReadReason(), "away");
  transport_.set_mode(Mode::kUp);
  clock_.Advance(milliseconds(10'000));
  sink_->Pump();
  EXPECT_EQ(sink_->pending_rollup_hours(), 0u);
  EXPECT_EQ(refreshes().size(), before_failure + 2);
  EXPECT_EQ(sink_->LocalReadReason(), std::nullopt);
}

TEST_F(ClickHouseSinkTest, ReadsGoLocalWhileResultsWaitInTheSpool) {
  sink_->Add(Results("shop", 1));
  sink_->Pump();  // schema
  transport_.set_mode(Mode::kUnreachable);
  sink_->Add(Results("shop", 3));
  sink_->Pump();
  EXPECT_EQ(sink_->LocalReadReason(), "away");
  EXPECT_GT(spool_->segments(), 0u);
  transport_.set_mode(Mode::kUp);
  clock_.Advance(milliseconds(60'000));
  Drain();
  EXPECT_EQ(sink_->LocalReadReason(), std::nullopt);
}

TEST(ClickHouseSchemaTest, MigratesVersionOneByFillingTheRollups) {
  FakeClickHouseTransport transport;
  transport.set_stored_version(1);
  ASSERT_TRUE(ClickHouseSchema::Ensure(transport, "pharos"));
  EXPECT_EQ(transport.stored_version(), ClickHouseSchema::kVersion);
  std::vector<std::string> statements = transport.statements();
  const auto hourly = std::find_if(statements.begin(), statements.end(), [](const auto& s) {
    return s.rfind("INSERT INTO pharos.check_rollups_hourly", 0) == 0;
  });
  const auto daily = std::find_if(statements.begin(), statements.end(), [](const auto& s) {
    return s.rfind("INSERT INTO pharos.check_rollups_daily", 0) == 0;
  });
  ASSERT_NE(hourly, statements.end());
  ASSERT_NE(daily, statements.end());
  EXPECT_LT(hourly, daily);

  FakeClickHouseTransport fresh;
  ASSERT_TRUE(ClickHouseSchema::Ensure(fresh, "pharos"));
  statements = fresh.statements();
  EXPECT_EQ(
      std::count_if(statements.begin(), statements.end(),
                    [](const auto& s) { return s.find("INSERT INTO pharos.check_rollups") == 0; }),
      0)
      << "a new database has nothing to fill";
}

TEST(ClickHouseSchemaTest, MigratesVersionTwoByRecomputingTheRollups) {
  // Version 2's histograms were wrong on 18.16; a recomputation has the count of the row it
  // replaces and would not win over it, so the tables are emptied first.
  FakeClickHouseTransport transport;
  transport.set_stored_version(2);
  ASSERT_TRUE(ClickHouseSchema::Ensure(transport, "pharos"));
  EXPECT_EQ(transport.stored_version(), 3);
  const std::vector<std::string> statements = transport.statements();
  const auto at = [&](const std::string& prefix) {
    return std::find_if(statements.begin(), statements.end(),
                        [&](const auto& s) { return s.rfind(prefix, 0) == 0; });
  };
  const auto truncate_hourly = at("TRUNCATE TABLE pharos.check_rollups_hourly");
  const auto truncate_daily = at("TRUNCATE TABLE pharos.check_rollups_daily");
  const auto hourly = at("INSERT INTO pharos.check_rollups_hourly");
  const auto daily = at("INSERT INTO pharos.check_rollups_daily");
  ASSERT_NE(truncate_hourly, statements.end());
  ASSERT_NE(truncate_daily, statements.end());
  ASSERT_NE(hourly, statements.end());
  ASSERT_NE(daily, statements.end());
  EXPECT_LT(truncate_hourly, hourly);
  EXPECT_LT(truncate_daily, hourly);
  EXPECT_LT(hourly, daily);

  // A database of version 3 is left as it is.
  FakeClickHouseTransport current;
  current.set_stored_version(3);
  ASSERT_TRUE(ClickHouseSchema::Ensure(current, "pharos"));
  for (const std::string& statement : current.statements()) {
    EXPECT_EQ(statement.rfind("TRUNCATE", 0), std::string::npos) << statement;
    EXPECT_EQ(statement.rfind("INSERT INTO pharos.check_rollups", 0), std::string::npos)
        << statement;
  }
}

TEST(ClickHouseSchemaTest, TheBucketLambdaNamesNoAliasOfTheRollupStatements) {
  // On 18.16 a lambda parameter named like an alias of the SELECT is replaced by the alias's
  // expression (version 2's `b`, the hour, put every latency in bucket 0).
  const std::string expression = ClickHouseSchema::LatencyBucketExpression("total_us");
  const size_t arrow = expression.find(" -> ");
  ASSERT_NE(arrow, std::string::npos) << expression;
  const size_t open = expression.rfind('(', arrow);
  const std::string parameter = expression.substr(open + 1, arrow - open - 1);
  for (const std::string& statement : {ClickHouseSchema::RefreshHourly("pharos", {"a"}, 0, 3600),
                                       ClickHouseSchema::RefreshDaily("pharos", {"a"}, 0, 86400)}) {
    EXPECT_EQ(statement.find(" AS " + parameter), std::string::npos) << statement;
  }
}

TEST(AnalyticsResultStoreTest, CopiesOnlyWhatSqliteNewlyStored) {
  TempDirectory dir;
  ManualClock clock;
  MetricsRegistry registry;
  FakeClickHouseTransport transport;
  auto spool = std::move(ClickHouseSpool::Open(dir.path() / "spool", 1 << 20)).value();
  ClickHouseSink::Options options;
  options.gzip = true;
  ClickHouseSink sink(transport, *spool, clock, registry, options);
  SqliteResultStore::Options sqlite;
  sqlite.path = (dir.path() / "pharos.db").string();
  auto primary = std::move(SqliteResultStore::Open(sqlite)).value();
  AnalyticsResultStore store(*primary, sink, *primary);

  const Monitor monitor = MakeMonitor("shop");
  const CheckResult first = MakeResult(monitor, "local", ManualClock::DefaultStart(), Outcome::kUp);
  const CheckResult second =
      MakeResult(monitor, "local", ManualClock::DefaultStart() + seconds(10), Outcome::kDown);
  CheckResult invalid = second;
  invalid.item_id = "bad";
  invalid.region.clear();
  ASSERT_TRUE(store.Append({first}));
  Result<AppendResult> appended = store.Append({first, second, invalid});
  ASSERT_TRUE(appended) << appended.error();
  EXPECT_EQ(appended->Count(AppendStatus::kDuplicate), 1u);
  EXPECT_EQ(sink.buffered_rows(), 2u);
  sink.Stop();  // flush
  const std::map<std::string, int> counts = transport.ItemCounts();
  EXPECT_EQ(counts, (std::map<std::string, int>{{first.item_id, 1}, {second.item_id, 1}}));
  EXPECT_EQ(transport.gzip_inserts(), 1);
  Result<std::vector<CheckResult>> read = store.Results({monitor.uid, std::nullopt, {}, 10, false});
  ASSERT_TRUE(read);
  EXPECT_EQ(read->size(), 2u) << "reads go to the history reader (SQLite here)";
}

}  // namespace
}  // namespace pharos
