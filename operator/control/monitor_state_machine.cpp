#include "operator/control/monitor_state_machine.h"

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

void Normalize(StateMachineSettings& settings) {
  std::sort(settings.regions.begin(), settings.regions.end());
  settings.regions.erase(std::unique(settings.regions.begin(), settings.regions.end()),
                         settings.regions.end());
  settings.failure_threshold = std::max(settings.failure_threshold, 1);
  settings.success_threshold = std::max(settings.success_threshold, 1);
}

std::string Format(TimePoint time) {
  return std::to_string(
      std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count());
}

}  // namespace

StateMachineSettings StateMachineSettings::FromMonitor(const Monitor& monitor,
                                                       const std::vector<std::string>& all_regions,
                                                       std::chrono::milliseconds round_grace) {
  StateMachineSettings settings;
  settings.regions = monitor.regions.empty() ? all_regions : monitor.regions;
  settings.failure_threshold = monitor.alerting.failure_threshold;
  settings.success_threshold = monitor.alerting.success_threshold;
  settings.region_quorum = monitor.alerting.region_quorum;
  settings.suspended = monitor.suspend;
  settings.round_timeout = monitor.timeout + round_grace;
  return settings;
}

MonitorIdentity MonitorIdentity::Of(const Monitor& monitor) {
  return MonitorIdentity{monitor.uid, monitor.namespace_name, monitor.name};
}

std::string MonitorIdentity::Key() const {
  std::string key;
  key.reserve(namespace_name.size() + 1 + name.size());
  key.append(namespace_name).append("/").append(name);
  return key;
}

// What a closed round amounted to.
struct MonitorStateMachine::RoundSummary {
  TimePoint scheduled_at{};
  std::vector<std::string> failing;
  std::vector<std::string> degraded;
};

MonitorStateMachine::MonitorStateMachine(StateMachineSettings settings, TimePoint now) {
  Normalize(settings);
  rules_ = settings;
  progress_.state = rules_.suspended     ? MonitorState::kPaused
                    : rules_.maintenance ? MonitorState::kMaintenance
                                         : MonitorState::kPending;
  progress_.reason = rules_.suspended     ? "suspended"
                     : rules_.maintenance ? "in a maintenance window"
                                          : "";
  progress_.since = now;
  progress_.updated_at = now;
  progress_.regions.reserve(settings.regions.size());
  for (std::string& region : settings.regions) {
    RegionStateSnapshot state;
    state.region = std::move(region);
    state.since = now;
    progress_.regions.push_back(std::move(state));
  }
}

Result<std::vector<StateEvent>> MonitorStateMachine::Restore(const MonitorIdentity& identity,
                                                             MonitorStateSnapshot snapshot,
                                                             TimePoint now) {
  if (snapshot.monitor_uid != identity.uid) {
    return Error{"stored state belongs to monitor uid '" + snapshot.monitor_uid + "', not to '" +
                 std::string(identity.uid) + "'"};
  }
  std::sort(snapshot.regions.begin(), snapshot.regions.end(),
            [](const auto& a, const auto& b) { return a.region < b.region; });
  std::sort(snapshot.open_rounds.begin(), snapshot.open_rounds.end(),
            [](const auto& a, const auto& b) { return a.scheduled_at < b.scheduled_at; });
  // The configuration in force, before the stored records replace the ones that hold it.
  StateMachineSettings settings{rules_, {}};
  settings.regions.reserve(progress_.regions.size());
  for (const RegionStateSnapshot& region : progress_.regions) {
    settings.regions.push_back(region.region);
  }
  // The stored identity is not kept: the owner's (whose key follows renames) stamps events.
  progress_ = std::move(static_cast<MonitorProgress&>(snapshot));
  if (progress_.state == MonitorState::kInvalid) {
    // Still invalid until the validator says otherwise (Reconfigure); keep region bookkeeping.
    DropRemovedRegions(settings.regions);
    return std::vector<StateEvent>{};
  }
  return Reconfigure(identity, std::move(settings), now);
}

std::vector<StateEvent> MonitorStateMachine::Reconfigure(const MonitorIdentity& identity,
                                                         StateMachineSettings settings,
                                                         TimePoint now) {
  std::vector<StateEvent> events;
  Normalize(settings);
  rules_ = settings;
  DropRemovedRegions(settings.regions);
  for (std::string& region : settings.regions) {
    auto it = std::lower_bound(
        progress_.regions.begin(), progress_.regions.end(), region,
        [](const auto& state, const std::string& name) { return state.region < name; });
    if (it == progress_.regions.end() || it->region != region) {
      RegionStateSnapshot state;
      state.region = std::move(region);
      state.since = now;
      progress_.regions.insert(it, std::move(state));
    }
  }
  // Exact size, whether grown by the inserts above or restored from storage (one per monitor).
  progress_.regions.shrink_to_fit();
  if (rules_.suspended) {
    if (progress_.state != MonitorState::kPaused) {
      ResetProgress();
      TransitionTo(identity, MonitorState::kPaused, now, nullptr, events);
    }
  } else if (rules_.maintenance) {
    if (progress_.state != MonitorState::kMaintenance) {
      ResetProgress();
      TransitionTo(identity, MonitorState::kMaintenance, now, nullptr, events);
    }
  } else if (progress_.state == MonitorState::kPaused ||
             progress_.state == MonitorState::kInvalid ||
             progress_.state == MonitorState::kMaintenance) {
    ResetProgress();
    TransitionTo(identity, MonitorState::kPending, now, nullptr, events);
  } else {
    // Removing a region can complete a round that was only waiting for it.
    CloseDueRounds(identity, now, TimePoint::min(), events);
  }
  progress_.updated_at = now;
  return events;
}

std::vector<StateEvent> MonitorStateMachine::MarkInvalid(const MonitorIdentity& identity,
                                                         std::string reason, TimePoint now) {
  std::vector<StateEvent> events;
  if (progress_.state != MonitorState::kInvalid) {
    ResetProgress();
    progress_.reason = reason;
    TransitionTo(identity, MonitorState::kInvalid, now, nullptr, events);
    events.back().reason = std::move(reason);
  } else {
    progress_.reason = std::move(reason);
  }
  progress_.updated_at = now;
  return events;
}

ObserveResult MonitorStateMachine::Observe(const MonitorIdentity& identity,
                                           const CheckResult& result, TimePoint now) {
  ObserveResult out;
  if (result.monitor_uid != identity.uid) {
    out.ignored_because = "result of another monitor (uid '" + result.monitor_uid + "')";
    return out;
  }
  if (!Active()) {
    out.ignored_because = std::string("monitor is ") + ToString(progress_.state);
    return out;
  }
  auto region = std::lower_bound(
      progress_.regions.begin(), progress_.regions.end(), result.region,
      [](const auto& state, const std::string& name) { return state.region < name; });
  if (region == progress_.regions.end() || region->region != result.region) {
    out.ignored_because = "region '" + result.region + "' is not one of the monitor's regions";
    return out;
  }
  const TimePoint scheduled_at = RoundTime(result);
  if (progress_.last_round_at && scheduled_at <= *progress_.last_round_at) {
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
      std::lower_bound(progress_.open_rounds.begin(), progress_.open_rounds.end(), scheduled_at,
                       [](const OpenRound& open, TimePoint at) { return open.scheduled_at < at; });
  if (round == progress_.open_rounds.end() || round->scheduled_at != scheduled_at) {
    round = progress_.open_rounds.insert(round, OpenRound{scheduled_at, {}});
    round->verdicts.reserve(progress_.regions.size());
  }
  round->verdicts.push_back(RoundVerdict{result.region, result.outcome, ResultMessage(result)});
  // Only evidence closes rounds here, never the clock (that is Tick's job): replaying stored
  // results long after they were checked must evaluate the same rounds as live ingestion did.
  CloseDueRounds(identity, now, progress_.open_rounds.back().scheduled_at, out.events);
  progress_.updated_at = now;
  return out;
}

std::vector<StateEvent> MonitorStateMachine::Tick(const MonitorIdentity& identity, TimePoint now,
                                                  TimePoint schedule_now) {
  std::vector<StateEvent> events;
  if (Active() && !progress_.open_rounds.empty()) {
    CloseDueRounds(identity, now, schedule_now, events);
    progress_.updated_at = now;
  }
  return events;
}

MonitorStateSnapshot MonitorStateMachine::Snapshot(const MonitorIdentity& identity) const {
  return MonitorStateSnapshot{progress_, std::string(identity.uid), identity.Key()};
}

bool MonitorStateMachine::ExpectsRegion(std::string_view region) const {
  auto it = std::lower_bound(
      progress_.regions.begin(), progress_.regions.end(), region,
      [](const RegionStateSnapshot& state, std::string_view name) { return state.region < name; });
  return it != progress_.regions.end() && it->region == region;
}

void MonitorStateMachine::CloseDueRounds(const MonitorIdentity& identity, TimePoint now,
                                         TimePoint past_deadline_at,
                                         std::vector<StateEvent>& events) {
  while (!progress_.open_rounds.empty()) {
    const OpenRound& oldest = progress_.open_rounds.front();
    const TimePoint deadline = oldest.scheduled_at + rules_.round_timeout;
    if (!RoundComplete(oldest) && past_deadline_at < deadline) {
      return;
    }
    OpenRound round = std::move(progress_.open_rounds.front());
    progress_.open_rounds.erase(progress_.open_rounds.begin());
    EvaluateRound(identity, round, now, events);
  }
  ReleaseOpenRoundsIfEmpty();
}

bool MonitorStateMachine::RoundComplete(const OpenRound& round) const {
  for (const RegionStateSnapshot& region : progress_.regions) {
    // A region that already reported a later round will never report this one.
    const bool done =
        (region.last_scheduled_at && *region.last_scheduled_at > round.scheduled_at) ||
        std::any_of(round.verdicts.begin(), round.verdicts.end(),
                    [&](const RoundVerdict& v) { return v.region == region.region; });
    if (!done) {
      return false;
    }
  }
  return true;
}

void MonitorStateMachine::EvaluateRound(const MonitorIdentity& identity, const OpenRound& round,
                                        TimePoint now, std::vector<StateEvent>& events) {
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
  progress_.last_round_at = round.scheduled_at;

  const int required = RequiredRegions();
  const int failing = static_cast<int>(summary.failing.size());
  if (failing >= required) {
    if (progress_.consecutive_failures == 0) {
      progress_.streak_first_error = std::move(first_failure);
    }
    ++progress_.consecutive_failures;
    progress_.consecutive_successes = 0;
    const bool watching = progress_.state == MonitorState::kPending ||
                          progress_.state == MonitorState::kUp ||
                          progress_.state == MonitorState::kDegraded;
    if (watching && progress_.consecutive_failures >= rules_.failure_threshold) {
      TransitionTo(identity, MonitorState::kDown, now, &summary, events);
    }
    return;
  }
  if (passing == 0) {  // neutral: only probe errors or silence
    return;
  }

  ++progress_.consecutive_successes;
  progress_.consecutive_failures = 0;
  progress_.streak_first_error = CompactString();
  const int impaired = failing + static_cast<int>(summary.degraded.size());
  const MonitorState target = impaired >= required ? MonitorState::kDegraded : MonitorState::kUp;
  switch (progress_.state) {
    case MonitorState::kPending:
    case MonitorState::kUp:
    case MonitorState::kDegraded:
      TransitionTo(identity, target, now, &summary, events);
      break;
    case MonitorState::kDown:
      if (progress_.consecutive_successes >= rules_.success_threshold) {
        TransitionTo(identity, target, now, &summary, events);
      }
      break;
    default:
      break;
  }
}

void MonitorStateMachine::TransitionTo(const MonitorIdentity& identity, MonitorState to,
                                       TimePoint now, const RoundSummary* round,
                                       std::vector<StateEvent>& events) {
  const MonitorState from = progress_.state;
  if (from == to) {
    return;
  }
  StateEvent event;
  event.monitor_uid = identity.uid;
  event.monitor_key = identity.Key();
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
      event.first_error = progress_.streak_first_error;
      progress_.reason = progress_.streak_first_error;
      if (progress_.open_incident_id.empty() && round != nullptr) {
        // Rounds are evaluated in strictly increasing scheduledAt: the id is unique.
        progress_.open_incident_id = std::string(identity.uid) + "-" + Format(round->scheduled_at);
        event.opened_incident_id = progress_.open_incident_id;
      }
      break;
    case MonitorState::kUp:
    case MonitorState::kDegraded:
      progress_.reason = CompactString();
      if (!progress_.open_incident_id.empty()) {
        event.resolved_incident_id = progress_.open_incident_id.str();
        progress_.open_incident_id = CompactString();
      }
      break;
    case MonitorState::kPaused:
      progress_.reason = "suspended";
      event.reason = progress_.reason;
      break;
    case MonitorState::kPending:
      progress_.reason = CompactString();
      break;
    case MonitorState::kMaintenance:
      progress_.reason = "in a maintenance window";
      event.reason = progress_.reason;
      break;
    default:
      break;
  }
  progress_.state = to;
  progress_.since = now;
  events.push_back(std::move(event));
}

void MonitorStateMachine::UpdateRegion(const CheckResult& result, TimePoint now) {
  auto region = std::lower_bound(
      progress_.regions.begin(), progress_.regions.end(), result.region,
      [](const auto& state, const std::string& name) { return state.region < name; });
  region->last_scheduled_at = RoundTime(result);
  if (result.started_at != TimePoint{}) {
    region->last_check_at = result.started_at;
  }
  if (result.outcome == Outcome::kError) {
    region->probe_error = true;
    region->probe_error_message = ResultMessage(result);
    return;
  }
  region->probe_error = false;
  region->probe_error_message = CompactString();
  const MonitorState state = RegionStateOf(result.outcome);
  if (state != region->state) {
    region->state = state;
    region->since = now;
  }
  region->latency_us = result.timings.total_us;
  region->status_code = result.status_code;
  region->message = ResultMessage(result);
}

void MonitorStateMachine::DropRemovedRegions(const std::vector<std::string>& expected_regions) {
  const auto expected = [&](const std::string& region) {
    return std::binary_search(expected_regions.begin(), expected_regions.end(), region);
  };
  std::erase_if(progress_.regions,
                [&](const RegionStateSnapshot& state) { return !expected(state.region); });
  for (OpenRound& round : progress_.open_rounds) {
    std::erase_if(round.verdicts, [&](const RoundVerdict& v) { return !expected(v.region); });
  }
  std::erase_if(progress_.open_rounds,
                [](const OpenRound& round) { return round.verdicts.empty(); });
  ReleaseOpenRoundsIfEmpty();
}

void MonitorStateMachine::ResetProgress() {
  progress_.open_rounds.clear();
  ReleaseOpenRoundsIfEmpty();
  progress_.consecutive_failures = 0;
  progress_.consecutive_successes = 0;
  progress_.streak_first_error = CompactString();
}

void MonitorStateMachine::ReleaseOpenRoundsIfEmpty() {
  // A steady monitor closes every round it opens: hand the storage back instead of keeping it
  // for the next round (it adds up over tens of thousands of monitors).
  if (progress_.open_rounds.empty() && progress_.open_rounds.capacity() != 0) {
    std::vector<OpenRound>().swap(progress_.open_rounds);
  }
}

int MonitorStateMachine::RequiredRegions() const {
  const int regions = std::max(static_cast<int>(progress_.regions.size()), 1);
  if (!rules_.region_quorum) {
    return regions / 2 + 1;
  }
  return std::clamp(*rules_.region_quorum, 1, regions);
}

bool MonitorStateMachine::Active() const {
  return progress_.state != MonitorState::kPaused && progress_.state != MonitorState::kInvalid &&
         progress_.state != MonitorState::kMaintenance;
}

}  // namespace pharos
