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

TEST_F(MonitorRuntimeTest, FailingAddressesFollowEachRegionsLastJudgedResult) {
  const auto with_addresses = [&](const std::string& region, Outcome outcome,
                                  const std::vector<std::pair<std::string, Outcome>>& addresses) {
    CheckResult result = MakeResult(*runtime_.monitor, region, start_, outcome);
    for (auto& [address, address_outcome] : addresses) {
      AddressResult one;
      one.address = address;
      one.name = address == "10.0.0.2:80" ? "orders-2" : "";
      one.outcome = address_outcome;
      result.addresses.push_back(one);
    }
    return result;
  };
  const auto failing = [&](size_t region) {
    return runtime_.Status().regions[region].failing_addresses;
  };
  EXPECT_FALSE(runtime_.findings.has_value());
  runtime_.RememberFailingAddresses(with_addresses(
      "eu-west", Outcome::kUp, {{"10.0.0.1:80", Outcome::kUp}, {"10.0.0.3:80", Outcome::kUp}}));
  EXPECT_FALSE(runtime_.findings.has_value()) << "nothing kept while nothing fails";

  runtime_.RememberFailingAddresses(with_addresses("eu-west", Outcome::kDown,
                                                   {{"10.0.0.1:80", Outcome::kUp},
                                                    {"10.0.0.2:80", Outcome::kDown},
                                                    {"10.0.0.3:80", Outcome::kDegraded}}));
  runtime_.RememberFailingAddresses(
      with_addresses("us-east", Outcome::kDown, {{"10.0.0.3:80", Outcome::kDown}}));
  EXPECT_EQ(failing(0), (std::vector<std::string>{"10.0.0.2:80 (orders-2)"}));
  EXPECT_EQ(failing(1), (std::vector<std::string>{"10.0.0.3:80"}));

  // A probe error says nothing about the addresses: kept as they were.
  runtime_.RememberFailingAddresses(with_addresses("eu-west", Outcome::kError, {}));
  EXPECT_EQ(failing(0), (std::vector<std::string>{"10.0.0.2:80 (orders-2)"}));
  // A judged result without addresses (no ready endpoint) clears them.
  runtime_.RememberFailingAddresses(with_addresses("eu-west", Outcome::kDown, {}));
  EXPECT_TRUE(failing(0).empty());
  runtime_.RememberFailingAddresses(
      with_addresses("us-east", Outcome::kUp, {{"10.0.0.3:80", Outcome::kUp}}));
  EXPECT_TRUE(failing(1).empty());
  EXPECT_FALSE(runtime_.findings.has_value()) << "freed once nothing is left";

  // Certificates and failing addresses share the findings: one does not drop the other.
  CheckResult tls = MakeResult(*runtime_.monitor, "eu-west", start_, Outcome::kUp);
  tls.cert_expiry = start_ + hours(10);
  runtime_.RememberCertificate(tls);
  runtime_.RememberFailingAddresses(
      with_addresses("eu-west", Outcome::kDown, {{"10.0.0.1:80", Outcome::kDown}}));
  runtime_.RememberFailingAddresses(
      with_addresses("eu-west", Outcome::kUp, {{"10.0.0.1:80", Outcome::kUp}}));
  EXPECT_EQ(runtime_.MetricsView().certificate_expiry, start_ + hours(10));

  std::vector<std::pair<std::string, Outcome>> many;
  many.reserve(40);
  for (int i = 0; i < 40; ++i) many.emplace_back("10.1.0." + std::to_string(i), Outcome::kDown);
  runtime_.RememberFailingAddresses(with_addresses("us-east", Outcome::kDown, many));
  EXPECT_EQ(failing(1).size(), MonitorRuntime::kMaxFailingAddresses);
}

}  // namespace
}  // namespace pharos
