#pragma once

// MonitorStatus: what the operator knows about one monitor right now — the values of
// Monitor.status in Kubernetes and of the JSON API: state, per-region state, last check time,
// uptime over 24h/7d/30d, latency percentiles and the open incident.
// Thread-safety: a value type.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/monitor.h"
#include "operator/control/monitor_state.h"

namespace pharos {

struct RegionStatus {
  std::string name;
  MonitorState state = MonitorState::kPending;  // Pending until the region reported
  std::optional<TimePoint> last_check_time;     // startedAt of its last result
  int64_t latency_us = 0;                       // total time of its last up/degraded/down result
  int status_code = 0;
  std::string message;  // why its last check failed; the probe error when it could not check
  // Addresses (Service endpoints, resolve: all) that failed in its last check, by label.
  std::vector<std::string> failing_addresses;
};

struct IncidentStatus {
  std::string id;
  TimePoint since{};
};

struct MonitorStatus {
  std::shared_ptr<const Monitor> monitor;  // the spec in force (identity, type, target)
  MonitorState state = MonitorState::kPending;
  TimePoint last_transition_time{};
  std::string reason;  // Invalid: the validation error; Down: the first error; Paused: suspended
  std::optional<TimePoint> last_check_time;  // newest over the regions
  // Percent 0..100; nullopt while the window holds no passing or failing result.
  std::optional<double> uptime_24h, uptime_7d, uptime_30d;
  // Over the passing checks of the last 24 hours.
  std::optional<int64_t> latency_p50_us, latency_p95_us;
  std::vector<RegionStatus> regions;  // sorted by name
  std::optional<IncidentStatus> incident;
};

}  // namespace pharos
