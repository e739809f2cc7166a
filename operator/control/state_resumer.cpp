#include "operator/control/state_resumer.h"

#include <algorithm>
#include <string>
#include <utility>

#include "common/logging.h"

namespace pharos {
namespace {

const Logger& Log() {
  static const Logger logger("core");
  return logger;
}

}  // namespace

StateResumer::Source StateResumer::Choose(const MonitorProgress& in_memory,
                                          const std::optional<MonitorStateSnapshot>& stored,
                                          const std::optional<StateSeed>& seed) {
  if (seed) {
    // The seed must know more than what this replica already has, stored or in memory.
    std::optional<TimePoint> known = StateSeed::EvidenceOf(in_memory);
    if (stored) {
      const std::optional<TimePoint> in_store = StateSeed::EvidenceOf(*stored);
      if (in_store && (!known || *in_store > *known)) {
        known = in_store;
      }
    }
    if (!known || *known < seed->evidence_at) {
      return Source::kSeed;
    }
  }
  return stored ? Source::kStore : Source::kNone;
}

std::optional<Incident> StateResumer::OpenIncident(std::string_view uid) {
  IncidentQuery query;
  query.monitor_uid = std::string(uid);
  query.include_resolved = false;
  query.limit = 1;
  Result<std::vector<Incident>> open = history_.Incidents(query);
  if (!open || open->empty()) {
    return std::nullopt;
  }
  return std::move(open->front());
}

Result<StateResumer::Resumed> StateResumer::FromStore(MonitorStateMachine& machine,
                                                      const MonitorIdentity& identity,
                                                      MonitorStateSnapshot snapshot,
                                                      TimePoint now) {
  const TimePoint saved_at = snapshot.updated_at;
  Result<std::vector<StateEvent>> restored = machine.Restore(identity, std::move(snapshot), now);
  if (!restored) {
    return Error{restored.error()};
  }
  Resumed resumed;
  resumed.events = std::move(restored).value();
  ResultQuery query;
  query.monitor_uid = std::string(identity.uid);
  query.since = saved_at - replay_margin_;
  query.limit = 10'000;
  query.newest_first = true;  // the newest matter most if the window holds more than the limit
  if (Result<std::vector<CheckResult>> results = history_.Results(query); results) {
    std::reverse(results->begin(), results->end());
    for (const CheckResult& result : *results) {
      ObserveResult observed = machine.Observe(identity, result, now);
      if (observed.accepted) {
        ++resumed.accepted_replays;
      }
      for (StateEvent& event : observed.events) {
        resumed.events.push_back(std::move(event));
      }
    }
    resumed.replayed = std::move(results).value();
  } else {
    Log().Warn("replaying stored results failed; the state may lag by a few checks",
               {{"monitor", identity.Key()}, {"error", results.error()}});
  }
  if (std::optional<Incident> open = OpenIncident(identity.uid)) {
    resumed.incident_since = open->opened_at;
  }
  return resumed;
}

Result<StateResumer::Resumed> StateResumer::FromSeed(MonitorStateMachine& machine,
                                                     const MonitorIdentity& identity,
                                                     StateSeed seed, TimePoint now) {
  const std::string incident_id = seed.state.open_incident_id;
  const std::string first_error = seed.state.streak_first_error;
  std::vector<std::string> failing_regions;
  for (const RegionStateSnapshot& region : seed.state.regions) {
    if (region.state == MonitorState::kDown) {
      failing_regions.push_back(region.region);
    }
  }
  Result<std::vector<StateEvent>> seeded = machine.Restore(identity, std::move(seed.state), now);
  if (!seeded) {
    return Error{seeded.error()};
  }
  Resumed resumed;
  resumed.events = std::move(seeded).value();
  resumed.incident_since = incident_id.empty() ? std::nullopt : seed.incident_since;

  // The store follows the seed's incident: a different open one (left from when this replica
  // last led) is resolved, the seed's is recorded as open.
  const std::optional<Incident> open = OpenIncident(identity.uid);
  const std::string open_in_store = open ? open->id : "";
  if (!open_in_store.empty() && open_in_store != incident_id) {
    StateEvent resolve;
    resolve.monitor_uid = std::string(identity.uid);
    resolve.monitor_key = identity.Key();
    resolve.at = seed.incident_since && !incident_id.empty() ? *seed.incident_since : now;
    resolve.resolved_incident_id = open_in_store;
    resumed.bookkeeping.push_back(std::move(resolve));
  }
  if (!incident_id.empty() && open_in_store != incident_id) {
    StateEvent opened;
    opened.monitor_uid = std::string(identity.uid);
    opened.monitor_key = identity.Key();
    opened.from = MonitorState::kPending;
    opened.to = MonitorState::kDown;
    opened.at = seed.incident_since.value_or(now);
    opened.failing_regions = std::move(failing_regions);
    opened.first_error = first_error;
    opened.opened_incident_id = incident_id;
    resumed.bookkeeping.push_back(std::move(opened));
  }
  return resumed;
}

}  // namespace pharos
