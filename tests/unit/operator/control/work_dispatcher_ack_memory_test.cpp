// The WorkDispatcher's memory of acked ids: exact (whole ids) and bounded in time, including an
// id acked a second time (its record is replaced; run under ASan, this catches the index left
// pointing at a freed record).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/manual_clock.h"
#include "operator/control/work_dispatcher.h"

namespace pharos {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::SizeIs;

constexpr Millis k1m = Millis(60'000);

class WorkDispatcherAckMemoryTest : public ::testing::Test {
 protected:
  static WorkDispatcher::Options Options() {
    WorkDispatcher::Options options;
    options.lease_grace = Millis(5'000);
    options.ack_margin = Millis(30'000);
    return options;
  }

  WorkItem Item(const std::string& id, Millis timeout = Millis(10'000)) {
    WorkItem item;
    item.id = id;
    item.monitor_uid = id.substr(0, id.find('@'));
    item.monitor_key = "shop/" + item.monitor_uid;
    item.region = "eu";
    item.frequency = k1m;
    item.timeout = timeout;
    item.scheduled_at = clock_.Now();
    item.deadline = item.scheduled_at + k1m;
    return item;
  }

  // Enqueues, leases and acks `id` now; the ack is remembered for timeout + grace + margin.
  void AckNow(const std::string& id, Millis timeout = Millis(10'000)) {
    dispatcher_.Enqueue({Item(id, timeout)});
    ASSERT_THAT(dispatcher_.Lease("eu", "probe", 10), SizeIs(1));
    ASSERT_EQ(dispatcher_.Complete(id), AckResult::kAcked);
  }

  ManualClock clock_;
  WorkDispatcher dispatcher_{clock_, Options()};
};

TEST_F(WorkDispatcherAckMemoryTest, IdsThatDifferOnlyInTheirLastCharacterAreNotConfused) {
  const std::string base = "0123456789abcdef-0123-4567-89ab-cdef01234567@eu-west@17000000000";
  AckNow(base + "0");
  EXPECT_TRUE(dispatcher_.WasAcked(base + "0"));
  EXPECT_FALSE(dispatcher_.WasAcked(base + "1"));
  EXPECT_FALSE(dispatcher_.WasAcked(base));
  EXPECT_FALSE(dispatcher_.WasAcked(base + "00"));
  EXPECT_EQ(dispatcher_.Complete(base + "1"), AckResult::kUnknown);
  EXPECT_EQ(dispatcher_.Complete(base + "0"), AckResult::kAlreadyAcked);
}

TEST_F(WorkDispatcherAckMemoryTest, AnIdAckedAgainIsRememberedUntilItsLaterHorizon) {
  const std::string id = "uid-1@eu@1000";
  const auto start = clock_.Now();
  AckNow(id);  // remembered until start + 10 s + 5 s + 30 s
  clock_.Advance(seconds(20));
  AckNow(id);  // the same id live again and acked again: until start + 20 s + 45 s
  EXPECT_EQ(dispatcher_.Totals().remembered_acks, 1u);

  clock_.SetNow(start + seconds(45));
  dispatcher_.Tick();  // the first record's time has come: stale, the id stays remembered
  EXPECT_TRUE(dispatcher_.WasAcked(id));
  EXPECT_EQ(dispatcher_.Complete(id), AckResult::kAlreadyAcked);
  EXPECT_EQ(dispatcher_.Totals().remembered_acks, 1u);

  clock_.SetNow(start + seconds(65) - milliseconds(1));
  dispatcher_.Tick();
  EXPECT_TRUE(dispatcher_.WasAcked(id));
  clock_.Advance(milliseconds(1));
  dispatcher_.Tick();
  EXPECT_FALSE(dispatcher_.WasAcked(id));
  EXPECT_EQ(dispatcher_.Totals().remembered_acks, 0u);
  EXPECT_EQ(dispatcher_.Complete(id), AckResult::kUnknown);
}

TEST_F(WorkDispatcherAckMemoryTest, ManyIdsAreRememberedAndForgottenExactly) {
  constexpr int kIds = 5'000;
  std::vector<std::string> ids;
  ids.reserve(kIds);
  for (int i = 0; i < kIds; ++i) {
    ids.push_back("monitor-" + std::to_string(i) + "-0000-4000-8000-000000000000@eu@" +
                  std::to_string(1'700'000'000'000 + i));
  }
  std::vector<WorkItem> items;
  items.reserve(kIds);
  for (int i = 0; i < kIds; ++i) {
    // Timeouts of 1..10 s: the records' horizons are not in the order they were acked.
    items.push_back(Item(ids[i], Millis(1'000 * (1 + (i * 7) % 10))));
  }
  dispatcher_.Enqueue(std::move(items));
  ASSERT_THAT(dispatcher_.Lease("eu", "probe", kIds), SizeIs(kIds));
  for (int i = kIds - 1; i >= 0; --i) {
    ASSERT_EQ(dispatcher_.Complete(ids[i]), AckResult::kAcked);
  }
  const auto acked_at = clock_.Now();
  EXPECT_EQ(dispatcher_.Totals().remembered_acks, static_cast<size_t>(kIds));
  for (int seconds_after = 1; seconds_after <= 45; ++seconds_after) {
    clock_.SetNow(acked_at + seconds(seconds_after));
    dispatcher_.Tick();
    size_t remembered = 0;
    for (int i = 0; i < kIds; ++i) {
      const int horizon_s = (1 + (i * 7) % 10) + 5 + 30;
      ASSERT_EQ(dispatcher_.WasAcked(ids[i]), seconds_after < horizon_s)
          << ids[i] << " at +" << seconds_after << " s";
      remembered += seconds_after < horizon_s ? 1 : 0;
    }
    ASSERT_EQ(dispatcher_.Totals().remembered_acks, remembered) << "+" << seconds_after << " s";
  }
  EXPECT_EQ(dispatcher_.Totals().remembered_acks, 0u);
}

}  // namespace
}  // namespace pharos
