#include "operator/control/monitor_runtime.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>

#include "common/manual_clock.h"
#include "unit/operator/control/core_test_support.h"

namespace pharos {
namespace {

using ::pharos::testing::MakeMonitor;
using ::pharos::testing::MakeResult;
using std::chrono::hours;
using std::chrono::seconds;

class MonitorRuntimeTest : public ::testing::Test {
 protected:
  MonitorRuntimeTest() {
    runtime_.monitor = std::make_shared<const Monitor>(MakeMonitor("api", {"eu-west", "us-east"}));
    runtime_.machine = std::make_unique<MonitorStateMachine>(
        StateMachineSettings::FromMonitor(*runtime_.monitor, {}, seconds(30)), start_);
  }

  void Observe(const CheckResult& result) {
    runtime_.machine->Observe(runtime_.identity(), result, result.started_at);
  }

  const TimePoint start_ = ManualClock::DefaultStart();
  MonitorRuntime runtime_;
};

TEST_F(MonitorRuntimeTest, StatusShowsRegionsTheNewestCheckAndProbeErrors) {
  CheckResult up = MakeResult(*runtime_.monitor, "eu-west", start_, Outcome::kUp);
  CheckResult error = MakeResult(*runtime_.monitor, "us-east", start_, Outcome::kError);
  error.started_at = start_ + seconds(1);
  Observe(up);
  Observe(error);
  const MonitorStatus status = runtime_.Status();
  ASSERT_EQ(status.regions.size(), 2u);
  EXPECT_EQ(status.regions[0].name, "eu-west");
  EXPECT_EQ(status.regions[0].state, MonitorState::kUp);
  EXPECT_EQ(status.regions[0].status_code, 200);
  EXPECT_EQ(status.regions[1].message, "probe error: probe failed");
  EXPECT_EQ(status.last_check_time, start_ + seconds(1));
  EXPECT_FALSE(status.uptime_24h.has_value()) << "no summary yet";
}

TEST_F(MonitorRuntimeTest, StatusAndMetricsCarryTheSummary) {
  MonitorSummary summary;
  summary.last_24h.up = 3;
  summary.last_24h.down = 1;
  summary.last_24h.latency.p95_us = 4'000;
  runtime_.summary = SummaryFigures(summary);
  runtime_.has_summary = true;
  EXPECT_EQ(runtime_.Status().uptime_24h, 75.0);
  EXPECT_EQ(runtime_.Status().latency_p95_us, 4'000);
  EXPECT_FALSE(runtime_.Status().uptime_7d.has_value());
  EXPECT_EQ(runtime_.MetricsView().uptime_24h, 0.75);
}

TEST_F(MonitorRuntimeTest, TheEarliestCertificateOfAnyRegionIsExported) {
  CheckResult eu = MakeResult(*runtime_.monitor, "eu-west", start_, Outcome::kUp);
  eu.cert_expiry = start_ + hours(100);
  eu.cert_earliest_expiry = start_ + hours(90);  // an intermediate expires first
  CheckResult us = MakeResult(*runtime_.monitor, "us-east", start_, Outcome::kUp);
  us.cert_expiry = start_ + hours(50);
  runtime_.RememberCertificate(eu);
  runtime_.RememberCertificate(us);
  EXPECT_EQ(runtime_.MetricsView().certificate_expiry, start_ + hours(50));
  runtime_.KeepCertificateRegions({"eu-west"});
  EXPECT_EQ(runtime_.MetricsView().certificate_expiry, start_ + hours(90));
}

}  // namespace
}  // namespace pharos
