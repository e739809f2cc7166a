#include "operator/control/state_saver.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "unit/operator/control/empty_result_store.h"

namespace pharos {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// Records saves; refuses batches, and single saves of the uids in `refused`.
class RecordingStore final : public testing::EmptyResultStore {
 public:
  Status SaveMonitorState(const MonitorStateSnapshot& state,
                          const std::vector<StateEvent>& events) override {
    ++singles;
    if (refused.contains(state.monitor_uid)) {
      return Error{"disk full"};
    }
    saved.push_back(state.monitor_uid);
    for (const StateEvent& event : events) saved_events.push_back(event.reason);
    return OkStatus();
  }
  Status SaveMonitorStates(const std::vector<MonitorStateSave>& saves) override {
    ++batches;
    if (!refused.empty()) {
      return Error{"disk full"};
    }
    for (const MonitorStateSave& save : saves) {
      saved.push_back(save.state.monitor_uid);
      for (const StateEvent& event : save.events) saved_events.push_back(event.reason);
    }
    return OkStatus();
  }

  std::set<std::string> refused;
  std::vector<std::string> saved;
  std::vector<std::string> saved_events;  // their reasons
  int batches = 0;
  int singles = 0;
};

MonitorStateSave SaveOf(const std::string& uid) {
  MonitorStateSave save;
  save.state.monitor_uid = uid;
  save.state.monitor_key = "shop/" + uid;
  return save;
}

TEST(StateSaverTest, SavesAtOnceOutsideABatch) {
  RecordingStore store;
  StateSaver saver(store);
  EXPECT_TRUE(saver.Save(SaveOf("a")));
  store.refused = {"b"};
  EXPECT_FALSE(saver.Save(SaveOf("b")));
  EXPECT_THAT(store.saved, ElementsAre("a"));
  EXPECT_EQ(store.batches, 0);
}

TEST(StateSaverTest, ABatchIsOneTransaction) {
  RecordingStore store;
  StateSaver saver(store);
  saver.Begin();
  EXPECT_TRUE(saver.Save(SaveOf("a")));
  EXPECT_TRUE(saver.Save(SaveOf("b")));
  EXPECT_THAT(store.saved, IsEmpty()) << "nothing is written before Commit";
  EXPECT_THAT(saver.Commit(), IsEmpty());
  EXPECT_THAT(store.saved, ElementsAre("a", "b"));
  EXPECT_EQ(store.batches, 1);
}

TEST(StateSaverTest, AFailedBatchIsRetriedOneByOneAndReportsOnlyWhatStillFails) {
  RecordingStore store;
  StateSaver saver(store);
  store.refused = {"b"};
  saver.Begin();
  saver.Save(SaveOf("a"));
  saver.Save(SaveOf("b"));
  saver.Save(SaveOf("c"));
  EXPECT_THAT(saver.Commit(), ElementsAre("b"));
  EXPECT_THAT(store.saved, ElementsAre("a", "c"));
  // After Commit, saves go straight to the store again.
  EXPECT_TRUE(saver.Save(SaveOf("d")));
  EXPECT_THAT(store.saved, ElementsAre("a", "c", "d"));
}

MonitorStateSave SaveWithEvent(const std::string& uid, const std::string& reason) {
  MonitorStateSave save = SaveOf(uid);
  StateEvent event;
  event.monitor_uid = uid;
  event.reason = reason;
  save.events.push_back(event);
  return save;
}

TEST(StateSaverTest, TheEventsOfAFailedSaveGoWithTheNextSave) {
  RecordingStore store;
  StateSaver saver(store);
  store.refused = {"a"};
  EXPECT_FALSE(saver.Save(SaveWithEvent("a", "went down")));
  EXPECT_EQ(saver.unsaved_events(), 1u);
  store.refused.clear();
  EXPECT_TRUE(saver.Save(SaveWithEvent("a", "came back")));
  EXPECT_THAT(store.saved_events, ElementsAre("went down", "came back"));
  EXPECT_EQ(saver.unsaved_events(), 0u);
}

TEST(StateSaverTest, WhileTheStoreFailsNothingIsWrittenAndEventsWait) {
  RecordingStore store;
  bool failing = true;
  StateSaver saver(store, [&failing] { return failing; });
  EXPECT_FALSE(saver.Save(SaveWithEvent("a", "went down")));
  saver.Begin();
  EXPECT_FALSE(saver.Save(SaveWithEvent("b", "went down")));
  EXPECT_THAT(saver.Commit(), IsEmpty());
  EXPECT_EQ(store.batches + store.singles, 0) << "a failing store is not touched";
  EXPECT_EQ(saver.unsaved_events(), 2u);
  failing = false;
  saver.Begin();
  EXPECT_TRUE(saver.Save(SaveOf("a")));
  EXPECT_TRUE(saver.Save(SaveOf("b")));
  EXPECT_THAT(saver.Commit(), IsEmpty());
  EXPECT_THAT(store.saved_events, ElementsAre("went down", "went down"));
}

TEST(StateSaverTest, AForgottenMonitorsEventsAreDropped) {
  RecordingStore store;
  StateSaver saver(store, [] { return true; });
  EXPECT_FALSE(saver.Save(SaveWithEvent("a", "went down")));
  saver.Forget("a");
  EXPECT_EQ(saver.unsaved_events(), 0u);
}

}  // namespace
}  // namespace pharos
