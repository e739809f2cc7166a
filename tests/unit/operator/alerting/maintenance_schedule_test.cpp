#include "operator/alerting/maintenance_schedule.h"

#include <gtest/gtest.h>

#include "common/document_node.h"
#include "common/monitor_loader.h"
#include "common/rfc3339.h"

namespace pharos {
namespace {

using TimePoint = std::chrono::system_clock::time_point;

TimePoint At(const char* text) { return ParseRfc3339(text).value(); }

MaintenanceWindow Parse(const std::string& yaml) {
  ParsedDocuments documents = ParseYamlDocuments(yaml, "windows.yaml");
  EXPECT_TRUE(documents.errors.empty());
  std::vector<ValidationError> errors;
  Result<MaintenanceWindow> window =
      ParseMaintenanceWindow(documents.documents.at(0), DocumentOrigin::kFile, &errors);
  for (const ValidationError& error : errors) ADD_FAILURE() << error.ToString();
  return window.ok() ? std::move(window).value() : MaintenanceWindow{};
}

Monitor MonitorNamed(const std::string& name,
                     const std::map<std::string, std::string>& labels = {}) {
  Monitor monitor;
  monitor.namespace_name = "shop";
  monitor.name = name;
  for (const auto& [key, value] : labels) monitor.labels[key] = value;
  return monitor;
}

const char* kOneOff = R"(
apiVersion: pharos.dev/v1alpha1
kind: MaintenanceWindow
metadata: {name: db-upgrade, namespace: shop}
spec:
  start: "2026-12-20T22:00:00Z"
  end: "2026-12-20T23:30:00Z"
  monitors: [checkout-api]
)";

const char* kNightly = R"(
apiVersion: pharos.dev/v1alpha1
kind: MaintenanceWindow
metadata: {name: nightly, namespace: shop}
spec:
  schedule: "30 2 * * *"
  duration: 1h
  timeZone: Europe/Berlin
  selector: {matchLabels: {tier: batch}}
)";

TEST(MaintenanceScheduleTest, OneOffCoversItsMonitorsBetweenStartAndEnd) {
  MaintenanceSchedule schedule;
  schedule.Replace({Parse(kOneOff)});
  const Monitor checkout = MonitorNamed("checkout-api");
  EXPECT_FALSE(schedule.InMaintenance(checkout, At("2026-12-20T21:59:59Z")));
  EXPECT_TRUE(schedule.InMaintenance(checkout, At("2026-12-20T22:00:00Z")));
  EXPECT_TRUE(schedule.InMaintenance(checkout, At("2026-12-20T23:29:59Z")));
  EXPECT_FALSE(schedule.InMaintenance(checkout, At("2026-12-20T23:30:00Z")));
  EXPECT_FALSE(schedule.InMaintenance(MonitorNamed("catalog"), At("2026-12-20T22:30:00Z")));
  Monitor elsewhere = checkout;
  elsewhere.namespace_name = "other";
  EXPECT_FALSE(schedule.InMaintenance(elsewhere, At("2026-12-20T22:30:00Z")));
}

TEST(MaintenanceScheduleTest, AnswersVersionMovesOnlyWhenSomeAnswerMayHaveChanged) {
  MaintenanceSchedule schedule;
  const auto before = schedule.AnswersVersion(At("2026-12-20T21:00:00Z"));
  ASSERT_TRUE(before.has_value());
  EXPECT_EQ(schedule.AnswersVersion(At("2026-12-20T21:30:00Z")), before);

  schedule.Replace({Parse(kOneOff)});
  const auto replaced = schedule.AnswersVersion(At("2026-12-20T21:30:00Z"));
  EXPECT_NE(replaced, before) << "new windows";
  EXPECT_EQ(schedule.AnswersVersion(At("2026-12-20T21:59:59Z")), replaced)
      << "nothing began or ended";

  const auto started = schedule.AnswersVersion(At("2026-12-20T22:00:00Z"));
  EXPECT_NE(started, replaced) << "the window began";
  EXPECT_TRUE(schedule.InMaintenance(MonitorNamed("checkout-api"), At("2026-12-20T22:10:00Z")));
  EXPECT_EQ(schedule.AnswersVersion(At("2026-12-20T23:00:00Z")), started);

  const auto ended = schedule.AnswersVersion(At("2026-12-20T23:30:00Z"));
  EXPECT_NE(ended, started) << "the window ended";
  schedule.Remove("shop/db-upgrade");
  EXPECT_NE(schedule.AnswersVersion(At("2026-12-20T23:31:00Z")), ended) << "a window removed";
}

TEST(MaintenanceScheduleTest, RecurringInATimeZoneAcrossTheDstChange) {
  MaintenanceSchedule schedule;
  schedule.Replace({Parse(kNightly)});
  const Monitor batch = MonitorNamed("report", {{"tier", "batch"}});
  const Monitor web = MonitorNamed("web", {{"tier", "web"}});
  // 02:30-03:30 Berlin time: 01:30-02:30Z in winter...
  EXPECT_TRUE(schedule.InMaintenance(batch, At("2026-03-28T01:45:00Z")));
  EXPECT_FALSE(schedule.InMaintenance(batch, At("2026-03-28T02:30:00Z")));
  // ...on the night of the change 02:30 does not exist: 03:00-04:00 CEST (01:00-02:00Z)...
  EXPECT_FALSE(schedule.InMaintenance(batch, At("2026-03-29T00:59:00Z")));
  EXPECT_TRUE(schedule.InMaintenance(batch, At("2026-03-29T01:00:00Z")));
  EXPECT_TRUE(schedule.InMaintenance(batch, At("2026-03-29T01:59:00Z")));
  EXPECT_FALSE(schedule.InMaintenance(batch, At("2026-03-29T02:00:00Z")));
  // ...and 00:30-01:30Z in summer.
  EXPECT_TRUE(schedule.InMaintenance(batch, At("2026-03-30T00:30:00Z")));
  EXPECT_FALSE(schedule.InMaintenance(batch, At("2026-03-30T01:30:00Z")));
  EXPECT_FALSE(schedule.InMaintenance(web, At("2026-03-30T00:45:00Z")));
}

TEST(MaintenanceScheduleTest, OverlappingWindowsCoverTheirUnion) {
  MaintenanceWindow first = Parse(kOneOff);
  MaintenanceWindow second = Parse(R"(
apiVersion: pharos.dev/v1alpha1
kind: MaintenanceWindow
metadata: {name: network, namespace: shop}
spec:
  start: "2026-12-20T23:00:00Z"
  end: "2026-12-21T01:00:00Z"
  monitors: [checkout-api, catalog]
)");
  MaintenanceSchedule schedule;
  schedule.Replace({first, second});
  const Monitor checkout = MonitorNamed("checkout-api");
  for (const char* at : {"2026-12-20T22:00:00Z", "2026-12-20T23:15:00Z", "2026-12-20T23:45:00Z",
                         "2026-12-21T00:59:59Z"}) {
    EXPECT_TRUE(schedule.InMaintenance(checkout, At(at))) << at;
  }
  EXPECT_FALSE(schedule.InMaintenance(checkout, At("2026-12-21T01:00:00Z")));
  EXPECT_EQ(schedule.ActiveWindows(checkout, At("2026-12-20T23:15:00Z")),
            (std::vector<std::string>{"shop/db-upgrade", "shop/network"}));
  // Asking back in time after a later answer (virtual clocks do) gives the right answer too.
  EXPECT_TRUE(schedule.InMaintenance(MonitorNamed("catalog"), At("2026-12-21T00:30:00Z")));
  EXPECT_FALSE(schedule.InMaintenance(MonitorNamed("catalog"), At("2026-12-20T22:30:00Z")));
}

TEST(MaintenanceScheduleTest, PeriodsListOccurrencesWithTheirMonitors) {
  std::vector<std::shared_ptr<const Monitor>> monitors = {
      std::make_shared<const Monitor>(MonitorNamed("checkout-api")),
      std::make_shared<const Monitor>(MonitorNamed("report", {{"tier", "batch"}}))};
  MaintenanceSchedule schedule([&] { return monitors; });
  schedule.Replace({Parse(kOneOff), Parse(kNightly)});
  std::vector<MaintenancePeriod> periods =
      schedule.Periods(At("2026-12-20T00:00:00Z"), At("2026-12-21T12:00:00Z"));
  ASSERT_EQ(periods.size(), 3u);
  EXPECT_EQ(periods[0].name, "nightly");
  EXPECT_EQ(FormatRfc3339(periods[0].start), "2026-12-20T01:30:00.000Z");
  EXPECT_EQ(periods[0].monitor_keys, (std::vector<std::string>{"shop/report"}));
  EXPECT_EQ(periods[1].name, "db-upgrade");
  EXPECT_EQ(periods[1].monitor_keys, (std::vector<std::string>{"shop/checkout-api"}));
  EXPECT_EQ(periods[2].name, "nightly");
}

TEST(MaintenanceWindowTest, BadDocumentsHaveLocatedErrors) {
  const auto errors = [](const std::string& spec) {
    ParsedDocuments documents = ParseYamlDocuments(
        "apiVersion: pharos.dev/v1alpha1\nkind: MaintenanceWindow\nmetadata: {name: w}\nspec:\n" +
            spec,
        "w.yaml");
    std::vector<ValidationError> out;
    (void)ParseMaintenanceWindow(documents.documents.at(0), DocumentOrigin::kFile, &out);
    std::string text;
    for (const ValidationError& error : out) text += error.ToString() + "\n";
    return text;
  };
  EXPECT_NE(errors("  start: yesterday\n  end: \"2026-01-01T00:00:00Z\"\n  monitors: [a]\n")
                .find("w.yaml:5:10: spec.start: must be an RFC 3339 time"),
            std::string::npos);
  EXPECT_NE(errors("  schedule: \"0 22 * *\"\n  duration: 1h\n  monitors: [a]\n")
                .find("spec.schedule: a schedule has 5 fields"),
            std::string::npos);
  EXPECT_NE(errors("  schedule: \"0 22 * * *\"\n  duration: 1h\n  timeZone: Europe/Atlantis\n"
                   "  monitors: [a]\n")
                .find("spec.timeZone: unknown time zone"),
            std::string::npos);
  EXPECT_NE(errors("  schedule: \"0 22 * * *\"\n  monitors: [a]\n").find("spec.duration: required"),
            std::string::npos);
  EXPECT_NE(errors("  start: \"2026-01-02T00:00:00Z\"\n  end: \"2026-01-01T00:00:00Z\"\n"
                   "  monitors: [a]\n")
                .find("spec.end: must be after spec.start"),
            std::string::npos);
  EXPECT_NE(errors("  start: \"2026-01-01T00:00:00Z\"\n  end: \"2026-01-02T00:00:00Z\"\n")
                .find("spec.monitors: name the monitors"),
            std::string::npos);
}

}  // namespace
}  // namespace pharos

namespace pharos {
namespace {

TEST(MaintenanceScheduleTest, WindowsAndMonitorsFromTheKubernetesApi) {
  const nlohmann::json window_object = nlohmann::json::parse(R"({
    "apiVersion": "pharos.dev/v1alpha1", "kind": "MaintenanceWindow",
    "metadata": {"name": "nightly", "namespace": "pharos-e2e", "uid": "u-1", "generation": 1,
                 "resourceVersion": "300", "creationTimestamp": "2026-12-06T23:44:31Z"},
    "spec": {"schedule": "* * * * *", "duration": "2h", "timeZone": "Europe/Berlin",
             "selector": {"matchLabels": {"app": "batch"}}}})");
  Result<DocumentNode> node = DocumentNodeFromJson(window_object);
  ASSERT_TRUE(node.ok());
  std::vector<ValidationError> errors;
  Result<MaintenanceWindow> window =
      ParseMaintenanceWindow(*node, DocumentOrigin::kApiObject, &errors);
  ASSERT_TRUE(window.ok()) << window.error();
  const nlohmann::json monitor_object = nlohmann::json::parse(R"({
    "apiVersion": "pharos.dev/v1alpha1", "kind": "Monitor",
    "metadata": {"name": "batch", "namespace": "pharos-e2e", "uid": "m-1", "generation": 1,
                 "labels": {"app": "batch"}},
    "spec": {"type": "http", "http": {"url": "http://127.0.0.1:9/x"}}})");
  std::vector<ValidationError> monitor_errors;
  Result<Monitor> monitor = MonitorFromApiObject(monitor_object, &monitor_errors);
  ASSERT_TRUE(monitor.ok()) << monitor.error();
  MaintenanceSchedule schedule;
  schedule.Upsert(std::move(window).value());
  EXPECT_TRUE(schedule.InMaintenance(*monitor, std::chrono::system_clock::now()));
}

}  // namespace
}  // namespace pharos
