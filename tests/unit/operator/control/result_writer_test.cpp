#include "operator/control/result_writer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <pthread.h>

#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/manual_clock.h"
#include "unit/eventually.h"

namespace pharos {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A ResultStore double: remembers item ids, can be made to fail or to block inside Append.
class FakeStore final : public ResultStore {
 public:
  Result<AppendResult> Append(const std::vector<CheckResult>& results) override {
    std::unique_lock lock(mutex_);
    char name[32] = {};
    pthread_getname_np(pthread_self(), name, sizeof(name));
    thread_names_.insert(name);
    ++entered_;
    changed_.notify_all();
    changed_.wait(lock, [&] { return !blocked_; });
    batch_sizes_.push_back(results.size());
    if (!fail_with_.empty()) return Error{fail_with_};
    AppendResult out;
    for (size_t i = 0; i < results.size(); ++i) {
      if (results[i].region.empty()) {
        out.statuses.push_back(AppendStatus::kRejected);
        out.rejections.push_back(Rejection{i, "region is empty"});
      } else {
        out.statuses.push_back(ids_.insert(results[i].item_id).second ? AppendStatus::kNew
                                                                      : AppendStatus::kDuplicate);
      }
    }
    return out;
  }
  Result<PruneReport> Prune(TimePoint now) override {
    std::lock_guard lock(mutex_);
    prunes_.push_back(now);
    changed_.notify_all();
    return PruneReport{};
  }
  Result<WindowStats> Stats(const StatsQuery&) override { return Error{"unused"}; }
  Result<std::vector<Rollup>> Rollups(const RollupQuery&) override { return Error{"unused"}; }
  Result<std::vector<CheckResult>> Results(const ResultQuery&) override { return Error{"unused"}; }
  Status SaveMonitorState(const MonitorStateSnapshot&, const std::vector<StateEvent>&) override {
    return Error{"unused"};
  }
  Result<std::vector<MonitorStateSnapshot>> LoadMonitorStates() override { return Error{"unused"}; }
  Status ForgetMonitor(std::string_view, TimePoint) override { return Error{"unused"}; }
  Result<std::vector<Incident>> Incidents(const IncidentQuery&) override { return Error{"unused"}; }

  void Block() {
    std::lock_guard lock(mutex_);
    blocked_ = true;
  }
  void Unblock() {
    std::lock_guard lock(mutex_);
    blocked_ = false;
    changed_.notify_all();
  }
  void FailWith(std::string message) {
    std::lock_guard lock(mutex_);
    fail_with_ = std::move(message);
  }
  // Waits (bounded) until Append has been entered `n` times.
  bool WaitEntered(int n) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, std::chrono::seconds(10), [&] { return entered_ >= n; });
  }
  bool WaitPruned() {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, std::chrono::seconds(10), [&] { return !prunes_.empty(); });
  }
  std::vector<size_t> batch_sizes() {
    std::lock_guard lock(mutex_);
    return batch_sizes_;
  }
  std::set<std::string> thread_names() {
    std::lock_guard lock(mutex_);
    return thread_names_;
  }
  std::vector<TimePoint> prunes() {
    std::lock_guard lock(mutex_);
    return prunes_;
  }
  size_t stored() {
    std::lock_guard lock(mutex_);
    return ids_.size();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool blocked_ = false;
  int entered_ = 0;
  std::string fail_with_;
  std::set<std::string> ids_;
  std::vector<size_t> batch_sizes_;
  std::set<std::string> thread_names_;
  std::vector<TimePoint> prunes_;
};

std::vector<CheckResult> Results(std::initializer_list<const char*> ids) {
  std::vector<CheckResult> out;
  for (const char* id : ids) {
    CheckResult r;
    r.monitor_uid = "uid-1";
    r.region = "eu";
    r.item_id = id;
    r.scheduled_at = ManualClock::DefaultStart();
    out.push_back(r);
  }
  return out;
}

ResultWriter::Options Lingering() {
  ResultWriter::Options options;
  options.max_delay = hours(1);  // batches close only on size, Flush or Stop
  options.prune_interval = milliseconds(0);
  return options;
}

// Collects what `done` callbacks received.
struct Outcomes {
  std::mutex mutex;
  std::vector<Result<AppendResult>> received;
  ResultWriter::Done Callback() {
    return [this](const Result<AppendResult>& r) {
      std::lock_guard lock(mutex);
      received.push_back(r);
    };
  }
};

TEST(ResultWriterTest, AppendAndWaitReportsWhatWasNew) {
  FakeStore store;
  ManualClock clock;
  ResultWriter::Options options;
  options.max_delay = milliseconds(0);
  options.prune_interval = milliseconds(0);
  ResultWriter writer(store, clock, options);
  Result<AppendResult> first = writer.AppendAndWait(Results({"a", "b"}));
  ASSERT_TRUE(first.ok()) << first.error();
  EXPECT_THAT(first->statuses, ElementsAre(AppendStatus::kNew, AppendStatus::kNew));
  Result<AppendResult> again = writer.AppendAndWait(Results({"a"}));
  ASSERT_TRUE(again.ok());
  EXPECT_THAT(again->statuses, ElementsAre(AppendStatus::kDuplicate));
}

TEST(ResultWriterTest, CommitsOnItsOwnNamedThreadBeforeAcknowledging) {
  FakeStore store;
  ManualClock clock;
  ResultWriter writer(store, clock, Lingering());
  size_t stored_when_done = 0;
  std::string thread_when_done;
  ASSERT_TRUE(writer
                  .Submit(Results({"a", "b", "c"}),
                          [&](const Result<AppendResult>&) {
                            stored_when_done = store.stored();
                            char name[32] = {};
                            pthread_getname_np(pthread_self(), name, sizeof(name));
                            thread_when_done = name;
                          })
                  .ok());
  writer.Flush();
  EXPECT_EQ(stored_when_done, 3u);  // the callback (the probe's ack) came after the commit
  EXPECT_EQ(thread_when_done, "pharos-store");
  EXPECT_THAT(store.thread_names(), ElementsAre("pharos-store"));
}

TEST(ResultWriterTest, BatchesSeveralSubmissionsInOneCommit) {
  FakeStore store;
  ManualClock clock;
  std::vector<ResultWriter::CommitReport> reports;
  ResultWriter writer(store, clock, Lingering(),
                      [&](const ResultWriter::CommitReport& r) { reports.push_back(r); });
  Outcomes outcomes;
  ASSERT_TRUE(writer.Submit(Results({"a", "b"}), outcomes.Callback()).ok());
  ASSERT_TRUE(writer.Submit(Results({"c", "a"}), outcomes.Callback()).ok());
  ASSERT_TRUE(writer.Submit(Results({"d"}), outcomes.Callback()).ok());
  EXPECT_EQ(writer.queued_results(), 5u);
  writer.Flush();
  EXPECT_EQ(writer.queued_results(), 0u);
  EXPECT_THAT(store.batch_sizes(), ElementsAre(5u));
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_TRUE(reports[0].ok);
  EXPECT_EQ(reports[0].results, 5u);
  EXPECT_EQ(reports[0].new_results, 4u);
  EXPECT_EQ(reports[0].submissions, 3u);
  EXPECT_GE(reports[0].seconds, 0.0);
  // Each submitter gets the statuses of its own results.
  ASSERT_EQ(outcomes.received.size(), 3u);
  EXPECT_THAT(outcomes.received[0]->statuses, ElementsAre(AppendStatus::kNew, AppendStatus::kNew));
  EXPECT_THAT(outcomes.received[1]->statuses,
              ElementsAre(AppendStatus::kNew, AppendStatus::kDuplicate));
  EXPECT_THAT(outcomes.received[2]->statuses, ElementsAre(AppendStatus::kNew));
}

TEST(ResultWriterTest, BatchesNeverExceedTheMaximum) {
  FakeStore store;
  ManualClock clock;
  ResultWriter::Options options = Lingering();
  options.max_batch_results = 4;
  ResultWriter writer(store, clock, options);
  for (const char* prefix : {"a", "b", "c", "d", "e"}) {
    const std::string x = std::string(prefix) + "1";
    const std::string y = std::string(prefix) + "2";
    ASSERT_TRUE(writer.Submit(Results({x.c_str(), y.c_str()}), nullptr).ok());
  }
  writer.Flush();
  EXPECT_THAT(store.batch_sizes(), ElementsAre(4u, 4u, 2u));
}

TEST(ResultWriterTest, RejectionsAreReportedToTheirOwnSubmitter) {
  FakeStore store;
  ManualClock clock;
  ResultWriter writer(store, clock, Lingering());
  Outcomes outcomes;
  std::vector<CheckResult> first = Results({"a", "b"});
  first[1].region.clear();
  std::vector<CheckResult> second = Results({"c", "d"});
  second[0].region.clear();
  ASSERT_TRUE(writer.Submit(first, outcomes.Callback()).ok());
  ASSERT_TRUE(writer.Submit(second, outcomes.Callback()).ok());
  writer.Flush();
  ASSERT_EQ(outcomes.received.size(), 2u);
  ASSERT_EQ(outcomes.received[0]->rejections.size(), 1u);
  EXPECT_EQ(outcomes.received[0]->rejections[0].index, 1u);
  ASSERT_EQ(outcomes.received[1]->rejections.size(), 1u);
  EXPECT_EQ(outcomes.received[1]->rejections[0].index, 0u);
  EXPECT_THAT(outcomes.received[1]->statuses,
              ElementsAre(AppendStatus::kRejected, AppendStatus::kNew));
}

TEST(ResultWriterTest, AFullQueueRefusesAtOnce) {
  FakeStore store;
  ManualClock clock;
  ResultWriter::Options options;
  options.max_delay = milliseconds(0);
  options.max_queued_results = 3;
  options.prune_interval = milliseconds(0);
  ResultWriter writer(store, clock, options);
  store.Block();
  Outcomes outcomes;
  ASSERT_TRUE(writer.Submit(Results({"a", "b"}), outcomes.Callback()).ok());
  ASSERT_TRUE(store.WaitEntered(1));  // the writer is stuck committing "a", "b"
  ASSERT_TRUE(writer.Submit(Results({"c", "d"}), outcomes.Callback()).ok());
  Status refused = writer.Submit(Results({"e", "f"}), outcomes.Callback());
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.error(), HasSubstr("busy"));
  store.Unblock();
  writer.Flush();
  EXPECT_EQ(outcomes.received.size(), 2u);  // the refused submission never gets a callback
  EXPECT_EQ(store.stored(), 4u);
}

TEST(ResultWriterTest, WithoutHoldingAFailedCommitReachesEverySubmitter) {
  FakeStore store;
  store.FailWith("disk I/O error");
  ManualClock clock;
  std::vector<ResultWriter::CommitReport> reports;
  ResultWriter::Options options = Lingering();
  options.max_held_results = 0;
  ResultWriter writer(store, clock, options,
                      [&](const ResultWriter::CommitReport& r) { reports.push_back(r); });
  Outcomes outcomes;
  ASSERT_TRUE(writer.Submit(Results({"a"}), outcomes.Callback()).ok());
  ASSERT_TRUE(writer.Submit(Results({"b"}), outcomes.Callback()).ok());
  writer.Flush();
  ASSERT_EQ(outcomes.received.size(), 2u);
  for (const auto& received : outcomes.received) {
    ASSERT_FALSE(received.ok());
    EXPECT_THAT(received.error(), HasSubstr("disk I/O error"));
  }
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_FALSE(reports[0].ok);
}

using ::pharos::testing::Eventually;

ResultWriter::Options Holding(size_t max_held) {
  ResultWriter::Options options = Lingering();
  options.max_held_results = max_held;
  options.retry_min = milliseconds(1);
  options.retry_max = milliseconds(4);
  return options;
}

TEST(ResultWriterTest, AFailingStoreHoldsResultsAndAnswersAtOnce) {
  FakeStore store;
  store.FailWith("database or disk is full");
  ManualClock clock;
  ResultWriter::Options options = Holding(10);
  options.retry_min = hours(1);  // no retry during the test
  options.retry_max = hours(1);
  ResultWriter writer(store, clock, options);
  Outcomes outcomes;
  ASSERT_TRUE(writer.Submit(Results({"a", "b"}), outcomes.Callback()).ok());
  writer.Flush();
  ASSERT_TRUE(writer.Submit(Results({"c"}), outcomes.Callback()).ok());
  writer.Flush();  // returns although nothing is committed: the results are held
  ASSERT_EQ(outcomes.received.size(), 2u);
  for (const auto& received : outcomes.received) {
    ASSERT_TRUE(received.ok());
    EXPECT_TRUE(received->held);
    EXPECT_EQ(received->Count(AppendStatus::kNew), received->statuses.size());
  }
  EXPECT_EQ(store.batch_sizes(), std::vector<size_t>{2}) << "held results do not touch the store "
                                                            "until the retry is due";
  const ResultWriter::Health health = writer.health();
  EXPECT_TRUE(health.failing);
  EXPECT_THAT(health.error, HasSubstr("disk is full"));
  EXPECT_EQ(health.held_results, 3u);
  EXPECT_EQ(health.failed_writes, 1u);
  EXPECT_TRUE(writer.failing());
}

TEST(ResultWriterTest, HeldResultsAreWrittenOldestFirstWhenTheStoreRecovers) {
  FakeStore store;
  store.FailWith("disk I/O error");
  ManualClock clock;
  ResultWriter::Options options = Holding(100);
  options.max_batch_results = 2;
  ResultWriter writer(store, clock, options);
  Outcomes outcomes;
  ASSERT_TRUE(writer.Submit(Results({"a", "b"}), outcomes.Callback()).ok());
  writer.Flush();
  ASSERT_TRUE(writer.Submit(Results({"c"}), outcomes.Callback()).ok());
  writer.Flush();
  ASSERT_TRUE(Eventually([&] { return writer.health().failed_writes >= 3; }))
      << "retries go on while the store fails";
  EXPECT_EQ(store.stored(), 0u);
  store.FailWith("");
  ASSERT_TRUE(Eventually([&] { return !writer.failing(); }));
  EXPECT_EQ(store.stored(), 3u);
  EXPECT_EQ(writer.health().held_results, 0u);
  // New results are committed (not held) again.
  Outcomes after;
  ASSERT_TRUE(writer.Submit(Results({"d"}), after.Callback()).ok());
  writer.Flush();
  ASSERT_EQ(after.received.size(), 1u);
  ASSERT_TRUE(after.received[0].ok());
  EXPECT_FALSE(after.received[0]->held);
  EXPECT_EQ(store.stored(), 4u);
}

TEST(ResultWriterTest, BeyondTheHoldLimitSubmissionsAreRefusedAsUnavailable) {
  FakeStore store;
  store.FailWith("database is locked");
  ManualClock clock;
  ResultWriter::Options options = Holding(2);
  options.retry_min = hours(1);
  options.retry_max = hours(1);
  ResultWriter writer(store, clock, options);
  Outcomes outcomes;
  ASSERT_TRUE(writer.Submit(Results({"a", "b"}), outcomes.Callback()).ok());
  writer.Flush();
  ASSERT_TRUE(writer.Submit(Results({"c"}), outcomes.Callback()).ok());
  writer.Flush();
  ASSERT_EQ(outcomes.received.size(), 2u);
  EXPECT_TRUE(outcomes.received[0].ok());
  ASSERT_FALSE(outcomes.received[1].ok());
  EXPECT_EQ(outcomes.received[1].error_kind(), ErrorKind::kUnavailable);
  EXPECT_THAT(outcomes.received[1].error(), HasSubstr("database is locked"));
  EXPECT_EQ(writer.health().refused_results, 1u);
  EXPECT_EQ(writer.health().held_results, 2u);
}

TEST(ResultWriterTest, StopTriesOnceMoreToWriteHeldResults) {
  FakeStore store;
  store.FailWith("disk I/O error");
  ManualClock clock;
  ResultWriter::Options options = Holding(10);
  options.retry_min = hours(1);
  options.retry_max = hours(1);
  ResultWriter writer(store, clock, options);
  Outcomes outcomes;
  ASSERT_TRUE(writer.Submit(Results({"a"}), outcomes.Callback()).ok());
  writer.Flush();
  ASSERT_TRUE(writer.failing());
  store.FailWith("");
  writer.Stop();
  EXPECT_EQ(store.stored(), 1u);
  EXPECT_FALSE(writer.failing());
}

TEST(ResultWriterTest, StopCommitsWhatIsQueuedThenRefuses) {
  FakeStore store;
  ManualClock clock;
  ResultWriter writer(store, clock, Lingering());
  Outcomes outcomes;
  ASSERT_TRUE(writer.Submit(Results({"a"}), outcomes.Callback()).ok());
  writer.Stop();
  ASSERT_EQ(outcomes.received.size(), 1u);
  EXPECT_TRUE(outcomes.received[0].ok());
  Status after = writer.Submit(Results({"b"}), outcomes.Callback());
  ASSERT_FALSE(after.ok());
  EXPECT_THAT(after.error(), HasSubstr("stopped"));
  writer.Flush();  // returns at once: nothing pending
  writer.Stop();   // idempotent
}

TEST(ResultWriterTest, PrunesWithTheClocksTime) {
  FakeStore store;
  ManualClock clock(ManualClock::DefaultStart() + hours(24 * 90));
  ResultWriter::Options options;
  options.prune_interval = hours(1);
  ResultWriter writer(store, clock, options);
  ASSERT_TRUE(store.WaitPruned());
  EXPECT_THAT(store.prunes(), ElementsAre(ManualClock::DefaultStart() + hours(24 * 90)));
}

}  // namespace
}  // namespace pharos
