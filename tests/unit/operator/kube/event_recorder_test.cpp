#include "operator/kube/event_recorder.h"

#include <gtest/gtest.h>

#include <chrono>

#include "common/manual_clock.h"
#include "unit/operator/kube/fake_kube_client.h"

namespace pharos {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;
using testing::FakeKubeClient;
using testing::MakeStatusResponse;
using testing::RecordedCall;

ObjectReference Monitor(const std::string& name) {
  return ObjectReference::FromObject({{"apiVersion", "pharos.dev/v1alpha1"},
                                      {"kind", "Monitor"},
                                      {"metadata",
                                       {{"name", name},
                                        {"namespace", "shop"},
                                        {"uid", "uid-" + name},
                                        {"resourceVersion", "7"}}}});
}

class EventRecorderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    EventRecorderOptions options;
    options.instance = "pharos-operator-0";
    recorder_ = std::make_unique<EventRecorder>(client_, options, clock_);
    recorder_->Start();
  }
  void TearDown() override { recorder_->Stop(); }
  void Flush() { ASSERT_TRUE(recorder_->WaitIdle(seconds(10))); }

  ManualClock clock_;
  FakeKubeClient client_;
  std::unique_ptr<EventRecorder> recorder_;
};

TEST_F(EventRecorderTest, CreatesACoreEventAboutTheObject) {
  recorder_->Warning(Monitor("api"), "MonitorDown", "eu-west: connection refused");
  Flush();
  const auto creates = client_.Calls("create");
  ASSERT_EQ(creates.size(), 1u);
  const nlohmann::json& event = creates[0].body;
  EXPECT_EQ(creates[0].path.rfind("/api/v1/namespaces/shop/events/api.", 0), 0u) << creates[0].path;
  EXPECT_EQ(event["kind"], "Event");
  EXPECT_EQ(event["involvedObject"]["kind"], "Monitor");
  EXPECT_EQ(event["involvedObject"]["uid"], "uid-api");
  EXPECT_EQ(event["involvedObject"]["apiVersion"], "pharos.dev/v1alpha1");
  EXPECT_EQ(event["reason"], "MonitorDown");
  EXPECT_EQ(event["message"], "eu-west: connection refused");
  EXPECT_EQ(event["type"], "Warning");
  EXPECT_EQ(event["count"], 1);
  EXPECT_EQ(event["firstTimestamp"], "2026-01-01T00:00:00Z");
  EXPECT_EQ(event["source"]["component"], "pharos-operator");
  EXPECT_EQ(event["source"]["host"], "pharos-operator-0");
  EXPECT_EQ(recorder_->stats().created, 1);
}

TEST_F(EventRecorderTest, RepeatsWithinTenMinutesBumpTheCount) {
  recorder_->Normal(Monitor("api"), "MonitorUp", "all regions up");
  Flush();
  clock_.Advance(minutes(3));
  recorder_->Normal(Monitor("api"), "MonitorUp", "all regions up");
  Flush();
  clock_.Advance(minutes(9));
  recorder_->Normal(Monitor("api"), "MonitorUp", "all regions up");
  Flush();
  ASSERT_EQ(client_.Calls("create").size(), 1u);
  const auto patches = client_.Calls("patch");
  ASSERT_EQ(patches.size(), 2u);
  EXPECT_EQ(patches[0].patch_type, PatchType::kMerge);
  EXPECT_EQ(patches[0].body["count"], 2);
  EXPECT_EQ(patches[0].body["lastTimestamp"], "2026-01-01T00:03:00Z");
  EXPECT_EQ(patches[1].body["count"], 3);
  const std::string name = JsonStringAt(client_.Calls("create")[0].body, {"metadata", "name"});
  EXPECT_EQ(client_.Stored(ApiResource::CoreEvents(), "shop", name)->at("count"), 3);
  EXPECT_EQ(recorder_->stats().aggregated, 2);
}

TEST_F(EventRecorderTest, OldOrDifferentEventsAreNewObjects) {
  recorder_->Normal(Monitor("api"), "MonitorUp", "up");
  Flush();
  clock_.Advance(minutes(11));
  recorder_->Normal(Monitor("api"), "MonitorUp", "up");         // older than the window
  recorder_->Normal(Monitor("api"), "MonitorUp", "up again");   // another message
  recorder_->Warning(Monitor("api"), "MonitorUp", "up again");  // another type
  recorder_->Normal(Monitor("web"), "MonitorUp", "up");         // another object
  Flush();
  EXPECT_EQ(client_.Calls("create").size(), 5u);
  EXPECT_TRUE(client_.Calls("patch").empty());
}

TEST_F(EventRecorderTest, AnEventDeletedMeanwhileIsCreatedAgain) {
  recorder_->Normal(Monitor("api"), "MonitorUp", "up");
  Flush();
  const std::string name = JsonStringAt(client_.Calls("create")[0].body, {"metadata", "name"});
  client_.Erase(ApiResource::CoreEvents(), "shop", name);
  clock_.Advance(seconds(1));
  recorder_->Normal(Monitor("api"), "MonitorUp", "up");
  Flush();
  EXPECT_EQ(client_.Calls("patch").size(), 1u);
  EXPECT_EQ(client_.Calls("create").size(), 2u);
}

TEST_F(EventRecorderTest, FloodsFromOneObjectAreCutBySpamFilter) {
  for (int i = 0; i < 30; ++i) {
    recorder_->Warning(Monitor("flappy"), "MonitorDown", "attempt " + std::to_string(i));
  }
  recorder_->Warning(Monitor("other"), "MonitorDown", "fine");
  Flush();
  const EventRecorderStats stats = recorder_->stats();
  EXPECT_EQ(stats.created, 26);  // 25 from the burst + the other object
  EXPECT_EQ(stats.dropped_spam, 5);
  clock_.Advance(minutes(5));  // one more token
  recorder_->Warning(Monitor("flappy"), "MonitorDown", "later");
  recorder_->Warning(Monitor("flappy"), "MonitorDown", "later still");
  Flush();
  EXPECT_EQ(recorder_->stats().created, 27);
  EXPECT_EQ(recorder_->stats().dropped_spam, 6);
}

TEST_F(EventRecorderTest, FailuresAreCountedAndDoNotStopTheRecorder) {
  int failures = 1;
  client_.SetInterceptor([&](const RecordedCall& call) -> std::optional<KubeResponse> {
    if (call.verb == "create" && failures-- > 0) return MakeStatusResponse(403, "Forbidden", "no");
    return std::nullopt;
  });
  recorder_->Normal(Monitor("api"), "A", "first");
  recorder_->Normal(Monitor("api"), "B", "second");
  Flush();
  EXPECT_EQ(recorder_->stats().failed, 1);
  EXPECT_EQ(recorder_->stats().created, 1);
}

TEST(EventRecorderQueueTest, RecordNeverBlocksAndDropsWhenFull) {
  ManualClock clock;
  FakeKubeClient client;
  EventRecorderOptions options;
  options.queue_capacity = 2;
  EventRecorder recorder(client, options, clock);  // not started: nothing drains the queue
  for (int i = 0; i < 5; ++i) recorder.Normal(Monitor("api"), "R", std::to_string(i));
  EXPECT_EQ(recorder.stats().recorded, 2);
  EXPECT_EQ(recorder.stats().dropped_full, 3);
  recorder.Start();
  ASSERT_TRUE(recorder.WaitIdle(seconds(10)));
  EXPECT_EQ(recorder.stats().created, 2);
  recorder.Stop();
}

TEST(EventRecorderQueueTest, CutsLongReasonsAndMessages) {
  ManualClock clock;
  FakeKubeClient client;
  EventRecorder recorder(client, {}, clock);
  recorder.Start();
  recorder.Normal(Monitor("api"), std::string(200, 'R'), std::string(1023, 'm') + "é");
  ASSERT_TRUE(recorder.WaitIdle(seconds(10)));
  recorder.Stop();
  const auto creates = client.Calls("create");
  ASSERT_EQ(creates.size(), 1u);
  EXPECT_EQ(creates[0].body["reason"].get<std::string>().size(), 128u);
  EXPECT_EQ(creates[0].body["message"].get<std::string>().size(), 1023u);  // é not split
}

}  // namespace
}  // namespace pharos
