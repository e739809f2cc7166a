// ClickHouseHistoryReader's statements and how it reads the answers: SummarizeMany asks once for
// the three windows of every monitor, from whole hours of the rollup tables only (each table read
// once, its rows tagged with the windows they lie in), rollup tables are read without FINAL
// (argMax by count), and an answer naming a window it was not asked for is an error, not a
// figure. The SQL itself runs against a real ClickHouse in
// tests/integration/test_clickhouse_history.py and tests/e2e/test_clickhouse_leader_change.py.

#include "operator/analytics/clickhouse_history_reader.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/manual_clock.h"

namespace pharos {
namespace {

// Answers every statement with `answer` and keeps the statements.
class CannedTransport final : public ClickHouseTransport {
 public:
  Result<ClickHouseResponse> Send(const ClickHouseRequest& request) override {
    statements.push_back(request.body);
    return ClickHouseResponse{200, answer};
  }
  std::string answer;
  std::vector<std::string> statements;
};

class ClickHouseHistoryQueryTest : public ::testing::Test {
 protected:
  ManualClock clock_{TimePoint(std::chrono::hours(24 * 20000) + std::chrono::minutes(90))};
  CannedTransport transport_;
  ClickHouseHistoryReader reader_{transport_, "pharos", clock_};
};

TEST_F(ClickHouseHistoryQueryTest, SummarizeManyAsksOnceForTheThreeWindows) {
  transport_.answer =
      "{\"w\":0,\"k\":\"0\",\"m\":\"a\",\"r\":\"\",\"n\":\"4\",\"n_up\":\"3\",\"n_down\":\"1\"}\n"
      "{\"w\":1,\"k\":\"0\",\"m\":\"a\",\"r\":\"\",\"n\":\"10\",\"n_up\":\"8\",\"n_down\":\"2\"}\n"
      "{\"w\":2,\"k\":\"0\",\"m\":\"a\",\"r\":\"\",\"n\":\"20\",\"n_up\":\"15\",\"n_down\":\"5\"}\n"
      "{\"w\":2,\"k\":\"0\",\"m\":\"b\",\"r\":\"\",\"n\":\"6\",\"n_up\":\"6\"}\n";
  Result<std::vector<MonitorSummary>> summaries = reader_.SummarizeMany({"a", "b"}, clock_.Now());
  ASSERT_TRUE(summaries) << summaries.error();
  ASSERT_EQ(transport_.statements.size(), 1u);
  const std::string& sql = transport_.statements[0];
  // One statement reading each rollup table once and no raw results: the 50,000 monitors of
  // a refresh would otherwise read the raw parts of the windows' partial hours (BENCHMARKS.md
  // §5b).
  EXPECT_EQ(sql.find("check_results"), std::string::npos) << sql;
  const auto count = [&](const std::string& needle) {
    size_t n = 0;
    for (size_t at = sql.find(needle); at != std::string::npos; at = sql.find(needle, at + 1)) {
      ++n;
    }
    return n;
  };
  EXPECT_EQ(count("FROM pharos.check_rollups_hourly WHERE"), 1u) << sql;
  EXPECT_EQ(count("FROM pharos.check_rollups_daily WHERE"), 1u) << sql;
  EXPECT_EQ(sql.find("rollups_hourly FINAL"), std::string::npos) << sql;
  EXPECT_EQ(sql.find("rollups_daily FINAL"), std::string::npos) << sql;
  EXPECT_NE(sql.find("argMax(up, total)"), std::string::npos) << sql;
  // Whole hours: now is 01:30 on day 20000, so the 24 h window is the hours from 02:00 of the
  // day before up to 02:00 (the current hour included), tagged 0; the 7 d one ends with the
  // hours of the current day, tagged 1; the 30 d one starts at 02:00 30 days ago.
  const auto at = [](int64_t day, int64_t hour) {
    return "toDateTime(" + std::to_string(day * 86400 + hour * 3600) + ")";
  };
  EXPECT_NE(sql.find("if(bucket_start >= " + at(19999, 2) + " AND bucket_start < " + at(20000, 2) +
                     ", toUInt8(0)"),
            std::string::npos)
      << sql;
  EXPECT_NE(sql.find("if(bucket_start >= " + at(20000, 0) + " AND bucket_start < " + at(20000, 2) +
                     ", toUInt8(1)"),
            std::string::npos)
      << sql;
  EXPECT_NE(sql.find("if(bucket_start >= " + at(19970, 2) + " AND bucket_start < " + at(19971, 0) +
                     ", toUInt8(2)"),
            std::string::npos)
      << sql;
  EXPECT_NE(sql.find("toUInt8(1)"), std::string::npos) << sql;
  EXPECT_NE(sql.find("toUInt8(2)"), std::string::npos) << sql;

  const MonitorSummary& a = (*summaries)[0];
  EXPECT_EQ(a.last_24h.total, 4);
  EXPECT_EQ(a.last_24h.down, 1);
  EXPECT_EQ(a.last_7d.total, 10);
  EXPECT_EQ(a.last_30d.total, 20);
  EXPECT_EQ(a.last_30d.up, 15);
  const MonitorSummary& b = (*summaries)[1];
  EXPECT_EQ(b.last_24h.total, 0);
  EXPECT_EQ(b.last_30d.total, 6);
}

TEST_F(ClickHouseHistoryQueryTest, OneWindowIsOneStatement) {
  transport_.answer = "{\"w\":0,\"k\":\"0\",\"m\":\"a\",\"r\":\"\",\"n\":\"3\",\"n_up\":\"3\"}\n";
  Result<WindowStats> stats = reader_.Stats(
      StatsQuery{"a", std::nullopt, clock_.Now() - std::chrono::hours(24 * 3), clock_.Now()});
  ASSERT_TRUE(stats) << stats.error();
  EXPECT_EQ(stats->total, 3);
  ASSERT_EQ(transport_.statements.size(), 1u);
  EXPECT_EQ(transport_.statements[0].find("toUInt8(1)"), std::string::npos);
  // An exact window: its partial hours, and the hours the rollups may lack yet, from raw results.
  EXPECT_NE(transport_.statements[0].find("check_results FINAL"), std::string::npos);
}

TEST_F(ClickHouseHistoryQueryTest, AWindowNotAskedForIsAnError) {
  transport_.answer = "{\"w\":3,\"k\":\"0\",\"m\":\"a\",\"r\":\"\",\"n\":\"3\",\"n_up\":\"3\"}\n";
  Result<std::vector<MonitorSummary>> summaries = reader_.SummarizeMany({"a"}, clock_.Now());
  ASSERT_FALSE(summaries);
  EXPECT_EQ(summaries.error_kind(), ErrorKind::kUnavailable);
}

}  // namespace
}  // namespace pharos
