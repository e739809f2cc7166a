#include "probe/probe_metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <string>

#include "common/metrics_registry.h"

namespace pharos {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(ProbeMetricsTest, ExportsEveryFamilyFromTheStart) {
  MetricsRegistry registry;
  ProbeMetrics metrics(registry, [] { return ProbeMetrics::Gauges{0, 16, 0}; });
  const std::string text = registry.Expose();
  EXPECT_THAT(text, HasSubstr("# TYPE pharos_probe_checks_in_flight gauge\n"
                              "pharos_probe_checks_in_flight 0\n"));
  EXPECT_THAT(text, HasSubstr("pharos_probe_capacity 16\n"));
  EXPECT_THAT(text, HasSubstr("pharos_probe_results_pending 0\n"));
  for (const char* outcome : {"up", "degraded", "down", "error"}) {
    EXPECT_THAT(
        text, HasSubstr(std::string("pharos_probe_checks_total{outcome=\"") + outcome + "\"} 0\n"));
  }
  EXPECT_THAT(text, HasSubstr("pharos_probe_operator_errors_total 0\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE pharos_probe_results_dropped_total counter\n"));
}

TEST(ProbeMetricsTest, CountsAndReadsTheGaugesAtEachScrape) {
  MetricsRegistry registry;
  std::atomic<size_t> in_flight{3};
  ProbeMetrics metrics(registry, [&] { return ProbeMetrics::Gauges{in_flight.load(), 8, 5}; });
  metrics.CountCheck(Outcome::kDown);
  metrics.CountCheck(Outcome::kDown);
  metrics.CountOperatorError();
  metrics.CountDropped("buffer_full", 2);
  metrics.CountDropped("rejected", 0);  // nothing dropped: no series
  std::string text = registry.Expose();
  EXPECT_THAT(text, HasSubstr("pharos_probe_checks_in_flight 3\n"));
  EXPECT_THAT(text, HasSubstr("pharos_probe_results_pending 5\n"));
  EXPECT_THAT(text, HasSubstr("pharos_probe_checks_total{outcome=\"down\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("pharos_probe_operator_errors_total 1\n"));
  EXPECT_THAT(text, HasSubstr("pharos_probe_results_dropped_total{reason=\"buffer_full\"} 2\n"));
  EXPECT_THAT(text, Not(HasSubstr("reason=\"rejected\"")));
  in_flight = 1;
  EXPECT_THAT(registry.Expose(), HasSubstr("pharos_probe_checks_in_flight 1\n"));
}

TEST(ProbeMetricsTest, TheGaugesGoAwayWithIt) {
  MetricsRegistry registry;
  {
    ProbeMetrics metrics(registry, [] { return ProbeMetrics::Gauges{1, 2, 3}; });
  }
  const std::string text = registry.Expose();
  EXPECT_THAT(text, Not(HasSubstr("pharos_probe_checks_in_flight")));
  EXPECT_THAT(text, HasSubstr("pharos_probe_checks_total"));  // counters stay in the registry
}

}  // namespace
}  // namespace pharos
