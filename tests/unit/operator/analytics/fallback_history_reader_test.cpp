// FallbackHistoryReader: reads go to the shared store unless a local-first reason is given; a
// failed shared read is answered from the local store and counted; incidents always come from
// the local store. SplitByRollups as ClickHouseHistoryReader uses it: which table serves which
// part of a window when the rollups end at the settled hour.

#include "operator/analytics/fallback_history_reader.h"

#include <gtest/gtest.h>

#include "common/manual_clock.h"
#include "operator/analytics/clickhouse_history_reader.h"
#include "operator/storage/rollup_window.h"

namespace pharos {
namespace {

// A reader that answers Stats with a fixed total, or fails.
class FixedReader final : public HistoryReader {
 public:
  explicit FixedReader(int64_t total) : total_(total) {}
  Result<WindowStats> Stats(const StatsQuery&) override {
    ++calls;
    if (fail) return Error{"ClickHouse is unreachable", ErrorKind::kUnavailable};
    WindowStats stats;
    stats.total = total_;
    return stats;
  }
  Result<std::vector<Rollup>> Rollups(const RollupQuery&) override { return std::vector<Rollup>{}; }
  Result<std::vector<CheckResult>> Results(const ResultQuery&) override {
    return std::vector<CheckResult>{};
  }
  Result<std::vector<Incident>> Incidents(const IncidentQuery&) override {
    ++calls;
    if (fail) return Error{"no incidents here", ErrorKind::kInvalidArgument};
    return std::vector<Incident>{Incident{}};
  }
  bool fail = false;
  int calls = 0;

 private:
  int64_t total_;
};

double Sample(const MetricsRegistry& registry, const std::string& series) {
  std::istringstream lines(registry.Expose());
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}

TEST(FallbackHistoryReaderTest, ReadsSharedFallsBackToLocalAndCounts) {
  ManualClock clock;
  MetricsRegistry registry;
  FixedReader shared(100);
  FixedReader local(7);
  std::optional<std::string> reason;
  FallbackHistoryReader reader(
      shared, local, [&] { return reason; }, registry, clock);

  EXPECT_EQ(reader.Stats({})->total, 100);
  EXPECT_EQ(Sample(registry, "pharos_history_reads_total{source=\"clickhouse\"}"), 1);

  shared.fail = true;
  Result<WindowStats> fallen = reader.Stats({});
  ASSERT_TRUE(fallen) << "never an error while the local store answers";
  EXPECT_EQ(fallen->total, 7);
  EXPECT_EQ(Sample(registry, "pharos_history_fallbacks_total{reason=\"error\"}"), 1);

  shared.fail = false;
  reason = "spool";
  const int shared_calls = shared.calls;
  EXPECT_EQ(reader.Stats({})->total, 7);
  EXPECT_EQ(shared.calls, shared_calls) << "not asked at all";
  EXPECT_EQ(Sample(registry, "pharos_history_fallbacks_total{reason=\"spool\"}"), 1);
  EXPECT_EQ(Sample(registry, "pharos_history_reads_total{source=\"sqlite\"}"), 2);

  reason.reset();
  shared.fail = true;
  Result<std::vector<Incident>> incidents = reader.Incidents({});
  ASSERT_TRUE(incidents);
  EXPECT_EQ(incidents->size(), 1u);
  EXPECT_EQ(local.calls, 3) << "incidents come from the local store only";
}

TEST(ClickHouseHistoryReaderTest, PlansRawEdgesHoursAndDaysBeforeTheSettledHour) {
  using Source = RollupSource;
  constexpr int64_t kHour = 3'600'000;
  constexpr int64_t kDay = 24 * kHour;
  const int64_t day0 = 20'000 * kDay;
  // 30 days ending 10.5 hours into a day; settled = an hour before the current hour.
  const int64_t to = day0 + 30 * kDay + 10 * kHour + kHour / 2;
  const int64_t from = to - 30 * kDay;
  const int64_t settled = day0 + 30 * kDay + 9 * kHour;
  const auto plan = SplitByRollups(from, to, settled);
  ASSERT_EQ(plan.size(), 5u);
  EXPECT_EQ(plan[0].source, Source::kRaw);
  EXPECT_EQ(plan[0].from_ms, from);
  EXPECT_EQ(plan[0].to_ms, day0 + 11 * kHour);
  EXPECT_EQ(plan[1].source, Source::kHourly);
  EXPECT_EQ(plan[1].to_ms, day0 + kDay);
  EXPECT_EQ(plan[2].source, Source::kDaily);
  EXPECT_EQ(plan[2].to_ms, day0 + 30 * kDay);
  EXPECT_EQ(plan[3].source, Source::kHourly);
  EXPECT_EQ(plan[3].to_ms, settled);
  EXPECT_EQ(plan[4].source, Source::kRaw);
  EXPECT_EQ(plan[4].from_ms, settled);
  EXPECT_EQ(plan[4].to_ms, to);

  // A window within the last two hours is raw only.
  const auto recent = SplitByRollups(settled - kHour / 2, to, settled);
  ASSERT_EQ(recent.size(), 1u);
  EXPECT_EQ(recent[0].source, Source::kRaw);
}

}  // namespace
}  // namespace pharos
