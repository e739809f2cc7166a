// EventRecorder against a real kube-apiserver: Events are created and repeats aggregated.

#include "e2e/kube/kube_e2e_helpers.h"
#include "operator/kube/event_recorder.h"

namespace pharos::e2e {
namespace {

using EventRecorderE2ETest = KubeE2ETest;

TEST_F(EventRecorderE2ETest, CreatesAndAggregatesEvents) {
  const KubeResponse created = client_->Create(ApiResource::ConfigMaps(), namespace_,
                                               ConfigMapObject(namespace_, "subject"));
  ASSERT_TRUE(created.ok()) << created.Describe();
  const ObjectReference subject = ObjectReference::FromObject(created.body);
  EXPECT_FALSE(subject.uid.empty());

  SystemClock clock;
  EventRecorderOptions options;
  options.instance = "e2e-replica";
  EventRecorder recorder(*client_, options, clock);
  recorder.Start();
  recorder.Warning(subject, "MonitorDown", "eu-west: connection refused");
  recorder.Warning(subject, "MonitorDown", "eu-west: connection refused");
  recorder.Warning(subject, "MonitorDown", "eu-west: connection refused");
  recorder.Normal(subject, "MonitorUp", "all regions up");
  ASSERT_TRUE(recorder.WaitIdle(std::chrono::seconds(30)));
  recorder.Stop();
  const EventRecorderStats stats = recorder.stats();
  EXPECT_EQ(stats.created, 2);
  EXPECT_EQ(stats.aggregated, 2);
  EXPECT_EQ(stats.failed, 0);

  ListOptions list;
  list.field_selector = "involvedObject.name=subject,involvedObject.kind=ConfigMap";
  const KubeResponse events = client_->ListAll(ApiResource::CoreEvents(), namespace_, list);
  ASSERT_TRUE(events.ok()) << events.Describe();
  ASSERT_EQ(events.body["items"].size(), 2u) << events.body.dump(2);
  for (const auto& event : events.body["items"]) {
    EXPECT_EQ(event["involvedObject"]["uid"], subject.uid);
    EXPECT_EQ(event["source"]["component"], "pharos-operator");
    if (event["reason"] == "MonitorDown") {
      EXPECT_EQ(event["type"], "Warning");
      EXPECT_EQ(event["count"], 3);
      EXPECT_EQ(event["message"], "eu-west: connection refused");
    } else {
      EXPECT_EQ(event["reason"], "MonitorUp");
      EXPECT_EQ(event["type"], "Normal");
      EXPECT_EQ(event["count"], 1);
    }
  }
}

}  // namespace
}  // namespace pharos::e2e
