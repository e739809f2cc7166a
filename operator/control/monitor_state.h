#pragma once

// The state of a monitor as the state machine sees it (docs/architecture.md, "One Monitor, from
// YAML to status"): the monitor-level state, the per-region states, the counters and the rounds
// still waiting for regions. These are the values MonitorStateMachine produces and ResultStore
// persists, so an operator restart resumes exactly where it stopped. Also the transition events the
// state machine emits. Thread-safety: value types.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/check_result.h"
#include "common/compact_string.h"

namespace pharos {

// Monitor states, spelled as in Monitor.status.state. Regions use Pending, Up, Degraded, Down.
enum class MonitorState { kPending, kUp, kDegraded, kDown, kPaused, kMaintenance, kInvalid };
const char* ToString(MonitorState state);  // "Pending" "Up" "Degraded" "Down" "Paused" ...
std::optional<MonitorState> ParseMonitorState(std::string_view text);

using TimePoint = std::chrono::system_clock::time_point;

// What one region last reported. Fields are ordered largest first so that padding is only at the
// end (one per region per monitor: 112 bytes, a jemalloc size class). The messages, nearly always
// empty, are CompactStrings (one pointer while empty).
struct RegionStateSnapshot {
  std::string region;
  // Failed assertion or transport error of the last up/degraded/down result; empty when up.
  CompactString message;
  CompactString probe_error_message;            // of the last result when it was a probe error
  TimePoint since{};                            // when `state` last changed
  std::optional<TimePoint> last_scheduled_at;   // newest result accepted for this region
  std::optional<TimePoint> last_check_at;       // its startedAt
  int64_t latency_us = 0;                       // total time of the last up/degraded/down result
  MonitorState state = MonitorState::kPending;  // from the last up/degraded/down result
  int status_code = 0;                          // of the last up/degraded/down result
  // The last result was a probe error (outcome error): the state above is unchanged by it.
  bool probe_error = false;

  bool operator==(const RegionStateSnapshot&) const = default;
};

// One region's contribution to a round.
struct RoundVerdict {
  std::string region;
  Outcome outcome = Outcome::kError;
  std::string message;  // why it failed (failed assertion or error); empty when up

  bool operator==(const RoundVerdict&) const = default;
};

// A round (results of one scheduledAt) still waiting for regions.
struct OpenRound {
  TimePoint scheduled_at{};
  std::vector<RoundVerdict> verdicts;  // in arrival order

  bool operator==(const OpenRound&) const = default;
};

// A monitor's state without its identity: what MonitorStateMachine keeps (one per monitor, so
// the identity, which the machine's owner already holds, is not repeated here). The strings,
// empty while the monitor is up, are CompactStrings (one pointer while empty).
struct MonitorProgress {
  MonitorState state = MonitorState::kPending;
  TimePoint since{};     // last transition
  CompactString reason;  // Invalid: the validation error; Down: the first error of the streak
  int consecutive_failures = 0;    // bad rounds in a row
  int consecutive_successes = 0;   // good rounds in a row
  CompactString open_incident_id;  // empty when none is open
  // First error of the current run of bad rounds (what an incident will say started it).
  CompactString streak_first_error;
  std::optional<TimePoint> last_round_at;    // scheduledAt of the newest evaluated round
  std::vector<RegionStateSnapshot> regions;  // sorted by name
  std::vector<OpenRound> open_rounds;        // oldest first
  TimePoint updated_at{};

  bool operator==(const MonitorProgress&) const = default;
};

// A monitor's state with its identity: what ResultStore persists and restores.
struct MonitorStateSnapshot : MonitorProgress {
  std::string monitor_uid;
  std::string monitor_key;  // namespace/name

  bool operator==(const MonitorStateSnapshot&) const = default;
};

// A change of the monitor-level state.
struct StateEvent {
  std::string monitor_uid;
  std::string monitor_key;
  MonitorState from = MonitorState::kPending;
  MonitorState to = MonitorState::kPending;
  TimePoint at{};  // when the state machine decided it
  // The round that decided it; none for configuration changes (pause, invalid).
  std::optional<TimePoint> round_scheduled_at;
  std::vector<std::string> failing_regions;   // down in the deciding round (sorted)
  std::vector<std::string> degraded_regions;  // degraded in the deciding round (sorted)
  std::string first_error;                    // to Down: the first error of the failing streak
  std::string reason;                // to Invalid: the validation error; to Paused: "suspended"
  std::string opened_incident_id;    // set when this transition opened an incident
  std::string resolved_incident_id;  // set when this transition resolved one

  bool operator==(const StateEvent&) const = default;
};

}  // namespace pharos
