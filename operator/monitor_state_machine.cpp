#include "operator/monitor_state_machine.h"

#include <algorithm>
#include <utility>

namespace pharos {
namespace {

TimePoint RoundTime(const CheckResult& result) {
  return result.scheduled_at != TimePoint{} ? result.scheduled_at : result.started_at;
}

std::string ResultMessage(const CheckResult& result) {
  if (result.failed_assertion && !result.failed_assertion->message.empty()) {
    return result.failed_assertion->message;
  }
  return result.error;
}

MonitorState RegionStateOf(Outcome outcome) {
  switch (outcome) {
    case Outcome::kUp:
      return MonitorState::kUp;
    case Outcome::kDegraded:
      return MonitorState::kDegraded;
    case Outcome::kDown:
      return MonitorState::kDown;
    case Outcome::kError:
      break;
  }
  return MonitorState::kPending;
}

void Normalize(StateMachineConfig& config) {
  std::sort(config.regions.begin(), config.regions.end());
  config.regions.erase(std::unique(config.regions.begin(), config.regions.end()),
                       config.regions.end());
  config.failure_threshold = std::max(config.failure_threshold, 1);
  config.success_threshold = std::max(config.success_threshold, 1);
}

std::string Format(TimePoint time) {
  return std::to_string(
      std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count());
}

}  // namespace

StateMachineConfig StateMachineConfig::FromMonitor(const Monitor& monitor,
                                                   const std::vector<std::string>& all_regions,
                                                   std::chrono::milliseconds round_grace) {
  StateMachineConfig config;
  config.monitor_uid = monitor.uid.empty() ? monitor.Key() : monitor.uid;
  config.monitor_key = monitor.Key();
  config.regions = monitor.regions.empty() ? all_regions : monitor.regions;
  config.failure_threshold = monitor.alerting.failure_threshold;
  config.success_threshold = monitor.alerting.success_threshold;
  config.region_quorum = monitor.alerting.region_quorum;
  config.suspended = monitor.suspend;
  config.round_timeout = monitor.timeout + round_grace;
  return config;
}

// What a closed round amounted to.
struct MonitorStateMachine::RoundSummary {
  TimePoint scheduled_at{};
  std::vector<std::string> failing;
  std::vector<std::string> degraded;
};

MonitorStateMachine::MonitorStateMachine(StateMachineConfig config, TimePoint now)
    : config_(std::move(config)) {
  Normalize(config_);
  // The identity lives in the snapshot only: one copy per monitor.
  snapshot_.monitor_uid = std::exchange(config_.monitor_uid, {});
  snapshot_.monitor_key = std::exchange(config_.monitor_key, {});
  snapshot_.state = config_.suspended ? MonitorState::kPaused : MonitorState::kPending;
  snapshot_.reason = config_.suspended ? "suspended" : "";
  snapshot_.since = now;
  snapshot_.updated_at = now;
  for (const std::string& region : config_.regions) {
    RegionStateSnapshot state;
    state.region = region;
    state.since = now;
    snapshot_.regions.push_back(std::move(state));
  }
}

Result<std::vector<StateEvent>> MonitorStateMachine::Restore(MonitorStateSnapshot snapshot,
                                                             TimePoint now) {
  if (snapshot.monitor_uid != snapshot_.monitor_uid) {
    return Error{"stored state belongs to monitor uid '" + snapshot.monitor_uid + "', not to '" +
                 snapshot_.monitor_uid + "'"};
  }
  std::sort(snapshot.regions.begin(), snapshot.regions.end(),
            [](const auto& a, const auto& b) { return a.region < b.region; });
  std::sort(snapshot.open_rounds.begin(), snapshot.open_rounds.end(),
            [](const auto& a, const auto& b) { return a.scheduled_at < b.scheduled_at; });
  std::string key = std::move(snapshot_.monitor_key);
  snapshot_ = std::move(snapshot);
  snapshot_.monitor_key = std::move(key);
  if (snapshot_.state == MonitorState::kInvalid) {
    // Still invalid until the validator says otherwise (Reconfigure); keep region bookkeeping.
    DropRemovedRegions();
    return std::vector<StateEvent>{};
  }
  return Reconfigure(config_, now);
}

std::vector<StateEvent> MonitorStateMachine::Reconfigure(StateMachineConfig config, TimePoint now) {
  std::vector<StateEvent> events;
  Normalize(config);
  // A state machine never changes monitor (uid); the key follows renames. Restore passes the
  // kept config, whose identity is already in the snapshot.
  if (!config.monitor_key.empty()) {
    snapshot_.monitor_key = std::move(config.monitor_key);
  }
  config.monitor_uid.clear();
  config.monitor_key.clear();
  config_ = std::move(config);
  DropRemovedRegions();
  for (const std::string& region : config_.regions) {
    auto it = std::lower_bound(
        snapshot_.regions.begin(), snapshot_.regions.end(), region,
        [](const auto& state, const std::string& name) { return state.region < name; });
    if (it == snapshot_.regions.end() || it->region != region) {
      RegionStateSnapshot state;
      state.region = region;
      state.since = now;
      snapshot_.regions.insert(it, std::move(state));
    }
  }
  if (config_.suspended) {
    if (snapshot_.state != MonitorState::kPaused) {
      ResetProgress();
      TransitionTo(MonitorState::kPaused, now, nullptr, events);
    }
  } else if (snapshot_.state == MonitorState::kPaused ||
             snapshot_.state == MonitorState::kInvalid) {
    ResetProgress();
    TransitionTo(MonitorState::kPending, now, nullptr, events);
  } else {
    // Removing a region can complete a round that was only waiting for it.
    CloseDueRounds(now, TimePoint::min(), events);
  }
  snapshot_.updated_at = now;
  return events;
}

std::vector<StateEvent> MonitorStateMachine::MarkInvalid(std::string reason, TimePoint now) {
  std::vector<StateEvent> events;
  if (snapshot_.state != MonitorState::kInvalid) {
    ResetProgress();
    snapshot_.reason = reason;
    TransitionTo(MonitorState::kInvalid, now, nullptr, events);
    events.back().reason = std::move(reason);
  } else {
    snapshot_.reason = std::move(reason);
  }
  snapshot_.updated_at = now;
  return events;
}

ObserveResult MonitorStateMachine::Observe(const CheckResult& result, TimePoint now) {
  ObserveResult out;
  if (result.monitor_uid != snapshot_.monitor_uid) {
    out.ignored_because = "result of another monitor (uid '" + result.monitor_uid + "')";
    return out;
  }
  if (!Active()) {
    out.ignored_because = std::string("monitor is ") + ToString(snapshot_.state);
    return out;
  }
  auto region = std::lower_bound(
      snapshot_.regions.begin(), snapshot_.regions.end(), result.region,
      [](const auto& state, const std::string& name) { return state.region < name; });
  if (region == snapshot_.regions.end() || region->region != result.region) {
    out.ignored_because = "region '" + result.region + "' is not one of the monitor's regions";
    return out;
  }
  const TimePoint scheduled_at = RoundTime(result);
  if (snapshot_.last_round_at && scheduled_at <= *snapshot_.last_round_at) {
    out.ignored_because =
        "late: the round scheduled at " + Format(scheduled_at) + " ms was already evaluated";
    return out;
  }
  if (region->last_scheduled_at && scheduled_at <= *region->last_scheduled_at) {
    out.ignored_because = "region '" + result.region +
                          "' already reported a result scheduled at or after " +
                          Format(scheduled_at) + " ms";
    return out;
  }
  out.accepted = true;
  UpdateRegion(result, now);

  auto round =
      std::lower_bound(snapshot_.open_rounds.begin(), snapshot_.open_rounds.end(), scheduled_at,
                       [](const OpenRound& open, TimePoint at) { return open.scheduled_at < at; });
  if (round == snapshot_.open_rounds.end() || round->scheduled_at != scheduled_at) {
    round = snapshot_.open_rounds.insert(round, OpenRound{scheduled_at, {}});
  }
  round->verdicts.push_back(RoundVerdict{result.region, result.outcome, ResultMessage(result)});
  // Only evidence closes rounds here, never the clock (that is Tick's job): replaying stored
  // results long after they were checked must evaluate the same rounds as live ingestion did.
  CloseDueRounds(now, snapshot_.open_rounds.back().scheduled_at, out.events);
  snapshot_.updated_at = now;
  return out;
}

std::vector<StateEvent> MonitorStateMachine::Tick(TimePoint now) {
  std::vector<StateEvent> events;
  if (Active() && !snapshot_.open_rounds.empty()) {
    CloseDueRounds(now, now, events);
    snapshot_.updated_at = now;
  }
  return events;
}

void MonitorStateMachine::CloseDueRounds(TimePoint now, TimePoint past_deadline_at,
                                         std::vector<StateEvent>& events) {
  while (!snapshot_.open_rounds.empty()) {
    const OpenRound& oldest = snapshot_.open_rounds.front();
    const TimePoint deadline = oldest.scheduled_at + config_.round_timeout;
    if (!RoundComplete(oldest) && past_deadline_at < deadline) return;
    OpenRound round = std::move(snapshot_.open_rounds.front());
    snapshot_.open_rounds.erase(snapshot_.open_rounds.begin());
    EvaluateRound(round, now, events);
  }
}

bool MonitorStateMachine::RoundComplete(const OpenRound& round) const {
  for (const RegionStateSnapshot& region : snapshot_.regions) {
    // A region that already reported a later round will never report this one.
    const bool done =
        (region.last_scheduled_at && *region.last_scheduled_at > round.scheduled_at) ||
        std::any_of(round.verdicts.begin(), round.verdicts.end(),
                    [&](const RoundVerdict& v) { return v.region == region.region; });
    if (!done) return false;
  }
  return true;
}

void MonitorStateMachine::EvaluateRound(const OpenRound& round, TimePoint now,
                                        std::vector<StateEvent>& events) {
  RoundSummary summary;
  summary.scheduled_at = round.scheduled_at;
  int passing = 0;
  std::string first_failure;
  for (const RoundVerdict& verdict : round.verdicts) {
    switch (verdict.outcome) {
      case Outcome::kUp:
        ++passing;
        break;
      case Outcome::kDegraded:
        ++passing;
        summary.degraded.push_back(verdict.region);
        break;
      case Outcome::kDown:
        summary.failing.push_back(verdict.region);
        if (first_failure.empty()) {
          first_failure = verdict.message.empty() ? "down in region " + verdict.region
                                                  : verdict.region + ": " + verdict.message;
        }
        break;
      case Outcome::kError:
        break;
    }
  }
  std::sort(summary.failing.begin(), summary.failing.end());
  std::sort(summary.degraded.begin(), summary.degraded.end());
  snapshot_.last_round_at = round.scheduled_at;

  const int required = RequiredRegions();
  const int failing = static_cast<int>(summary.failing.size());
  if (failing >= required) {
    if (snapshot_.consecutive_failures == 0) snapshot_.streak_first_error = first_failure;
    ++snapshot_.consecutive_failures;
    snapshot_.consecutive_successes = 0;
    const bool watching = snapshot_.state == MonitorState::kPending ||
                          snapshot_.state == MonitorState::kUp ||
                          snapshot_.state == MonitorState::kDegraded;
    if (watching && snapshot_.consecutive_failures >= config_.failure_threshold) {
      TransitionTo(MonitorState::kDown, now, &summary, events);
    }
    return;
  }
  if (passing == 0) return;  // neutral: only probe errors or silence

  ++snapshot_.consecutive_successes;
  snapshot_.consecutive_failures = 0;
  snapshot_.streak_first_error.clear();
  const int impaired = failing + static_cast<int>(summary.degraded.size());
  const MonitorState target = impaired >= required ? MonitorState::kDegraded : MonitorState::kUp;
  switch (snapshot_.state) {
    case MonitorState::kPending:
    case MonitorState::kUp:
    case MonitorState::kDegraded:
      TransitionTo(target, now, &summary, events);
      break;
    case MonitorState::kDown:
      if (snapshot_.consecutive_successes >= config_.success_threshold) {
        TransitionTo(target, now, &summary, events);
      }
      break;
    default:
      break;
  }
}

void MonitorStateMachine::TransitionTo(MonitorState to, TimePoint now, const RoundSummary* round,
                                       std::vector<StateEvent>& events) {
  const MonitorState from = snapshot_.state;
  if (from == to) return;
  StateEvent event;
  event.monitor_uid = snapshot_.monitor_uid;
  event.monitor_key = snapshot_.monitor_key;
  event.from = from;
  event.to = to;
  event.at = now;
  if (round != nullptr) {
    event.round_scheduled_at = round->scheduled_at;
    event.failing_regions = round->failing;
    event.degraded_regions = round->degraded;
  }
  switch (to) {
    case MonitorState::kDown:
      event.first_error = snapshot_.streak_first_error;
      snapshot_.reason = snapshot_.streak_first_error;
      if (snapshot_.open_incident_id.empty() && round != nullptr) {
        // Rounds are evaluated in strictly increasing scheduledAt: the id is unique.
        snapshot_.open_incident_id = snapshot_.monitor_uid + "-" + Format(round->scheduled_at);
        event.opened_incident_id = snapshot_.open_incident_id;
      }
      break;
    case MonitorState::kUp:
    case MonitorState::kDegraded:
      snapshot_.reason.clear();
      if (!snapshot_.open_incident_id.empty()) {
        event.resolved_incident_id = snapshot_.open_incident_id;
        snapshot_.open_incident_id.clear();
      }
      break;
    case MonitorState::kPaused:
      snapshot_.reason = "suspended";
      event.reason = snapshot_.reason;
      break;
    case MonitorState::kPending:
      snapshot_.reason.clear();
      break;
    default:
      break;
  }
  snapshot_.state = to;
  snapshot_.since = now;
  events.push_back(std::move(event));
}

void MonitorStateMachine::UpdateRegion(const CheckResult& result, TimePoint now) {
  auto region = std::lower_bound(
      snapshot_.regions.begin(), snapshot_.regions.end(), result.region,
      [](const auto& state, const std::string& name) { return state.region < name; });
  region->last_scheduled_at = RoundTime(result);
  if (result.started_at != TimePoint{}) region->last_check_at = result.started_at;
  if (result.outcome == Outcome::kError) {
    region->probe_error = true;
    region->probe_error_message = ResultMessage(result);
    return;
  }
  region->probe_error = false;
  region->probe_error_message.clear();
  const MonitorState state = RegionStateOf(result.outcome);
  if (state != region->state) {
    region->state = state;
    region->since = now;
  }
  region->latency_us = result.timings.total_us;
  region->status_code = result.status_code;
  region->message = ResultMessage(result);
}

void MonitorStateMachine::DropRemovedRegions() {
  const auto expected = [this](const std::string& region) {
    return std::binary_search(config_.regions.begin(), config_.regions.end(), region);
  };
  std::erase_if(snapshot_.regions,
                [&](const RegionStateSnapshot& state) { return !expected(state.region); });
  for (OpenRound& round : snapshot_.open_rounds) {
    std::erase_if(round.verdicts, [&](const RoundVerdict& v) { return !expected(v.region); });
  }
  std::erase_if(snapshot_.open_rounds,
                [](const OpenRound& round) { return round.verdicts.empty(); });
}

void MonitorStateMachine::ResetProgress() {
  snapshot_.open_rounds.clear();
  snapshot_.consecutive_failures = 0;
  snapshot_.consecutive_successes = 0;
  snapshot_.streak_first_error.clear();
}

int MonitorStateMachine::RequiredRegions() const {
  const int regions = std::max(static_cast<int>(config_.regions.size()), 1);
  if (!config_.region_quorum) return regions / 2 + 1;
  return std::clamp(*config_.region_quorum, 1, regions);
}

bool MonitorStateMachine::Active() const {
  return snapshot_.state != MonitorState::kPaused && snapshot_.state != MonitorState::kInvalid &&
         snapshot_.state != MonitorState::kMaintenance;
}

}  // namespace pharos
