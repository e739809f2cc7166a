#pragma once

// StatusPageJson: GET /api/v1/status/{slug} (docs/status-pages.md, "JSON"): the page's overall
// `status` (operational, degraded, partial_outage, major_outage, maintenance), its components
// with their state and uptime per day, incidents and maintenance, from a StatusPageView.
// Thread-safety: free functions.

#include <nlohmann/json.hpp>

#include "operator/web/status_page_view.h"

namespace pharos {

class StatusPageJson {
 public:
  static nlohmann::ordered_json Render(const StatusPageView& view);
};

}  // namespace pharos
