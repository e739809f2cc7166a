#include "operator/controller/monitor_transition_events.h"

#include "operator/kube/kube_client.h"

namespace pharos {

void MonitorTransitionEvents::OnTransition(const Monitor& monitor, const StateEvent& event) {
  const std::optional<nlohmann::json> object = lookup_(monitor.Key());
  if (!object) {
    return;
  }
  // A monitor first seen Pending may have been decided by a previous leader: what it wrote tells
  // whether this is news.
  MonitorState before = event.from;
  if (before == MonitorState::kPending) {
    if (auto written = ParseMonitorState(JsonStringAt(*object, {"status", "state"}))) {
      before = *written;
    }
  }
  const ObjectReference reference = ObjectReference::FromObject(*object);
  if (event.to == MonitorState::kDown && before != MonitorState::kDown) {
    std::string message = "Monitor is Down";
    if (!event.first_error.empty()) {
      message += ": " + event.first_error;
    }
    if (!event.failing_regions.empty()) {
      std::string regions;
      for (const std::string& region : event.failing_regions) {
        regions += (regions.empty() ? "" : ", ") + region;
      }
      message += " (failing in " + regions + ")";
    }
    if (!event.opened_incident_id.empty()) {
      message += "; incident " + event.opened_incident_id + " opened";
    }
    events_.Warning(reference, "MonitorDown", message);
  } else if (before == MonitorState::kDown &&
             (event.to == MonitorState::kUp || event.to == MonitorState::kDegraded)) {
    std::string message = std::string("Monitor is ") + ToString(event.to) + " again";
    if (!event.resolved_incident_id.empty()) {
      message += "; incident " + event.resolved_incident_id + " resolved";
    }
    events_.Normal(reference, "MonitorUp", message);
  }
}

}  // namespace pharos
