#include "operator/standalone/in_process_probe.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "unit/eventually.h"
#include "unit/operator/control/core_test_support.h"

namespace pharos {
namespace {

using ::pharos::testing::MakeMonitor;
using ::pharos::testing::OpenCore;
using ::pharos::testing::SampleValue;
using ::pharos::testing::TempDirectory;
using ::pharos::testing::TestCore;

using ::pharos::testing::Eventually;

// Answers every check with `outcome` on its own thread, like an engine would.
class FakeChecker {
 public:
  explicit FakeChecker(Outcome outcome) : outcome_(outcome) {}
  ~FakeChecker() { Drain(); }

  InProcessProbe::Checker Checker() {
    return {[this](const std::shared_ptr<const Monitor>& monitor,
                   std::function<void(CheckResult)> done) {
              std::lock_guard lock(mu_);
              ++submitted_;
              threads_.emplace_back([this, monitor, done = std::move(done)] {
                CheckResult result;
                result.monitor_namespace = monitor->namespace_name;
                result.monitor_name = monitor->name;
                result.monitor_uid = monitor->uid;
                result.generation = monitor->generation;
                result.type = monitor->type;
                result.target = monitor->Target();
                result.started_at = std::chrono::system_clock::now();
                result.outcome = outcome_;
                result.timings.total_us = 1'000;
                done(std::move(result));
              });
            },
            [this] { Drain(); }};
  }

  void Drain() {
    std::vector<std::thread> threads;
    {
      std::lock_guard lock(mu_);
      threads.swap(threads_);
    }
    for (std::thread& thread : threads) {
      thread.join();
    }
  }

  int submitted() {
    std::lock_guard lock(mu_);
    return submitted_;
  }

 private:
  const Outcome outcome_;
  std::mutex mu_;
  std::vector<std::thread> threads_;
  int submitted_ = 0;
};

// A checker that answers nothing until the test takes the checks it holds and answers them:
// everything it got stays in flight meanwhile.
class HoldingChecker {
 public:
  InProcessProbe::Checker Checker() {
    return {[this](const std::shared_ptr<const Monitor>& /*monitor*/,
                   std::function<void(CheckResult)> done) {
              std::lock_guard lock(mutex_);
              pending_.push_back(std::move(done));
            },
            [] {}};
  }
  // The completions of the checks held so far (the holder keeps none of them).
  std::vector<std::function<void(CheckResult)>> Take() {
    std::lock_guard lock(mutex_);
    return std::exchange(pending_, {});
  }

 private:
  std::mutex mutex_;
  std::vector<std::function<void(CheckResult)>> pending_;  // guarded by mutex_
};

class InProcessProbeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    core_ = OpenCore(clock_, (dir_.path() / "pharos.db").string());
    ASSERT_TRUE(core_);
  }

  size_t StoredResults(const std::string& uid) {
    ResultQuery query;
    query.monitor_uid = uid;
    auto results = core_.store().Results(query);
    return results.ok() ? results->size() : 0;
  }

  TempDirectory dir_;
  ManualClock clock_;
  TestCore core_;
};

TEST_F(InProcessProbeTest, LeasesDueWorkRunsItAndIngestsTheResult) {
  const Monitor api = MakeMonitor("api");
  ASSERT_TRUE(core_->UpsertMonitor(api).ok());
  FakeChecker checker(Outcome::kUp);
  InProcessProbe probe(*core_, *core_, *core_, clock_, core_.registry(), checker.Checker(), {});
  probe.Start();
  ASSERT_TRUE(Eventually([&] {
    return !core_->dispatcher_for_testing().ConnectedProbes("local").empty();
  })) << "the probe long-polls";

  clock_.AdvanceTo(*core_->scheduler_for_testing().Find(api.uid)->next_due);
  core_->Tick();

  ASSERT_TRUE(Eventually([&] { return StoredResults(api.uid) == 1; }));
  ASSERT_TRUE(Eventually([&] { return core_->Snapshot(api.uid)->state == MonitorState::kUp; }));
  auto status = core_->Snapshot(api.uid);
  EXPECT_EQ(status->regions[0].name, "local");
  probe.Stop();
  EXPECT_EQ(checker.submitted(), 1);
  EXPECT_EQ(core_->dispatcher_for_testing().Totals().acked, 1u);
}

TEST_F(InProcessProbeTest, NeverLeasesMoreThanItsCapacity) {
  std::vector<Monitor> monitors;
  for (int i = 0; i < 5; ++i) {
    monitors.push_back(MakeMonitor("m" + std::to_string(i)));
    monitors.back().frequency = Millis(60'000);
  }
  core_->ReplaceAll(monitors);
  HoldingChecker holding;
  InProcessProbe::Options options;
  options.capacity = 2;
  InProcessProbe probe(*core_, *core_, *core_, clock_, core_.registry(), holding.Checker(),
                       options);
  probe.Start();
  clock_.Advance(std::chrono::minutes(1));
  core_->Tick();
  ASSERT_TRUE(Eventually([&] { return probe.in_flight() == 2; }));
  EXPECT_EQ(core_->dispatcher_for_testing().Totals().queued, 3u);

  for (auto& done : holding.Take()) {
    CheckResult result;
    result.outcome = Outcome::kUp;
    done(std::move(result));
  }
  ASSERT_TRUE(Eventually([&] { return core_->dispatcher_for_testing().Totals().queued == 1; }));
  probe.Stop();
}

TEST_F(InProcessProbeTest, AnItemPastItsDeadlineIsAnsweredAsAProbeErrorNotDown) {
  const Monitor api = MakeMonitor("api");
  ASSERT_TRUE(core_->UpsertMonitor(api).ok());
  clock_.AdvanceTo(*core_->scheduler_for_testing().Find(api.uid)->next_due);
  core_->Tick();                   // queued with nobody to lease it
  clock_.Advance(Millis(10'500));  // the next round is due: this item is stale
  FakeChecker checker(Outcome::kDown);
  InProcessProbe probe(*core_, *core_, *core_, clock_, core_.registry(), checker.Checker(), {});
  probe.Start();
  ASSERT_TRUE(Eventually([&] { return StoredResults(api.uid) == 1; }));
  probe.Stop();
  EXPECT_EQ(checker.submitted(), 0);
  ResultQuery query;
  query.monitor_uid = api.uid;
  auto results = core_.store().Results(query);
  ASSERT_TRUE(results.ok());
  EXPECT_EQ(results->front().outcome, Outcome::kError);
  EXPECT_EQ(core_->Snapshot(api.uid)->state, MonitorState::kPending);
}

TEST_F(InProcessProbeTest, ExportsTheProbeMetricsOfPharosProbe) {
  const Monitor api = MakeMonitor("api");
  ASSERT_TRUE(core_->UpsertMonitor(api).ok());
  auto metrics = [&] { return core_.registry().Expose(); };
  HoldingChecker holding;  // checks held show as in flight
  InProcessProbe::Options options;
  options.capacity = 7;
  InProcessProbe probe(*core_, *core_, *core_, clock_, core_.registry(), holding.Checker(),
                       options);
  EXPECT_EQ(SampleValue(metrics(), "pharos_probe_capacity"), 7.0);
  EXPECT_EQ(SampleValue(metrics(), "pharos_probe_checks_in_flight"), 0.0);
  EXPECT_EQ(SampleValue(metrics(), "pharos_probe_results_pending"), 0.0);
  EXPECT_EQ(SampleValue(metrics(), "pharos_probe_checks_total{outcome=\"down\"}"), 0.0);
  EXPECT_EQ(SampleValue(metrics(), "pharos_probe_operator_errors_total"), 0.0);
  probe.Start();
  ASSERT_TRUE(Eventually(
      [&] { return !core_->dispatcher_for_testing().ConnectedProbes("local").empty(); }));

  clock_.AdvanceTo(*core_->scheduler_for_testing().Find(api.uid)->next_due);
  core_->Tick();
  ASSERT_TRUE(Eventually([&] {
    return SampleValue(metrics(), "pharos_probe_checks_in_flight") == std::optional(1.0);
  }));
  std::vector<std::function<void(CheckResult)>> answers = holding.Take();
  ASSERT_EQ(answers.size(), 1u);
  CheckResult result;
  result.monitor_uid = api.uid;
  result.outcome = Outcome::kDown;
  answers[0](std::move(result));

  ASSERT_TRUE(Eventually([&] { return StoredResults(api.uid) == 1; }));
  ASSERT_TRUE(Eventually([&] {
    return SampleValue(metrics(), "pharos_probe_results_pending") == std::optional(0.0);
  }));
  const std::string exposition = metrics();
  EXPECT_EQ(SampleValue(exposition, "pharos_probe_checks_in_flight"), 0.0);
  EXPECT_EQ(SampleValue(exposition, "pharos_probe_checks_total{outcome=\"down\"}"), 1.0);
  EXPECT_EQ(SampleValue(exposition, "pharos_probe_checks_total{outcome=\"up\"}"), 0.0);
  probe.Stop();
}

TEST_F(InProcessProbeTest, RejectedAndUnstoredResultsCountAsDropped) {
  const Monitor gone = MakeMonitor("gone");
  const Monitor kept = MakeMonitor("kept");
  ASSERT_TRUE(core_->UpsertMonitor(gone).ok());
  ASSERT_TRUE(core_->UpsertMonitor(kept).ok());
  std::mutex mu;
  std::map<std::string, std::function<void(CheckResult)>> pending;  // by monitor uid
  InProcessProbe::Checker holding{
      [&](const std::shared_ptr<const Monitor>& monitor, std::function<void(CheckResult)> done) {
        std::lock_guard lock(mu);
        pending[monitor->uid] = std::move(done);
      },
      [] {}};
  InProcessProbe probe(*core_, *core_, *core_, clock_, core_.registry(), holding, {});
  probe.Start();
  ASSERT_TRUE(Eventually(
      [&] { return !core_->dispatcher_for_testing().ConnectedProbes("local").empty(); }));
  clock_.AdvanceTo(std::max(*core_->scheduler_for_testing().Find(gone.uid)->next_due,
                            *core_->scheduler_for_testing().Find(kept.uid)->next_due));
  core_->Tick();
  ASSERT_TRUE(Eventually([&] {
    std::lock_guard lock(mu);
    return pending.size() == 2;
  }));
  auto answer = [&](const std::string& uid) {
    std::function<void(CheckResult)> done;
    {
      std::lock_guard lock(mu);
      done = std::move(pending.at(uid));
    }
    CheckResult result;
    result.monitor_uid = uid;
    result.outcome = Outcome::kUp;
    done(std::move(result));
  };
  auto metrics = [&] { return core_.registry().Expose(); };

  // Removed while its check ran: the core rejects the result.
  ASSERT_TRUE(core_->RemoveMonitor(gone.uid));
  answer(gone.uid);
  ASSERT_TRUE(Eventually([&] {
    return SampleValue(metrics(), "pharos_probe_results_dropped_total{reason=\"rejected\"}") ==
           std::optional(1.0);
  }));
  // The core stopped before the result arrived: not stored, the item will be redelivered.
  core_->Stop();
  answer(kept.uid);
  const std::string exposition = metrics();
  EXPECT_EQ(SampleValue(exposition, "pharos_probe_operator_errors_total"), 1.0);
  EXPECT_EQ(
      SampleValue(exposition, "pharos_probe_results_dropped_total{reason=\"unacknowledged\"}"),
      1.0);
  EXPECT_EQ(SampleValue(exposition, "pharos_probe_results_pending"), 0.0);
  EXPECT_EQ(SampleValue(exposition, "pharos_probe_checks_total{outcome=\"up\"}"), 2.0);
  probe.Stop();
}

}  // namespace
}  // namespace pharos
