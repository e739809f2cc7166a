#pragma once

// The monitors and state changes the tests of screenshots on downtime feed in (in `pharos run`
// and from the probes' sidecars): an HTTP monitor asking for screenshots or not, an incident
// opened by a Down transition (in the regions that failed), and its resolution.

#include <string>
#include <utility>
#include <vector>

#include "common/monitor.h"
#include "operator/control/monitor_state_machine.h"

namespace pharos::testing {

// http://127.0.0.1:9/<name> in namespace shop.
inline Monitor ScreenshotHttpMonitor(const std::string& name, bool screenshot,
                                     std::vector<std::string> regions = {"eu-west", "us-east"}) {
  Monitor monitor;
  monitor.namespace_name = "shop";
  monitor.name = name;
  monitor.type = MonitorType::kHttp;
  HttpSpec http;
  http.url = "http://127.0.0.1:9/" + name;
  monitor.http = http;
  monitor.alerting.screenshot = screenshot;
  monitor.regions = std::move(regions);
  return monitor;
}

inline StateEvent IncidentOpened(const std::string& id, std::vector<std::string> failing = {}) {
  StateEvent event;
  event.from = MonitorState::kUp;
  event.to = MonitorState::kDown;
  event.failing_regions = std::move(failing);
  event.opened_incident_id = id;
  return event;
}

inline StateEvent IncidentResolved(const std::string& id) {
  StateEvent event;
  event.from = MonitorState::kDown;
  event.to = MonitorState::kUp;
  event.resolved_incident_id = id;
  return event;
}

}  // namespace pharos::testing
