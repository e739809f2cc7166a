#include "operator/web/status_page_json.h"

#include <fmt/format.h>

#include <cmath>

#include "common/json_text.h"
#include "common/rfc3339.h"
#include "operator/web/status_page_html.h"
#include "operator/web/web_format.h"

namespace pharos {
namespace {

// Percent with up to three decimals, never rounded up; null when unknown.
void AppendPercent(std::string& out, std::optional<double> value) {
  if (!value) {
    out += "null";
    return;
  }
  const double floored = std::floor(*value * 1000.0) / 1000.0;
  if (floored == std::floor(floored)) {
    out += fmt::format("{:.0f}", floored);
  } else {
    std::string text = fmt::format("{:.3f}", floored);
    while (text.back() == '0') text.pop_back();
    out += text;
  }
}

void AppendTime(std::string& out, std::optional<TimePoint> time) {
  if (!time) {
    out += "null";
    return;
  }
  out += '"';
  out += FormatRfc3339(*time);
  out += '"';
}

void AppendStrings(std::string& out, const std::vector<std::string>& values) {
  out += '[';
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    StatusPageJson::AppendString(out, values[i]);
  }
  out += ']';
}

void AppendIncident(std::string& out, const IncidentView& view) {
  const Incident& incident = view.record.incident;
  out += "{\"id\":";
  StatusPageJson::AppendString(out, incident.id);
  out += ",\"component\":";
  StatusPageJson::AppendString(out, view.component);
  out += ",\"monitor\":";
  StatusPageJson::AppendString(out, incident.monitor_key);
  out += ",\"phase\":\"";
  out += ToString(view.record.phase);
  out += "\",\"openedAt\":";
  AppendTime(out, incident.opened_at);
  out += ",\"resolvedAt\":";
  AppendTime(out, incident.resolved_at);
  out += ",\"failingRegions\":";
  AppendStrings(out, incident.failing_regions);
  out += ",\"timeline\":[";
  bool first = true;
  for (const IncidentEntry& entry : StatusPageHtml::TimelineOf(view.record)) {
    if (entry.kind == IncidentEntry::Kind::kNotification) continue;
    out += first ? "" : ",";
    first = false;
    out += "{\"at\":";
    AppendTime(out, entry.at);
    out += ",\"kind\":\"";
    out += ToString(entry.kind);
    out += "\",\"text\":";
    StatusPageJson::AppendString(out, entry.text);
    out += ",\"author\":";
    StatusPageJson::AppendString(out, entry.author);
    out += '}';
  }
  out += "],\"screenshots\":";
  AppendStrings(out, view.screenshot_urls);
  out += '}';
}

void AppendMaintenance(std::string& out, const MaintenanceView& view) {
  out += "{\"name\":";
  StatusPageJson::AppendString(out, view.period.name);
  out += ",\"namespace\":";
  StatusPageJson::AppendString(out, view.period.namespace_name);
  out += ",\"description\":";
  StatusPageJson::AppendString(out, view.period.description);
  out += ",\"start\":";
  AppendTime(out, view.period.start);
  out += ",\"end\":";
  AppendTime(out, view.period.end);
  out += ",\"components\":";
  AppendStrings(out, view.components);
  out += '}';
}

template <typename T, typename Append>
void AppendList(std::string& out, const std::vector<T>& items, Append append) {
  out += '[';
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ',';
    append(out, items[i]);
  }
  out += ']';
}

}  // namespace

void StatusPageJson::AppendString(std::string& out, std::string_view text) {
  AppendJsonString(out, text);
}

std::string StatusPageJson::Render(const StatusPageView& view) {
  const StatusPage& page = *view.page;
  std::string out;
  out.reserve(2'048 + view.component_count() * 9'000);
  out += "{\"page\":{\"slug\":";
  AppendString(out, page.slug);
  out += ",\"title\":";
  AppendString(out, page.title);
  out += ",\"description\":";
  AppendString(out, page.description);
  out += ",\"namespace\":";
  AppendString(out, page.namespace_name);
  out += ",\"name\":";
  AppendString(out, page.name);
  out += "},\"status\":\"";
  out += ToString(view.status);
  out += "\",\"headline\":\"";
  out += Headline(view.status);
  out += "\",\"updatedAt\":";
  AppendTime(out, view.now);
  out += ",\"components\":[";
  // The dates of the bar, once for every component.
  std::vector<std::string> dates;
  bool first = true;
  for (const GroupView& group : view.groups) {
    for (const ComponentView& component : group.components) {
      if (dates.empty()) {
        for (const DayView& day : component.days) dates.push_back(FormatIsoDate(day.day));
      }
      out += first ? "{\"group\":" : ",{\"group\":";
      first = false;
      AppendString(out, group.name);
      out += ",\"name\":";
      AppendString(out, component.display_name);
      out += ",\"namespace\":";
      AppendString(out, component.namespace_name);
      out += ",\"monitor\":";
      AppendString(out, component.monitor_name);
      out += ",\"state\":\"";
      out += component.state ? ToString(*component.state) : "Unknown";
      out += "\",\"since\":";
      AppendTime(out, component.state ? std::optional(component.since) : std::nullopt);
      out += ",\"uptime\":";
      AppendPercent(out, component.uptime);
      out += ",\"regions\":[";
      for (size_t i = 0; i < component.regions.size(); ++i) {
        out += i == 0 ? "{\"name\":" : ",{\"name\":";
        AppendString(out, component.regions[i].name);
        out += ",\"state\":\"";
        out += ToString(component.regions[i].state);
        out += "\"}";
      }
      out += "],\"uptimeDays\":[";
      for (size_t i = 0; i < component.days.size(); ++i) {
        const DayView& day = component.days[i];
        out += i == 0 ? "{\"date\":\"" : ",{\"date\":\"";
        out += i < dates.size() ? dates[i] : FormatIsoDate(day.day);
        out += "\",\"uptime\":";
        AppendPercent(out, day.uptime);
        out += ",\"level\":\"";
        out += ToString(day.level);
        out += "\",\"incidents\":";
        out += std::to_string(day.facts.incidents);
        out += ",\"failedChecks\":";
        out += std::to_string(day.facts.failed);
        out += '}';
      }
      out += "]}";
    }
  }
  out += "],\"incidents\":{\"active\":";
  AppendList(out, view.active_incidents, AppendIncident);
  out += ",\"resolved\":";
  AppendList(out, view.resolved_incidents, AppendIncident);
  out += "},\"maintenance\":{\"active\":";
  AppendList(out, view.active_maintenance, AppendMaintenance);
  out += ",\"upcoming\":";
  AppendList(out, view.upcoming_maintenance, AppendMaintenance);
  out += "}}";
  return out;
}

}  // namespace pharos
