#include "operator/web/dashboard_pages.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "operator/web/html_layout.h"
#include "operator/web/page_status.h"
#include "operator/web/status_page_html.h"
#include "operator/web/svg_chart.h"
#include "operator/web/web_assets.h"
#include "operator/web/web_format.h"

namespace pharos {
namespace {

using std::chrono::hours;
using std::chrono::minutes;

const MonitorState kStates[] = {MonitorState::kDown,   MonitorState::kDegraded,
                                MonitorState::kUp,     MonitorState::kPending,
                                MonitorState::kPaused, MonitorState::kMaintenance,
                                MonitorState::kInvalid};

// The dashboard names states as the Monitor resource does.
const char* StateClass(MonitorState state) { return ComponentStateClass(state); }

std::string StateLabel(MonitorState state) {
  return fmt::format(
      "<span class=\"state state-{}\"><span class=\"dot\" aria-hidden=\"true\"></span>{}</span>",
      StateClass(state), ToString(state));
}

std::string PathSegment(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte) != 0 || c == '-' || c == '_' || c == '.') {
      out += c;
    } else {
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 15];
    }
  }
  return out;
}

std::string MonitorUrl(const Monitor& monitor) {
  return "/ui/monitors/" + PathSegment(monitor.namespace_name) + "/" + PathSegment(monitor.name);
}

std::string TopBar(const std::string& edition, bool monitors_current) {
  return "<header class=\"topbar\"><div class=\"wrap wide\"><a class=\"product\" "
         "href=\"/ui/\"><img src=\"" +
         WebAssets::Url("favicon.svg") +
         "\" alt=\"\">Pharos</a><nav aria-label=\"Main\"><ul><li><a href=\"/ui/\"" +
         (monitors_current ? " aria-current=\"page\"" : "") +
         ">Monitors</a></li><li><a href=\"/status\">Status pages</a></li><li><a "
         "href=\"/api/v1/monitors\">JSON API</a></li><li><a "
         "href=\"/metrics\">Metrics</a></li></ul></nav>"
         "<span class=\"sub\">" +
         HtmlEscaped(edition) + "</span></div></header>\n";
}

const char* WindowName(DashboardPages::Window window) {
  switch (window) {
    case DashboardPages::Window::k24h:
      return "24h";
    case DashboardPages::Window::k7d:
      return "7d";
    case DashboardPages::Window::k30d:
      return "30d";
  }
  return "24h";
}

const char* WindowWords(DashboardPages::Window window) {
  switch (window) {
    case DashboardPages::Window::k24h:
      return "last 24 hours";
    case DashboardPages::Window::k7d:
      return "last 7 days";
    case DashboardPages::Window::k30d:
      return "last 30 days";
  }
  return "last 24 hours";
}

std::optional<double> Ms(std::optional<int64_t> micros) {
  if (!micros) return std::nullopt;
  return static_cast<double>(*micros) / 1000.0;
}

std::string Cell(const std::string& text, bool numeric = false) {
  return std::string(numeric ? "<td class=\"num\">" : "<td>") + text + "</td>";
}

}  // namespace

std::optional<DashboardPages::Window> DashboardPages::ParseWindow(std::string_view text) {
  if (text == "24h") return Window::k24h;
  if (text == "7d") return Window::k7d;
  if (text == "30d") return Window::k30d;
  return std::nullopt;
}

std::string DashboardPages::RenderList(const MonitorTable::Query& query) {
  const MonitorTable::Page page = MonitorTable::Apply(status_.SnapshotAll(), query);
  std::string out =
      HtmlLayout::Begin(HtmlHead{"Monitors · Pharos", "", PageTheme::kAuto, "", true});
  out.reserve(32'768 + page.rows.size() * 1'500);
  out += TopBar(edition_, true);
  out +=
      "<main id=\"main\" class=\"wrap wide\">\n<div class=\"page-title\"><h1>Monitors</h1><p "
      "class=\"sub\">" +
      FormatCount(static_cast<int64_t>(page.total)) + (page.total == 1 ? " monitor" : " monitors") +
      "</p></div>\n";

  out += "<ul class=\"counts\" aria-label=\"Monitors by state\">";
  out += "<li><a href=\"/ui/" + MonitorTable::QueryString(query, {{"state", ""}, {"page", ""}}) +
         "\"" + (query.state ? "" : " aria-current=\"true\"") + ">All <span class=\"n\">" +
         FormatCount(static_cast<int64_t>(page.total)) + "</span></a></li>";
  for (const MonitorState state : kStates) {
    const auto found = page.state_counts.find(state);
    if (found == page.state_counts.end()) continue;
    out +=
        "<li><a href=\"/ui/" +
        HtmlEscaped(MonitorTable::QueryString(query, {{"state", ToString(state)}, {"page", ""}})) +
        "\"" + (query.state == state ? " aria-current=\"true\"" : "") + ">" + StateLabel(state) +
        " <span class=\"n\">" + FormatCount(static_cast<int64_t>(found->second)) +
        "</span></a></li>";
  }
  out += "</ul>\n";

  // Filters: a plain GET form; the script applies a choice at once.
  out +=
      "<form class=\"card filters\" method=\"get\" action=\"/ui/\" role=\"search\" "
      "aria-label=\"Filter monitors\">"
      "<label for=\"f-q\">Search<input id=\"f-q\" type=\"search\" name=\"q\" value=\"" +
      HtmlEscaped(query.text) + "\" placeholder=\"name or target\"></label>";
  out +=
      "<label for=\"f-state\">State<select id=\"f-state\" name=\"state\"><option "
      "value=\"\">Any</option>";
  for (const MonitorState state : kStates) {
    out += fmt::format("<option{}>{}</option>", query.state == state ? " selected" : "",
                       ToString(state));
  }
  out +=
      "</select></label><label for=\"f-ns\">Namespace<select id=\"f-ns\" "
      "name=\"namespace\"><option value=\"\">Any</option>";
  for (const std::string& ns : page.namespaces) {
    out += "<option" + std::string(query.namespace_name == ns ? " selected" : "") + ">" +
           HtmlEscaped(ns) + "</option>";
  }
  out +=
      "</select></label><label for=\"f-type\">Type<select id=\"f-type\" name=\"type\"><option "
      "value=\"\">Any</option>";
  for (const MonitorType type : {MonitorType::kHttp, MonitorType::kTcp, MonitorType::kDns}) {
    out +=
        fmt::format("<option{}>{}</option>", query.type == type ? " selected" : "", ToString(type));
  }
  out += "</select></label>";
  if (query.sort != MonitorTable::Column::kState) {
    out += "<input type=\"hidden\" name=\"sort\" value=\"" +
           std::string(MonitorTable::ColumnName(query.sort)) + "\">";
  }
  if (query.descending) out += "<input type=\"hidden\" name=\"dir\" value=\"desc\">";
  if (query.page_size != MonitorTable::kDefaultPageSize) {
    out += "<input type=\"hidden\" name=\"per_page\" value=\"" + std::to_string(query.page_size) +
           "\">";
  }
  out +=
      "<button type=\"submit\">Apply</button><a class=\"reset\" href=\"/ui/\">Reset</a></form>\n";

  // The table.
  const size_t first = (page.page - 1) * query.page_size + 1;
  const size_t last = first + page.rows.size() - 1;
  out +=
      "<div class=\"card\"><div class=\"table-wrap\" tabindex=\"0\" role=\"region\" "
      "aria-labelledby=\"list-caption\">"
      "<table class=\"data\" id=\"monitors\"><caption id=\"list-caption\">";
  if (page.matching == 0) {
    out += "No monitor matches these filters.";
  } else {
    out += fmt::format("Monitors {}–{} of {}{}", FormatCount(static_cast<int64_t>(first)),
                       FormatCount(static_cast<int64_t>(last)),
                       FormatCount(static_cast<int64_t>(page.matching)),
                       page.matching == page.total ? "" : " matching");
  }
  out += "</caption>\n<thead><tr>";
  const std::pair<MonitorTable::Column, const char*> headings[] = {
      {MonitorTable::Column::kState, "State"},    {MonitorTable::Column::kName, "Name"},
      {MonitorTable::Column::kType, "Type"},      {MonitorTable::Column::kTarget, "Target"},
      {MonitorTable::Column::kSince, "Since"},    {MonitorTable::Column::kUptime24h, "Uptime 24h"},
      {MonitorTable::Column::kUptime7d, "7d"},    {MonitorTable::Column::kUptime30d, "30d"},
      {MonitorTable::Column::kLatencyP50, "p50"}, {MonitorTable::Column::kLatencyP95, "p95"},
      {MonitorTable::Column::kRegions, "Regions"}};
  for (const auto& [column, label] : headings) {
    const bool current = query.sort == column;
    const bool numeric =
        column >= MonitorTable::Column::kUptime24h && column <= MonitorTable::Column::kLatencyP95;
    // A click on the current column flips its direction; figures start with the best first.
    const bool next_descending = current ? !query.descending
                                         : (column >= MonitorTable::Column::kUptime24h &&
                                            column <= MonitorTable::Column::kUptime30d);
    out +=
        "<th scope=\"col\" data-column=\"" + std::string(MonitorTable::ColumnName(column)) + "\"";
    if (numeric) out += " class=\"num\"";
    if (current) {
      out += std::string(" aria-sort=\"") + (query.descending ? "descending" : "ascending") + "\"";
    }
    out += "><a href=\"/ui/" +
           HtmlEscaped(MonitorTable::QueryString(query, {{"sort", MonitorTable::ColumnName(column)},
                                                         {"dir", next_descending ? "desc" : "asc"},
                                                         {"page", ""}})) +
           "\">" + label + "</a></th>";
  }
  out += "</tr></thead>\n<tbody>\n";
  for (const MonitorStatus& status : page.rows) {
    const Monitor& monitor = *status.monitor;
    out += "<tr data-monitor=\"" + HtmlEscaped(monitor.Key()) + "\" data-state=\"" +
           ToString(status.state) + "\">";
    out += Cell(StateLabel(status.state));
    out += "<td class=\"name\"><a href=\"" + HtmlEscaped(MonitorUrl(monitor)) + "\">" +
           HtmlEscaped(monitor.name) + "</a><span class=\"ns\">" +
           HtmlEscaped(monitor.namespace_name) + "</span></td>";
    out += Cell(ToString(monitor.type));
    out += "<td class=\"target\">" + HtmlEscaped(monitor.Target()) + "</td>";
    out += Cell(TimeElement(status.last_transition_time));
    out += Cell(FormatPercent(status.uptime_24h), true);
    out += Cell(FormatPercent(status.uptime_7d), true);
    out += Cell(FormatPercent(status.uptime_30d), true);
    out += Cell(FormatLatency(status.latency_p50_us), true);
    out += Cell(FormatLatency(status.latency_p95_us), true);
    std::string regions;
    for (const RegionStatus& region : status.regions) {
      regions += (regions.empty() ? "" : ", ") + HtmlEscaped(region.name);
      if (region.state == MonitorState::kDown) regions += " <span class=\"fail\">(down)</span>";
    }
    out += Cell(regions.empty() ? "–" : regions);
    out += "</tr>\n";
  }
  out += "</tbody></table></div>\n";

  out += "<nav class=\"pager\" aria-label=\"Pages\"><span>" +
         fmt::format("Page {} of {}", page.page, page.pages) + "</span><ul>";
  const auto page_link = [&](size_t number, const char* label, const char* rel) {
    if (number < 1 || number > page.pages || number == page.page) {
      return std::string("<li><span class=\"disabled\" aria-disabled=\"true\">") + label +
             "</span></li>";
    }
    return "<li><a rel=\"" + std::string(rel) + "\" href=\"/ui/" +
           HtmlEscaped(MonitorTable::QueryString(
               query, {{"page", number == 1 ? "" : std::to_string(number)}})) +
           "\">" + label + "</a></li>";
  };
  out += page_link(1, "First", "first");
  out += page_link(page.page - 1, "Previous", "prev");
  out += page_link(page.page + 1, "Next", "next");
  out += page_link(page.pages, "Last", "last");
  out += "</ul></nav></div>\n</main>\n" + HtmlLayout::End();
  return out;
}

Result<std::optional<std::string>> DashboardPages::RenderMonitor(const std::string& namespace_name,
                                                                 const std::string& name,
                                                                 Window window,
                                                                 const std::string& region) {
  std::optional<MonitorStatus> found = status_.SnapshotByKey(namespace_name, name);
  if (!found) return std::optional<std::string>();
  const MonitorStatus& status = *found;
  const Monitor& monitor = *status.monitor;
  const TimePoint now = clock_.Now();

  // --- Data for the charts.
  TimePoint from;
  std::chrono::milliseconds step;
  if (window == Window::k24h) {
    step = std::max<std::chrono::milliseconds>(minutes(5), monitor.frequency);
    from = now - hours(24);
    const auto since_epoch = from.time_since_epoch();
    from = TimePoint(since_epoch - since_epoch % step);
  } else {
    step = hours(1);
    const auto since_epoch = now.time_since_epoch();
    from = TimePoint(since_epoch - since_epoch % hours(1)) -
           (window == Window::k7d ? hours(24 * 7) : hours(24 * 30)) + hours(1);
  }
  const size_t buckets = static_cast<size_t>((now - from) / step) + 1;
  auto read = [&](const std::optional<std::string>& which) -> Result<std::vector<Rollup>> {
    if (window == Window::k24h) {
      return history_.ResultSeries(SeriesQuery{monitor.uid, which, from, now, step});
    }
    return history_.Rollups(RollupQuery{monitor.uid, RollupPeriod::kHour, which, from, now});
  };
  auto to_points = [&](const std::vector<Rollup>& rollups, auto value_of) {
    std::vector<ChartPoint> points(buckets);
    for (size_t i = 0; i < buckets; ++i) points[i].at = from + i * step;
    for (const Rollup& rollup : rollups) {
      const auto index = (rollup.bucket_start - from) / step;
      if (index >= 0 && static_cast<size_t>(index) < buckets) {
        points[static_cast<size_t>(index)].value = value_of(rollup.stats);
      }
    }
    return points;
  };

  ChartSpec by_region{"chart-regions",
                      std::string("Median response time by region, ") + WindowWords(window),
                      "ms",
                      from,
                      now,
                      false,
                      {}};
  std::vector<std::string> region_names;
  for (const RegionStatus& one : status.regions) region_names.push_back(one.name);
  for (const std::string& one : region_names) {
    Result<std::vector<Rollup>> rollups = read(one);
    if (!rollups) return Error{rollups.error()};
    by_region.series.push_back({one, to_points(*rollups, [](const WindowStats& stats) {
                                  return Ms(stats.latency.p50_us);
                                })});
  }
  const bool region_known = region.empty() || std::find(region_names.begin(), region_names.end(),
                                                        region) != region_names.end();
  const std::string phase_region = region_known ? region : "";
  Result<std::vector<Rollup>> merged =
      read(phase_region.empty() ? std::nullopt : std::optional(phase_region));
  if (!merged) return Error{merged.error()};
  ChartSpec by_phase{"chart-phases",
                     std::string("Mean response time by phase, ") +
                         (phase_region.empty() ? "all regions" : phase_region) + ", " +
                         WindowWords(window),
                     "ms",
                     from,
                     now,
                     true,
                     {}};
  const std::pair<const char*, int64_t PhaseMeans::*> phases[] = {
      {"DNS", &PhaseMeans::dns_us},
      {"Connect", &PhaseMeans::connect_us},
      {"TLS", &PhaseMeans::tls_us},
      {"First byte", &PhaseMeans::first_byte_us},
      {"Transfer", &PhaseMeans::transfer_us}};
  for (const auto& [label, member] : phases) {
    by_phase.series.push_back(
        {label,
         to_points(*merged, [member = member](const WindowStats& stats) -> std::optional<double> {
           if (stats.latency.phases.samples == 0) return std::nullopt;
           return static_cast<double>(stats.latency.phases.*member) / 1000.0;
         })});
  }

  Result<std::vector<CheckResult>> results = history_.Results(
      ResultQuery{monitor.uid, std::nullopt, now - hours(24 * 30), kRecentResults, true});
  if (!results) return Error{results.error()};
  IncidentQuery incident_query;
  incident_query.monitor_uid = monitor.uid;
  incident_query.limit = kIncidents;
  Result<std::vector<IncidentRecord>> incidents = incidents_.ListIncidents(incident_query);
  if (!incidents) return Error{incidents.error()};

  // --- The page.
  const std::string base = MonitorUrl(monitor);
  std::string out =
      HtmlLayout::Begin(HtmlHead{monitor.Key() + " · Pharos", "", PageTheme::kAuto, "", true});
  out += TopBar(edition_, false);
  out +=
      "<main id=\"main\" class=\"wrap wide\">\n<nav aria-label=\"Breadcrumb\" class=\"sub\"><a "
      "href=\"/ui/\">Monitors</a> / " +
      HtmlEscaped(monitor.namespace_name) + "</nav>\n<div class=\"page-title\"><h1>" +
      HtmlEscaped(monitor.name) + "</h1>" + StateLabel(status.state) +
      "<span class=\"sub\">since " + TimeElement(status.last_transition_time) + "</span></div>\n";

  out += "<dl class=\"stats\">";
  const std::pair<const char*, std::string> stats[] = {
      {"Uptime 24 h", FormatPercent(status.uptime_24h)},
      {"Uptime 7 d", FormatPercent(status.uptime_7d)},
      {"Uptime 30 d", FormatPercent(status.uptime_30d)},
      {"p50 24 h", FormatLatency(status.latency_p50_us)},
      {"p95 24 h", FormatLatency(status.latency_p95_us)}};
  for (const auto& [label, value] : stats) {
    out += "<div class=\"card stat\"><dt>" + std::string(label) + "</dt><dd>" + HtmlEscaped(value) +
           "</dd></div>";
  }
  out += "</dl>\n";

  out +=
      "<section class=\"card\" aria-labelledby=\"facts-title\"><h2 id=\"facts-title\" "
      "class=\"sr-only\">Facts</h2><dl class=\"facts\">";
  std::string regions_text;
  for (const std::string& one : region_names) {
    regions_text += (regions_text.empty() ? "" : ", ") + one;
  }
  const std::pair<const char*, std::string> facts[] = {
      {"Namespace", HtmlEscaped(monitor.namespace_name)},
      {"Type", ToString(monitor.type)},
      {"Target", "<code>" + HtmlEscaped(monitor.Target()) + "</code>"},
      {"Frequency", FormatSpan(monitor.frequency)},
      {"Timeout", FormatSpan(monitor.timeout)},
      {"Regions", regions_text.empty() ? "–" : HtmlEscaped(regions_text)},
      {"Last check", status.last_check_time ? TimeElement(*status.last_check_time) : "–"},
      {"Reason", status.reason.empty() ? "–" : HtmlEscaped(status.reason)},
      {"Badge",
       "<code>![status](/badge/" +
           HtmlEscaped(PathSegment(monitor.namespace_name) + "/" + PathSegment(monitor.name)) +
           "/status.svg)</code>"}};
  for (const auto& [label, value] : facts) {
    out += "<dt>" + std::string(label) + "</dt><dd>" + value + "</dd>";
  }
  out += "</dl></section>\n";

  out +=
      "<section aria-labelledby=\"regions-title\"><div class=\"section-head\"><h2 "
      "id=\"regions-title\">Regions</h2></div>"
      "<div class=\"card\"><div class=\"table-wrap\" tabindex=\"0\" role=\"region\" "
      "aria-labelledby=\"regions-title\">"
      "<table class=\"data\"><thead><tr><th scope=\"col\">Region</th><th "
      "scope=\"col\">State</th><th scope=\"col\">Last check</th>"
      "<th scope=\"col\" class=\"num\">Latency</th><th scope=\"col\" class=\"num\">Status</th><th "
      "scope=\"col\">Message</th></tr></thead><tbody>";
  for (const RegionStatus& one : status.regions) {
    out += "<tr><td>" + HtmlEscaped(one.name) + "</td>" + Cell(StateLabel(one.state)) +
           Cell(one.last_check_time ? TimeElement(*one.last_check_time) : "–") +
           Cell(one.last_check_time ? FormatLatency(one.latency_us) : "–", true) +
           Cell(one.status_code > 0 ? std::to_string(one.status_code) : "–", true) +
           Cell(one.message.empty() ? "–" : HtmlEscaped(one.message)) + "</tr>";
  }
  if (status.regions.empty()) {
    out += "<tr><td colspan=\"6\">No region has checked this monitor yet.</td></tr>";
  }
  out += "</tbody></table></div></div></section>\n";

  out +=
      "<section aria-labelledby=\"charts-title\"><div class=\"section-head\"><h2 "
      "id=\"charts-title\">Response time</h2>"
      "<ul class=\"tabs\" aria-label=\"Period\">";
  for (const Window one : {Window::k24h, Window::k7d, Window::k30d}) {
    std::string href = base + "?window=" + WindowName(one);
    if (!phase_region.empty()) href += "&region=" + PathSegment(phase_region);
    out += "<li><a href=\"" + HtmlEscaped(href) + "\"" +
           (one == window ? " aria-current=\"page\"" : "") + ">" + WindowName(one) + "</a></li>";
  }
  out += "</ul></div>\n<div class=\"card chart-card\"><h3>By region (median)</h3>" +
         SvgChart::Render(by_region) +
         "</div>\n<div class=\"card chart-card\"><div class=\"section-head\"><h3>By phase "
         "(mean)</h3><ul class=\"tabs\" "
         "aria-label=\"Region of the phase chart\">";
  std::vector<std::string> choices = {""};
  choices.insert(choices.end(), region_names.begin(), region_names.end());
  for (const std::string& one : choices) {
    std::string href = base + "?window=" + WindowName(window);
    if (!one.empty()) href += "&region=" + PathSegment(one);
    out += "<li><a href=\"" + HtmlEscaped(href) + "\"" +
           (one == phase_region ? " aria-current=\"page\"" : "") + ">" +
           (one.empty() ? std::string("All regions") : HtmlEscaped(one)) + "</a></li>";
  }
  out += "</ul></div>" + SvgChart::Render(by_phase) + "</div>\n</section>\n";

  out +=
      "<section aria-labelledby=\"results-title\"><div class=\"section-head\"><h2 "
      "id=\"results-title\">Recent results</h2>"
      "<span class=\"hint\">Newest first</span></div><div class=\"card\"><div class=\"table-wrap\" "
      "tabindex=\"0\" "
      "role=\"region\" aria-labelledby=\"results-title\"><table class=\"data\" "
      "id=\"results\"><thead><tr>"
      "<th scope=\"col\">Time</th><th scope=\"col\">Region</th><th scope=\"col\">Outcome</th><th "
      "scope=\"col\" "
      "class=\"num\">Status</th><th scope=\"col\" class=\"num\">Total</th><th scope=\"col\">Failed "
      "assertion or error</th>"
      "</tr></thead><tbody>";
  for (const CheckResult& result : *results) {
    std::string why = "–";
    if (result.failed_assertion) {
      why = "<span class=\"fail\">" + HtmlEscaped(result.failed_assertion->type) +
            "</span>: expected " + HtmlEscaped(result.failed_assertion->expected) + ", got " +
            HtmlEscaped(result.failed_assertion->actual);
      if (!result.failed_assertion->message.empty()) {
        why += " — " + HtmlEscaped(result.failed_assertion->message);
      }
    } else if (!result.error.empty()) {
      why = "<span class=\"fail\">" + HtmlEscaped(result.error) + "</span>";
    }
    out += "<tr data-outcome=\"" + std::string(ToString(result.outcome)) + "\">" +
           Cell(TimeElement(result.started_at)) + Cell(HtmlEscaped(result.region)) +
           Cell(ToString(result.outcome)) +
           Cell(result.status_code > 0 ? std::to_string(result.status_code) : "–", true) +
           Cell(FormatLatency(result.timings.total_us), true) + Cell(why) + "</tr>";
  }
  if (results->empty()) out += "<tr><td colspan=\"6\">No results in the last 30 days.</td></tr>";
  out += "</tbody></table></div></div></section>\n";

  out +=
      "<section aria-labelledby=\"incidents-title\"><div class=\"section-head\"><h2 "
      "id=\"incidents-title\">Incidents</h2></div>";
  if (incidents->empty()) out += "<p class=\"card empty\">No incidents.</p>";
  for (const IncidentRecord& record : *incidents) {
    const Incident& incident = record.incident;
    out += "<article class=\"card incident " +
           std::string(record.phase == IncidentPhase::kResolved ? "resolved" : "") +
           "\"><h3><span class=\"pill " +
           std::string(record.phase == IncidentPhase::kResolved ? "resolved" : "") + "\">" +
           ToString(record.phase) + "</span> " +
           HtmlEscaped(incident.first_error.empty() ? "Down" : incident.first_error) +
           "</h3><p class=\"meta\">Opened " + TimeElement(incident.opened_at) +
           (incident.resolved_at ? " · resolved " + TimeElement(*incident.resolved_at)
                                 : std::string()) +
           " · id <code>" + HtmlEscaped(incident.id) + "</code></p><ol class=\"timeline\">";
    for (const IncidentEntry& entry : StatusPageHtml::TimelineOf(record)) {
      out += "<li>" + TimeElement(entry.at) + "<span class=\"kind\">" + ToString(entry.kind) +
             "</span> " + HtmlEscaped(entry.text) +
             (entry.author.empty() ? "" : " (" + HtmlEscaped(entry.author) + ")") + "</li>";
    }
    out += "</ol>";
    if (!record.screenshot_urls.empty()) {
      out += "<div class=\"screenshots\">";
      for (const std::string& url : record.screenshot_urls) {
        out += "<figure><a href=\"" + HtmlEscaped(url) + "\"><img src=\"" + HtmlEscaped(url) +
               "\" loading=\"lazy\" width=\"320\" height=\"200\" alt=\"Screenshot taken during the "
               "incident\"></a></figure>";
      }
      out += "</div>";
    }
    out += "</article>\n";
  }
  out += "</section>\n</main>\n" + HtmlLayout::End();
  return std::optional<std::string>(std::move(out));
}

}  // namespace pharos
