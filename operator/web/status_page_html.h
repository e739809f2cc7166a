#pragma once

// StatusPageHtml: the HTML of a status page (docs/status-pages.md) from its StatusPageView —
// banner, active incidents with their timeline, notes and screenshots, maintenance, components
// with their state, 24-hour latency sparkline and 90-day uptime bar, the incidents of the last
// 14 days — and of the index of pages at /status. Server-rendered, complete without script:
// every graphic has a text alternative (the bar's role="img" label sums up its days; each day's
// tooltip is its title), times are written in UTC and the script shows them in the reader's
// time zone.
// Thread-safety: free functions; a BarCellCache may be shared by concurrent renderings.

#include <memory>
#include <string>
#include <vector>

#include "operator/web/bar_cell_cache.h"
#include "operator/web/status_page_view.h"

namespace pharos {

class StatusPageHtml {
 public:
  // `cells` (may be null) keeps the cells of the bars' complete days between renderings.
  static std::string Render(const StatusPageView& view, BarCellCache* cells = nullptr);
  // /status: the pages a reader may open (title, slug, protected or not).
  static std::string RenderIndex(const std::vector<std::shared_ptr<const StatusPage>>& pages);

  // The timeline an incident shows: its record's, or (a plain stored incident without one) its
  // opening and resolution.
  static std::vector<IncidentEntry> TimelineOf(const IncidentRecord& record);
  // One day's tooltip: "3 Jan 2026: 99.31% uptime, 1 incident, 2 failed checks".
  static std::string DayTooltip(const DayView& day);
  // The class of a day's cell: "up" "dg" (degraded) "dn" (down) "mt" (maintenance) "nd" (none).
  static const char* DayClass(DayLevel level);
};

}  // namespace pharos
