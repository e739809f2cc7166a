#include "operator/controller/monitor_transition_events.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>

#include "common/manual_clock.h"
#include "unit/operator/kube/fake_kube_client.h"

namespace pharos {
namespace {

using testing::FakeKubeClient;
using ::testing::HasSubstr;

class MonitorTransitionEventsTest : public ::testing::Test {
 protected:
  MonitorTransitionEventsTest()
      : recorder_(client_, EventRecorderOptions{}, clock_),
        events_([this](const std::string&) -> std::optional<nlohmann::json> { return object_; },
                recorder_) {
    recorder_.Start();
    monitor_.namespace_name = "shop";
    monitor_.name = "api";
    monitor_.uid = "uid-1";
  }
  ~MonitorTransitionEventsTest() override { recorder_.Stop(); }

  std::vector<nlohmann::json> Sent() {
    EXPECT_TRUE(recorder_.WaitIdle(std::chrono::seconds(10)));
    std::vector<nlohmann::json> sent;
    for (const auto& call : client_.Calls("create")) {
      sent.push_back(call.body);
    }
    return sent;
  }

  StateEvent Transition(MonitorState from, MonitorState to) {
    StateEvent event;
    event.monitor_uid = "uid-1";
    event.monitor_key = "shop/api";
    event.from = from;
    event.to = to;
    return event;
  }

  ManualClock clock_;
  FakeKubeClient client_;
  EventRecorder recorder_;
  Monitor monitor_;
  nlohmann::json object_ = {
      {"apiVersion", "pharos.dev/v1alpha1"},
      {"kind", "Monitor"},
      {"metadata", {{"name", "api"}, {"namespace", "shop"}, {"uid", "uid-1"}}}};
  MonitorTransitionEvents events_;
};

TEST_F(MonitorTransitionEventsTest, DownSaysWhyWhereAndWhichIncident) {
  StateEvent down = Transition(MonitorState::kUp, MonitorState::kDown);
  down.first_error = "connection refused";
  down.failing_regions = {"eu-west", "us-east"};
  down.opened_incident_id = "uid-1-1767225600000";
  events_.OnTransition(monitor_, down);
  const auto sent = Sent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0]["reason"], "MonitorDown");
  EXPECT_EQ(sent[0]["type"], "Warning");
  EXPECT_EQ(sent[0]["message"],
            "Monitor is Down: connection refused (failing in eu-west, us-east); incident "
            "uid-1-1767225600000 opened");
}

TEST_F(MonitorTransitionEventsTest, RecoveryIsANormalEvent) {
  StateEvent up = Transition(MonitorState::kDown, MonitorState::kUp);
  up.resolved_incident_id = "uid-1-1767225600000";
  events_.OnTransition(monitor_, up);
  const auto sent = Sent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0]["reason"], "MonitorUp");
  EXPECT_EQ(sent[0]["type"], "Normal");
  EXPECT_THAT(sent[0]["message"].get<std::string>(), HasSubstr("resolved"));
}

TEST_F(MonitorTransitionEventsTest, ALeaderChangeRepeatsNoEvent) {
  // The previous leader already wrote Down; the new one sees Pending → Down.
  object_["status"] = {{"state", "Down"}};
  events_.OnTransition(monitor_, Transition(MonitorState::kPending, MonitorState::kDown));
  EXPECT_TRUE(Sent().empty());
}

TEST_F(MonitorTransitionEventsTest, OtherTransitionsSendNothing) {
  events_.OnTransition(monitor_, Transition(MonitorState::kPending, MonitorState::kUp));
  events_.OnTransition(monitor_, Transition(MonitorState::kUp, MonitorState::kDegraded));
  EXPECT_TRUE(Sent().empty());
}

}  // namespace
}  // namespace pharos
