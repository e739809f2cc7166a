#include "operator/web/status_page_html.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <limits>
#include <span>

#include "operator/web/html_layout.h"
#include "operator/web/status_page_builder.h"
#include "operator/web/web_format.h"

namespace pharos {
namespace {

constexpr int kNarrowDays = 30;  // days a phone shows of the bar (CSS hides the older ones)
constexpr size_t kMaxDaysNamed = 6;

std::string StateIcon(PageStatus status) {
  // Decorative: the headline next to it says the same.
  const char* path = "M5 12.5l4.5 4.5L19 7.5";  // check
  if (status == PageStatus::kDegraded || status == PageStatus::kPartialOutage) {
    path = "M12 7v6m0 3.5v.5";  // exclamation
  } else if (status == PageStatus::kMajorOutage) {
    path = "M7 7l10 10M17 7L7 17";  // cross
  } else if (status == PageStatus::kMaintenance) {
    path = "M12 7v5l3 3";  // clock hands
  }
  return fmt::format(
      "<svg class=\"icon\" viewBox=\"0 0 24 24\" aria-hidden=\"true\" focusable=\"false\">"
      "<circle cx=\"12\" cy=\"12\" r=\"11\" fill=\"none\" stroke=\"currentColor\" "
      "stroke-width=\"2\"/><path d=\"{}\" fill=\"none\" stroke=\"currentColor\" "
      "stroke-width=\"2.4\" "
      "stroke-linecap=\"round\" stroke-linejoin=\"round\"/></svg>",
      path);
}

std::string StateLabel(std::optional<MonitorState> state) {
  return fmt::format(
      "<span class=\"state state-{}\"><span class=\"dot\" aria-hidden=\"true\"></span>{}</span>",
      ComponentStateClass(state), ComponentStateLabel(state));
}

std::string Anchor(std::string_view prefix, std::string_view id) {
  std::string out(prefix);
  for (char c : id) {
    out += (std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-') ? c : '-';
  }
  return out;
}

// The 24-hour sparkline: gaps where an hour had no passing check.
std::string Sparkline(const ComponentView& component) {
  int64_t low = std::numeric_limits<int64_t>::max();
  int64_t high = 0;
  int64_t sum = 0;
  int count = 0;
  for (const std::optional<int64_t>& hour : component.latency_hours) {
    if (!hour) continue;
    low = std::min(low, *hour);
    high = std::max(high, *hour);
    sum += *hour;
    ++count;
  }
  if (count == 0) return "<span>No response times in the last 24 hours</span>";
  if (count == 1) return "<span>" + FormatLatency(sum) + " avg, last hour</span>";
  const double span = static_cast<double>(std::max<int64_t>(high - low, 1));
  const size_t slots = component.latency_hours.size();
  std::string lines;
  std::string points;
  for (size_t i = 0; i <= slots; ++i) {
    const bool has = i < slots && component.latency_hours[i].has_value();
    if (has) {
      const double x =
          slots > 1 ? 96.0 * static_cast<double>(i) / static_cast<double>(slots - 1) : 48;
      const double y = 22.0 - 20.0 * static_cast<double>(*component.latency_hours[i] - low) / span;
      points += fmt::format("{:.1f},{:.1f} ", x, y);
      continue;
    }
    if (!points.empty()) {
      // A single point is drawn as a short dash so that it shows.
      if (std::count(points.begin(), points.end(), ' ') == 1) {
        const double x = std::stod(points.substr(0, points.find(',')));
        const std::string y =
            points.substr(points.find(',') + 1, points.size() - points.find(',') - 2);
        points = fmt::format("{:.1f},{} {:.1f},{} ", std::max(0.0, x - 1.5), y, x + 1.5, y);
      }
      points.pop_back();
      lines += "<polyline points=\"" + points + "\"/>";
      points.clear();
    }
  }
  const std::string summary = fmt::format(
      "Average response time over the last 24 hours: {} (hourly averages from {} to {})",
      FormatLatency(sum / count), FormatLatency(low), FormatLatency(high));
  return fmt::format(
      "<svg class=\"sparkline\" viewBox=\"0 0 96 24\" preserveAspectRatio=\"none\" role=\"img\" "
      "aria-label=\"{}\"><title>{}</title>{}</svg><span aria-hidden=\"true\">{} avg, 24 h</span>",
      HtmlEscaped(summary), HtmlEscaped(summary), lines, FormatLatency(sum / count));
}

std::string JoinDays(const std::vector<std::string>& days) {
  std::string out;
  for (size_t i = 0; i < days.size() && i < kMaxDaysNamed; ++i) {
    out += (i == 0 ? "" : ", ") + days[i];
  }
  if (days.size() > kMaxDaysNamed) out += fmt::format(" and {} more", days.size() - kMaxDaysNamed);
  return out;
}

// What the bar says to someone who cannot see it. `dates`: the label of each day.
std::string BarSummary(const ComponentView& component, const std::vector<std::string>& dates) {
  std::vector<std::string> down;
  std::vector<std::string> degraded;
  std::vector<std::string> maintenance;
  for (size_t i = 0; i < component.days.size(); ++i) {
    const DayView& day = component.days[i];
    std::vector<std::string>* list = day.level == DayLevel::kDown          ? &down
                                     : day.level == DayLevel::kDegraded    ? &degraded
                                     : day.level == DayLevel::kMaintenance ? &maintenance
                                                                           : nullptr;
    if (list == nullptr) continue;
    // Only the first kMaxDaysNamed are named; the others are counted.
    list->push_back(list->size() >= kMaxDaysNamed ? std::string()
                    : i < dates.size()            ? dates[i]
                                                  : FormatDate(day.day));
  }
  std::string text = fmt::format("Uptime over the last {} days: {}.", component.days.size(),
                                 component.uptime ? FormatPercent(component.uptime) : "no data");
  if (!down.empty()) text += " Days with incidents: " + JoinDays(down) + ".";
  if (!degraded.empty()) text += " Days with failed or slow checks: " + JoinDays(degraded) + ".";
  if (!maintenance.empty()) text += " Days with maintenance: " + JoinDays(maintenance) + ".";
  if (down.empty() && degraded.empty() && component.uptime) text += " No incidents.";
  return text;
}

// Appends ", 3 failed checks" (text that needs no escaping).
void AppendCount(std::string& out, int64_t count, std::string_view one, std::string_view many) {
  out += ", ";
  if (count >= 0 && count < 1'000) {
    char digits[4];
    const auto end = std::to_chars(digits, digits + sizeof digits, count).ptr;
    out.append(digits, end);
  } else {
    out += FormatCount(count);
  }
  out += ' ';
  out += count == 1 ? one : many;
}

// Appends "100% uptime, 1 incident, 2 failed checks..." (text that needs no escaping).
void AppendDayFacts(std::string& out, const DayView& day) {
  if (!day.uptime) {
    out += "no data";
  } else if (*day.uptime >= 100.0) {
    out += "100% uptime";
  } else {
    out += FormatPercent(day.uptime);
    out += " uptime";
  }
  if (day.facts.incidents > 0) AppendCount(out, day.facts.incidents, "incident", "incidents");
  if (day.facts.failed > 0) AppendCount(out, day.facts.failed, "failed check", "failed checks");
  if (day.facts.degraded > 0) AppendCount(out, day.facts.degraded, "slow check", "slow checks");
  if (day.facts.maintenance) out += ", maintenance";
}

// The cells of `days`, the first of which is day `first` of the bar.
void AppendCells(std::string& out, std::span<const DayView> days, size_t first,
                 const std::vector<std::string>& dates) {
  for (size_t i = 0; i < days.size(); ++i) {
    const DayView& day = days[i];
    // The class needs no quotes (two letters): 36 kB less on a page of 200 components.
    out += "<i class=";
    out += StatusPageHtml::DayClass(day.level);
    out += " title=\"";
    out += first + i < dates.size() ? dates[first + i] : FormatDate(day.day);
    out += ": ";
    AppendDayFacts(out, day);
    out += "\"></i>";
  }
}

// `dates`: the label of each day of the bar (the same for every component of a page);
// `cells` (may be null) keeps the cells of complete days under `cell_key`.
void RenderComponent(std::string& out, const ComponentView& component,
                     const std::vector<std::string>& dates, BarCellCache* cells,
                     const std::string& cell_key) {
  out += "<li class=\"component\" id=\"" +
         HtmlEscaped(Anchor("c-", component.namespace_name + "-" + component.monitor_name)) +
         "\" data-monitor=\"" +
         HtmlEscaped(component.namespace_name + "/" + component.monitor_name) + "\" data-state=\"" +
         ComponentStateClass(component.state) + "\">\n";
  out += "<div class=\"component-head\"><div><h4>";
  AppendHtmlEscaped(out, component.display_name);
  out += "</h4>";
  if (!component.description.empty()) {
    out += "<p class=\"description\">";
    AppendHtmlEscaped(out, component.description);
    out += "</p>";
  }
  if (component.regions.size() > 1) {
    out += "<ul class=\"regions\" aria-label=\"Regions\">";
    for (const RegionStatus& region : component.regions) {
      out += "<li>";
      AppendHtmlEscaped(out, region.name);
      out += " " + StateLabel(region.state) + "</li>";
    }
    out += "</ul>";
  }
  out += "</div>" + StateLabel(component.state) + "</div>\n";
  out += "<div class=\"metrics\">" + Sparkline(component) + "</div>\n";

  // 90 cells per component, so they are kept short: one-letter tags, two-letter classes. The
  // days before today come from `cells` when they are the days rendered last time.
  out += "<div class=\"bar\" role=\"img\" aria-label=\"" +
         HtmlEscaped(BarSummary(component, dates)) + "\">";
  const std::span<const DayView> days(component.days);
  const size_t complete = days.empty() ? 0 : days.size() - 1;
  if (cells != nullptr && complete > 0) {
    cells->Append(out, cell_key, days.first(complete),
                  [&dates](std::string& html, std::span<const DayView> those) {
                    AppendCells(html, those, 0, dates);
                  });
    AppendCells(out, days.subspan(complete), complete, dates);
  } else {
    AppendCells(out, days, 0, dates);
  }
  out += "</div>\n<div class=\"bar-legend\" aria-hidden=\"true\"><span><span class=\"wide-only\">" +
         std::to_string(component.days.size()) + " days ago</span><span class=\"narrow-only\">" +
         std::to_string(kNarrowDays) + " days ago</span></span><span class=\"uptime\">" +
         (component.uptime ? FormatPercent(component.uptime) + " uptime" : std::string("No data")) +
         "</span><span>Today</span></div>\n</li>\n";
}

std::string PhaseLabel(IncidentPhase phase) {
  switch (phase) {
    case IncidentPhase::kOpen:
      return "Ongoing";
    case IncidentPhase::kAcknowledged:
      return "Acknowledged";
    case IncidentPhase::kResolved:
      return "Resolved";
  }
  return "Ongoing";
}

std::string PhaseClass(IncidentPhase phase) {
  switch (phase) {
    case IncidentPhase::kOpen:
      return "open";
    case IncidentPhase::kAcknowledged:
      return "acknowledged";
    case IncidentPhase::kResolved:
      return "resolved";
  }
  return "open";
}

std::string EntryLabel(IncidentEntry::Kind kind) {
  switch (kind) {
    case IncidentEntry::Kind::kStateChange:
      return "Update";
    case IncidentEntry::Kind::kNote:
      return "Note";
    case IncidentEntry::Kind::kAcknowledged:
      return "Acknowledged";
    case IncidentEntry::Kind::kMaintenanceStart:
      return "Maintenance started";
    case IncidentEntry::Kind::kMaintenanceEnd:
      return "Maintenance ended";
    case IncidentEntry::Kind::kNotification:
      return "Notification";
    case IncidentEntry::Kind::kScreenshot:
      return "Screenshot";
  }
  return "Update";
}

std::string RenderIncident(const IncidentView& view, TimePoint now) {
  const Incident& incident = view.record.incident;
  std::string out;
  const std::string anchor = Anchor("incident-", incident.id);
  out += "<article class=\"card incident " + PhaseClass(view.record.phase) + "\" id=\"" + anchor +
         "\" aria-labelledby=\"" + anchor + "-title\">\n<h3 id=\"" + anchor + "-title\">";
  out += "<span class=\"pill " + PhaseClass(view.record.phase) + "\">" +
         PhaseLabel(view.record.phase) + "</span> ";
  AppendHtmlEscaped(out, view.component.empty() ? incident.monitor_key : view.component);
  out += view.record.phase == IncidentPhase::kResolved ? " was unavailable" : " is unavailable";
  out += "</h3>\n<p class=\"meta\">";
  const TimePoint end = incident.resolved_at.value_or(now);
  out += "Started " + TimeElement(incident.opened_at);
  out += incident.resolved_at ? " · lasted " : " · ongoing for ";
  out +=
      FormatSpan(std::chrono::duration_cast<std::chrono::milliseconds>(end - incident.opened_at));
  if (!incident.failing_regions.empty()) {
    out += " · ";
    out += incident.failing_regions.size() == 1 ? "region " : "regions ";
    for (size_t i = 0; i < incident.failing_regions.size(); ++i) {
      if (i > 0) out += ", ";
      AppendHtmlEscaped(out, incident.failing_regions[i]);
    }
  }
  out += "</p>\n<ol class=\"timeline\" aria-label=\"Timeline\">\n";
  for (const IncidentEntry& entry : StatusPageHtml::TimelineOf(view.record)) {
    if (entry.kind == IncidentEntry::Kind::kScreenshot ||
        entry.kind == IncidentEntry::Kind::kNotification) {
      continue;  // screenshots are shown below; deliveries are for the team
    }
    out += "<li class=\"entry-";
    out += ToString(entry.kind);
    out += "\">" + TimeElement(entry.at) + "<span class=\"kind\">" + EntryLabel(entry.kind) +
           "</span>";
    if (!entry.author.empty()) {
      out += " by ";
      AppendHtmlEscaped(out, entry.author);
    }
    if (!entry.text.empty()) {
      out += entry.kind == IncidentEntry::Kind::kNote ? "<p class=\"note\">" : " — ";
      AppendHtmlEscaped(out, entry.text);
      if (entry.kind == IncidentEntry::Kind::kNote) out += "</p>";
    }
    out += "</li>\n";
  }
  out += "</ol>\n";
  if (!view.screenshot_urls.empty()) {
    out += "<div class=\"screenshots\">\n";
    for (size_t i = 0; i < view.screenshot_urls.size(); ++i) {
      const std::string& url = view.screenshot_urls[i];
      const std::string what = i == 0 ? "when it became unavailable" : "later in the incident";
      out += "<figure><a href=\"" + HtmlEscaped(url) + "\"><img src=\"" + HtmlEscaped(url) +
             "\" loading=\"lazy\" width=\"320\" height=\"200\" alt=\"" +
             HtmlEscaped("Screenshot of " +
                         (view.component.empty() ? incident.monitor_key : view.component) + " " +
                         what) +
             "\"></a><figcaption>Screenshot " + std::to_string(i + 1) + " of " +
             std::to_string(view.screenshot_urls.size()) + "</figcaption></figure>\n";
    }
    out += "</div>\n";
  }
  out += "</article>\n";
  return out;
}

std::string RenderMaintenance(const MaintenanceView& view, bool active) {
  const MaintenancePeriod& period = view.period;
  std::string out = "<article class=\"card window\">\n<h3><span class=\"pill maintenance\">";
  out += active ? "In progress" : "Scheduled";
  out += "</span> ";
  AppendHtmlEscaped(out, period.name);
  out += "</h3>\n<p class=\"meta\">" + TimeElement(period.start) + " to " +
         TimeElement(period.end) + " · ";
  for (size_t i = 0; i < view.components.size(); ++i) {
    if (i > 0) out += ", ";
    AppendHtmlEscaped(out, view.components[i]);
  }
  out += "</p>\n";
  if (!period.description.empty()) {
    out += "<p>";
    AppendHtmlEscaped(out, period.description);
    out += "</p>\n";
  }
  out += "</article>\n";
  return out;
}

}  // namespace

std::vector<IncidentEntry> StatusPageHtml::TimelineOf(const IncidentRecord& record) {
  if (!record.timeline.empty()) return record.timeline;
  std::vector<IncidentEntry> timeline;
  std::string opened = "Checks started failing";
  if (!record.incident.failing_regions.empty()) {
    opened += " in ";
    for (size_t i = 0; i < record.incident.failing_regions.size(); ++i) {
      opened += (i == 0 ? "" : ", ") + record.incident.failing_regions[i];
    }
  }
  timeline.push_back(
      IncidentEntry{record.incident.opened_at, IncidentEntry::Kind::kStateChange, opened, ""});
  if (record.incident.resolved_at) {
    timeline.push_back(IncidentEntry{*record.incident.resolved_at,
                                     IncidentEntry::Kind::kStateChange,
                                     "Resolved: checks pass again", ""});
  }
  return timeline;
}

const char* StatusPageHtml::DayClass(DayLevel level) {
  switch (level) {
    case DayLevel::kNone:
      return "nd";
    case DayLevel::kUp:
      return "up";
    case DayLevel::kDegraded:
      return "dg";
    case DayLevel::kDown:
      return "dn";
    case DayLevel::kMaintenance:
      return "mt";
  }
  return "nd";
}

std::string StatusPageHtml::DayTooltip(const DayView& day) {
  std::string text = FormatDate(day.day) + ": ";
  AppendDayFacts(text, day);
  return text;
}

std::string StatusPageHtml::Render(const StatusPageView& view, BarCellCache* cells) {
  const StatusPage& page = *view.page;
  const std::string base = "/status/" + page.slug;
  HtmlHead head;
  head.title = page.title;
  head.description =
      page.description.empty() ? page.title + ": current status and incidents" : page.description;
  head.theme = page.theme;
  head.extra = "<link rel=\"alternate\" type=\"application/rss+xml\" title=\"" +
               HtmlEscaped(page.title) + " incidents (RSS)\" href=\"" + HtmlEscaped(base) +
               "/feed.rss\">\n"
               "<link rel=\"alternate\" type=\"application/atom+xml\" title=\"" +
               HtmlEscaped(page.title) + " incidents (Atom)\" href=\"" + HtmlEscaped(base) +
               "/feed.atom\">\n";
  std::string out = HtmlLayout::Begin(head);
  out.reserve(8'192 + view.component_count() * 6'000);
  std::vector<std::string> dates;
  for (const GroupView& group : view.groups) {
    if (!group.components.empty()) {
      for (const DayView& day : group.components.front().days) dates.push_back(FormatDate(day.day));
      break;
    }
  }

  out += "<header class=\"wrap masthead\">\n<div class=\"brand\">";
  if (!page.logo_url.empty()) {
    out += "<img class=\"logo\" src=\"" + HtmlEscaped(page.logo_url) + "\" alt=\"\">";
  }
  out += "<h1>";
  AppendHtmlEscaped(out, page.title);
  out += "</h1><nav class=\"links\" aria-label=\"Subscribe\"><a href=\"" + HtmlEscaped(base) +
         "/feed.rss\">RSS</a><a href=\"" + HtmlEscaped(base) +
         "/feed.atom\">Atom</a></nav></div>\n";
  if (!page.description.empty()) {
    out += "<p class=\"description\">";
    AppendHtmlEscaped(out, page.description);
    out += "</p>\n";
  }
  out += "</header>\n<main id=\"main\" class=\"wrap\">\n";

  out += "<section class=\"banner banner-" + std::string(ToString(view.status)) +
         "\" aria-labelledby=\"banner-title\" data-status=\"" + ToString(view.status) + "\">" +
         StateIcon(view.status) + "<div><h2 id=\"banner-title\">" + Headline(view.status) +
         "</h2><p>Updated " + TimeElement(view.now) + "</p></div></section>\n";

  if (!view.active_incidents.empty()) {
    out +=
        "<section aria-labelledby=\"active-title\">\n<div class=\"section-head\"><h2 "
        "id=\"active-title\">Active incidents</h2></div>\n";
    for (const IncidentView& incident : view.active_incidents) {
      out += RenderIncident(incident, view.now);
    }
    out += "</section>\n";
  }
  if (!view.active_maintenance.empty() || !view.upcoming_maintenance.empty()) {
    out +=
        "<section aria-labelledby=\"maintenance-title\">\n<div class=\"section-head\"><h2 "
        "id=\"maintenance-title\">Maintenance</h2></div>\n";
    for (const MaintenanceView& period : view.active_maintenance) {
      out += RenderMaintenance(period, true);
    }
    for (const MaintenanceView& period : view.upcoming_maintenance) {
      out += RenderMaintenance(period, false);
    }
    out += "</section>\n";
  }

  out +=
      "<section aria-labelledby=\"components-title\">\n<div class=\"section-head\"><h2 "
      "id=\"components-title\">Components</h2>"
      "<ul class=\"legend\" aria-label=\"Colours of the uptime bars\">"
      "<li><span class=\"swatch up\"></span>No incident</li>"
      "<li><span class=\"swatch degraded\"></span>Failed or slow checks</li>"
      "<li><span class=\"swatch down\"></span>Incident</li>"
      "<li><span class=\"swatch maintenance\"></span>Maintenance</li>"
      "<li><span class=\"swatch\"></span>No data</li></ul></div>\n";
  if (view.component_count() == 0) {
    out +=
        "<p class=\"card empty\">No components yet: this page shows monitors as soon as they "
        "exist.</p>\n";
  }
  if (view.components_left_out > 0) {
    out += "<p class=\"card empty\">" +
           FormatCount(static_cast<int64_t>(view.components_left_out)) +
           " more monitors are not shown: a page shows at most " +
           FormatCount(static_cast<int64_t>(StatusPageBuilder::kMaxComponents)) +
           " components. Declare StatusPages that group fewer (docs/status-pages.md).</p>\n";
  }
  std::string cell_key = page.namespace_name + "/" + page.name + "\n";
  const size_t cell_key_prefix = cell_key.size();
  for (const GroupView& group : view.groups) {
    if (group.components.empty()) continue;
    out += "<section class=\"card group\"";
    if (!group.name.empty()) {
      const std::string id = Anchor("g-", group.name) + "-title";
      out += " aria-labelledby=\"" + HtmlEscaped(id) + "\"><h3 id=\"" + HtmlEscaped(id) + "\">";
      AppendHtmlEscaped(out, group.name);
      out += "</h3>";
    } else {
      out += " aria-label=\"Components\">";
    }
    out += "\n<ul class=\"components\">\n";
    for (const ComponentView& component : group.components) {
      cell_key.resize(cell_key_prefix);
      cell_key += component.namespace_name;
      cell_key += '/';
      cell_key += component.monitor_name;
      RenderComponent(out, component, dates, cells, cell_key);
    }
    out += "</ul>\n</section>\n";
  }
  out += "</section>\n";

  out +=
      "<section aria-labelledby=\"past-title\">\n<div class=\"section-head\"><h2 "
      "id=\"past-title\">Past incidents</h2><span class=\"hint\">Last " +
      std::to_string(StatusPageBuilder::kPastIncidentDays) + " days</span></div>\n";
  const TimePoint cutoff = view.now - std::chrono::days(StatusPageBuilder::kPastIncidentDays);
  bool any = false;
  for (const IncidentView& incident : view.resolved_incidents) {
    if (incident.record.incident.opened_at < cutoff) continue;
    any = true;
    out += RenderIncident(incident, view.now);
  }
  if (!any) {
    out += "<p class=\"card empty\">No incidents in the last " +
           std::to_string(StatusPageBuilder::kPastIncidentDays) + " days.</p>\n";
  }
  out += "</section>\n</main>\n";

  out += "<footer class=\"wrap site-footer\">\n";
  if (!page.footer_links.empty()) {
    out += "<nav aria-label=\"Links\"><ul>";
    for (const FooterLink& link : page.footer_links) {
      out += "<li><a href=\"" + HtmlEscaped(link.url) + "\">";
      AppendHtmlEscaped(out, link.title);
      out += "</a></li>";
    }
    out += "</ul></nav>\n";
  }
  out +=
      "<p data-time-zone>Times in UTC.</p>\n<p class=\"powered\">Powered by "
      "Pharos</p>\n</footer>\n";
  out += HtmlLayout::End();
  return out;
}

std::string StatusPageHtml::RenderIndex(
    const std::vector<std::shared_ptr<const StatusPage>>& pages) {
  std::string out = HtmlLayout::Begin(HtmlHead{"Status pages", "", PageTheme::kAuto, "", false});
  out +=
      "<header class=\"wrap masthead\"><h1>Status pages</h1></header>\n<main id=\"main\" "
      "class=\"wrap\">\n";
  if (pages.empty()) {
    out +=
        "<p class=\"card empty\">No status page is defined. Declare a StatusPage (see "
        "docs/status-pages.md).</p>\n";
  } else {
    out += "<ul class=\"card components\">\n";
    for (const auto& page : pages) {
      out += "<li class=\"component\"><h2><a href=\"/status/" + HtmlEscaped(page->slug) + "\">";
      AppendHtmlEscaped(out, page->title);
      out += "</a></h2>";
      if (!page->description.empty()) {
        out += "<p class=\"description\">";
        AppendHtmlEscaped(out, page->description);
        out += "</p>";
      }
      out += "</li>\n";
    }
    out += "</ul>\n";
  }
  out += "</main>\n" + HtmlLayout::End();
  return out;
}

}  // namespace pharos
