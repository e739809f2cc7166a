#include "operator/control/monitor_series_table.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "common/metrics_registry.h"
#include "common/metrics_writer.h"
#include "unit/common/promtool_check.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PHAROS_CLANG_ASAN 1
#endif
#endif
#ifndef PHAROS_CLANG_ASAN
#define PHAROS_CLANG_ASAN 0
#endif

namespace pharos {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr std::string_view kResultsHeader =
    "# HELP pharos_check_results_total Check results ingested, by outcome (error = the probe "
    "could not run the check, never the target being down).\n"
    "# TYPE pharos_check_results_total counter\n";
constexpr std::string_view kDurationsHeader =
    "# HELP pharos_check_duration_seconds Duration of each phase of a check (dns, connect, tls, "
    "firstByte, transfer, total).\n"
    "# TYPE pharos_check_duration_seconds histogram\n";

// A plain HTTP check to a host name: no tls phase.
Timings HttpTimings() {
  return {.dns_us = 1'000,
          .connect_us = 2'000,
          .tls_us = 0,
          .first_byte_us = 40'000,
          .transfer_us = 500,
          .total_us = 43'500};
}

Timings TotalOnly(int64_t total_us) { return {.total_us = total_us}; }

std::string Text(const MonitorSeriesTable& table) {
  MetricsWriter writer;
  table.Write(writer);
  EXPECT_THAT(writer.problems(), ::testing::IsEmpty());
  return writer.text();
}

// The 14 lines of one histogram series; `cumulative` has 12 entries, +Inf last.
std::string HistogramText(std::string_view labels, const std::vector<int>& cumulative,
                          std::string_view sum) {
  static const char* const kLe[] = {"0.005", "0.01", "0.025", "0.05", "0.1", "0.25",
                                    "0.5",   "1",    "2.5",   "5",    "10",  "+Inf"};
  std::string text;
  for (size_t i = 0; i < 12; ++i) {
    text += "pharos_check_duration_seconds_bucket{" + std::string(labels) + ",le=\"" + kLe[i] +
            "\"} " + std::to_string(cumulative[i]) + "\n";
  }
  text +=
      "pharos_check_duration_seconds_sum{" + std::string(labels) + "} " + std::string(sum) + "\n";
  text += "pharos_check_duration_seconds_count{" + std::string(labels) + "} " +
          std::to_string(cumulative.back()) + "\n";
  return text;
}

TEST(MonitorSeriesTableTest, EmptyTableWritesOnlyTheFamilyHeaders) {
  MetricsRegistry registry;
  MonitorSeriesTable table(registry, {});
  EXPECT_EQ(Text(table), std::string(kResultsHeader) + std::string(kDurationsHeader));
}

TEST(MonitorSeriesTableTest, ExactTextForEveryOutcome) {
  MetricsRegistry registry;
  MonitorSeriesTable table(registry, {});
  table.Record("shop", "api", "eu", Outcome::kUp, TotalOnly(43'500));
  table.Record("shop", "api", "eu", Outcome::kUp, TotalOnly(7'000'000));
  table.Record("shop", "api", "eu", Outcome::kDegraded, TotalOnly(12'000'000));
  table.Record("shop", "api", "eu", Outcome::kDown, TotalOnly(3'000));
  // An error result is counted, but none of its phases is observed.
  table.Record("shop", "api", "eu", Outcome::kError, TotalOnly(50'000));

  const std::string labels = "namespace=\"shop\",monitor=\"api\",region=\"eu\"";
  EXPECT_EQ(Text(table), std::string(kResultsHeader) + "pharos_check_results_total{" + labels +
                             ",outcome=\"degraded\"} 1\n" + "pharos_check_results_total{" + labels +
                             ",outcome=\"down\"} 1\n" + "pharos_check_results_total{" + labels +
                             ",outcome=\"error\"} 1\n" + "pharos_check_results_total{" + labels +
                             ",outcome=\"up\"} 2\n" + std::string(kDurationsHeader) +
                             // 3 ms, 43.5 ms, 7 s and 12 s (above the last bound: only in +Inf).
                             HistogramText(labels + ",phase=\"total\"",
                                           {1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 3, 4}, "19.0465"));
}

TEST(MonitorSeriesTableTest, AllPhasesObservesOnlyPhasesThatHappened) {
  MetricsRegistry registry;
  MonitorSeriesTable table(registry, {});
  table.Record("shop", "api", "eu", Outcome::kUp, HttpTimings());
  const std::string text = Text(table);
  const std::string labels = "namespace=\"shop\",monitor=\"api\",region=\"eu\"";
  // Phases in label order (connect dns firstByte total transfer); tls (0 µs) is absent.
  EXPECT_EQ(text, std::string(kResultsHeader) + "pharos_check_results_total{" + labels +
                      ",outcome=\"up\"} 1\n" + std::string(kDurationsHeader) +
                      HistogramText(labels + ",phase=\"connect\"",
                                    {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, "0.002") +
                      HistogramText(labels + ",phase=\"dns\"", {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
                                    "0.001") +
                      HistogramText(labels + ",phase=\"firstByte\"",
                                    {0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1}, "0.04") +
                      HistogramText(labels + ",phase=\"total\"",
                                    {0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1}, "0.0435") +
                      HistogramText(labels + ",phase=\"transfer\"",
                                    {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, "5e-04"));
  EXPECT_EQ(table.result_series(), 1u);
  EXPECT_EQ(table.duration_series(), 5u);

  // A later HTTPS result adds the tls phase in its place.
  Timings https = HttpTimings();
  https.tls_us = 30'000;
  table.Record("shop", "api", "eu", Outcome::kUp, https);
  const std::string after = Text(table);
  EXPECT_THAT(after, HasSubstr("{" + labels + ",phase=\"tls\"} 1\n"));
  EXPECT_THAT(after, HasSubstr("{" + labels + ",phase=\"total\"} 2\n"));
  EXPECT_LT(after.find("phase=\"firstByte\""), after.find("phase=\"tls\""));
  EXPECT_LT(after.find("phase=\"tls\""), after.find("phase=\"total\""));
  EXPECT_EQ(table.duration_series(), 6u);
}

TEST(MonitorSeriesTableTest, TotalOnlyRecordsOneHistogramPerMonitorAndRegion) {
  MetricsRegistry registry;
  MonitorSeriesTable table(registry,
                           {.duration_phases = MonitorSeriesTable::DurationPhases::kTotal});
  table.Record("shop", "api", "eu", Outcome::kUp, HttpTimings());
  const std::string text = Text(table);
  EXPECT_THAT(text, HasSubstr("pharos_check_duration_seconds_count{namespace=\"shop\",monitor="
                              "\"api\",region=\"eu\",phase=\"total\"} 1\n"));
  for (const char* phase : {"dns", "connect", "tls", "firstByte", "transfer"}) {
    EXPECT_THAT(text, Not(HasSubstr("phase=\"" + std::string(phase) + "\""))) << phase;
  }
  EXPECT_EQ(table.duration_series(), 1u);
}

TEST(MonitorSeriesTableTest, ZeroTotalIsNotObserved) {
  MetricsRegistry registry;
  MonitorSeriesTable table(registry,
                           {.duration_phases = MonitorSeriesTable::DurationPhases::kTotal});
  table.Record("shop", "api", "eu", Outcome::kDown, TotalOnly(0));
  EXPECT_EQ(Text(table), std::string(kResultsHeader) +
                             "pharos_check_results_total{namespace=\"shop\",monitor=\"api\","
                             "region=\"eu\",outcome=\"down\"} 1\n" +
                             std::string(kDurationsHeader));
  EXPECT_EQ(table.duration_series(), 0u);
}

TEST(MonitorSeriesTableTest, RegionsAndMonitorsAreWrittenInLabelOrder) {
  MetricsRegistry registry;
  MonitorSeriesTable table(registry,
                           {.duration_phases = MonitorSeriesTable::DurationPhases::kTotal});
  table.Record("shop", "web", "us", Outcome::kUp, TotalOnly(1'000));
  table.Record("shop", "web", "eu", Outcome::kDown, TotalOnly(1'000));
  // (namespace, monitor) pairs, not a joined string: "a" < "a-b" although '-' < '/'.
  table.Record("a-b", "x", "eu", Outcome::kUp, TotalOnly(1'000));
  table.Record("a", "zz", "eu", Outcome::kUp, TotalOnly(1'000));
  // Namespace and name are kept apart: ("ab", "c") and ("a", "bc") are two monitors.
  table.Record("ab", "c", "eu", Outcome::kUp, TotalOnly(1'000));
  table.Record("a", "bc", "eu", Outcome::kUp, TotalOnly(1'000));

  const std::string text = Text(table);
  const auto position = [&](std::string_view ns, std::string_view monitor,
                            std::string_view region) {
    const size_t at =
        text.find("pharos_check_results_total{namespace=\"" + std::string(ns) + "\",monitor=\"" +
                  std::string(monitor) + "\",region=\"" + std::string(region) + "\"");
    EXPECT_NE(at, std::string::npos) << ns << "/" << monitor << " " << region;
    return at;
  };
  EXPECT_LT(position("a", "bc", "eu"), position("a", "zz", "eu"));
  EXPECT_LT(position("a", "zz", "eu"), position("a-b", "x", "eu"));
  EXPECT_LT(position("a-b", "x", "eu"), position("ab", "c", "eu"));
  EXPECT_LT(position("ab", "c", "eu"), position("shop", "web", "eu"));
  EXPECT_LT(position("shop", "web", "eu"), position("shop", "web", "us"));
  EXPECT_EQ(table.result_series(), 6u);
  EXPECT_EQ(table.duration_series(), 6u);
}

TEST(MonitorSeriesTableTest, RemoveDropsTheGivenRegionsThenTheMonitor) {
  MetricsRegistry registry;
  MonitorSeriesTable table(registry, {});
  for (const char* region : {"eu", "us", "ap"}) {
    table.Record("shop", "api", region, Outcome::kUp, HttpTimings());
    table.Record("shop", "api", region, Outcome::kDown, HttpTimings());
  }
  table.Record("shop", "web", "eu", Outcome::kUp, HttpTimings());
  EXPECT_EQ(table.result_series(), 7u);
  EXPECT_EQ(table.duration_series(), 20u);

  table.KeepRegions("shop", "api", {"eu", "ap", "nowhere"});
  std::string text = Text(table);
  EXPECT_THAT(text, Not(HasSubstr("region=\"us\"")));
  EXPECT_THAT(text, HasSubstr("monitor=\"api\",region=\"eu\",outcome=\"down\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("monitor=\"api\",region=\"ap\",phase=\"dns\"} 2\n"));
  EXPECT_EQ(table.result_series(), 5u);
  EXPECT_EQ(table.duration_series(), 15u);

  table.RemoveMonitor("shop", "api");
  text = Text(table);
  EXPECT_THAT(text, Not(HasSubstr("monitor=\"api\"")));
  EXPECT_THAT(text, HasSubstr("monitor=\"web\",region=\"eu\",outcome=\"up\"} 1\n"));
  EXPECT_EQ(table.result_series(), 1u);
  EXPECT_EQ(table.duration_series(), 5u);

  // A removed monitor starts again from zero.
  table.Record("shop", "api", "eu", Outcome::kUp, TotalOnly(1'000));
  EXPECT_THAT(Text(table), HasSubstr("monitor=\"api\",region=\"eu\",outcome=\"up\"} 1\n"));
  // Removing what does not exist is harmless.
  table.RemoveMonitor("shop", "gone");
  table.KeepRegions("other", "api", {});
  table.KeepRegions("shop", "web", {"eu"});
  EXPECT_EQ(table.result_series(), 2u);
}

TEST(MonitorSeriesTableTest, SeriesLimitRefusesNewLabelSetsAndCountsThem) {
  MetricsRegistry registry;
  MonitorSeriesTable table(registry, {.max_series = 3});
  registry.AddCollector([&table](MetricsWriter& writer) { table.Write(writer); });
  // 1 result series, 5 phases of which 3 fit.
  table.Record("shop", "api", "eu", Outcome::kUp, HttpTimings());
  EXPECT_EQ(table.result_series(), 1u);
  EXPECT_EQ(table.duration_series(), 3u);
  // Existing series keep counting; the two refused phases are refused again.
  table.Record("shop", "api", "eu", Outcome::kUp, HttpTimings());
  table.Record("shop", "api", "eu", Outcome::kDown, HttpTimings());
  table.Record("shop", "api", "eu", Outcome::kDegraded, HttpTimings());
  EXPECT_EQ(table.result_series(), 3u);
  // A monitor with nothing admitted leaves no record (and no region name) behind.
  table.Record("shop", "web", "us", Outcome::kError, {});
  EXPECT_EQ(table.result_series(), 3u);

  const std::string text = registry.Expose();
  const std::string labels = "namespace=\"shop\",monitor=\"api\",region=\"eu\"";
  EXPECT_THAT(text, HasSubstr("pharos_check_results_total{" + labels + ",outcome=\"up\"} 2\n"));
  EXPECT_THAT(
      text, HasSubstr("pharos_check_duration_seconds_count{" + labels + ",phase=\"connect\"} 4\n"));
  EXPECT_THAT(text, Not(HasSubstr("monitor=\"web\"")));
  EXPECT_THAT(text, Not(HasSubstr("region=\"us\"")));
  // Refused: outcome error of web; the 2 phases that did not fit, 4 times (8).
  EXPECT_THAT(text, HasSubstr("pharos_metrics_series_overflow_total{metric=\"pharos_check_"
                              "duration_seconds\"} 8\n"));
  EXPECT_THAT(text, HasSubstr("pharos_metrics_series_overflow_total{metric=\"pharos_check_"
                              "results_total\"} 1\n"));

  // Removing series makes room again.
  table.KeepRegions("shop", "api", {"us"});
  table.Record("shop", "web", "us", Outcome::kUp, TotalOnly(1'000));
  EXPECT_EQ(table.result_series(), 1u);
  EXPECT_EQ(table.duration_series(), 1u);
}

TEST(MonitorSeriesTableTest, OddLabelValuesAreEscapedAndPassPromtool) {
  MetricsRegistry registry;
  MonitorSeriesTable table(registry, {});
  registry.AddCollector([&table](MetricsWriter& writer) { table.Write(writer); });
  table.Record("name\"space", "back\\slash\nnew line", "eu-west", Outcome::kUp, HttpTimings());
  table.Record("shop", "bad utf8 \xFF", "eu-west", Outcome::kDegraded, HttpTimings());
  table.Record("shop", "api", "us-east", Outcome::kDown, HttpTimings());
  const std::string text = registry.Expose();
  EXPECT_THAT(text, HasSubstr("pharos_check_results_total{namespace=\"name\\\"space\",monitor="
                              "\"back\\\\slash\\nnew line\",region=\"eu-west\",outcome=\"up\"} "
                              "1\n"));
  EXPECT_THAT(text, HasSubstr("monitor=\"bad utf8 \xEF\xBF\xBD\""));

  const PromtoolVerdict verdict = PromtoolCheckMetrics(text);
  ASSERT_TRUE(verdict.found)
      << "promtool comes with the Debian package \"prometheus\": run scripts/setup.";
  EXPECT_TRUE(verdict.passed) << verdict.output;
  EXPECT_EQ(verdict.output, "") << verdict.output;
}

// The table must write what the generic CounterFamily/HistogramFamily it replaced wrote for the
// same results and removals (the same text, byte for byte).
TEST(MonitorSeriesTableTest, WritesWhatTheGenericFamiliesWrote) {
  for (const auto phases :
       {MonitorSeriesTable::DurationPhases::kAll, MonitorSeriesTable::DurationPhases::kTotal}) {
    MetricsRegistry generic(MetricsRegistry::Options{.max_series_per_family = 1'000'000});
    CounterFamily& results =
        generic.AddCounter(MonitorSeriesTable::kResultsMetric,
                           "Check results ingested, by outcome (error = the probe could not run "
                           "the check, never the target being down).",
                           {"namespace", "monitor", "region", "outcome"});
    HistogramFamily& durations = generic.AddHistogram(
        MonitorSeriesTable::kDurationsMetric,
        "Duration of each phase of a check (dns, connect, tls, firstByte, transfer, total).",
        {"namespace", "monitor", "region", "phase"},
        {MonitorSeriesTable::kDurationBounds.begin(), MonitorSeriesTable::kDurationBounds.end()});
    MetricsRegistry registry;
    MonitorSeriesTable table(registry, {.max_series = 1'000'000, .duration_phases = phases});

    const char* const kPhaseNames[] = {"dns", "connect", "tls", "firstByte", "transfer", "total"};
    const char* const kNamespaces[] = {"shop", "a", "a-b", "ops"};
    const char* const kNames[] = {"api", "web", "b", "web-2", "Z"};
    const char* const kRegions[] = {"eu-west", "us", "ap-south", "eu"};
    uint64_t state = 12345;
    const auto next = [&state](uint64_t bound) {
      state = state * 6364136223846793005u + 1442695040888963407u;
      return (state >> 33) % bound;
    };
    for (int i = 0; i < 6'000; ++i) {
      const std::string ns = kNamespaces[next(4)];
      // Up to 2,000 monitors: more than one batch of the scrape's lock holds.
      const std::string name = kNames[next(5)] + std::to_string(next(100));
      const std::string region = kRegions[next(4)];
      if (next(50) == 0) {
        const std::vector<std::string> removed = {region, kRegions[next(4)]};
        std::vector<std::string> kept;
        for (const char* r : kRegions) {
          if (std::find(removed.begin(), removed.end(), r) == removed.end()) kept.push_back(r);
        }
        table.KeepRegions(ns, name, kept);
        for (const std::string& r : removed) {
          for (const char* outcome : {"up", "degraded", "down", "error"}) {
            results.Remove({ns, name, r, outcome});
          }
          for (const char* phase : kPhaseNames) durations.Remove({ns, name, r, phase});
        }
        continue;
      }
      const auto outcome = static_cast<Outcome>(next(4));
      int64_t micros[6];
      // Some phases did not happen (0 µs); durations up to 15 s, beyond the last bound.
      for (int64_t& us : micros) us = next(4) == 0 ? 0 : static_cast<int64_t>(next(15'000'000));
      const Timings timings{micros[0], micros[1], micros[2], micros[3], micros[4], micros[5]};
      table.Record(ns, name, region, outcome, timings);
      results.WithLabels({ns, name, region, ToString(outcome)}).Inc();
      if (outcome == Outcome::kError) continue;
      const size_t first = phases == MonitorSeriesTable::DurationPhases::kAll ? 0 : 5;
      for (size_t p = first; p < 6; ++p) {
        if (micros[p] > 0) {
          durations.WithLabels({ns, name, region, kPhaseNames[p]})
              .Observe(static_cast<double>(micros[p]) / 1e6);
        }
      }
    }
    // The generic registry writes durations before results (by name); the table, results first.
    const std::string expected = generic.Expose();
    const size_t split = expected.find("# HELP pharos_check_results_total");
    ASSERT_NE(split, std::string::npos);
    const std::string want = expected.substr(split) + expected.substr(0, split);
    const std::string got = Text(table);
    // Megabytes of text: show where they differ, not a diff of everything.
    const size_t differ = static_cast<size_t>(
        std::mismatch(want.begin(), want.end(), got.begin(), got.end()).first - want.begin());
    EXPECT_EQ(got.size(), want.size());
    EXPECT_EQ(differ, want.size())
        << "expected: " << want.substr(differ > 200 ? differ - 200 : 0, 400)
        << "\ngot: " << got.substr(differ > 200 ? differ - 200 : 0, 400);
    EXPECT_EQ(table.result_series(), results.series_count());
    EXPECT_EQ(table.duration_series(), durations.series_count());
    EXPECT_GT(table.result_series(), 1'000u);
  }
}

// Memory per monitor, measured with glibc's own accounting (mallinfo2: bytes in use, chunk
// headers included) over many monitors, and compared with the table's own estimate.
size_t HeapInUse() { return mallinfo2().uordblks; }

size_t MeasureBytesPerMonitor(MonitorSeriesTable::DurationPhases phases, size_t regions,
                              size_t* estimated) {
  constexpr size_t kMonitors = 5'000;
  MetricsRegistry registry;
  const char* const kRegions[] = {"eu-west", "us-east", "ap-south"};
  size_t before = 0;
  size_t after = 0;
  {
    MonitorSeriesTable table(registry, {.max_series = 1'000'000, .duration_phases = phases});
    // Intern the region names first: they are shared, not per monitor.
    for (size_t r = 0; r < regions; ++r) {
      table.Record("warm", "up", kRegions[r], Outcome::kUp, HttpTimings());
    }
    table.RemoveMonitor("warm", "up");
    before = HeapInUse();
    char name[32];
    for (size_t i = 0; i < kMonitors; ++i) {
      // "default" + "monitor-00042": 20 bytes of key text, as in the 50,000-monitor benchmark.
      std::snprintf(name, sizeof(name), "monitor-%05zu", i);
      for (size_t r = 0; r < regions; ++r) {
        table.Record("default", name, kRegions[r], Outcome::kUp, HttpTimings());
      }
    }
    after = HeapInUse();
    *estimated = table.EstimatedBytes() / kMonitors;
  }
  return (after - before) / kMonitors;
}

TEST(MonitorSeriesTableTest, MemoryPerMonitorStaysWithinBudget) {
#if defined(__SANITIZE_ADDRESS__) || PHAROS_CLANG_ASAN
  GTEST_SKIP() << "measured with glibc's heap accounting (mallinfo2), which ASan's allocator "
                  "bypasses; the plain build runs it";
#endif
  struct Case {
    MonitorSeriesTable::DurationPhases phases;
    size_t regions;
    size_t budget;  // bytes per monitor, all regions
  };
  // Plain HTTP: 5 phases with `all`. The families this table replaced took ≈ 1,500 B for one.
  const Case cases[] = {{MonitorSeriesTable::DurationPhases::kAll, 1, 445},
                        {MonitorSeriesTable::DurationPhases::kTotal, 1, 220},
                        {MonitorSeriesTable::DurationPhases::kAll, 3, 1'135},
                        {MonitorSeriesTable::DurationPhases::kTotal, 3, 460}};
  for (const Case& c : cases) {
    size_t estimated = 0;
    const size_t measured = MeasureBytesPerMonitor(c.phases, c.regions, &estimated);
    const std::string name =
        std::string(c.phases == MonitorSeriesTable::DurationPhases::kAll ? "all" : "total") + "_" +
        std::to_string(c.regions) + "_regions";
    RecordProperty(name + "_measured", std::to_string(measured));
    RecordProperty(name + "_estimated", std::to_string(estimated));
    EXPECT_LE(measured, c.budget) << name;
    // The estimate follows the layout; the measurement may add a little allocator slack.
    EXPECT_NEAR(static_cast<double>(estimated), static_cast<double>(measured), measured * 0.05)
        << name;
  }
}

}  // namespace
}  // namespace pharos
