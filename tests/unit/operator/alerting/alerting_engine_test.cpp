// AlertingEngine over a real OperatorCore and the SQLite stores, in virtual time: transitions
// become incidents and deliveries, reminders and acknowledgements, catch-up after a crash
// between the core's commit and the outbox, maintenance windows suppressing notifications.

#include "operator/alerting/alerting_engine.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "common/manual_clock.h"
#include "common/rfc3339.h"
#include "operator/alerting/maintenance_schedule.h"
#include "operator/storage/sqlite_alert_store.h"
#include "tests/unit/operator/alerting/fake_notification_transport.h"
#include "tests/unit/operator/control/core_test_support.h"

namespace pharos {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;
using testing::MakeMonitor;
using testing::MakeResult;

AlertChannel Channel(const std::string& name, ChannelType type = ChannelType::kWebhook,
                     bool is_default = false) {
  AlertChannel channel;
  channel.meta.namespace_name = "shop";
  channel.meta.name = name;
  channel.type = type;
  channel.is_default = is_default;
  channel.url.value = "http://127.0.0.1:9/" + name;
  if (type == ChannelType::kPagerDuty) channel.secret.value = "routing-key";
  return channel;
}

// The core, its stores and the alerting engine on one SQLite file, as `pharos run` wires them.
class Stack {
 public:
  Stack(ManualClock& clock, const std::string& db, const MaintenanceCalendar* calendar,
        bool observe = true, AlertingEngine::Options engine_options = {})
      : clock_(clock), core_(testing::OpenCore(clock, db)) {
    SqliteAlertStore::Options options;
    options.path = db;
    store_ = std::move(SqliteAlertStore::Open(options)).value();
    dispatcher_ = std::make_unique<DeliveryDispatcher>(
        *store_, transport_, secrets_,
        [this](const std::string& key) { return engine_->Channel(key); }, clock,
        DeliveryDispatcher::Options{});
    engine_ = std::make_unique<AlertingEngine>(*store_, *store_, *dispatcher_, *core_, calendar,
                                               core_.registry(), clock, std::move(engine_options));
    if (calendar != nullptr) core_->SetMaintenanceCalendar(calendar);
    if (observe) {
      core_->OnStateChange([this](const Monitor& monitor, const StateEvent& event) {
        engine_->OnStateChange(monitor, event);
      });
    }
  }

  // One round of `monitor` at the clock's time with `outcome`, then the engine's pass.
  void Round(const Monitor& monitor, Outcome outcome) {
    ASSERT_TRUE(core_->IngestAndWait({MakeResult(monitor, "local", clock_.Now(), outcome)}).ok());
    core_->Tick();
    engine_->Tick();
  }
  // Sends every due delivery of `channel`.
  void Deliver(const std::string& channel) { (void)dispatcher_->DeliverDue(channel, clock_.Now()); }
  // The events delivered to `channel` so far (from the transport).
  std::vector<std::string> Events() const {
    std::vector<std::string> events;
    for (const nlohmann::json& body : transport_.Bodies()) {
      events.push_back(body.contains("event") ? body["event"].get<std::string>()
                                              : body.value("event_action", "?"));
    }
    return events;
  }

  OperatorCore& core() { return *core_; }
  AlertingEngine& engine() { return *engine_; }
  SqliteAlertStore& store() { return *store_; }
  testing::FakeNotificationTransport& transport() { return transport_; }

 private:
  ManualClock& clock_;
  testing::TestCore core_;
  std::unique_ptr<SqliteAlertStore> store_;
  testing::FakeNotificationTransport transport_;
  LocalSecretResolver secrets_;
  std::unique_ptr<DeliveryDispatcher> dispatcher_;
  std::unique_ptr<AlertingEngine> engine_;
};

class AlertingEngineTest : public ::testing::Test {
 protected:
  ManualClock clock_;
  testing::TempDirectory dir_;
  std::string db_ = (dir_.path() / "pharos.db").string();
};

TEST_F(AlertingEngineTest, DownAndUpAreToldToTheMonitorsChannels) {
  Stack stack(clock_, db_, nullptr);
  stack.engine().SetChannels({Channel("hook"), Channel("other")});
  Monitor monitor = MakeMonitor("checkout");
  monitor.alerting.channels = {"hook", "missing"};
  ASSERT_TRUE(stack.core().UpsertMonitor(monitor).ok());
  EXPECT_EQ(stack.engine().ChannelsFor(monitor).missing, std::vector<std::string>{"missing"});

  stack.Round(monitor, Outcome::kUp);
  clock_.Advance(seconds(10));
  stack.Round(monitor, Outcome::kDown);
  stack.Deliver("shop/hook");
  stack.Deliver("shop/other");
  ASSERT_EQ(stack.Events(), std::vector<std::string>{"down"});
  const nlohmann::json down = stack.transport().Bodies()[0];
  EXPECT_EQ(down["monitor"]["name"], "checkout");
  EXPECT_EQ(down["channel"], "shop/hook");
  const std::string incident = down["incident"]["id"];

  clock_.Advance(seconds(10));
  stack.Round(monitor, Outcome::kUp);
  stack.Deliver("shop/hook");
  ASSERT_EQ(stack.Events(), (std::vector<std::string>{"down", "recovered"}));
  const nlohmann::json recovered = stack.transport().Bodies()[1];
  EXPECT_EQ(recovered["incident"]["id"], incident);
  EXPECT_EQ(recovered["incident"]["startedAt"], down["incident"]["startedAt"]);
  EXPECT_FALSE(recovered["incident"]["resolvedAt"].is_null());

  auto record = stack.store().GetIncident(incident);
  ASSERT_TRUE(record.ok() && record->has_value());
  EXPECT_EQ((*record)->phase, IncidentPhase::kResolved);
  std::vector<std::string> kinds;
  for (const IncidentEntry& entry : (*record)->timeline) kinds.push_back(ToString(entry.kind));
  EXPECT_EQ(kinds, (std::vector<std::string>{"stateChange", "notification", "stateChange",
                                             "notification"}));
}

TEST_F(AlertingEngineTest, RemindersWhileDownStopWhenAcknowledged) {
  Stack stack(clock_, db_, nullptr);
  stack.engine().SetChannels({Channel("hook"), Channel("pager", ChannelType::kPagerDuty)});
  Monitor monitor = MakeMonitor("checkout");
  monitor.alerting.channels = {"hook", "pager"};
  monitor.alerting.remind_every = minutes(5);
  ASSERT_TRUE(stack.core().UpsertMonitor(monitor).ok());
  stack.Round(monitor, Outcome::kDown);
  stack.Deliver("shop/hook");
  stack.Deliver("shop/pager");
  clock_.Advance(minutes(4));
  stack.engine().Tick();
  stack.Deliver("shop/hook");
  EXPECT_EQ(stack.Events(), (std::vector<std::string>{"down", "trigger"}));
  clock_.Advance(minutes(1));
  stack.engine().Tick();
  stack.engine().Tick();  // decided once
  stack.Deliver("shop/hook");
  stack.Deliver("shop/pager");  // PagerDuty escalates by itself: no reminder
  EXPECT_EQ(stack.Events(), (std::vector<std::string>{"down", "trigger", "reminder"}));
  EXPECT_EQ(stack.transport().Bodies()[2]["text"].get<std::string>().find("still Down, for 5m"),
            std::string("shop/checkout is ").size());

  const std::string incident = stack.transport().Bodies()[0]["incident"]["id"];
  Result<IncidentUpdate> ack = stack.engine().Acknowledge(incident, "alice");
  ASSERT_TRUE(ack.ok() && ack->changed);
  EXPECT_EQ(ack->record->phase, IncidentPhase::kAcknowledged);
  EXPECT_FALSE(stack.engine().Acknowledge(incident, "bob")->changed);
  stack.Deliver("shop/hook");
  stack.Deliver("shop/pager");
  clock_.Advance(minutes(20));
  stack.engine().Tick();
  stack.Deliver("shop/hook");
  EXPECT_EQ(stack.Events(), (std::vector<std::string>{"down", "trigger", "reminder", "acknowledged",
                                                      "acknowledge"}));
  EXPECT_EQ(stack.transport().Bodies()[3]["acknowledgedBy"], "alice");
  EXPECT_EQ(stack.transport().Bodies()[4]["dedup_key"], incident);
}

TEST_F(AlertingEngineTest, AnOutageCommittedBeforeACrashIsToldAfterTheRestart) {
  Monitor monitor = MakeMonitor("checkout");
  monitor.alerting.channels = {"hook"};
  {
    // The core commits the incident; the process dies before the engine hears of it.
    Stack crashed(clock_, db_, nullptr, /*observe=*/false);
    ASSERT_TRUE(crashed.core().UpsertMonitor(monitor).ok());
    crashed.Round(monitor, Outcome::kDown);
    EXPECT_TRUE(crashed.transport().sent().empty());
  }
  Stack restarted(clock_, db_, nullptr);
  restarted.engine().SetChannels({Channel("hook")});
  ASSERT_TRUE(restarted.core().UpsertMonitor(monitor).ok());
  restarted.engine().Tick();
  restarted.engine().Tick();  // idempotent
  restarted.Deliver("shop/hook");
  ASSERT_EQ(restarted.Events(), std::vector<std::string>{"down"});
}

TEST_F(AlertingEngineTest, MaintenanceSuppressesUntilTheWindowEnds) {
  MaintenanceSchedule schedule;
  MaintenanceWindow window;
  window.meta.namespace_name = "shop";
  window.meta.name = "upgrade";
  window.start = clock_.Now() + seconds(5);
  window.end = clock_.Now() + minutes(10);
  window.monitors = {"db"};
  schedule.Replace({window});
  Stack stack(clock_, db_, &schedule);
  stack.engine().SetChannels({Channel("hook", ChannelType::kWebhook, /*is_default=*/true)});
  Monitor monitor = MakeMonitor("db");  // names no channel: the namespace's default
  ASSERT_TRUE(stack.core().UpsertMonitor(monitor).ok());
  stack.Round(monitor, Outcome::kDown);  // before the window: an incident, told
  stack.Deliver("shop/hook");
  ASSERT_EQ(stack.Events(), std::vector<std::string>{"down"});
  const std::string incident = stack.transport().Bodies()[0]["incident"]["id"];

  clock_.Advance(seconds(10));
  stack.core().Tick();
  EXPECT_EQ(stack.core().SnapshotByKey("shop", "db")->state, MonitorState::kMaintenance);
  for (int i = 0; i < 5; ++i) {
    clock_.Advance(seconds(10));
    stack.Round(monitor, i % 2 == 0 ? Outcome::kUp : Outcome::kDown);
  }
  EXPECT_EQ(stack.core().SnapshotByKey("shop", "db")->state, MonitorState::kMaintenance);
  stack.Deliver("shop/hook");
  EXPECT_EQ(stack.Events(), std::vector<std::string>{"down"});  // nothing new

  clock_.SetNow(*window.end + seconds(1));
  stack.core().Tick();
  stack.engine().Tick();
  EXPECT_EQ(stack.core().SnapshotByKey("shop", "db")->state, MonitorState::kPending);
  stack.Round(monitor, Outcome::kUp);
  stack.Deliver("shop/hook");
  ASSERT_EQ(stack.Events(), (std::vector<std::string>{"down", "recovered"}));
  auto record = stack.store().GetIncident(incident);
  std::vector<std::string> kinds;
  for (const IncidentEntry& entry : (*record)->timeline) kinds.push_back(ToString(entry.kind));
  EXPECT_NE(std::find(kinds.begin(), kinds.end(), "maintenanceStart"), kinds.end());
  EXPECT_NE(std::find(kinds.begin(), kinds.end(), "maintenanceEnd"), kinds.end());
}

TEST_F(AlertingEngineTest, DegradedIsToldWithoutAnIncidentToChannelsThatWantIt) {
  Stack stack(clock_, db_, nullptr);
  AlertChannel quiet = Channel("quiet");
  quiet.send_degraded = false;
  stack.engine().SetChannels({Channel("hook"), quiet});
  Monitor monitor = MakeMonitor("search");
  monitor.alerting.channels = {"hook", "quiet"};
  ASSERT_TRUE(stack.core().UpsertMonitor(monitor).ok());
  stack.Round(monitor, Outcome::kUp);
  clock_.Advance(seconds(10));
  stack.Round(monitor, Outcome::kDegraded);
  clock_.Advance(seconds(10));
  stack.Round(monitor, Outcome::kUp);
  stack.Deliver("shop/hook");
  stack.Deliver("shop/quiet");
  EXPECT_EQ(stack.Events(), (std::vector<std::string>{"degraded", "recovered"}));
  EXPECT_TRUE(stack.transport().Bodies()[0]["incident"].is_null());
  auto open = stack.store().ListIncidents(IncidentQuery{});
  EXPECT_TRUE(open->empty());
}

TEST_F(AlertingEngineTest, TestNotificationsAndScreenshots) {
  Stack stack(clock_, db_, nullptr);
  stack.engine().SetChannels({Channel("hook")});
  Result<std::string> id = stack.engine().SendTest("shop/hook", "hello");
  ASSERT_TRUE(id.ok());
  stack.Deliver("shop/hook");
  ASSERT_EQ(stack.Events(), std::vector<std::string>{"test"});
  EXPECT_EQ(stack.transport().Bodies()[0]["text"], "hello");
  EXPECT_EQ(stack.engine().SendTest("shop/nope").error_kind(), ErrorKind::kInvalidArgument);

  Monitor monitor = MakeMonitor("web");
  ASSERT_TRUE(stack.core().UpsertMonitor(monitor).ok());
  stack.Round(monitor, Outcome::kDown);
  const std::string incident = stack.store().ListIncidents(IncidentQuery{})->at(0).incident.id;
  auto attached =
      stack.store().AttachScreenshot(incident, "/api/v1/screenshots/a.png", clock_.Now());
  ASSERT_TRUE(attached.ok() && attached->changed);
  EXPECT_FALSE(
      stack.store().AttachScreenshot(incident, "/api/v1/screenshots/a.png", clock_.Now())->changed);
  EXPECT_EQ(attached->record->screenshot_urls,
            std::vector<std::string>{"/api/v1/screenshots/a.png"});
  EXPECT_FALSE(stack.store().AttachScreenshot("nope", "/x.png", clock_.Now())->found);
}

// A status page reads the incidents of all its monitors with one statement: the same records,
// timelines, acknowledgements and screenshots as one query per monitor.
TEST_F(AlertingEngineTest, IncidentsInWindowAsOneQueryPerMonitor) {
  Stack stack(clock_, db_, nullptr);
  Monitor web = MakeMonitor("web");
  Monitor api = MakeMonitor("api");
  ASSERT_TRUE(stack.core().UpsertMonitor(web).ok());
  ASSERT_TRUE(stack.core().UpsertMonitor(api).ok());
  stack.Round(web, Outcome::kDown);
  clock_.Advance(seconds(10));
  stack.Round(web, Outcome::kUp);
  clock_.Advance(seconds(10));
  stack.Round(web, Outcome::kDown);
  stack.Round(api, Outcome::kDown);
  Result<std::vector<IncidentRecord>> all = stack.store().ListIncidents(IncidentQuery{});
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 3u);
  const std::string acked = all->at(0).incident.id;
  ASSERT_TRUE(stack.engine().Acknowledge(acked, "alice").ok());
  ASSERT_TRUE(
      stack.store().AttachScreenshot(acked, "/api/v1/screenshots/a.png", clock_.Now()).ok());

  IncidentWindowQuery query{
      {web.uid, api.uid}, clock_.Now() - minutes(5), clock_.Now() + minutes(1), 100};
  auto summary = [](const Result<std::vector<IncidentRecord>>& records) {
    std::vector<std::string> out;
    for (const IncidentRecord& record : *records) {
      out.push_back(record.incident.id + " " + ToString(record.phase) + " " +
                    std::to_string(record.timeline.size()) + " " +
                    std::to_string(record.screenshot_urls.size()));
    }
    std::sort(out.begin(), out.end());
    return out;
  };
  Result<std::vector<IncidentRecord>> window = stack.store().ListIncidentsInWindow(query);
  ASSERT_TRUE(window.ok()) << window.error();
  EXPECT_EQ(window->size(), 3u);
  EXPECT_EQ(summary(window), summary(stack.store().IncidentReader::ListIncidentsInWindow(query)));
  query.limit_per_monitor = 1;
  EXPECT_EQ(stack.store().ListIncidentsInWindow(query)->size(), 2u);
}

TEST_F(AlertingEngineTest, LaterNoticesLinkTheIncidentsScreenshotsUnderThePublicUrl) {
  AlertingEngine::Options options;
  options.public_url = "https://status.example.com";
  Stack stack(clock_, db_, nullptr, /*observe=*/true, options);
  stack.engine().SetChannels({Channel("hook"), Channel("chat", ChannelType::kSlack)});
  Monitor monitor = MakeMonitor("web");
  monitor.alerting.channels = {"hook", "chat"};
  monitor.alerting.remind_every = minutes(5);
  ASSERT_TRUE(stack.core().UpsertMonitor(monitor).ok());
  stack.Round(monitor, Outcome::kDown);
  stack.Deliver("shop/hook");
  ASSERT_EQ(stack.Events(), std::vector<std::string>{"down"});
  // The outage notice leaves before any capture could end.
  EXPECT_EQ(stack.transport().Bodies()[0]["screenshots"], nlohmann::json::array());
  const std::string incident = stack.transport().Bodies()[0]["incident"]["id"];
  ASSERT_TRUE(
      stack.store().AttachScreenshot(incident, "/api/v1/screenshots/a.png", clock_.Now()).ok());
  const nlohmann::json expected = {"https://status.example.com/api/v1/screenshots/a.png"};

  clock_.Advance(minutes(5));
  stack.engine().Tick();
  stack.Deliver("shop/hook");
  ASSERT_EQ(stack.Events(), (std::vector<std::string>{"down", "reminder"}));
  EXPECT_EQ(stack.transport().Bodies()[1]["screenshots"], expected);

  ASSERT_TRUE(stack.engine().Acknowledge(incident, "alice").ok());
  stack.Deliver("shop/hook");
  EXPECT_EQ(stack.transport().Bodies()[2]["event"], "acknowledged");
  EXPECT_EQ(stack.transport().Bodies()[2]["screenshots"], expected);

  clock_.Advance(seconds(10));
  stack.Round(monitor, Outcome::kUp);
  stack.Deliver("shop/hook");
  EXPECT_EQ(stack.transport().Bodies()[3]["event"], "recovered");
  EXPECT_EQ(stack.transport().Bodies()[3]["screenshots"], expected);

  // A chat channel shows the link among the card's facts.
  stack.Deliver("shop/chat");
  const std::string slack_recovery = stack.transport().Bodies().back().dump();
  EXPECT_NE(slack_recovery.find("https://status.example.com/api/v1/screenshots/a.png"),
            std::string::npos);
}

}  // namespace
}  // namespace pharos
