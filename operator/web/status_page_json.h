#pragma once

// StatusPageJson: GET /api/v1/status/{slug} (docs/status-pages.md, "JSON"): the page's overall
// `status` (operational, degraded, partial_outage, major_outage, maintenance), its components
// with their state and uptime per day, incidents and maintenance, from a StatusPageView. Written
// directly (not through a JSON tree): a page of 200 components has 18,000 days.
// Thread-safety: free functions.

#include <string>
#include <string_view>

#include "operator/web/status_page_view.h"

namespace pharos {

class StatusPageJson {
 public:
  static std::string Render(const StatusPageView& view);
  // Appends `text` as a JSON string (quoted, escaped).
  static void AppendString(std::string& out, std::string_view text);
};

}  // namespace pharos
