#include "operator/kube/rate_limited_work_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <thread>
#include <vector>

#include "common/manual_clock.h"

namespace pharos {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(RateLimitedWorkQueueTest, AddingAQueuedKeyAgainDoesNothing) {
  ManualClock clock;
  RateLimitedWorkQueue queue(clock);
  queue.Add("ns/a");
  queue.Add("ns/b");
  queue.Add("ns/a");
  EXPECT_EQ(queue.Len(), 2u);
  EXPECT_EQ(queue.TryGet(), "ns/a");
  EXPECT_EQ(queue.TryGet(), "ns/b");
  EXPECT_EQ(queue.TryGet(), std::nullopt);
}

TEST(RateLimitedWorkQueueTest, AKeyAddedWhileProcessingIsRequeuedAfterDone) {
  ManualClock clock;
  RateLimitedWorkQueue queue(clock);
  queue.Add("k");
  ASSERT_EQ(queue.TryGet(), "k");
  queue.Add("k");
  queue.Add("k");
  EXPECT_EQ(queue.TryGet(), std::nullopt) << "must not be handed to a second worker";
  EXPECT_EQ(queue.ProcessingLen(), 1u);
  queue.Done("k");
  EXPECT_EQ(queue.TryGet(), "k");
  queue.Done("k");
  EXPECT_EQ(queue.TryGet(), std::nullopt);
}

TEST(RateLimitedWorkQueueTest, AddAfterWaitsForTheClockAndKeepsTheEarlierTime) {
  ManualClock clock;
  RateLimitedWorkQueue queue(clock);
  queue.AddAfter("k", seconds(10));
  queue.AddAfter("k", seconds(30));
  queue.AddAfter("other", milliseconds(0));  // zero delay: at once
  EXPECT_EQ(queue.TryGet(), "other");
  EXPECT_EQ(queue.WaitingLen(), 1u);
  EXPECT_EQ(queue.NextReadyIn(), seconds(10));
  clock.Advance(seconds(9));
  EXPECT_EQ(queue.TryGet(), std::nullopt);
  clock.Advance(seconds(1));
  EXPECT_EQ(queue.TryGet(), "k");
  queue.Done("k");
  clock.Advance(seconds(60));
  EXPECT_EQ(queue.TryGet(), std::nullopt) << "the later AddAfter was merged into the earlier";
}

TEST(RateLimitedWorkQueueTest, EarlierAddAfterMovesTheKeyForward) {
  ManualClock clock;
  RateLimitedWorkQueue queue(clock);
  queue.AddAfter("k", seconds(30));
  queue.AddAfter("k", seconds(5));
  clock.Advance(seconds(5));
  EXPECT_EQ(queue.TryGet(), "k");
}

TEST(RateLimitedWorkQueueTest, PerItemBackoffDoublesFrom5msAndForgetResets) {
  ManualClock clock;
  RateLimitedWorkQueue queue(clock);
  const int64_t expected_ms[] = {5, 10, 20, 40, 80};
  for (int64_t want : expected_ms) {
    queue.AddRateLimited("k");
    EXPECT_EQ(std::chrono::round<milliseconds>(*queue.NextReadyIn()), milliseconds(want));
    clock.Advance(milliseconds(want - 1));
    EXPECT_EQ(queue.TryGet(), std::nullopt);
    clock.Advance(milliseconds(1));
    ASSERT_EQ(queue.TryGet(), "k");
    queue.Done("k");
  }
  EXPECT_EQ(queue.NumRequeues("k"), 5);
  queue.Forget("k");
  EXPECT_EQ(queue.NumRequeues("k"), 0);
  queue.AddRateLimited("k");
  EXPECT_EQ(std::chrono::round<milliseconds>(*queue.NextReadyIn()), milliseconds(5));
}

TEST(RateLimitedWorkQueueTest, PerItemBackoffIsCappedAt1000Seconds) {
  ManualClock clock;
  RateLimitedWorkQueue queue(clock);
  for (int i = 0; i < 40; ++i) {
    queue.AddRateLimited("k");
    clock.Advance(seconds(1001));
    ASSERT_EQ(queue.TryGet(), "k");
    queue.Done("k");
  }
  queue.AddRateLimited("k");
  EXPECT_EQ(*queue.NextReadyIn(), seconds(1000));
}

TEST(RateLimitedWorkQueueTest, OverallBucketAllowsBurst100Then10PerSecond) {
  ManualClock clock;
  RateLimitedWorkQueue queue(clock);
  for (int i = 0; i < 100; ++i) queue.AddRateLimited("key-" + std::to_string(i));
  // Each of the 100 gets only its own 5 ms first-failure delay.
  EXPECT_EQ(std::chrono::round<milliseconds>(*queue.NextReadyIn()), milliseconds(5));
  queue.AddRateLimited("key-100");
  queue.AddRateLimited("key-101");
  clock.Advance(milliseconds(5));
  int ready = 0;
  while (auto key = queue.TryGet()) {
    ++ready;
    queue.Done(*key);
  }
  EXPECT_EQ(ready, 100);
  EXPECT_EQ(queue.WaitingLen(), 2u);
  clock.Advance(milliseconds(95));  // 100 ms after the bucket ran dry: one more token
  EXPECT_EQ(queue.TryGet(), "key-100");
  EXPECT_EQ(queue.TryGet(), std::nullopt);
  clock.Advance(milliseconds(100));
  EXPECT_EQ(queue.TryGet(), "key-101");
}

TEST(RateLimitedWorkQueueTest, ShutDownWakesWorkersAndRefusesNewKeys) {
  ManualClock clock;
  RateLimitedWorkQueue queue(clock);
  std::atomic<bool> got_nullopt{false};
  std::thread worker([&] { got_nullopt = !queue.Get().has_value(); });
  queue.AddAfter("later", seconds(100));
  queue.ShutDown();
  worker.join();
  EXPECT_TRUE(got_nullopt);
  queue.Add("k");
  EXPECT_EQ(queue.Len(), 0u);
  EXPECT_EQ(queue.WaitingLen(), 0u);
}

TEST(RateLimitedWorkQueueTest, ShutDownStillHandsOutReadyKeys) {
  ManualClock clock;
  RateLimitedWorkQueue queue(clock);
  queue.Add("a");
  queue.ShutDown();
  EXPECT_EQ(queue.Get(), "a");
  EXPECT_EQ(queue.Get(), std::nullopt);
}

TEST(RateLimitedWorkQueueTest, GetBlocksUntilAKeyIsAdded) {
  SystemClock clock;
  RateLimitedWorkQueue queue(clock);
  std::optional<std::string> got;
  std::thread worker([&] { got = queue.Get(); });
  queue.Add("k");
  worker.join();
  EXPECT_EQ(got, "k");
}

TEST(RateLimitedWorkQueueTest, NoKeyIsEverProcessedByTwoWorkersAtOnce) {
  SystemClock clock;
  RateLimitedWorkQueue queue(clock);
  constexpr int kKeys = 5;
  std::map<std::string, std::atomic<int>> active;
  for (int i = 0; i < kKeys; ++i) active["k" + std::to_string(i)] = 0;
  std::atomic<int> overlaps{0};
  std::atomic<int> processed{0};
  std::vector<std::thread> workers;
  workers.reserve(4);
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&] {
      while (auto key = queue.Get()) {
        if (active[*key].fetch_add(1) != 0) ++overlaps;
        std::this_thread::yield();
        active[*key].fetch_sub(1);
        ++processed;
        queue.Done(*key);
      }
    });
  }
  for (int round = 0; round < 2000; ++round) queue.Add("k" + std::to_string(round % kKeys));
  // Let the workers drain what is queued, then stop them.
  while (queue.Len() > 0 || queue.ProcessingLen() > 0) std::this_thread::yield();
  queue.ShutDown();
  for (auto& worker : workers) worker.join();
  EXPECT_EQ(overlaps.load(), 0);
  EXPECT_GE(processed.load(), kKeys);
}

}  // namespace
}  // namespace pharos
