#include "operator/controller/status_state_seed.h"

#include <algorithm>
#include <string>

#include "common/rfc3339.h"
#include "operator/kube/kube_client.h"

namespace pharos {
namespace {

using Json = nlohmann::json;

std::string StringOf(const Json& object, const char* key) {
  if (!object.is_object()) {
    return "";
  }
  auto found = object.find(key);
  return found != object.end() && found->is_string() ? found->get<std::string>() : "";
}

std::optional<TimePoint> TimeOf(const Json& object, const char* key) {
  const std::string text = StringOf(object, key);
  if (text.empty()) {
    return std::nullopt;
  }
  Result<TimePoint> parsed = ParseRfc3339(text);
  if (!parsed) {
    return std::nullopt;
  }
  return *parsed;
}

int64_t IntegerOf(const Json& object, const char* key) {
  if (!object.is_object()) {
    return 0;
  }
  auto found = object.find(key);
  return found != object.end() && found->is_number_integer() ? found->get<int64_t>() : 0;
}

bool IsCheckedState(MonitorState state) {
  return state == MonitorState::kUp || state == MonitorState::kDegraded ||
         state == MonitorState::kDown;
}

}  // namespace

std::optional<StateSeed> StatusStateSeed::FromObject(const Json& object, const Monitor& monitor) {
  if (!object.is_object() || JsonStringAt(object, {"metadata", "uid"}) != monitor.uid) {
    return std::nullopt;
  }
  auto status_member = object.find("status");
  if (status_member == object.end() || !status_member->is_object()) {
    return std::nullopt;
  }
  const Json& status = *status_member;
  const std::optional<MonitorState> state = ParseMonitorState(StringOf(status, "state"));
  if (!state || !IsCheckedState(*state)) {
    return std::nullopt;
  }

  StateSeed seed;
  MonitorStateSnapshot& snapshot = seed.state;
  snapshot.monitor_uid = monitor.uid;
  snapshot.monitor_key = monitor.Key();
  snapshot.state = *state;
  std::optional<TimePoint> evidence = TimeOf(status, "lastCheckTime");

  auto regions = status.find("regions");
  if (regions != status.end() && regions->is_array()) {
    for (const Json& entry : *regions) {
      const std::string name = StringOf(entry, "name");
      const std::optional<MonitorState> region_state = ParseMonitorState(StringOf(entry, "state"));
      if (name.empty() || !region_state ||
          (*region_state != MonitorState::kPending && !IsCheckedState(*region_state))) {
        continue;
      }
      RegionStateSnapshot region;
      region.region = name;
      region.state = *region_state;
      region.last_check_at = TimeOf(entry, "lastCheckTime");
      region.latency_us = IntegerOf(entry, "latencyMs") * 1000;
      region.status_code = static_cast<int>(IntegerOf(entry, "statusCode"));
      if (*region_state != MonitorState::kUp) {
        region.message = StringOf(entry, "message");
      }
      if (region.last_check_at && (!evidence || *region.last_check_at > *evidence)) {
        evidence = region.last_check_at;
      }
      snapshot.regions.push_back(std::move(region));
    }
  }
  if (!evidence) {
    return std::nullopt;  // Up or Down without a check: not written by a Pharos leader
  }
  seed.evidence_at = *evidence;
  snapshot.since = TimeOf(status, "lastTransitionTime").value_or(*evidence);
  for (RegionStateSnapshot& region : snapshot.regions) {
    region.since = region.last_check_at.value_or(snapshot.since);
  }
  std::sort(snapshot.regions.begin(), snapshot.regions.end(),
            [](const auto& a, const auto& b) { return a.region < b.region; });
  snapshot.updated_at = *evidence;

  if (*state == MonitorState::kDown) {
    snapshot.reason = StringOf(status, "message");
    snapshot.streak_first_error = snapshot.reason;
    snapshot.consecutive_failures = std::max(1, monitor.alerting.failure_threshold);
  } else {
    snapshot.consecutive_successes = std::max(1, monitor.alerting.success_threshold);
  }
  auto incident = status.find("incident");
  if (incident != status.end() && incident->is_object() && !StringOf(*incident, "id").empty()) {
    snapshot.open_incident_id = StringOf(*incident, "id");
    seed.incident_since = TimeOf(*incident, "since").value_or(snapshot.since);
  }
  return seed;
}

}  // namespace pharos
