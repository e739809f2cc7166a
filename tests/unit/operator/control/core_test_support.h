#pragma once

// Shared by the OperatorCore, ProbeApi, JsonApi and InProcessProbe tests: a core on a SQLite file
// in a temporary directory, in virtual time (ManualClock), plus Monitor/CheckResult builders and
// a reader for the metrics exposition.

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "common/manual_clock.h"
#include "common/metrics_registry.h"
#include "common/monitor.h"
#include "operator/control/operator_core.h"
#include "operator/control/scheduler.h"
#include "operator/storage/sqlite_result_store.h"
#include "unit/temp_directory.h"

namespace pharos::testing {

// An http monitor "shop/<name>" with uid "uid-<name>", checked every 10 s from `regions`.
inline Monitor MakeMonitor(const std::string& name, std::vector<std::string> regions = {"local"},
                           int failure_threshold = 1, int success_threshold = 1) {
  Monitor monitor;
  monitor.namespace_name = "shop";
  monitor.name = name;
  monitor.uid = "uid-" + name;
  monitor.frequency = Millis(10'000);
  monitor.timeout = Millis(5'000);
  monitor.regions = std::move(regions);
  monitor.http = HttpSpec{};
  monitor.http->url = "http://127.0.0.1:9/" + name;
  monitor.alerting.failure_threshold = failure_threshold;
  monitor.alerting.success_threshold = success_threshold;
  return monitor;
}

inline CheckResult MakeResult(const Monitor& monitor, const std::string& region,
                              Clock::TimePoint scheduled_at, Outcome outcome) {
  CheckResult result = CheckResult::Of(monitor);
  result.region = region;
  result.probe = "test-probe";
  result.item_id = Scheduler::ItemId(monitor.uid, region, scheduled_at);
  result.scheduled_at = scheduled_at;
  result.started_at = scheduled_at + Millis(5);
  result.outcome = outcome;
  if (outcome != Outcome::kError) {
    result.status_code = outcome == Outcome::kDown ? 503 : 200;
    result.timings.dns_us = 100;
    result.timings.connect_us = 200;
    result.timings.first_byte_us = 3'000;
    result.timings.transfer_us = 50;
    result.timings.total_us = 3'350;
  } else {
    result.error = "probe failed";
  }
  return result;
}

// Options that make tests deterministic: no batching delay, no prune, summaries always fresh.
inline OperatorCore::Options TestOptions() {
  OperatorCore::Options options;
  options.writer.max_delay = std::chrono::milliseconds(0);
  options.writer.prune_interval = std::chrono::milliseconds(0);
  options.summary_min_interval = std::chrono::milliseconds(0);
  options.summary_pause = std::chrono::milliseconds(0);
  options.metrics.version = "test";
  return options;
}

// An OperatorCore on a SQLite file, with the parts its owner keeps (the store and the metrics
// registry), as ControlPlaneHost holds them. `->` and `*` reach the core. Reassigning closes the
// old core before its store (so a test can reopen the same file to simulate a restart).
class TestCore {
 public:
  TestCore() = default;
  TestCore(TestCore&& other) noexcept = default;
  TestCore& operator=(TestCore&& other) noexcept {
    core_.reset();
    store_.reset();
    registry_ = std::move(other.registry_);
    store_ = std::move(other.store_);
    core_ = std::move(other.core_);
    return *this;
  }
  ~TestCore() { Close(); }

  // A core on `db_path` (created on first use); empty when opening failed (a test failure).
  static TestCore Open(const Clock& clock, const std::string& db_path,
                       OperatorCore::Options options = TestOptions()) {
    TestCore opened;
    SqliteResultStore::Options store_options;
    store_options.path = db_path;
    store_options.synchronous_full = false;
    auto store = SqliteResultStore::Open(store_options);
    EXPECT_TRUE(store.ok()) << (store.ok() ? "" : store.error());
    if (!store.ok()) {
      return opened;
    }
    opened.registry_ = std::make_unique<MetricsRegistry>();
    opened.store_ = std::move(store).value();
    auto core = OperatorCore::Create(clock, *opened.store_, *opened.registry_, std::move(options));
    EXPECT_TRUE(core.ok()) << (core.ok() ? "" : core.error());
    if (core.ok()) {
      opened.core_ = std::move(core).value();
    }
    return opened;
  }

  explicit operator bool() const { return core_ != nullptr; }
  OperatorCore* operator->() const { return core_.get(); }
  OperatorCore& operator*() const { return *core_; }
  SqliteResultStore& store() const { return *store_; }
  MetricsRegistry& registry() const { return *registry_; }
  // Stops and destroys the core, then closes the store.
  void Close() {
    core_.reset();
    store_.reset();
  }

 private:
  std::unique_ptr<MetricsRegistry> registry_;
  std::unique_ptr<SqliteResultStore> store_;
  std::unique_ptr<OperatorCore> core_;
};

inline TestCore OpenCore(const Clock& clock, const std::string& db_path,
                         OperatorCore::Options options = TestOptions()) {
  return TestCore::Open(clock, db_path, std::move(options));
}

// The value of the sample whose line starts with `series` (name and labels exactly as exposed),
// nullopt when absent.
inline std::optional<double> SampleValue(const std::string& exposition, const std::string& series) {
  std::istringstream lines(exposition);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
        line[series.size()] == ' ') {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return std::nullopt;
}

}  // namespace pharos::testing
