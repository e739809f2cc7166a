#include "operator/web/status_page_builder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/manual_clock.h"
#include "operator/web/status_page_html.h"
#include "operator/web/status_page_json.h"
#include "operator/web/web_format.h"
#include "unit/operator/web/web_test_doubles.h"

namespace pharos {
namespace {

using std::chrono::days;
using std::chrono::hours;
using std::chrono::minutes;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::UnorderedElementsAre;
using namespace ::pharos::testing;

const TimePoint kToday = TimePoint(kNow.time_since_epoch() - kNow.time_since_epoch() % days(1));

StatusPageComponent ByName(std::string ns, std::string monitor, std::string name = "") {
  StatusPageComponent component;
  component.namespace_name = std::move(ns);
  component.monitor = std::move(monitor);
  component.display_name = std::move(name);
  return component;
}

class StatusPageBuilderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    web_ = WebMonitor("shop", "web");
    checkout_ = WebMonitor("shop", "checkout");
    payments_ = WebMonitor("billing", "payments", {{"tier", "billing"}}, "Payments");
    cron_ = WebMonitor("billing", "cron", {{"tier", "billing"}});
    other_ = WebMonitor("billing", "reports", {{"tier", "internal"}});
    status_.Add(StatusOf(web_, MonitorState::kUp));
    MonitorStatus checkout = StatusOf(checkout_, MonitorState::kDown);
    checkout.incident = IncidentStatus{"inc-checkout", kNow - minutes(40)};
    status_.Add(checkout);
    status_.Add(StatusOf(payments_, MonitorState::kUp));
    status_.Add(StatusOf(cron_, MonitorState::kPaused));
    status_.Add(StatusOf(other_, MonitorState::kDown));

    history_.AddDay(web_->uid, kToday - days(9), 98, 0, 2);
    history_.AddDay(web_->uid, kToday - days(9), 50, 0, 0, 0, "us-east");
    history_.AddDay(web_->uid, kToday - days(120), 10, 0, 0);  // before the bar's days
    history_.AddHour(checkout_->uid, kNow - minutes(20), 40, 0, 10);
    history_.AddDay(payments_->uid, kToday - days(3), 90, 5, 5);
    for (int hour = 0; hour < 30; hour += 3) {
      history_.AddHour(
          web_->uid,
          TimePoint(kNow.time_since_epoch() - kNow.time_since_epoch() % hours(1)) - hours(hour), 10,
          int64_t{10} * (10'000 + 1'000 * hour));
    }

    IncidentRecord checkout_incident = IncidentRecord::FromIncident(Incident{"inc-checkout",
                                                                             checkout_->uid,
                                                                             checkout_->Key(),
                                                                             kNow - minutes(40),
                                                                             std::nullopt,
                                                                             {"eu-west"},
                                                                             "status code 503"});
    checkout_incident.phase = IncidentPhase::kAcknowledged;
    checkout_incident.timeline = {
        {kNow - minutes(40), IncidentEntry::Kind::kStateChange,
         "Down (failing in eu-west: status code 503)", ""},
        {kNow - minutes(39), IncidentEntry::Kind::kNotification, "down sent to shop/oncall", ""},
        {kNow - minutes(30), IncidentEntry::Kind::kAcknowledged, "", "alice"},
        {kNow - minutes(20), IncidentEntry::Kind::kNote, "Rolling back <release 42> & watching",
         "alice"}};
    incidents_.Add(checkout_incident);
    IncidentRecord payments_incident =
        IncidentRecord::FromIncident(Incident{"inc-payments",
                                              payments_->uid,
                                              payments_->Key(),
                                              kToday - days(3) + hours(4),
                                              kToday - days(3) + hours(5),
                                              {"us-east"},
                                              "timeout"});
    payments_incident.screenshot_urls = {"/api/v1/screenshots/a.png"};
    incidents_.Add(payments_incident);
    // Resolved long before the bar's days: left out.
    incidents_.Add(IncidentRecord::FromIncident(Incident{"inc-old",
                                                         payments_->uid,
                                                         payments_->Key(),
                                                         kToday - days(200),
                                                         kToday - days(199),
                                                         {},
                                                         ""}));
    screenshots_.urls["inc-payments"] = {"/api/v1/screenshots/a.png", "/api/v1/screenshots/b.png"};

    calendar_.Add(MaintenancePeriod{
        "shop", "db-upgrade", "Database upgrade", kNow - hours(1), kNow + hours(1), {"shop/web"}});
    calendar_.Add(MaintenancePeriod{
        "shop", "card-vendor", "", kNow + days(2), kNow + days(2) + hours(3), {"shop/checkout"}});
    calendar_.Add(MaintenancePeriod{
        "other", "unrelated", "", kNow - hours(1), kNow + hours(1), {"other/thing"}});

    page_.namespace_name = "shop";
    page_.name = "shop";
    page_.slug = "shop";
    page_.title = "Shop";
    StatusPageComponent billing;
    billing.namespace_name = "billing";
    billing.match_labels = {{"tier", "billing"}};
    page_.groups = {{"Storefront", {ByName("shop", "web", "Website"), ByName("shop", "checkout")}},
                    {"Billing", {billing}},
                    {"Gone", {ByName("shop", "deleted", "Old API")}}};
  }

  StatusPageView Build() {
    StatusPageBuilder builder(status_, history_, incidents_, calendar_, &screenshots_);
    Result<StatusPageView> view = builder.Build(std::make_shared<const StatusPage>(page_), kNow);
    EXPECT_TRUE(view.ok()) << view.error();
    return view.ok() ? std::move(view).value() : StatusPageView{};
  }

  static const ComponentView& Find(const StatusPageView& view, const std::string& name) {
    for (const GroupView& group : view.groups) {
      for (const ComponentView& component : group.components) {
        if (component.display_name == name) return component;
      }
    }
    ADD_FAILURE() << "no component " << name;
    static const ComponentView kNone;
    return kNone;
  }

  std::shared_ptr<const Monitor> web_, checkout_, payments_, cron_, other_;
  FakeStatusReader status_;
  FakeHistory history_;
  FakeIncidentReader incidents_;
  FakeCalendar calendar_;
  FakeScreenshots screenshots_;
  StatusPage page_;
};

TEST_F(StatusPageBuilderTest, ResolvesComponentsByNameAndBySelectorInTheirGroups) {
  const StatusPageView view = Build();
  ASSERT_EQ(view.groups.size(), 3u);
  EXPECT_EQ(view.groups[0].name, "Storefront");
  std::vector<std::string> names;
  for (const GroupView& group : view.groups) {
    for (const ComponentView& component : group.components) names.push_back(component.display_name);
  }
  // The selector takes billing's monitors labelled tier=billing, by name; the annotation names
  // payments; "reports" (another label) is not on the page.
  EXPECT_THAT(names, ElementsAre("Website", "checkout", "cron", "Payments", "Old API"));
  const ComponentView& gone = Find(view, "Old API");
  EXPECT_FALSE(gone.state.has_value());
  EXPECT_EQ(gone.days.size(), 90u);
  EXPECT_EQ(ComponentStateLabel(gone.state), std::string("Unknown"));
  EXPECT_EQ(status_.snapshot_all_calls, 1);  // one read of every monitor for the selector
}

TEST_F(StatusPageBuilderTest, OverallStatusCountsWatchedComponentsOnly) {
  // checkout Down; web and payments Up; cron Paused and the missing one do not count.
  EXPECT_EQ(Build().status, PageStatus::kPartialOutage);
  status_.Add(StatusOf(web_, MonitorState::kDown));
  status_.Add(StatusOf(payments_, MonitorState::kDown));
  EXPECT_EQ(Build().status, PageStatus::kMajorOutage);
}

TEST_F(StatusPageBuilderTest, DaysAreColouredByTheirWorstEvent) {
  const StatusPageView view = Build();
  const ComponentView& web = Find(view, "Website");
  ASSERT_EQ(web.days.size(), 90u);
  EXPECT_EQ(web.days.front().day, kToday - days(89));
  EXPECT_EQ(web.days.back().day, kToday);
  // Today: checks passed, but a maintenance window covers the monitor now.
  EXPECT_EQ(web.days.back().level, DayLevel::kMaintenance);
  // Nine days ago: two failed checks of 150 (both regions merged), no incident.
  const DayView& failed = web.days[80];
  EXPECT_EQ(failed.level, DayLevel::kDegraded);
  EXPECT_EQ(failed.facts.failed, 2);
  EXPECT_NEAR(*failed.uptime, 100.0 * 148 / 150, 1e-9);
  EXPECT_EQ(web.days[79].level, DayLevel::kNone);
  // Today's 60 and yesterday's 40 checks (from hourly rollups), and nine days ago; the day 120
  // days ago is not counted.
  EXPECT_EQ(web.days.back().facts.passed, 60);
  EXPECT_EQ(web.days[88].facts.passed, 40);
  EXPECT_NEAR(*web.uptime, 100.0 * 248 / 250, 1e-9);
  const ComponentView& checkout = Find(view, "checkout");
  EXPECT_EQ(checkout.days.back().level, DayLevel::kDown);
  EXPECT_EQ(checkout.days.back().facts.incidents, 1);
  const ComponentView& payments = Find(view, "Payments");
  EXPECT_EQ(payments.days[86].level, DayLevel::kDown);
  EXPECT_EQ(payments.days[86].facts.degraded, 5);
  EXPECT_EQ(StatusPageHtml::DayTooltip(payments.days[86]),
            "8 Apr 2026: 95% uptime, 1 incident, 5 failed checks, 5 slow checks");
}

TEST_F(StatusPageBuilderTest, OnlyThePageRegionsAreCounted) {
  page_.regions = {"us-east"};
  const StatusPageView view = Build();
  const ComponentView& web = Find(view, "Website");
  EXPECT_EQ(web.days[80].facts.failed, 0);
  EXPECT_EQ(web.days[80].level, DayLevel::kUp);
  ASSERT_EQ(web.regions.size(), 1u);
  EXPECT_EQ(web.regions[0].name, "us-east");
}

TEST_F(StatusPageBuilderTest, HourlyLatencyForTheSparkline) {
  const StatusPageView view = Build();
  const ComponentView& web = Find(view, "Website");
  ASSERT_EQ(web.latency_hours.size(), 24u);
  EXPECT_EQ(web.latency_hours[23], 10'000);  // the current hour
  EXPECT_EQ(web.latency_hours[20], 13'000);
  EXPECT_FALSE(web.latency_hours[22].has_value());
  EXPECT_EQ(web.latency_hours[2], 31'000);
  EXPECT_FALSE(web.latency_hours[0].has_value());
}

TEST_F(StatusPageBuilderTest, IncidentsWithTimelineNotesAndScreenshots) {
  const StatusPageView view = Build();
  ASSERT_EQ(view.active_incidents.size(), 1u);
  const IncidentView& active = view.active_incidents[0];
  EXPECT_EQ(active.component, "checkout");
  EXPECT_EQ(active.record.phase, IncidentPhase::kAcknowledged);
  EXPECT_EQ(active.record.timeline.size(), 4u);
  ASSERT_EQ(view.resolved_incidents.size(), 1u);  // the 200-day-old one is out of the window
  const IncidentView& resolved = view.resolved_incidents[0];
  EXPECT_EQ(resolved.component, "Payments");
  // The record's screenshot and the index's, without duplicates.
  EXPECT_THAT(resolved.screenshot_urls,
              ElementsAre("/api/v1/screenshots/a.png", "/api/v1/screenshots/b.png"));
  // Incidents are read only for monitors with a failed check or an open incident.
  EXPECT_THAT(incidents_.asked, UnorderedElementsAre(web_->uid, checkout_->uid, payments_->uid));
}

TEST_F(StatusPageBuilderTest, MaintenanceNowAndAheadForThePageMonitorsOnly) {
  const StatusPageView view = Build();
  ASSERT_EQ(view.active_maintenance.size(), 1u);
  EXPECT_EQ(view.active_maintenance[0].period.name, "db-upgrade");
  EXPECT_THAT(view.active_maintenance[0].components, ElementsAre("Website"));
  ASSERT_EQ(view.upcoming_maintenance.size(), 1u);
  EXPECT_EQ(view.upcoming_maintenance[0].period.name, "card-vendor");
  EXPECT_THAT(view.upcoming_maintenance[0].components, ElementsAre("checkout"));
  // With nothing down, an active window makes the page "Under maintenance".
  status_.Add(StatusOf(checkout_, MonitorState::kUp));
  EXPECT_EQ(Build().status, PageStatus::kMaintenance);
}

TEST_F(StatusPageBuilderTest, DefaultPageGroupsEveryMonitorByNamespace) {
  page_ = DefaultStatusPage();
  const StatusPageView view = Build();
  ASSERT_EQ(view.groups.size(), 2u);
  EXPECT_EQ(view.groups[0].name, "billing");
  EXPECT_EQ(view.groups[0].components.size(), 3u);
  EXPECT_EQ(view.groups[1].name, "shop");
  EXPECT_EQ(view.groups[1].components.size(), 2u);
}

TEST_F(StatusPageBuilderTest, AStoreErrorIsAnError) {
  history_.fail = true;
  StatusPageBuilder builder(status_, history_, incidents_, calendar_, nullptr);
  Result<StatusPageView> view = builder.Build(std::make_shared<const StatusPage>(page_), kNow);
  ASSERT_FALSE(view.ok());
  EXPECT_THAT(view.error(), HasSubstr("disk I/O error"));
}

TEST_F(StatusPageBuilderTest, HtmlShowsTimelineNotesMaintenanceAndScreenshots) {
  const std::string html = StatusPageHtml::Render(Build());
  EXPECT_THAT(html, HasSubstr("<h2 id=\"banner-title\">Partial outage</h2>"));
  // The note, escaped, with its author; the acknowledgement; no delivery record.
  EXPECT_THAT(html, HasSubstr("Rolling back &lt;release 42&gt; &amp; watching"));
  EXPECT_THAT(html, HasSubstr("<span class=\"kind\">Note</span> by alice"));
  EXPECT_THAT(html, HasSubstr("<span class=\"kind\">Acknowledged</span> by alice"));
  EXPECT_THAT(html, Not(HasSubstr("sent to shop/oncall")));
  EXPECT_THAT(html, HasSubstr(">Acknowledged</span> checkout is unavailable"));
  // Maintenance now and ahead.
  EXPECT_THAT(html, HasSubstr("In progress</span> db-upgrade"));
  EXPECT_THAT(html, HasSubstr("Scheduled</span> card-vendor"));
  EXPECT_THAT(html, HasSubstr("Database upgrade"));
  // Screenshots with a text alternative.
  EXPECT_THAT(html, HasSubstr("<img src=\"/api/v1/screenshots/b.png\" loading=\"lazy\""));
  EXPECT_THAT(html, HasSubstr("alt=\"Screenshot of Payments when it became unavailable\""));
  // Every bar has a text alternative; the missing monitor reads Unknown.
  EXPECT_THAT(html, HasSubstr("role=\"img\" aria-label=\"Uptime over the last 90 days: 99.2%."));
  EXPECT_THAT(html, HasSubstr("Unknown</span>"));
  // Times are UTC in the markup, for the script to localise.
  EXPECT_THAT(html, HasSubstr("data-local=\"datetime\">2026-04-11 14:40 UTC</time>"));
}

TEST_F(StatusPageBuilderTest, JsonHasStatusAndUptimePerDay) {
  const nlohmann::json json = nlohmann::json::parse(StatusPageJson::Render(Build()));
  EXPECT_EQ(json["status"], "partial_outage");
  ASSERT_EQ(json["components"].size(), 5u);
  const auto& web = json["components"][0];
  EXPECT_EQ(web["name"], "Website");
  EXPECT_EQ(web["monitor"], "web");
  EXPECT_EQ(web["state"], "Up");
  ASSERT_EQ(web["uptimeDays"].size(), 90u);
  EXPECT_EQ(web["uptimeDays"][89]["level"], "maintenance");
  EXPECT_EQ(web["uptimeDays"][80]["failedChecks"], 2);
  EXPECT_EQ(json["components"][4]["state"], "Unknown");
  EXPECT_EQ(json["incidents"]["active"][0]["phase"], "Acknowledged");
  EXPECT_EQ(json["incidents"]["active"][0]["timeline"].size(), 3u);  // without the delivery
  EXPECT_EQ(json["maintenance"]["upcoming"][0]["components"][0], "checkout");
}

// The tooltip of `day` in the bar of component `name` of a page's HTML.
std::string TooltipOf(const std::string& html, const std::string& name, TimePoint day) {
  const size_t component = html.find("<h4>" + name + "</h4>");
  const std::string prefix = "title=\"" + FormatDate(day) + ": ";
  const size_t start = html.find(prefix, component);
  if (component == std::string::npos || start == std::string::npos) return "";
  const size_t text = start + prefix.size() - FormatDate(day).size() - 2;
  return html.substr(text, html.find('"', text) - text);
}

// What the caches keep between builds (complete days of the rollups, rendered cells) never
// shows anything a fresh builder would not: across midnight UTC, and once the rollup ttl has
// passed after a late result.
TEST_F(StatusPageBuilderTest, AKeptBuilderShowsWhatAFreshOneShowsAcrossMidnight) {
  ManualClock clock(kToday + hours(23) + minutes(50));
  StatusPageBuilder kept(status_, history_, incidents_, calendar_, &screenshots_);
  BarCellCache cells;
  const auto page = std::make_shared<const StatusPage>(page_);
  auto html = [&](StatusPageBuilder& builder, BarCellCache* cache) {
    Result<StatusPageView> view = builder.Build(page, clock.Now());
    EXPECT_TRUE(view.ok()) << view.error();
    return view.ok() ? StatusPageHtml::Render(*view, cache) : std::string();
  };
  auto fresh = [&] {
    StatusPageBuilder builder(status_, history_, incidents_, calendar_, &screenshots_);
    return html(builder, nullptr);
  };
  EXPECT_EQ(html(kept, &cells), fresh());
  history_.AddHour(web_->uid, kToday + hours(23), 5, 5'000, 2);  // the day's last hour

  clock.Advance(minutes(15));  // 00:05 UTC the next day
  const std::string after_midnight = html(kept, &cells);
  EXPECT_EQ(after_midnight, fresh());
  EXPECT_THAT(TooltipOf(after_midnight, "Website", kToday), HasSubstr("2 failed checks"));

  // A late failed check five days ago: shown once the rollup ttl has passed.
  history_.AddDay(web_->uid, kToday - days(5), 0, 0, 3);
  clock.Advance(RollupCountsCache::Options{}.ttl);
  const std::string late = html(kept, &cells);
  EXPECT_EQ(late, fresh());
  EXPECT_EQ(TooltipOf(late, "Website", kToday - days(5)),
            FormatDate(kToday - days(5)) + ": 0% uptime, 3 failed checks");
}

TEST(StatusPageJsonTest, StringsAreEscaped) {
  std::string out;
  StatusPageJson::AppendString(out, "a\"b\\c\nd\x01é");
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\nd\\u0001é\"");
  EXPECT_EQ(nlohmann::json::parse(out), "a\"b\\c\nd\x01é");
}

TEST(StatusPageHtmlTest, APlainIncidentGetsATimelineOfItsOpeningAndResolution) {
  IncidentRecord record = IncidentRecord::FromIncident(Incident{
      "i", "u", "shop/web", kNow - hours(2), kNow - hours(1), {"eu-west", "us-east"}, "x"});
  const std::vector<IncidentEntry> timeline = StatusPageHtml::TimelineOf(record);
  ASSERT_EQ(timeline.size(), 2u);
  EXPECT_EQ(timeline[0].at, kNow - hours(2));
  EXPECT_EQ(timeline[0].text, "Checks started failing in eu-west, us-east");
  EXPECT_EQ(timeline[1].at, kNow - hours(1));
  record.incident.resolved_at.reset();
  EXPECT_EQ(StatusPageHtml::TimelineOf(record).size(), 1u);
}

}  // namespace
}  // namespace pharos
