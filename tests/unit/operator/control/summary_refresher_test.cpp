// SummaryRefresher in virtual time: the pace of its calls (batches of `batch`, `pause` apart,
// as fast as the store answers), failures keeping the last figures, and, through a real
// OperatorCore on a fake history store, monitors added or removed while a call runs, results
// arriving during a call, and readers that never wait for the store.

#include "operator/control/summary_refresher.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/manual_clock.h"
#include "common/metrics_registry.h"
#include "operator/control/operator_core.h"
#include "unit/operator/control/core_test_support.h"
#include "unit/operator/control/empty_result_store.h"

namespace pharos {
namespace {

using ::testing::ElementsAre;
using testing::MakeMonitor;
using testing::MakeResult;
using testing::SampleValue;
using TimePoint = Clock::TimePoint;

// A history store whose SummarizeMany costs `per_monitor` of virtual time per monitor (the
// clock is advanced during the call, as a remote store's latency would pass), answers
// 24 h uptime `up / (up + 1)`, can fail, and runs `during_call` while it is "computing". Only
// what OperatorCore needs of a ResultStore does something; nothing is stored.
// Thread-safety: SummarizeMany may run on another thread than the test's while the gate is
// closed; the rest is used from the test's thread.
class FakeHistoryStore final : public testing::EmptyResultStore {
 public:
  explicit FakeHistoryStore(ManualClock& clock) : clock_(clock) {}

  Millis per_monitor{1};
  int64_t up = 3;  // 75%
  bool fail = false;
  std::function<void()> during_call;
  std::vector<std::vector<std::string>> calls;  // the uids of each call
  std::vector<TimePoint> call_starts;

  // Holds the next SummarizeMany until Release (it signals when it is waiting).
  void CloseGate() {
    std::lock_guard lock(mu_);
    gated_ = true;
  }
  void WaitUntilHeld() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return held_; });
  }
  void Release() {
    std::lock_guard lock(mu_);
    gated_ = false;
    cv_.notify_all();
  }

  Result<std::vector<MonitorSummary>> SummarizeMany(const std::vector<std::string>& uids,
                                                    TimePoint now) override {
    {
      std::unique_lock lock(mu_);
      held_ = gated_;
      cv_.notify_all();
      cv_.wait(lock, [&] { return !gated_; });
      held_ = false;
    }
    calls.push_back(uids);
    call_starts.push_back(now);
    clock_.Advance(per_monitor * static_cast<int64_t>(uids.size()));
    if (during_call) {
      during_call();
    }
    if (fail) {
      return Error{"ClickHouse answered 503 (test)", ErrorKind::kUnavailable};
    }
    std::vector<MonitorSummary> out(uids.size());
    for (MonitorSummary& summary : out) {
      summary.last_24h.up = up;
      summary.last_24h.down = 1;
    }
    return out;
  }

 private:
  ManualClock& clock_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool gated_ = false;  // guarded by mu_
  bool held_ = false;   // guarded by mu_
};

// The summaries of `count` monitors "m00000".., as the core keeps them (due rules included).
class FakeTarget final : public SummaryRefresher::Target {
 public:
  struct Entry {
    bool has = false;
    TimePoint at{};
    bool dirty = true;
    int64_t up = 0;
  };

  explicit FakeTarget(size_t count) {
    for (size_t i = 0; i < count; ++i) {
      char uid[16];
      std::snprintf(uid, sizeof uid, "m%05zu", i);
      entries[uid] = Entry{};
    }
  }

  Millis max_age{60'000};
  Millis min_interval{5'000};
  std::map<std::string, Entry> entries;

  Due TakeDueSummaries(size_t max, TimePoint now) override {
    Due due;
    due.monitors = entries.size();
    std::vector<std::pair<TimePoint, std::string>> stale;
    for (auto& [uid, entry] : entries) {
      if (!entry.has) {
        ++due.missing;
      } else if (!due.oldest || entry.at < *due.oldest) {
        due.oldest = entry.at;
      }
      if (!entry.has || now - entry.at >= max_age ||
          (entry.dirty && now - entry.at >= min_interval)) {
        stale.emplace_back(entry.has ? entry.at : TimePoint::min(), uid);
      }
    }
    std::sort(stale.begin(), stale.end());
    for (size_t i = 0; i < stale.size() && i < max; ++i) {
      entries[stale[i].second].dirty = false;
      due.uids.push_back(stale[i].second);
    }
    return due;
  }
  void ApplySummaries(const std::vector<std::string>& uids,
                      const std::vector<MonitorSummary>& summaries, TimePoint at) override {
    for (size_t i = 0; i < uids.size(); ++i) {
      Entry& entry = entries[uids[i]];
      entry.has = true;
      entry.at = at;
      entry.up = summaries[i].last_24h.up;
    }
  }
  void ReleaseSummaries(const std::vector<std::string>& uids) override {
    for (const std::string& uid : uids) entries[uid].dirty = true;
  }
};

SummaryRefresher::Options Pace(size_t batch, Millis pause) {
  SummaryRefresher::Options options;
  options.batch = batch;
  options.pause = pause;
  options.idle = Millis(1'000);
  options.retry = Millis(5'000);
  return options;
}

// Steps the refresher as its thread would (sleeping until the returned time) until `until`.
void RunUntil(ManualClock& clock, SummaryRefresher& refresher, TimePoint until) {
  while (clock.Now() < until) {
    const TimePoint next = refresher.Step();
    clock.AdvanceTo(std::min(std::max(next, clock.Now()), until));
  }
}

class SummaryRefresherTest : public ::testing::Test {
 protected:
  std::string Metrics() { return registry_.Expose(); }

  ManualClock clock_;
  FakeHistoryStore store_{clock_};
  MetricsRegistry registry_;
};

TEST_F(SummaryRefresherTest, RefreshesEveryMonitorInCallsOfTheBatchAsFastAsTheStoreAnswers) {
  FakeTarget target(5'000);
  SummaryRefresher refresher(clock_, store_, target, registry_, Pace(2'000, Millis(0)));
  const TimePoint start = clock_.Now();
  RunUntil(clock_, refresher, start + Millis(10'000));

  // 1 ms a monitor: 2,000 + 2,000 + 1,000 in 5 s, not 200 a second (25 s).
  ASSERT_EQ(store_.calls.size(), 3u);
  EXPECT_EQ(store_.calls[0].size(), 2'000u);
  EXPECT_EQ(store_.calls[1].size(), 2'000u);
  EXPECT_EQ(store_.calls[2].size(), 1'000u);
  EXPECT_EQ(store_.call_starts[1] - start, Millis(2'000));
  EXPECT_EQ(store_.call_starts[2] - start, Millis(4'000));
  ASSERT_TRUE(refresher.last_sweep().has_value());
  EXPECT_EQ(*refresher.last_sweep(), Millis(5'000));
  EXPECT_EQ(SampleValue(Metrics(), "pharos_uptime_sweep_seconds"), 5.0);
  EXPECT_EQ(SampleValue(Metrics(), "pharos_uptime_refreshed_total"), 5'000.0);
  EXPECT_EQ(SampleValue(Metrics(), "pharos_uptime_missing"), 0.0);
  // Nothing was due for the 5 s after: the oldest summary is from the first call.
  EXPECT_EQ(SampleValue(Metrics(), "pharos_uptime_oldest_age_seconds"), 10.0);
}

TEST_F(SummaryRefresherTest, PausesBetweenCallsAndLooksAgainWhenIdle) {
  FakeTarget target(5'000);
  SummaryRefresher refresher(clock_, store_, target, registry_, Pace(2'000, Millis(1'000)));
  const TimePoint start = clock_.Now();
  RunUntil(clock_, refresher, start + Millis(30'000));

  ASSERT_EQ(store_.calls.size(), 3u) << "nothing is due again before min_interval/max_age";
  EXPECT_EQ(store_.call_starts[1] - start, Millis(3'000));
  EXPECT_EQ(store_.call_starts[2] - start, Millis(6'000));
  EXPECT_EQ(*refresher.last_sweep(), Millis(7'000));

  // A monitor with new results is due after min_interval; it is seen within `idle`.
  target.entries["m00042"].dirty = true;
  const TimePoint marked = clock_.Now();
  RunUntil(clock_, refresher, marked + Millis(2'000));
  ASSERT_EQ(store_.calls.size(), 4u);
  EXPECT_THAT(store_.calls[3], ElementsAre("m00042"));
  EXPECT_LE(store_.call_starts[3] - marked, Millis(1'000));
}

TEST_F(SummaryRefresherTest, EveryMonitorIsRefreshedAgainWithinMaxAge) {
  FakeTarget target(3);
  SummaryRefresher refresher(clock_, store_, target, registry_, Pace(200, Millis(1'000)));
  const TimePoint start = clock_.Now();
  RunUntil(clock_, refresher, start + Millis(121'000));
  // At start, after 60 s and after 120 s (+ the call's 3 ms), never in between.
  ASSERT_EQ(store_.calls.size(), 3u);
  EXPECT_GE(store_.call_starts[1] - start, Millis(60'000));
  EXPECT_LE(store_.call_starts[1] - start, Millis(61'003));
  EXPECT_EQ(*refresher.last_sweep(),
            store_.call_starts[2] + Millis(3) - store_.call_starts[1] - Millis(3));
}

TEST_F(SummaryRefresherTest, AFailingStoreKeepsTheLastFiguresAndIsRetriedLater) {
  FakeTarget target(10);
  SummaryRefresher refresher(clock_, store_, target, registry_, Pace(200, Millis(0)));
  refresher.Step();
  ASSERT_EQ(store_.calls.size(), 1u);
  ASSERT_EQ(target.entries["m00003"].up, 3);
  const TimePoint first = target.entries["m00003"].at;

  store_.up = 1;
  store_.fail = true;
  target.entries["m00003"].dirty = true;
  clock_.Advance(Millis(6'000));
  const TimePoint next = refresher.Step();
  ASSERT_EQ(store_.calls.size(), 2u);
  EXPECT_EQ(target.entries["m00003"].up, 3) << "the last figures stay";
  EXPECT_EQ(target.entries["m00003"].at, first);
  EXPECT_TRUE(target.entries["m00003"].dirty) << "released: due again";
  EXPECT_EQ(next, clock_.Now() + Millis(5'000)) << "retried after `retry`";
  EXPECT_EQ(SampleValue(Metrics(), "pharos_uptime_refresh_failures_total"), 1.0);
  EXPECT_EQ(refresher.Step(), next) << "no call before the retry time";
  EXPECT_EQ(store_.calls.size(), 2u);

  store_.fail = false;
  clock_.AdvanceTo(next);
  refresher.Step();
  ASSERT_EQ(store_.calls.size(), 3u);
  EXPECT_EQ(target.entries["m00003"].up, 1);
  EXPECT_EQ(SampleValue(Metrics(), "pharos_uptime_refresh_failures_total"), 1.0);
}

// --- Through OperatorCore ---

class CoreSummariesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    OperatorCore::Options options = testing::TestOptions();
    options.summary_batch = 2;
    options.summary_min_interval = Millis(5'000);
    auto core = OperatorCore::Create(clock_, store_, registry_, options);
    ASSERT_TRUE(core.ok()) << core.error();
    core_ = std::move(core).value();
  }

  std::optional<double> Uptime(const std::string& name) {
    std::optional<MonitorStatus> status = core_->Snapshot("uid-" + name);
    return status ? status->uptime_24h : std::nullopt;
  }

  ManualClock clock_;
  FakeHistoryStore store_{clock_};
  MetricsRegistry registry_;
  std::unique_ptr<OperatorCore> core_;
};

TEST_F(CoreSummariesTest, ReadersNeverWaitForTheStore) {
  ASSERT_TRUE(core_->UpsertMonitor(MakeMonitor("api")).ok());
  EXPECT_EQ(Uptime("api"), std::nullopt) << "not computed yet, and not computed by the reader";
  EXPECT_TRUE(store_.calls.empty());
  EXPECT_EQ(SampleValue(registry_.Expose(), "pharos_uptime_missing"), 0.0) << "no look yet";

  core_->Tick();
  ASSERT_EQ(store_.calls.size(), 1u);
  EXPECT_EQ(Uptime("api"), 75.0);
}

TEST_F(CoreSummariesTest, IngestionAndReadersGoOnWhileACallIsInFlight) {
  const Monitor api = MakeMonitor("api");
  ASSERT_TRUE(core_->UpsertMonitor(api).ok());
  core_->Tick();
  ASSERT_EQ(Uptime("api"), 75.0);

  store_.CloseGate();
  store_.up = 1;
  clock_.Advance(Millis(60'000));
  std::thread refresher([&] { core_->Tick(); });
  store_.WaitUntilHeld();
  // The call holds no core lock: results are stored and judged, readers answer.
  Result<IngestReport> report =
      core_->IngestAndWait({MakeResult(api, "local", clock_.Now(), Outcome::kUp)});
  EXPECT_TRUE(report.ok());
  EXPECT_EQ(Uptime("api"), 75.0) << "the last figures until the call answers";
  EXPECT_EQ(core_->SnapshotAll().size(), 1u);
  store_.Release();
  refresher.join();
  EXPECT_EQ(Uptime("api"), 50.0);
}

TEST_F(CoreSummariesTest, AResultStoredDuringACallMakesTheSummaryDueAgain) {
  const Monitor api = MakeMonitor("api");
  ASSERT_TRUE(core_->UpsertMonitor(api).ok());
  store_.during_call = [&] {
    EXPECT_TRUE(
        core_->IngestAndWait({MakeResult(api, "local", clock_.Now(), Outcome::kDown)}).ok());
  };
  core_->Tick();
  store_.during_call = nullptr;
  ASSERT_EQ(store_.calls.size(), 1u);
  clock_.Advance(Millis(5'000));  // summary_min_interval
  core_->Tick();
  ASSERT_EQ(store_.calls.size(), 2u) << "the summary may lack that result: computed again";
  EXPECT_THAT(store_.calls[1], ElementsAre(api.uid));
  clock_.Advance(Millis(5'000));
  core_->Tick();
  EXPECT_EQ(store_.calls.size(), 2u) << "nothing new: not due before summary_max_age";
}

TEST_F(CoreSummariesTest, MonitorsAddedOrRemovedDuringACall) {
  for (const char* name : {"a", "b", "c"}) {
    ASSERT_TRUE(core_->UpsertMonitor(MakeMonitor(name)).ok());
  }
  store_.during_call = [&] {
    store_.during_call = nullptr;
    core_->RemoveMonitor("uid-a");
    ASSERT_TRUE(core_->UpsertMonitor(MakeMonitor("d")).ok());
  };
  core_->Tick();  // a and b (batch 2); a is gone when the answer comes
  ASSERT_EQ(store_.calls.size(), 1u);
  EXPECT_THAT(store_.calls[0], ElementsAre("uid-a", "uid-b"));
  EXPECT_FALSE(core_->Snapshot("uid-a").has_value());
  EXPECT_EQ(Uptime("b"), 75.0);

  core_->Tick();  // the missing ones: c and d, added during the call
  ASSERT_EQ(store_.calls.size(), 2u);
  EXPECT_THAT(store_.calls[1], ElementsAre("uid-c", "uid-d"));
  EXPECT_EQ(Uptime("d"), 75.0);
  core_->Tick();
  EXPECT_EQ(store_.calls.size(), 2u);
  EXPECT_EQ(SampleValue(registry_.Expose(), "pharos_uptime_missing"), 0.0);
}

TEST_F(CoreSummariesTest, AFailedCallKeepsEveryMonitorsFigures) {
  ASSERT_TRUE(core_->UpsertMonitor(MakeMonitor("api")).ok());
  core_->Tick();
  ASSERT_EQ(Uptime("api"), 75.0);
  store_.fail = true;
  store_.up = 1;
  clock_.Advance(Millis(60'000));
  core_->Tick();
  ASSERT_EQ(store_.calls.size(), 2u);
  EXPECT_EQ(Uptime("api"), 75.0);
  EXPECT_EQ(SampleValue(registry_.Expose(), "pharos_uptime_refresh_failures_total"), 1.0);
  // Computed when the first call began; each call costs 1 ms of virtual time.
  EXPECT_DOUBLE_EQ(*SampleValue(registry_.Expose(), "pharos_uptime_oldest_age_seconds"), 60.002);
  store_.fail = false;
  clock_.Advance(Millis(5'000));  // retry
  core_->Tick();
  EXPECT_EQ(Uptime("api"), 50.0);
}

}  // namespace
}  // namespace pharos
