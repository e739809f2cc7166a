#include "probe/probe_agent.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>

#include "common/rfc3339.h"
#include "unit/probe/fake_operator.h"
#include "unit/probe/loopback_server.h"
#include "unit/probe/temp_token_file.h"

namespace pharos {
namespace {

using ::testing::Each;
using testing::FakeOperator;
using ::testing::HasSubstr;
using ::testing::Le;
using testing::LoopbackServer;
using testing::TempTokenFile;
using testing::WaitUntil;
using namespace std::chrono_literals;

nlohmann::json HttpMonitorObject(const std::string& uid, const std::string& url,
                                 const std::string& timeout = "5s") {
  return {
      {"apiVersion", "pharos.dev/v1alpha1"},
      {"kind", "Monitor"},
      {"metadata", {{"name", "web"}, {"namespace", "shop"}, {"uid", uid}, {"generation", 1}}},
      {"spec",
       {{"type", "http"}, {"frequency", "1m"}, {"timeout", timeout}, {"http", {{"url", url}}}}}};
}

// The value of one series in the exposition ("name" or "name{labels}"); -1 when absent.
double MetricValue(const MetricsRegistry& metrics, const std::string& series) {
  std::istringstream lines(metrics.Expose());
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}

class ProbeAgentTest : public ::testing::Test {
 protected:
  ProbeAgentTest() : target_({.response = LoopbackServer::HttpResponse(200, "ok")}) {}

  void SetUp() override {
    ASSERT_TRUE(fake_.Start().ok());
    fake_.AddMonitor("uid-1", HttpMonitorObject("uid-1", TargetUrl(target_)));
  }
  void TearDown() override {
    agent_.reset();
    fake_.Stop();
  }

  static std::string TargetUrl(const LoopbackServer& server) {
    return "http://127.0.0.1:" + std::to_string(server.port()) + "/health";
  }

  static ProbeAgent::Options FastOptions() {
    ProbeAgent::Options options;
    options.capacity = 8;
    options.flush_interval = 20ms;
    options.lease_wait_seconds = 1;
    options.backoff = {.initial = 20ms, .max = 200ms, .min_fraction = 0.5};
    options.configuration_retry = 50ms;
    options.drain_timeout = 20s;
    return options;
  }

  void StartAgent(const ProbeAgent::Options& options = FastOptions()) {
    OperatorClient::Options client;
    client.operator_url = fake_.url();
    client.token_file = token_.path();
    client.probe = {"probe-1", "eu-west", "0.0.0-test"};
    client.connect_timeout = 2s;
    client_ = std::make_unique<OperatorClient>(client);
    agent_ = std::make_unique<ProbeAgent>(options, *client_, metrics_, clock_);
    agent_->Start();
  }

  FakeOperator::Item Enqueue(const std::string& id, const std::string& uid = "uid-1") {
    FakeOperator::Item item;
    item.id = id;
    item.monitor_uid = uid;
    item.scheduled_at = std::chrono::system_clock::now() - 150ms;
    fake_.Enqueue(item);
    return item;
  }

  double Metric(const std::string& series) const { return MetricValue(metrics_, series); }
  double ChecksTotal() const {
    double total = 0;
    for (const char* outcome : {"up", "degraded", "down", "error"}) {
      total += Metric(std::string("pharos_probe_checks_total{outcome=\"") + outcome + "\"}");
    }
    return total;
  }

  LoopbackServer target_;
  FakeOperator fake_;
  TempTokenFile token_{"probe-token-1"};
  MetricsRegistry metrics_;
  SystemClock clock_;
  std::unique_ptr<OperatorClient> client_;
  std::unique_ptr<ProbeAgent> agent_;
};

TEST_F(ProbeAgentTest, RegistersLeasesChecksAndReports) {
  std::map<std::string, FakeOperator::Item> items;
  for (const char* id : {"item-1", "item-2", "item-3"}) items[id] = Enqueue(id);
  StartAgent();
  ASSERT_TRUE(WaitUntil([&] { return fake_.stored_count() == 3; }));
  for (const auto& [id, result] : fake_.stored()) {
    SCOPED_TRACE(id);
    EXPECT_EQ(result["outcome"], "up") << result.dump();
    EXPECT_EQ(result["statusCode"], 200);
    EXPECT_EQ(result["itemId"], id);
    EXPECT_EQ(result["region"], "eu-west");
    EXPECT_EQ(result["probe"], "probe-1");
    EXPECT_EQ(result["uid"], "uid-1");
    EXPECT_EQ(result["namespace"], "shop");
    EXPECT_EQ(result["name"], "web");
    EXPECT_EQ(result["scheduledAt"], FormatRfc3339(items.at(id).scheduled_at));
  }
  EXPECT_EQ(target_.requests().size(), 3u);
  EXPECT_EQ(fake_.registrations(), 1);
  EXPECT_EQ(fake_.last_register_body()["capacity"], 8);
  EXPECT_EQ(fake_.duplicates(), 0);
  ASSERT_TRUE(WaitUntil([&] { return agent_->status().pending_results == 0; }));
  const ProbeAgent::Status status = agent_->status();
  EXPECT_TRUE(status.running);
  EXPECT_TRUE(status.registered);
  EXPECT_TRUE(status.last_contact.has_value());
  EXPECT_EQ(status.last_error, "");
  EXPECT_EQ(Metric("pharos_probe_checks_total{outcome=\"up\"}"), 3);
  EXPECT_EQ(Metric("pharos_probe_checks_total{outcome=\"down\"}"), 0);
  EXPECT_EQ(Metric("pharos_probe_capacity"), 8);
  EXPECT_EQ(Metric("pharos_probe_checks_in_flight"), 0);
  EXPECT_EQ(Metric("pharos_probe_results_pending"), 0);
  EXPECT_EQ(Metric("pharos_probe_operator_errors_total"), 0);
}

TEST_F(ProbeAgentTest, KeepsResultsThroughAnOperatorOutageAndDeliversEachOnce) {
  std::set<std::string> ids;
  for (int i = 1; i <= 5; ++i) ids.insert(Enqueue("item-" + std::to_string(i)).id);
  fake_.SetResultsStatus(503);  // the operator's store is down first...
  StartAgent();
  ASSERT_TRUE(WaitUntil([&] { return agent_->status().pending_results == 5; }));
  EXPECT_EQ(Metric("pharos_probe_results_pending"), 5);
  const int port = fake_.port();
  fake_.Stop();  // ...then the operator is gone altogether (connection refused)...
  const double errors_before = Metric("pharos_probe_operator_errors_total");
  ASSERT_TRUE(
      WaitUntil([&] { return Metric("pharos_probe_operator_errors_total") >= errors_before + 2; }));
  EXPECT_EQ(fake_.stored_count(), 0u);
  EXPECT_EQ(agent_->status().pending_results, 5u);
  EXPECT_THAT(agent_->status().last_error, HasSubstr("127.0.0.1"));

  fake_.SetResultsStatus(0);  // ...and comes back on the same address.
  ASSERT_TRUE(fake_.Start(port).ok());
  ASSERT_TRUE(WaitUntil([&] { return fake_.stored_count() == 5; }));
  std::set<std::string> stored;
  for (const auto& [id, result] : fake_.stored()) stored.insert(id);
  EXPECT_EQ(stored, ids);
  EXPECT_EQ(fake_.duplicates(), 0);
  // A lease that failed while the operator was away may report its error a moment later; the
  // next successful call clears it.
  ASSERT_TRUE(WaitUntil([&] {
    const ProbeAgent::Status status = agent_->status();
    return status.pending_results == 0 && status.last_error.empty();
  }));
  EXPECT_EQ(Metric("pharos_probe_results_dropped_total{reason=\"buffer_full\"}"), -1);
}

TEST_F(ProbeAgentTest, WrongTokenIsRetriedUntilTheRotatedTokenWorks) {
  token_.Rotate("an-old-token");
  StartAgent();
  // The fake counts a 401 before the probe has read it: wait for the probe's own count.
  ASSERT_TRUE(WaitUntil([&] { return Metric("pharos_probe_operator_errors_total") >= 3; }));
  ProbeAgent::Status status = agent_->status();
  EXPECT_TRUE(status.running);
  EXPECT_FALSE(status.registered);
  EXPECT_FALSE(status.last_contact.has_value());
  EXPECT_THAT(status.last_error, HasSubstr("HTTP 401"));
  EXPECT_THAT(status.last_error, HasSubstr(token_.path()));
  EXPECT_THAT(status.last_error, ::testing::Not(HasSubstr("an-old-token")));
  EXPECT_GE(fake_.unauthorized(), 3);
  EXPECT_EQ(fake_.registrations(), 0);

  token_.Rotate("probe-token-1");
  Enqueue("item-1");
  ASSERT_TRUE(WaitUntil([&] { return fake_.stored_count() == 1; }));
  EXPECT_TRUE(agent_->status().registered);
}

TEST_F(ProbeAgentTest, SplitsABatchTheOperatorFindsTooLarge) {
  FakeOperator small({.max_results_per_request = 2});
  ASSERT_TRUE(small.Start().ok());
  small.AddMonitor("uid-1", HttpMonitorObject("uid-1", TargetUrl(target_)));
  small.SetResultsStatus(503);  // let the results pile up so that the first batch holds them all
  std::set<std::string> ids;
  for (int i = 1; i <= 7; ++i) {
    FakeOperator::Item item;
    item.id = "item-" + std::to_string(i);
    item.monitor_uid = "uid-1";
    small.Enqueue(item);
    ids.insert(item.id);
  }
  OperatorClient::Options client;
  client.operator_url = small.url();
  client.token_file = token_.path();
  client.probe = {"probe-1", "eu-west", "0.0.0-test"};
  client_ = std::make_unique<OperatorClient>(client);
  agent_ = std::make_unique<ProbeAgent>(FastOptions(), *client_, metrics_, clock_);
  agent_->Start();
  ASSERT_TRUE(WaitUntil([&] { return agent_->status().pending_results == 7; }));
  small.SetResultsStatus(0);
  ASSERT_TRUE(WaitUntil([&] { return small.stored_count() == 7; }));
  EXPECT_GE(small.too_large(), 1);
  EXPECT_THAT(small.accepted_batch_sizes(), Each(Le(2u)));
  std::set<std::string> stored;
  for (const auto& [id, result] : small.stored()) stored.insert(id);
  EXPECT_EQ(stored, ids);
  EXPECT_EQ(Metric("pharos_probe_results_dropped_total{reason=\"too_large\"}"), -1);
  agent_.reset();
}

TEST_F(ProbeAgentTest, StopFinishesAndReportsTheChecksInFlight) {
  LoopbackServer slow({.response = LoopbackServer::HttpResponse(200, "slow"), .delay = 1500ms});
  fake_.AddMonitor("uid-slow", HttpMonitorObject("uid-slow", TargetUrl(slow)));
  for (const char* id : {"slow-1", "slow-2", "slow-3"}) Enqueue(id, "uid-slow");
  StartAgent();
  ASSERT_TRUE(WaitUntil([&] { return agent_->status().in_flight == 3; }));
  EXPECT_EQ(Metric("pharos_probe_checks_in_flight"), 3);
  EXPECT_EQ(fake_.stored_count(), 0u);

  const ProbeAgent::StopSummary summary = agent_->Stop();
  EXPECT_EQ(summary.unfinished_checks, 0u);
  EXPECT_EQ(summary.unreported_results, 0u);
  EXPECT_EQ(fake_.stored_count(), 3u);
  for (const auto& [id, result] : fake_.stored()) EXPECT_EQ(result["outcome"], "up") << id;
  const ProbeAgent::Status status = agent_->status();
  EXPECT_FALSE(status.running);
  EXPECT_TRUE(status.draining);
  EXPECT_EQ(status.in_flight, 0u);
  // Leasing stopped: work queued now stays with the operator.
  Enqueue("after-stop");
  EXPECT_EQ(fake_.queued(), 1u);
}

TEST_F(ProbeAgentTest, DrainTimeoutBoundsStop) {
  LoopbackServer silent({.mode = LoopbackServer::Mode::kSilent});
  fake_.AddMonitor("uid-silent", HttpMonitorObject("uid-silent", TargetUrl(silent), "50s"));
  Enqueue("silent-1", "uid-silent");
  ProbeAgent::Options options = FastOptions();
  options.drain_timeout = 200ms;
  StartAgent(options);
  ASSERT_TRUE(WaitUntil([&] { return agent_->status().in_flight == 1; }));
  const ProbeAgent::StopSummary summary = agent_->Stop();
  EXPECT_EQ(summary.unfinished_checks, 1u);
  EXPECT_EQ(summary.unreported_results, 0u);
  EXPECT_EQ(fake_.stored_count(), 0u);
}

TEST_F(ProbeAgentTest, AbortDrainEndsStopEarly) {
  LoopbackServer silent({.mode = LoopbackServer::Mode::kSilent});
  fake_.AddMonitor("uid-silent", HttpMonitorObject("uid-silent", TargetUrl(silent), "50s"));
  Enqueue("silent-1", "uid-silent");
  ProbeAgent::Options options = FastOptions();
  options.drain_timeout = 600s;
  StartAgent(options);
  ASSERT_TRUE(WaitUntil([&] { return agent_->status().in_flight == 1; }));
  std::thread aborter([&] {
    WaitUntil([&] { return agent_->status().draining; });
    agent_->AbortDrain();
  });
  const ProbeAgent::StopSummary summary = agent_->Stop();
  aborter.join();
  EXPECT_EQ(summary.unfinished_checks, 1u);
}

TEST_F(ProbeAgentTest, FullBufferDropsTheOldestResultsAndCountsThem) {
  for (int i = 1; i <= 4; ++i) Enqueue("item-" + std::to_string(i));
  fake_.SetResultsStatus(503);
  ProbeAgent::Options options = FastOptions();
  options.max_pending_results = 2;
  StartAgent(options);
  ASSERT_TRUE(WaitUntil([&] { return ChecksTotal() == 4; }));
  ASSERT_TRUE(WaitUntil([&] { return agent_->status().in_flight == 0; }));
  EXPECT_EQ(agent_->status().pending_results, 2u);
  EXPECT_EQ(Metric("pharos_probe_results_dropped_total{reason=\"buffer_full\"}"), 2);
  fake_.SetResultsStatus(0);
  ASSERT_TRUE(WaitUntil([&] { return agent_->status().pending_results == 0; }));
  EXPECT_EQ(fake_.stored_count(), 2u);
}

TEST_F(ProbeAgentTest, ItemPastItsDeadlineIsAnsweredAsAnErrorWithoutChecking) {
  FakeOperator::Item item;
  item.id = "late-1";
  item.monitor_uid = "uid-1";
  item.scheduled_at = std::chrono::system_clock::now() - 2min;
  item.deadline = std::chrono::system_clock::now() - 1min;
  fake_.Enqueue(item);
  StartAgent();
  ASSERT_TRUE(WaitUntil([&] { return fake_.stored_count() == 1; }));
  const nlohmann::json result = fake_.stored().at("late-1");
  EXPECT_EQ(result["outcome"], "error");
  EXPECT_EQ(result["error"], "deadline passed before the check could start");
  EXPECT_EQ(result["name"], "web");
  EXPECT_EQ(result["attempts"], 0);
  EXPECT_EQ(target_.accepted(), 0);
  EXPECT_EQ(Metric("pharos_probe_checks_total{outcome=\"error\"}"), 1);
}

TEST_F(ProbeAgentTest, ItemWithoutAUsableMonitorIsAnsweredAsAnError) {
  fake_.AddMonitor("uid-bad", {{"kind", "Monitor"}, {"spec", {{"type", "gopher"}}}});
  Enqueue("missing-1", "uid-unknown");
  Enqueue("invalid-1", "uid-bad");
  StartAgent();
  ASSERT_TRUE(WaitUntil([&] { return fake_.stored_count() == 2; }));
  const auto stored = fake_.stored();
  EXPECT_EQ(stored.at("missing-1")["outcome"], "error");
  EXPECT_THAT(stored.at("missing-1")["error"].get<std::string>(),
              HasSubstr("sent no spec of monitor uid-unknown"));
  EXPECT_EQ(stored.at("invalid-1")["outcome"], "error");
  EXPECT_THAT(stored.at("invalid-1")["error"].get<std::string>(), HasSubstr("is invalid"));
  EXPECT_EQ(stored.at("invalid-1")["uid"], "uid-bad");
}

TEST_F(ProbeAgentTest, SpecsAreFetchedOncePerVersionAndKeptAcrossLeases) {
  Enqueue("item-1");
  Enqueue("item-2");
  StartAgent();
  ASSERT_TRUE(WaitUntil([&] { return fake_.stored_count() == 2; }));
  Enqueue("item-3");
  ASSERT_TRUE(WaitUntil([&] { return fake_.stored_count() == 3; }));
  // One request for uid-1, whatever the number of items and leases that named it.
  EXPECT_EQ(fake_.monitor_uids_asked(), std::vector<std::string>{"uid-1"});

  // A changed spec has a new version: fetched again, and the next check uses it.
  LoopbackServer moved({.response = LoopbackServer::HttpResponse(200, "moved")});
  fake_.AddMonitor("uid-1", HttpMonitorObject("uid-1", TargetUrl(moved)));
  Enqueue("item-4");
  ASSERT_TRUE(WaitUntil([&] { return fake_.stored_count() == 4; }));
  EXPECT_EQ(fake_.monitor_uids_asked(), (std::vector<std::string>{"uid-1", "uid-1"}));
  EXPECT_EQ(fake_.stored().at("item-4")["outcome"], "up");
  EXPECT_EQ(moved.requests().size(), 1u);
  EXPECT_EQ(target_.requests().size(), 3u);
}

TEST_F(ProbeAgentTest, ItemsWhoseSpecCannotBeFetchedAreNotChecked) {
  fake_.SetMonitorsStatus(503);
  Enqueue("item-1");
  StartAgent();
  ASSERT_TRUE(WaitUntil([&] {
    return fake_.monitor_requests() >= 1 && Metric("pharos_probe_operator_errors_total") >= 1;
  }));
  // The item is left to lapse (the operator would hand it out again): neither checked with a
  // spec the probe does not have nor answered as an error.
  fake_.SetMonitorsStatus(0);
  Enqueue("item-2");
  ASSERT_TRUE(WaitUntil([&] { return fake_.stored_count() == 1; }));
  EXPECT_EQ(fake_.stored().count("item-2"), 1u);
  EXPECT_EQ(target_.requests().size(), 1u);
  EXPECT_EQ(ChecksTotal(), 1);
}

TEST_F(ProbeAgentTest, RejectedResultsAreDroppedAndNotResent) {
  fake_.RejectItems({"item-2"});
  Enqueue("item-1");
  Enqueue("item-2");
  StartAgent();
  ASSERT_TRUE(WaitUntil([&] {
    return fake_.stored_count() == 1 && agent_->status().pending_results == 0 &&
           Metric("pharos_probe_results_dropped_total{reason=\"rejected\"}") == 1;
  }));
  EXPECT_EQ(fake_.stored().count("item-1"), 1u);
}

TEST_F(ProbeAgentTest, BatchRefusedAsMalformedLosesOnlyTheRefusedResult) {
  fake_.RefuseBatchesWith({"item-3"});
  fake_.SetResultsStatus(503);
  for (int i = 1; i <= 5; ++i) Enqueue("item-" + std::to_string(i));
  StartAgent();
  ASSERT_TRUE(WaitUntil([&] { return agent_->status().pending_results == 5; }));
  fake_.SetResultsStatus(0);
  ASSERT_TRUE(WaitUntil([&] {
    return agent_->status().pending_results == 0 &&
           Metric("pharos_probe_results_dropped_total{reason=\"bad_request\"}") == 1;
  }));
  const auto stored = fake_.stored();
  EXPECT_EQ(stored.size(), 4u);
  EXPECT_EQ(stored.count("item-3"), 0u);
  EXPECT_GE(fake_.bad_requests(), 1);
}

TEST_F(ProbeAgentTest, StopWithoutStartIsHarmless) {
  OperatorClient::Options client;
  client.operator_url = fake_.url();
  client.token_file = token_.path();
  client.probe = {"probe-1", "eu-west", "0.0.0-test"};
  client_ = std::make_unique<OperatorClient>(client);
  agent_ = std::make_unique<ProbeAgent>(FastOptions(), *client_, metrics_, clock_);
  const ProbeAgent::StopSummary summary = agent_->Stop();
  EXPECT_EQ(summary.unfinished_checks, 0u);
  EXPECT_FALSE(agent_->status().running);
  EXPECT_EQ(fake_.registrations(), 0);
}

TEST_F(ProbeAgentTest, SecondStopReturnsTheFirstSummary) {
  StartAgent();
  ASSERT_TRUE(WaitUntil([&] { return agent_->status().registered; }));
  const ProbeAgent::StopSummary first = agent_->Stop();
  const ProbeAgent::StopSummary second = agent_->Stop();
  EXPECT_EQ(first.unfinished_checks, second.unfinished_checks);
  EXPECT_EQ(first.unreported_results, second.unreported_results);
  EXPECT_FALSE(agent_->status().running);
}

TEST(ProbeAgentLimitsTest, RunsNoMoreItemsThanItAskedForWhateverTheOperatorSends) {
  LoopbackServer target({.response = LoopbackServer::HttpResponse(200, "ok")});
  FakeOperator hostile({.ignore_lease_max = true});
  ASSERT_TRUE(hostile.Start().ok());
  hostile.AddMonitor(
      "uid-1",
      nlohmann::json{
          {"apiVersion", "pharos.dev/v1alpha1"},
          {"kind", "Monitor"},
          {"metadata",
           {{"name", "web"}, {"namespace", "shop"}, {"uid", "uid-1"}, {"generation", 1}}},
          {"spec",
           {{"type", "http"},
            {"frequency", "1m"},
            {"timeout", "5s"},
            {"http", {{"url", "http://127.0.0.1:" + std::to_string(target.port()) + "/"}}}}}});
  for (int i = 0; i < 200; ++i) {
    FakeOperator::Item item;
    item.id = "item-" + std::to_string(i);
    item.monitor_uid = "uid-1";
    hostile.Enqueue(item);
  }
  TempTokenFile token("probe-token-1");
  OperatorClient::Options client_options;
  client_options.operator_url = hostile.url();
  client_options.token_file = token.path();
  client_options.probe = {"probe-1", "eu-west", "0.0.0-test"};
  OperatorClient client(client_options);
  MetricsRegistry metrics;
  SystemClock clock;
  ProbeAgent::Options options;
  options.capacity = 4;
  options.flush_interval = 20ms;
  options.lease_wait_seconds = 0;
  ProbeAgent agent(options, client, metrics, clock);
  agent.Start();
  // The first lease gets all 200 items; the probe checks the 4 it asked for and drops the rest.
  ASSERT_TRUE(WaitUntil([&] { return hostile.queued() == 0 && hostile.stored_count() >= 4; }));
  agent.Stop();
  EXPECT_EQ(hostile.largest_lease_max(), 4u);
  EXPECT_EQ(hostile.stored_count(), 4u);
  EXPECT_EQ(target.accepted(), 4);
  hostile.Stop();
}

TEST(ProbeAgentLimitsTest, BacksOffWhenEveryItemOfALeaseIsUnreadable) {
  FakeOperator hostile;
  ASSERT_TRUE(hostile.Start().ok());
  nlohmann::json items = nlohmann::json::array();
  for (int i = 0; i < 50; ++i) items.push_back({{"monitorUid", "u"}});  // no id: unreadable
  hostile.SetLeaseReplyBody(nlohmann::json{{"items", items}}.dump());
  TempTokenFile token("probe-token-1");
  OperatorClient::Options client_options;
  client_options.operator_url = hostile.url();
  client_options.token_file = token.path();
  client_options.probe = {"probe-1", "eu-west", "0.0.0-test"};
  OperatorClient client(client_options);
  MetricsRegistry metrics;
  SystemClock clock;
  ProbeAgent::Options options;
  options.capacity = 4;
  options.lease_wait_seconds = 0;
  options.backoff = {.initial = 1h, .max = 1h, .min_fraction = 1.0};
  ProbeAgent agent(options, client, metrics, clock);
  agent.Start();
  ASSERT_TRUE(WaitUntil([&] { return !agent.status().last_error.empty(); }));
  EXPECT_THAT(agent.status().last_error, HasSubstr("cannot be read"));
  agent.Stop();  // the backoff wait ends at once on stop
  EXPECT_EQ(hostile.leases(), 1) << "a lease of only unreadable items is not asked again at once";
  hostile.Stop();
}

}  // namespace
}  // namespace pharos
