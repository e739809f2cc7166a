#include "common/metrics_registry.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <stdexcept>
#include <thread>

#include "common/prometheus_text.h"
#include "unit/common/promtool_check.h"

namespace pharos {
namespace {

using ::testing::HasSubstr;

TEST(MetricsRegistryTest, EmptyRegistryExposesNothing) {
  MetricsRegistry registry;
  EXPECT_EQ(registry.Expose(), "");
}

TEST(MetricsRegistryTest, CounterExactText) {
  MetricsRegistry registry;
  CounterFamily& checks =
      registry.AddCounter("pharos_checks_total", "Checks run.", {"monitor", "outcome"});
  checks.WithLabels({"shop/api", "up"}).Inc();
  checks.WithLabels({"shop/api", "up"}).Inc(2);
  checks.WithLabels({"shop/api", "down"}).Inc(0.5);
  EXPECT_EQ(registry.Expose(),
            "# HELP pharos_checks_total Checks run.\n"
            "# TYPE pharos_checks_total counter\n"
            "pharos_checks_total{monitor=\"shop/api\",outcome=\"down\"} 0.5\n"
            "pharos_checks_total{monitor=\"shop/api\",outcome=\"up\"} 3\n");
}

TEST(MetricsRegistryTest, UnlabelledFamiliesStartAtZero) {
  MetricsRegistry registry;
  registry.AddCounter("b_total", "B.");
  registry.AddGauge("a", "A.");
  EXPECT_EQ(registry.Expose(),
            "# HELP a A.\n# TYPE a gauge\na 0\n"
            "# HELP b_total B.\n# TYPE b_total counter\nb_total 0\n");
}

TEST(MetricsRegistryTest, CounterIgnoresNegativeAndNaN) {
  MetricsRegistry registry;
  Counter& counter = registry.AddCounter("c_total", "C.").WithLabels({});
  counter.Inc(5);
  counter.Inc(-1);
  counter.Inc(std::nan(""));
  EXPECT_EQ(counter.Value(), 5);
}

TEST(MetricsRegistryTest, GaugeSetIncDecAndSpecialValues) {
  MetricsRegistry registry;
  GaugeFamily& gauge = registry.AddGauge("pharos_queue_depth", "Items queued.", {"class"});
  gauge.WithLabels({"1m"}).Set(10);
  gauge.WithLabels({"1m"}).Inc(2.5);
  gauge.WithLabels({"1m"}).Dec();
  gauge.WithLabels({"5m"}).Set(std::numeric_limits<double>::infinity());
  gauge.WithLabels({"a"}).Set(-std::numeric_limits<double>::infinity());
  gauge.WithLabels({"b"}).Set(std::nan(""));
  EXPECT_EQ(gauge.WithLabels({"1m"}).Value(), 11.5);
  EXPECT_EQ(registry.Expose(),
            "# HELP pharos_queue_depth Items queued.\n"
            "# TYPE pharos_queue_depth gauge\n"
            "pharos_queue_depth{class=\"1m\"} 11.5\n"
            "pharos_queue_depth{class=\"5m\"} +Inf\n"
            "pharos_queue_depth{class=\"a\"} -Inf\n"
            "pharos_queue_depth{class=\"b\"} NaN\n");
}

TEST(MetricsRegistryTest, HistogramExactText) {
  MetricsRegistry registry;
  HistogramFamily& latency = registry.AddHistogram("pharos_check_duration_seconds",
                                                   "Check duration.", {"region"}, {0.1, 0.5, 1});
  Histogram& eu = latency.WithLabels({"eu"});
  eu.Observe(0.05);
  eu.Observe(0.1);  // le is inclusive
  eu.Observe(0.7);
  eu.Observe(3);
  eu.Observe(std::nan(""));  // ignored
  EXPECT_EQ(registry.Expose(),
            "# HELP pharos_check_duration_seconds Check duration.\n"
            "# TYPE pharos_check_duration_seconds histogram\n"
            "pharos_check_duration_seconds_bucket{region=\"eu\",le=\"0.1\"} 2\n"
            "pharos_check_duration_seconds_bucket{region=\"eu\",le=\"0.5\"} 2\n"
            "pharos_check_duration_seconds_bucket{region=\"eu\",le=\"1\"} 3\n"
            "pharos_check_duration_seconds_bucket{region=\"eu\",le=\"+Inf\"} 4\n"
            "pharos_check_duration_seconds_sum{region=\"eu\"} 3.85\n"
            "pharos_check_duration_seconds_count{region=\"eu\"} 4\n");
  EXPECT_EQ(eu.Count(), 4u);
  EXPECT_EQ(eu.CumulativeCounts(), (std::vector<uint64_t>{2, 2, 3, 4}));
}

TEST(MetricsRegistryTest, HistogramsWithOtherBucketsKeepTheirOwnLeLabels) {
  MetricsRegistry registry;
  registry.AddHistogram("a_seconds", "A.", {"k"}, {0.5, 1}).WithLabels({"x"}).Observe(0.7);
  registry.AddHistogram("b_seconds", "B.", {"k"}, {2}).WithLabels({"x"}).Observe(0.7);
  registry.AddCollector([](MetricsWriter& writer) {
    writer.BeginFamily("c_seconds", "C.", MetricType::kHistogram, {"k"});
    writer.HistogramSample({"x"}, std::vector<double>{0.5, 1}, std::vector<uint64_t>{0, 1, 1}, 0.7);
    writer.HistogramSample({"y"}, std::vector<double>{0.25}, std::vector<uint64_t>{0, 2}, 1.5);
    writer.BeginFamily("d_seconds", "D.", MetricType::kHistogram);
    writer.HistogramSample({}, std::vector<double>{}, std::vector<uint64_t>{3}, 0.5);
  });
  const std::string expected =
      "# HELP a_seconds A.\n# TYPE a_seconds histogram\n"
      "a_seconds_bucket{k=\"x\",le=\"0.5\"} 0\na_seconds_bucket{k=\"x\",le=\"1\"} 1\n"
      "a_seconds_bucket{k=\"x\",le=\"+Inf\"} 1\na_seconds_sum{k=\"x\"} 0.7\n"
      "a_seconds_count{k=\"x\"} 1\n"
      "# HELP b_seconds B.\n# TYPE b_seconds histogram\n"
      "b_seconds_bucket{k=\"x\",le=\"2\"} 1\nb_seconds_bucket{k=\"x\",le=\"+Inf\"} 1\n"
      "b_seconds_sum{k=\"x\"} 0.7\nb_seconds_count{k=\"x\"} 1\n"
      "# HELP c_seconds C.\n# TYPE c_seconds histogram\n"
      "c_seconds_bucket{k=\"x\",le=\"0.5\"} 0\nc_seconds_bucket{k=\"x\",le=\"1\"} 1\n"
      "c_seconds_bucket{k=\"x\",le=\"+Inf\"} 1\nc_seconds_sum{k=\"x\"} 0.7\n"
      "c_seconds_count{k=\"x\"} 1\n"
      "c_seconds_bucket{k=\"y\",le=\"0.25\"} 0\nc_seconds_bucket{k=\"y\",le=\"+Inf\"} 2\n"
      "c_seconds_sum{k=\"y\"} 1.5\nc_seconds_count{k=\"y\"} 2\n"
      "# HELP d_seconds D.\n# TYPE d_seconds histogram\n"
      "d_seconds_bucket{le=\"+Inf\"} 3\nd_seconds_sum 0.5\nd_seconds_count 3\n";
  EXPECT_EQ(registry.Expose(), expected);
  EXPECT_EQ(registry.Expose(), expected);  // and again on the next scrape
}

TEST(MetricsRegistryTest, UnlabelledHistogramHasOnlyLe) {
  MetricsRegistry registry;
  registry.AddHistogram("h_seconds", "H.", {}, {1, std::numeric_limits<double>::infinity()});
  EXPECT_EQ(registry.Expose(),
            "# HELP h_seconds H.\n# TYPE h_seconds histogram\n"
            "h_seconds_bucket{le=\"1\"} 0\nh_seconds_bucket{le=\"+Inf\"} 0\n"
            "h_seconds_sum 0\nh_seconds_count 0\n");
}

TEST(MetricsRegistryTest, EscapesLabelValuesAndHelp) {
  MetricsRegistry registry;
  registry.AddGauge("g", "Help with \\ and\nnewline and \"quotes\".", {"v"})
      .WithLabels({"back\\slash \"quoted\"\nline"})
      .Set(1);
  EXPECT_EQ(registry.Expose(),
            "# HELP g Help with \\\\ and\\nnewline and \"quotes\".\n"
            "# TYPE g gauge\n"
            "g{v=\"back\\\\slash \\\"quoted\\\"\\nline\"} 1\n");
}

TEST(MetricsRegistryTest, ReferencesAreStableAndRemoveDropsSeries) {
  MetricsRegistry registry;
  GaugeFamily& state = registry.AddGauge("pharos_monitor_up", "Up.", {"monitor", "region"});
  Gauge& a = state.WithLabels({"shop/a", "eu"});
  for (int i = 0; i < 100; ++i) state.WithLabels({"other/" + std::to_string(i), "eu"});
  EXPECT_EQ(&a, &state.WithLabels({"shop/a", "eu"}));
  state.WithLabels({"shop/a", "us"}).Set(1);
  EXPECT_EQ(state.series_count(), 102u);

  EXPECT_TRUE(state.Remove({"other/0", "eu"}));
  EXPECT_FALSE(state.Remove({"other/0", "eu"}));
  EXPECT_EQ(state.RemoveMatching("monitor", "shop/a"), 2u);
  EXPECT_EQ(state.RemoveMatching("no_such_label", "x"), 0u);
  EXPECT_EQ(state.series_count(), 99u);
  EXPECT_EQ(registry.Expose().find("shop/a"), std::string::npos);
  state.Clear();
  EXPECT_EQ(registry.Expose(), "# HELP pharos_monitor_up Up.\n# TYPE pharos_monitor_up gauge\n");
}

TEST(MetricsRegistryTest, SameDefinitionReturnsSameFamily) {
  MetricsRegistry registry;
  CounterFamily& first = registry.AddCounter("x_total", "X.", {"a"});
  CounterFamily& second = registry.AddCounter("x_total", "X again.", {"a"});
  EXPECT_EQ(&first, &second);
  HistogramFamily& h1 = registry.AddHistogram("h", "H.", {}, {1, 2});
  EXPECT_EQ(&h1, &registry.AddHistogram("h", "H.", {}, {1, 2}));
}

// A collector that enforces its own series limit reports refusals; they join the families' ones,
// in name order.
TEST(MetricsRegistryTest, CollectorOverflowJoinsTheOverflowCounter) {
  MetricsRegistry registry(MetricsRegistry::Options{.max_series_per_family = 1});
  CounterFamily& requests = registry.AddCounter("req_total", "Requests.", {"path"});
  requests.WithLabels({"/a"}).Inc();
  requests.WithLabels({"/b"}).Inc();
  registry.CountSeriesOverflow("collected_total");
  registry.CountSeriesOverflow("zz_total", 3);
  registry.CountSeriesOverflow("collected_total", 2);
  const std::string text = registry.Expose();
  EXPECT_NE(text.find("# TYPE pharos_metrics_series_overflow_total counter\n"
                      "pharos_metrics_series_overflow_total{metric=\"collected_total\"} 3\n"
                      "pharos_metrics_series_overflow_total{metric=\"req_total\"} 1\n"
                      "pharos_metrics_series_overflow_total{metric=\"zz_total\"} 3\n"),
            std::string::npos)
      << text;
}

TEST(MetricsRegistryTest, CardinalityGuardCountsOverflow) {
  MetricsRegistry registry(MetricsRegistry::Options{.max_series_per_family = 2});
  CounterFamily& requests = registry.AddCounter("req_total", "Requests.", {"path"});
  requests.WithLabels({"/a"}).Inc();
  requests.WithLabels({"/b"}).Inc();
  Counter& refused = requests.WithLabels({"/c"});
  refused.Inc(100);  // goes nowhere
  requests.WithLabels({"/d"}).Inc();
  requests.WithLabels({"/a"}).Inc();  // existing series still work
  EXPECT_EQ(requests.series_count(), 2u);
  EXPECT_EQ(requests.overflow_count(), 2u);
  EXPECT_EQ(registry.Expose(),
            "# HELP req_total Requests.\n# TYPE req_total counter\n"
            "req_total{path=\"/a\"} 2\nreq_total{path=\"/b\"} 1\n"
            "# HELP pharos_metrics_series_overflow_total Label sets dropped because their metric "
            "reached its series limit.\n"
            "# TYPE pharos_metrics_series_overflow_total counter\n"
            "pharos_metrics_series_overflow_total{metric=\"req_total\"} 2\n");
  // Removing a series makes room again.
  requests.Remove({"/b"});
  requests.WithLabels({"/c"}).Inc();
  EXPECT_EQ(requests.series_count(), 2u);
  requests.set_max_series(3);
  requests.WithLabels({"/e"}).Inc();
  EXPECT_EQ(requests.series_count(), 3u);
}

TEST(MetricsRegistryTest, WrongLabelCountGoesToDetachedSeries) {
  MetricsRegistry registry;
  CounterFamily& family = registry.AddCounter("w_total", "W.", {"a", "b"});
  family.WithLabels({"only-one"}).Inc();
  EXPECT_EQ(family.series_count(), 0u);
  EXPECT_EQ(registry.Expose(), "# HELP w_total W.\n# TYPE w_total counter\n");
}

TEST(MetricsRegistryTest, CollectorsWriteAfterFamilies) {
  MetricsRegistry registry;
  registry.AddCounter("z_total", "Z.");
  struct MonitorState {
    std::string key;
    int up;
  };
  std::vector<MonitorState> monitors = {{"shop/api", 1}, {"shop/db", 0}};
  const auto id = registry.AddCollector([&](MetricsWriter& writer) {
    writer.BeginFamily("pharos_monitor_up", "1 when the monitor is up.", MetricType::kGauge,
                       {"monitor"});
    for (const MonitorState& monitor : monitors) writer.Sample({monitor.key}, monitor.up);
  });
  const std::string expected_collected =
      "# HELP pharos_monitor_up 1 when the monitor is up.\n"
      "# TYPE pharos_monitor_up gauge\n"
      "pharos_monitor_up{monitor=\"shop/api\"} 1\n"
      "pharos_monitor_up{monitor=\"shop/db\"} 0\n";
  EXPECT_EQ(registry.Expose(),
            "# HELP z_total Z.\n# TYPE z_total counter\nz_total 0\n" + expected_collected);
  monitors.pop_back();  // a deleted monitor disappears on the next scrape
  EXPECT_EQ(registry.Expose().find("shop/db"), std::string::npos);
  registry.RemoveCollector(id);
  EXPECT_EQ(registry.Expose(), "# HELP z_total Z.\n# TYPE z_total counter\nz_total 0\n");
}

// A collector publishing many series, with a Flush point after each (as a collector does between
// batches it reads under its own lock).
void AddManySeries(MetricsRegistry& registry, int count) {
  registry.AddCollector([count](MetricsWriter& writer) {
    writer.BeginFamily("pharos_many", "Many series.", MetricType::kGauge, {"i"});
    for (int i = 0; i < count; ++i) {
      writer.Sample({std::to_string(i)}, i);
      writer.Flush();
    }
  });
}

// A streamed scrape is the same text as a whole one, handed over in pieces of about the asked
// size, so that a large page is never held whole.
TEST(MetricsRegistryTest, StreamHandsTheSameTextOverInPieces) {
  MetricsRegistry registry;
  registry.AddCounter("pharos_first_total", "Registered.").WithLabels({}).Inc(3);
  AddManySeries(registry, 500);
  registry.AddCollector([](MetricsWriter& writer) {
    writer.BeginFamily("pharos_last", "After the big one.", MetricType::kGauge);
    writer.Sample({}, 1);
  });
  constexpr size_t kPieceBytes = 1024;
  std::vector<std::string> pieces;
  EXPECT_TRUE(registry.Stream(
      [&](std::string_view piece) {
        pieces.emplace_back(piece);
        return true;
      },
      kPieceBytes));

  std::string joined;
  for (const std::string& piece : pieces) joined += piece;
  EXPECT_EQ(joined, registry.Expose());
  EXPECT_THAT(joined, HasSubstr("pharos_many{i=\"499\"} 499\n"));
  EXPECT_GT(pieces.size(), 5u);
  for (size_t i = 0; i < pieces.size(); ++i) {
    EXPECT_FALSE(pieces[i].empty()) << "piece " << i;
    // A piece ends at the first Flush point past the size: one sample line later at most.
    EXPECT_LT(pieces[i].size(), kPieceBytes + 64) << "piece " << i;
  }
}

// A client that goes away mid-scrape stops the scrape: the sink is not called again, later
// collectors do not run, and a collector can see it and stop early.
TEST(MetricsRegistryTest, StreamStopsOnceTheSinkRefuses) {
  MetricsRegistry registry;
  int written_after_refusal = 0;
  registry.AddCollector([&](MetricsWriter& writer) {
    writer.BeginFamily("pharos_many", "Many series.", MetricType::kGauge, {"i"});
    for (int i = 0; i < 1000 && writer.delivering(); ++i) {
      writer.Sample({std::to_string(i)}, i);
      writer.Flush();
    }
    if (!writer.delivering()) ++written_after_refusal;
  });
  bool later_collector_ran = false;
  registry.AddCollector([&](MetricsWriter&) { later_collector_ran = true; });
  int calls = 0;
  EXPECT_FALSE(registry.Stream(
      [&](std::string_view) {
        ++calls;
        return calls < 2;
      },
      256));
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(written_after_refusal, 1);
  EXPECT_FALSE(later_collector_ran);
  // The next scrape is whole again.
  EXPECT_THAT(registry.Expose(), HasSubstr("pharos_many{i=\"999\"} 999\n"));
}

// Without Flush points a collector's text goes out as one piece at the end: still complete.
TEST(MetricsRegistryTest, StreamWithoutFlushPointsSendsEverythingAtTheEnd) {
  MetricsRegistry registry;
  registry.AddCollector([](MetricsWriter& writer) {
    writer.BeginFamily("pharos_quiet", "No flush points.", MetricType::kGauge, {"i"});
    for (int i = 0; i < 100; ++i) writer.Sample({std::to_string(i)}, i);
  });
  std::vector<std::string> pieces;
  EXPECT_TRUE(registry.Stream(
      [&](std::string_view piece) {
        pieces.emplace_back(piece);
        return true;
      },
      64));
  ASSERT_EQ(pieces.size(), 1u);
  EXPECT_EQ(pieces[0], registry.Expose());
}

TEST(MetricsRegistryTest, CollectorCannotBreakTheExposition) {
  MetricsRegistry registry;
  registry.AddGauge("taken", "Registered.");
  registry.AddCollector([](MetricsWriter& writer) {
    writer.BeginFamily("taken", "Duplicate of a registered family.", MetricType::kGauge);
    writer.Sample({}, 5);
    writer.BeginFamily("bad name", "Invalid.", MetricType::kGauge);
    writer.Sample({}, 1);
    writer.BeginFamily("requests", "Counter without _total.", MetricType::kCounter);
    writer.Sample({}, 1);
    writer.BeginFamily("good", "Fine.", MetricType::kGauge, {"k"});
    writer.Sample({"x"}, 1);
    writer.Sample({"x"}, 2);                                         // duplicate label set
    writer.Sample({"x", "extra"}, 3);                                // wrong arity
    writer.HistogramSample({"y"}, {}, std::vector<uint64_t>{1}, 1);  // wrong kind
  });
  registry.AddCollector([](MetricsWriter&) { throw std::runtime_error("store unavailable"); });
  registry.AddCollector([](MetricsWriter& writer) {
    writer.BeginFamily("after_throw", "Still here.", MetricType::kGauge);
    writer.Sample({}, 7);
  });
  EXPECT_EQ(registry.Expose(),
            "# HELP taken Registered.\n# TYPE taken gauge\ntaken 0\n"
            "# HELP good Fine.\n# TYPE good gauge\ngood{k=\"x\"} 1\n"
            "# HELP after_throw Still here.\n# TYPE after_throw gauge\nafter_throw 7\n");
}

TEST(MetricsWriterTest, ReportsProblems) {
  MetricsWriter writer;
  EXPECT_TRUE(writer.BeginFamily("a", "A.", MetricType::kGauge, {"x"}));
  EXPECT_FALSE(writer.BeginFamily("a", "A.", MetricType::kGauge));
  EXPECT_FALSE(writer.BeginFamily("h", "H.", MetricType::kHistogram, {"le"}));
  EXPECT_FALSE(writer.BeginFamily("d", "D.", MetricType::kGauge, {"x", "x"}));
  EXPECT_FALSE(writer.BeginFamily("r", "R.", MetricType::kGauge, {"__reserved"}));
  ASSERT_EQ(writer.problems().size(), 4u);
  EXPECT_EQ(writer.problems()[0],
            "metric family \"a\" dropped: a family of that name was already written in this "
            "scrape");
}

TEST(MetricsRegistryTest, ConcurrentUpdatesAreNotLost) {
  MetricsRegistry registry;
  CounterFamily& counter = registry.AddCounter("c_total", "C.", {"worker"});
  HistogramFamily& histogram = registry.AddHistogram("h_seconds", "H.", {}, {0.5});
  constexpr int kThreads = 4;
  constexpr int kIncrements = 20000;
  std::vector<std::thread> threads;
  std::atomic<bool> done{false};
  std::thread scraper([&] {
    while (!done.load()) EXPECT_FALSE(registry.Expose().empty());
  });
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kIncrements; ++i) {
        counter.WithLabels({"shared"}).Inc();
        counter.WithLabels({std::to_string(t)}).Inc();
        histogram.WithLabels({}).Observe(i % 2 == 0 ? 0.1 : 1.0);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  done.store(true);
  scraper.join();
  EXPECT_EQ(counter.WithLabels({"shared"}).Value(), kThreads * kIncrements);
  EXPECT_EQ(histogram.WithLabels({}).Count(), static_cast<uint64_t>(kThreads * kIncrements));
  EXPECT_EQ(histogram.WithLabels({}).CumulativeCounts()[0],
            static_cast<uint64_t>(kThreads * kIncrements / 2));
  EXPECT_NEAR(histogram.WithLabels({}).Sum(), kThreads * kIncrements * 0.55, 1e-6);
}

TEST(MetricsRegistryTest, BucketHelpers) {
  EXPECT_EQ(ExponentialBuckets(0.001, 2, 4), (std::vector<double>{0.001, 0.002, 0.004, 0.008}));
  EXPECT_EQ(LinearBuckets(1, 0.5, 3), (std::vector<double>{1, 1.5, 2}));
  EXPECT_EQ(DefaultHistogramBuckets().size(), 11u);
}

using MetricsRegistryDeathTest = ::testing::Test;

TEST_F(MetricsRegistryDeathTest, InvalidDefinitionsAbortWithTheReason) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  MetricsRegistry registry;
  EXPECT_DEATH(registry.AddCounter("requests", "No _total."), "must end in _total");
  EXPECT_DEATH(registry.AddGauge("bad-name", "Dash."), "must match");
  EXPECT_DEATH(registry.AddGauge("g", "Reserved label.", {"__name"}), "label name \"__name\"");
  EXPECT_DEATH(registry.AddGauge("g", "Colon label.", {"a:b"}), "label name \"a:b\"");
  EXPECT_DEATH(registry.AddGauge("g", "Twice.", {"a", "a"}), "appears twice");
  EXPECT_DEATH(registry.AddHistogram("h", "Le.", {"le"}, {1}), "label named le");
  EXPECT_DEATH(registry.AddHistogram("h", "Unsorted.", {}, {2, 1}), "strictly increasing");
  EXPECT_DEATH(registry.AddHistogram("h", "Empty.", {}, {}), "at least one bucket");
  EXPECT_DEATH(registry.AddHistogram("h", "NaN.", {}, {std::nan("")}), "finite");
  EXPECT_DEATH(registry.AddCounter("pharos_metrics_series_overflow_total", "Mine."), "reserved");
  registry.AddGauge("taken", "Gauge.", {"a"});
  EXPECT_DEATH(registry.AddGauge("taken", "Other labels.", {"b"}), "already registered");
  EXPECT_DEATH(registry.AddCounter("taken", "Other type."), "must end in _total");
  registry.AddCounter("taken_total", "Counter.");
  EXPECT_DEATH(registry.AddGauge("taken_total", "Other type."), "already registered");
}

// The exposition must satisfy the real Prometheus parser and linter, not only our expectations.
TEST(MetricsRegistryTest, RichExpositionPassesPromtool) {
  MetricsRegistry registry;
  CounterFamily& checks = registry.AddCounter(
      "pharos_check_results_total", "Check results by outcome.\nSecond line with a \\ backslash.",
      {"monitor", "region", "outcome"});
  checks.WithLabels({"shop/checkout", "eu-west", "up"}).Inc(41);
  checks.WithLabels({"shop/\"quoted\"\\name\nnewline", "us-east", "down"}).Inc();
  checks.WithLabels({"bad utf8 \xFF\xFE", "ap-south", "error"}).Inc();
  checks.WithLabels({"unicode 日本", "ap-south", "degraded"}).Inc(0.25);
  GaugeFamily& state = registry.AddGauge("pharos_monitor_state", "Monitor state (1 = current).",
                                         {"monitor", "state"});
  state.WithLabels({"shop/checkout", "Up"}).Set(1);
  state.WithLabels({"shop/db", "Down"}).Set(std::numeric_limits<double>::infinity());
  state.WithLabels({"shop/cache", "Degraded"}).Set(-std::numeric_limits<double>::infinity());
  state.WithLabels({"shop/queue", "Pending"}).Set(std::nan(""));
  registry.AddGauge("pharos_build_info", "Build information.", {"version"})
      .WithLabels({"0.1.0"})
      .Set(1);
  HistogramFamily& duration =
      registry.AddHistogram("pharos_check_duration_seconds", "Check duration by phase.", {"phase"},
                            ExponentialBuckets(0.001, 2.5, 10));
  for (int i = 0; i < 200; ++i) duration.WithLabels({"connect"}).Observe(i * 0.0123);
  duration.WithLabels({"tls"}).Observe(120);
  registry.AddHistogram("pharos_scheduler_lag_seconds", "Scheduling lag.", {},
                        DefaultHistogramBuckets());
  CounterFamily& limited = registry.AddCounter("pharos_limited_total", "Overflowing.", {"k"});
  limited.set_max_series(1);
  limited.WithLabels({"a"}).Inc();
  limited.WithLabels({"b"}).Inc();
  registry.AddCollector([](MetricsWriter& writer) {
    writer.BeginFamily("pharos_probes_connected", "Connected probes per region.",
                       MetricType::kGauge, {"region"});
    writer.Sample({"eu-west"}, 3);
    writer.Sample({"us-east"}, 0);
    writer.BeginFamily("pharos_collected_total", "A counter from a collector.",
                       MetricType::kCounter);
    writer.Sample({}, 1e21);
  });
  const std::string exposition = registry.Expose();
  ASSERT_NE(
      exposition.find("pharos_metrics_series_overflow_total{metric=\"pharos_limited_total\"}"),
      std::string::npos);

  const PromtoolVerdict verdict = PromtoolCheckMetrics(exposition);
  ASSERT_TRUE(verdict.found) << "promtool not found (looked in /usr/bin and /usr/local/bin). It "
                                "comes with the Debian package \"prometheus\": run scripts/setup.";
  EXPECT_TRUE(verdict.passed) << "promtool check metrics failed:\n"
                              << verdict.output << "\n--- exposition ---\n"
                              << exposition;
  EXPECT_EQ(verdict.output, "") << "promtool lint findings";
}

}  // namespace
}  // namespace pharos
