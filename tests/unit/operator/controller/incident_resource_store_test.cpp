#include "operator/controller/incident_resource_store.h"

#include <gtest/gtest.h>

#include "common/manual_clock.h"
#include "tests/unit/operator/kube/fake_kube_client.h"

namespace pharos {
namespace {

using Json = nlohmann::json;

Incident Opened() {
  Incident incident;
  incident.id = "5f0c-uid-1796597611613";
  incident.monitor_uid = "5f0c-uid";
  incident.monitor_key = "shop/checkout-api";
  incident.opened_at = ManualClock::DefaultStart();
  incident.failing_regions = {"eu-west"};
  incident.first_error = "eu-west: connection refused";
  return incident;
}

Delivery DownTo(const std::string& channel, TimePoint at) {
  Notification n;
  n.event = NotificationEvent::kDown;
  n.monitor_uid = "5f0c-uid";
  n.monitor_namespace = "shop";
  n.monitor_name = "checkout-api";
  n.monitor_type = "http";
  n.monitor_target = "https://shop.example.com/health";
  n.state = "Down";
  n.incident = NotificationIncident{"5f0c-uid-1796597611613", ManualClock::DefaultStart(), {}};
  n.regions = {"eu-west"};
  n.reason = "eu-west: connection refused";
  n.occurred_at = at;
  return Delivery::Of(n, channel, at);
}

TEST(IncidentResourceStoreTest, OpensAnIncidentOwnedByItsMonitor) {
  testing::FakeKubeClient client;
  ManualClock clock;
  IncidentResourceStore store(client, clock);
  ASSERT_TRUE(store.RecordOpened(Opened()).ok());
  ASSERT_TRUE(store.RecordOpened(Opened()).ok());  // idempotent
  EXPECT_EQ(client.Calls("create").size(), 1u);
  std::optional<Json> object =
      client.Stored(ApiResource::Incidents(), "shop", "checkout-api-1796597611613");
  ASSERT_TRUE(object);
  const Json& owner = (*object)["metadata"]["ownerReferences"][0];
  EXPECT_EQ(owner["kind"], "Monitor");
  EXPECT_EQ(owner["name"], "checkout-api");
  EXPECT_EQ(owner["uid"], "5f0c-uid");
  EXPECT_EQ((*object)["spec"]["incidentId"], "5f0c-uid-1796597611613");
  EXPECT_EQ((*object)["status"]["phase"], "Open");
  auto record = store.GetIncident("5f0c-uid-1796597611613");
  ASSERT_TRUE(record.ok() && record->has_value());
  EXPECT_EQ((*record)->incident.monitor_key, "shop/checkout-api");
  EXPECT_EQ((*record)->incident.failing_regions, std::vector<std::string>{"eu-west"});
}

// One pass over the Incidents for a status page's monitors gives what one call per monitor gave.
TEST(IncidentResourceStoreTest, IncidentsInWindowOfSeveralMonitors) {
  testing::FakeKubeClient client;
  ManualClock clock;
  IncidentResourceStore store(client, clock);
  const TimePoint start = ManualClock::DefaultStart();
  auto open = [&](const std::string& uid, const std::string& name, int hour) {
    Incident incident = Opened();
    incident.monitor_uid = uid;
    incident.monitor_key = "shop/" + name;
    incident.opened_at = start + std::chrono::hours(hour);
    incident.id = uid + "-" + std::to_string(hour);
    EXPECT_TRUE(store.RecordOpened(incident).ok());
    return incident.id;
  };
  EXPECT_TRUE(store.RecordResolved(open("uid-a", "a", 1), start + std::chrono::hours(2)).ok());
  EXPECT_TRUE(store.RecordResolved(open("uid-a", "a", 9), start + std::chrono::hours(11)).ok());
  open("uid-a", "a", 14);
  EXPECT_TRUE(store.RecordResolved(open("uid-b", "b", 12), start + std::chrono::hours(13)).ok());
  open("uid-b", "b", 20);
  open("uid-c", "c", 12);

  auto ids = [](const Result<std::vector<IncidentRecord>>& records) {
    std::vector<std::string> out;
    for (const IncidentRecord& record : *records) out.push_back(record.incident.id);
    return out;
  };
  IncidentWindowQuery query{
      {"uid-b", "uid-a"}, start + std::chrono::hours(10), start + std::chrono::hours(20), 100};
  Result<std::vector<IncidentRecord>> window = store.ListIncidentsInWindow(query);
  ASSERT_TRUE(window.ok());
  EXPECT_EQ(ids(window), (std::vector<std::string>{"uid-a-14", "uid-a-9", "uid-b-12"}));
  EXPECT_EQ(ids(store.IncidentReader::ListIncidentsInWindow(query)),
            (std::vector<std::string>{"uid-b-12", "uid-a-14", "uid-a-9"}));
  query.limit_per_monitor = 1;
  EXPECT_EQ(ids(store.ListIncidentsInWindow(query)),
            (std::vector<std::string>{"uid-a-14", "uid-b-12"}));
}

TEST(IncidentResourceStoreTest, DeliveriesLiveInTheStatusAndANewLeaderContinuesThem) {
  testing::FakeKubeClient client;
  ManualClock clock;
  IncidentResourceStore store(client, clock);
  ASSERT_TRUE(store.RecordOpened(Opened()).ok());
  Delivery first = DownTo("shop/hook", clock.Now());
  Delivery second = DownTo("shop/pager", clock.Now());
  EXPECT_EQ(*store.Add({first, second}), 2u);
  EXPECT_EQ(*store.Add({first}), 0u);  // known ids are left as they are
  EXPECT_EQ(*store.PendingChannels(), (std::vector<std::string>{"shop/hook", "shop/pager"}));
  first.attempts = 1;
  first.state = DeliveryState::kDelivered;
  first.delivered_at = clock.Now();
  ASSERT_TRUE(store.Update(first).ok());
  EXPECT_FALSE(store.NextPending("shop/hook")->has_value());

  // Someone else (the old leader, still writing) changed the object: a conflict, re-read, retry.
  Json changed = *client.Stored(ApiResource::Incidents(), "shop", "checkout-api-1796597611613");
  changed["status"]["timeline"] =
      Json::array({{{"at", "2026-01-01T00:00:00Z"}, {"kind", "note"}, {"text", "from elsewhere"}}});
  client.Put(ApiResource::Incidents(), changed);
  second.attempts = 2;
  second.last_error = "HTTP 503";
  ASSERT_TRUE(store.Update(second).ok());
  const Json stored =
      *client.Stored(ApiResource::Incidents(), "shop", "checkout-api-1796597611613");
  EXPECT_EQ(stored["status"]["timeline"][0]["text"], "from elsewhere");
  EXPECT_EQ(stored["status"]["deliveries"][1]["attempts"], 2);

  // A new leader, fed by its informer, sends the pending one with the same id and facts.
  IncidentResourceStore successor(client, clock);
  successor.OnObject(stored);
  auto pending = successor.NextPending("shop/pager");
  ASSERT_TRUE(pending.ok() && pending->has_value());
  EXPECT_EQ((*pending)->id, second.id);
  EXPECT_EQ((*pending)->attempts, 2);
  EXPECT_EQ((*pending)->notification.monitor_target, "https://shop.example.com/health");
  EXPECT_EQ((*pending)->notification.Key(), second.notification.Key());
  EXPECT_EQ((*successor.Stats()).pending, 1);
}

TEST(IncidentResourceStoreTest, AcknowledgeNotesScreenshotsAndResolution) {
  testing::FakeKubeClient client;
  ManualClock clock;
  IncidentResourceStore store(client, clock);
  ASSERT_TRUE(store.RecordOpened(Opened()).ok());
  const std::string id = "5f0c-uid-1796597611613";
  auto acked = store.Acknowledge(id, "alice", clock.Now());
  ASSERT_TRUE(acked.ok() && acked->changed);
  EXPECT_EQ(acked->record->phase, IncidentPhase::kAcknowledged);
  EXPECT_FALSE(store.Acknowledge(id, "bob", clock.Now())->changed);
  EXPECT_TRUE(store.AddNoteOnce(id, "alice", "rolling back", clock.Now())->changed);
  EXPECT_FALSE(store.AddNoteOnce(id, "alice", "rolling back", clock.Now())->changed);
  EXPECT_TRUE(store.AttachScreenshot(id, "/api/v1/screenshots/x.png", clock.Now())->changed);
  EXPECT_FALSE(store.AttachScreenshot(id, "/api/v1/screenshots/x.png", clock.Now())->changed);
  ASSERT_TRUE(store.RecordResolved(id, clock.Now()).ok());
  auto record = store.GetIncident(id);
  EXPECT_EQ((*record)->phase, IncidentPhase::kResolved);
  EXPECT_EQ((*record)->screenshot_urls, std::vector<std::string>{"/api/v1/screenshots/x.png"});
  std::vector<std::string> kinds;
  for (const IncidentEntry& entry : (*record)->timeline) kinds.push_back(ToString(entry.kind));
  EXPECT_EQ(kinds, (std::vector<std::string>{"acknowledged", "note", "screenshot"}));
  EXPECT_FALSE(store.Acknowledge("nope", "alice", clock.Now())->found);
}

}  // namespace
}  // namespace pharos
