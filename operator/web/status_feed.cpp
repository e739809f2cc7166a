#include "operator/web/status_feed.h"

#include <algorithm>
#include <vector>

#include "common/rfc3339.h"
#include "operator/web/status_page_html.h"
#include "operator/web/web_format.h"

namespace pharos {
namespace {

// Newest first, at most kMaxEntries.
std::vector<const IncidentView*> Entries(const StatusPageView& view) {
  std::vector<const IncidentView*> entries;
  for (const IncidentView& incident : view.active_incidents) entries.push_back(&incident);
  for (const IncidentView& incident : view.resolved_incidents) entries.push_back(&incident);
  std::stable_sort(entries.begin(), entries.end(),
                   [](const IncidentView* a, const IncidentView* b) {
                     return a->record.incident.opened_at > b->record.incident.opened_at;
                   });
  if (entries.size() > StatusFeed::kMaxEntries) entries.resize(StatusFeed::kMaxEntries);
  return entries;
}

std::string Title(const IncidentView& incident) {
  const std::string& name =
      incident.component.empty() ? incident.record.incident.monitor_key : incident.component;
  return incident.record.phase == IncidentPhase::kResolved ? name + " was unavailable (resolved)"
                                                           : name + " is unavailable";
}

// The entry's content: its timeline as HTML (escaped again by the caller for XML).
std::string Content(const IncidentView& incident) {
  std::string html = "<ul>";
  for (const IncidentEntry& entry : StatusPageHtml::TimelineOf(incident.record)) {
    if (entry.kind == IncidentEntry::Kind::kNotification) continue;
    html += "<li>" + HtmlEscaped(FormatDateTimeUtc(entry.at)) + ": " + HtmlEscaped(entry.text);
    if (!entry.author.empty()) html += " (" + HtmlEscaped(entry.author) + ")";
    html += "</li>";
  }
  return html + "</ul>";
}

TimePoint Updated(const IncidentView& incident) {
  TimePoint updated =
      incident.record.incident.resolved_at.value_or(incident.record.incident.opened_at);
  for (const IncidentEntry& entry : incident.record.timeline) updated = std::max(updated, entry.at);
  return updated;
}

std::string Anchor(const std::string& id) {
  std::string out = "incident-";
  for (char c : id) out += (std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-') ? c : '-';
  return out;
}

}  // namespace

std::string StatusFeed::Rss(const StatusPageView& view, const std::string& base_url) {
  const StatusPage& page = *view.page;
  const std::string link = base_url + "/status/" + page.slug;
  std::string out =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<rss version=\"2.0\" xmlns:atom=\"http://www.w3.org/2005/Atom\">\n<channel>\n<title>" +
      HtmlEscaped(page.title + " incidents") + "</title>\n<link>" + HtmlEscaped(link) +
      "</link>\n<description>" +
      HtmlEscaped(page.description.empty() ? "Incidents of " + page.title : page.description) +
      "</description>\n<atom:link href=\"" + HtmlEscaped(link + "/feed.rss") +
      "\" rel=\"self\" type=\"application/rss+xml\"/>\n<lastBuildDate>" + FormatRfc822(view.now) +
      "</lastBuildDate>\n<ttl>5</ttl>\n";
  for (const IncidentView* incident : Entries(view)) {
    out += "<item>\n<title>" + HtmlEscaped(Title(*incident)) + "</title>\n<link>" +
           HtmlEscaped(link + "#" + Anchor(incident->record.incident.id)) +
           "</link>\n<guid isPermaLink=\"false\">pharos-incident-" +
           HtmlEscaped(incident->record.incident.id) + "</guid>\n<pubDate>" +
           FormatRfc822(incident->record.incident.opened_at) + "</pubDate>\n<description>" +
           HtmlEscaped(Content(*incident)) + "</description>\n</item>\n";
  }
  out += "</channel>\n</rss>\n";
  return out;
}

std::string StatusFeed::Atom(const StatusPageView& view, const std::string& base_url) {
  const StatusPage& page = *view.page;
  const std::string link = base_url + "/status/" + page.slug;
  const std::vector<const IncidentView*> entries = Entries(view);
  TimePoint updated = entries.empty() ? view.now : Updated(*entries.front());
  for (const IncidentView* incident : entries) updated = std::max(updated, Updated(*incident));
  std::string out =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<feed xmlns=\"http://www.w3.org/2005/Atom\">\n<title>" +
      HtmlEscaped(page.title + " incidents") + "</title>\n<id>" + HtmlEscaped(link) +
      "</id>\n<link rel=\"alternate\" type=\"text/html\" href=\"" + HtmlEscaped(link) +
      "\"/>\n<link rel=\"self\" type=\"application/atom+xml\" href=\"" +
      HtmlEscaped(link + "/feed.atom") + "\"/>\n<updated>" + FormatRfc3339(updated) +
      "</updated>\n<author><name>" + HtmlEscaped(page.title) + "</name></author>\n";
  for (const IncidentView* incident : entries) {
    out += "<entry>\n<title>" + HtmlEscaped(Title(*incident)) +
           "</title>\n<id>urn:pharos:incident:" + HtmlEscaped(incident->record.incident.id) +
           "</id>\n<link rel=\"alternate\" href=\"" +
           HtmlEscaped(link + "#" + Anchor(incident->record.incident.id)) + "\"/>\n<published>" +
           FormatRfc3339(incident->record.incident.opened_at) + "</published>\n<updated>" +
           FormatRfc3339(Updated(*incident)) + "</updated>\n<content type=\"html\">" +
           HtmlEscaped(Content(*incident)) + "</content>\n</entry>\n";
  }
  out += "</feed>\n";
  return out;
}

}  // namespace pharos
