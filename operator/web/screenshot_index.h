#pragma once

// ScreenshotIndex: the screenshots taken for an incident, as URLs, for pages that show them
// next to the incident until the incident store lists them itself (IncidentRecord::
// screenshot_urls). ScreenshotStore implements it.
// Thread-safety: implementations are safe to call from any thread.

#include <string>
#include <vector>

namespace pharos {

class ScreenshotIndex {
 public:
  virtual ~ScreenshotIndex() = default;
  // "/api/v1/screenshots/<id>.png", oldest first; empty when none.
  virtual std::vector<std::string> UrlsForIncident(const std::string& incident_id) const = 0;
};

}  // namespace pharos
