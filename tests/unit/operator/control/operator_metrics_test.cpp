#include "operator/control/operator_metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "common/metrics_registry.h"

namespace pharos {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

Monitor Api() {
  Monitor monitor;
  monitor.namespace_name = "shop";
  monitor.name = "api";
  monitor.uid = "uid-api";
  return monitor;
}

CheckResult HttpsResult() {
  CheckResult result;
  result.region = "eu";
  result.outcome = Outcome::kUp;
  result.timings = {.dns_us = 1'000,
                    .connect_us = 2'000,
                    .tls_us = 30'000,
                    .first_byte_us = 40'000,
                    .transfer_us = 500,
                    .total_us = 73'500};
  return result;
}

std::string Series(std::string_view phase, std::string_view suffix = "_count") {
  return "pharos_check_duration_seconds" + std::string(suffix) +
         "{namespace=\"shop\",monitor=\"api\",region=\"eu\",phase=\"" + std::string(phase) + "\"}";
}

TEST(OperatorMetricsTest, AllPhasesRecordsEveryPhaseTheCheckWentThrough) {
  MetricsRegistry registry;
  OperatorMetrics metrics(registry, {.version = "test"});
  metrics.RecordResult(Api(), HttpsResult());
  const std::string text = registry.Expose();
  for (std::string_view phase : OperatorMetrics::kPhases) {
    EXPECT_THAT(text, HasSubstr(Series(phase) + " 1\n")) << phase;
  }
}

TEST(OperatorMetricsTest, TotalPhaseOnlyRecordsOneHistogramPerMonitorAndRegion) {
  MetricsRegistry registry;
  OperatorMetrics metrics(
      registry, {.version = "test", .duration_phases = OperatorMetrics::DurationPhases::kTotal});
  metrics.RecordResult(Api(), HttpsResult());
  const std::string text = registry.Expose();
  EXPECT_THAT(text, HasSubstr(Series("total") + " 1\n"));
  EXPECT_THAT(text, HasSubstr(Series("total", "_sum") + " 0.0735\n"));
  for (std::string_view phase : {"dns", "connect", "tls", "firstByte", "transfer"}) {
    EXPECT_THAT(text, Not(HasSubstr("phase=\"" + std::string(phase) + "\""))) << phase;
  }
}

TEST(OperatorMetricsTest, CheckDurationBucketsAreTheDocumentedOnes) {
  MetricsRegistry registry;
  OperatorMetrics metrics(registry, {.version = "test"});
  metrics.RecordResult(Api(), HttpsResult());
  const std::string text = registry.Expose();
  const std::string prefix =
      "pharos_check_duration_seconds_bucket{namespace=\"shop\",monitor=\"api\",region=\"eu\","
      "phase=\"total\",le=\"";
  // 73.5 ms: above 0.05, within 0.1.
  EXPECT_THAT(text, HasSubstr(prefix + "0.05\"} 0\n"));
  EXPECT_THAT(text, HasSubstr(prefix + "0.1\"} 1\n"));
  EXPECT_THAT(text, HasSubstr(prefix + "10\"} 1\n"));
  EXPECT_THAT(text, HasSubstr(prefix + "+Inf\"} 1\n"));
}

TEST(OperatorMetricsTest, ParsesDurationPhases) {
  EXPECT_EQ(*OperatorMetrics::ParseDurationPhases("all"), OperatorMetrics::DurationPhases::kAll);
  EXPECT_EQ(*OperatorMetrics::ParseDurationPhases("total"),
            OperatorMetrics::DurationPhases::kTotal);
  Result<OperatorMetrics::DurationPhases> bad = OperatorMetrics::ParseDurationPhases("phases");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error(), HasSubstr("\"phases\""));
  EXPECT_THAT(bad.error(), HasSubstr("\"total\""));
}

}  // namespace
}  // namespace pharos
