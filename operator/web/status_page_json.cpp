#include "operator/web/status_page_json.h"

#include <cmath>

#include "common/rfc3339.h"
#include "operator/web/status_page_html.h"
#include "operator/web/web_format.h"

namespace pharos {
namespace {

using Json = nlohmann::ordered_json;

Json Percent(std::optional<double> value) {
  return value ? Json(std::floor(*value * 1000.0) / 1000.0) : Json(nullptr);
}

Json IncidentJson(const IncidentView& view) {
  const Incident& incident = view.record.incident;
  Json timeline = Json::array();
  for (const IncidentEntry& entry : StatusPageHtml::TimelineOf(view.record)) {
    if (entry.kind == IncidentEntry::Kind::kNotification) continue;
    timeline.push_back({{"at", FormatRfc3339(entry.at)},
                        {"kind", ToString(entry.kind)},
                        {"text", entry.text},
                        {"author", entry.author}});
  }
  return {{"id", incident.id},
          {"component", view.component},
          {"monitor", incident.monitor_key},
          {"phase", ToString(view.record.phase)},
          {"openedAt", FormatRfc3339(incident.opened_at)},
          {"resolvedAt",
           incident.resolved_at ? Json(FormatRfc3339(*incident.resolved_at)) : Json(nullptr)},
          {"failingRegions", incident.failing_regions},
          {"timeline", std::move(timeline)},
          {"screenshots", view.screenshot_urls}};
}

Json MaintenanceJson(const MaintenanceView& view) {
  return {{"name", view.period.name},
          {"namespace", view.period.namespace_name},
          {"description", view.period.description},
          {"start", FormatRfc3339(view.period.start)},
          {"end", FormatRfc3339(view.period.end)},
          {"components", view.components}};
}

}  // namespace

nlohmann::ordered_json StatusPageJson::Render(const StatusPageView& view) {
  const StatusPage& page = *view.page;
  Json components = Json::array();
  for (const GroupView& group : view.groups) {
    for (const ComponentView& component : group.components) {
      Json regions = Json::array();
      for (const RegionStatus& region : component.regions) {
        regions.push_back({{"name", region.name}, {"state", ToString(region.state)}});
      }
      Json days = Json::array();
      for (const DayView& day : component.days) {
        days.push_back({{"date", FormatIsoDate(day.day)},
                        {"uptime", Percent(day.uptime)},
                        {"level", ToString(day.level)},
                        {"incidents", day.facts.incidents},
                        {"failedChecks", day.facts.failed}});
      }
      components.push_back(
          {{"group", group.name},
           {"name", component.display_name},
           {"namespace", component.namespace_name},
           {"monitor", component.monitor_name},
           {"state", component.state ? ToString(*component.state) : "Unknown"},
           {"since", component.state ? Json(FormatRfc3339(component.since)) : Json(nullptr)},
           {"uptime", Percent(component.uptime)},
           {"regions", std::move(regions)},
           {"uptimeDays", std::move(days)}});
    }
  }
  Json active = Json::array();
  for (const IncidentView& incident : view.active_incidents) active.push_back(IncidentJson(incident));
  Json resolved = Json::array();
  for (const IncidentView& incident : view.resolved_incidents) resolved.push_back(IncidentJson(incident));
  Json maintenance_active = Json::array();
  for (const MaintenanceView& period : view.active_maintenance) {
    maintenance_active.push_back(MaintenanceJson(period));
  }
  Json maintenance_upcoming = Json::array();
  for (const MaintenanceView& period : view.upcoming_maintenance) {
    maintenance_upcoming.push_back(MaintenanceJson(period));
  }
  return {{"page",
           {{"slug", page.slug},
            {"title", page.title},
            {"description", page.description},
            {"namespace", page.namespace_name},
            {"name", page.name}}},
          {"status", ToString(view.status)},
          {"headline", Headline(view.status)},
          {"updatedAt", FormatRfc3339(view.now)},
          {"components", std::move(components)},
          {"incidents", {{"active", std::move(active)}, {"resolved", std::move(resolved)}}},
          {"maintenance",
           {{"active", std::move(maintenance_active)}, {"upcoming", std::move(maintenance_upcoming)}}}};
}

}  // namespace pharos
