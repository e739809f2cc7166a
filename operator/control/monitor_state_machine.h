#pragma once

// MonitorStateMachine: decides one monitor's state (Pending, Up, Degraded, Down, Paused, Invalid)
// from the check results of its regions, and opens/resolves its incident (docs/architecture.md,
// "One Monitor, from YAML to status"). Pure logic: no I/O, no clock of its own (every call is given
// `now`), so it runs in virtual time. The machine keeps no identity (uid, namespace/name): its
// owner already holds the monitor and hands the identity to every call that checks it or emits
// events (events, incident ids and Snapshot() carry it), so each monitor's identity is stored once.
// Thread-safety: not thread-safe; one owner (the ingestion path) drives it.
//
// Rules (the contract other parts rely on):
// * Region state: the region's last result with outcome up → Up, degraded → Degraded, down →
//   Down. An `error` outcome is a probe failure, never a target failure: the region keeps its
//   state and is only marked `probe_error`.
// * Round: the results of the monitor that share one scheduledAt (the scheduler stamps every
//   region's item of one due time with the same scheduledAt; a result without scheduledAt uses
//   startedAt). A round is evaluated, oldest first, as soon as
//     - every expected region has reported in it (or has reported a later round, so it never
//       will) — a monitor with one region: every result is a complete round; or
//     - a result arrives for a round scheduled at or after its deadline (scheduledAt +
//       round_timeout), i.e. the next rounds are under way; or
//     - Tick(now, schedule_now) finds its deadline passed on the schedule time line (the owner
//       calls Tick periodically; a wall-clock step neither closes rounds early nor late).
//   Observe never closes a round by the clock, so replaying stored results (oldest first) after
//   a Restore, however late, evaluates exactly the rounds live ingestion would have; call
//   Tick(now) afterwards.
// * Late or repeated results are ignored (they are still stored): a scheduledAt at or before the
//   newest evaluated round, or at or before the newest result already accepted from the region.
//   Replaying stored results after a restore is therefore harmless.
// * Round verdict, with E = number of expected regions and required = min(regionQuorum, E)
//   (majority: E/2 + 1):
//     bad      — at least `required` regions down;
//     good     — otherwise, if at least one region was up or degraded;
//     neutral  — otherwise (only errors or silence): changes no counter and no state.
//   A good round is degraded when down + degraded regions reach `required`.
// * Monitor state: bad rounds count consecutive_failures (and zero the successes), good rounds
//   count consecutive_successes (and zero the failures).
//     Pending → Up/Degraded on the first good round; Pending → Down after failureThreshold
//     bad rounds. Up/Degraded → Down after failureThreshold bad rounds; a good round switches
//     between Up and Degraded at once (no threshold; degraded opens no incident).
//     Down → Up/Degraded after successThreshold good rounds.
// * Incidents: entering Down opens one (id "<uid>-<unix ms of the transition>") unless one is
//   already open; entering Up or Degraded resolves the open one. At most one is open.
// * Paused (suspend: true): results are ignored, open rounds and counters dropped; an open
//   incident stays open (resolved when the monitor is next seen Up). Resuming → Pending.
//   Invalid (MarkInvalid): the same, until Reconfigure with a valid configuration → Pending.
// * Maintenance (settings.maintenance: the owner's MaintenanceCalendar says the monitor is inside
//   a window): an active monitor enters Maintenance at once — open rounds and counters dropped,
//   results ignored (still stored by the owner), no incident opens; an open incident stays open.
//   Suspension and invalidity win over maintenance. When the window ends (Reconfigure without
//   it) the monitor is Pending: its state is decided afresh from new rounds — Up resolves the
//   incident still open, Down keeps it (no second one opens).

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/check_result.h"
#include "common/monitor.h"
#include "common/result.h"
#include "operator/control/monitor_state.h"

namespace pharos {

// How a monitor is judged, apart from where: what MonitorStateMachine keeps of its
// configuration (the expected regions it keeps once, as its per-region records).
struct StateMachineRules {
  int failure_threshold = 2;  // values below 1 count as 1
  int success_threshold = 1;
  std::optional<int> region_quorum = 1;  // nullopt = majority
  bool suspended = false;
  bool maintenance = false;  // inside a maintenance window
  std::chrono::milliseconds round_timeout{40'000};
};

// How a monitor is judged and where it is checked: what MonitorStateMachine is configured with.
struct StateMachineSettings : StateMachineRules {
  std::vector<std::string> regions;  // expected regions, resolved (a Monitor's empty list = all)

  // From a validated Monitor. `all_regions` is used when the Monitor lists none. The round
  // timeout is the check timeout plus `round_grace` (time for the probe to pick the item up
  // and report it).
  static StateMachineSettings FromMonitor(
      const Monitor& monitor, const std::vector<std::string>& all_regions,
      std::chrono::milliseconds round_grace = std::chrono::milliseconds(30'000));
};

// Who a monitor is, as its owner knows it. The machine keeps no copy: every call that may need
// the identity (to check a result or stored state, or to stamp events and incident ids) is given
// it. Views: the owner keeps the strings alive for the duration of the call.
struct MonitorIdentity {
  std::string_view uid;  // never empty
  std::string_view namespace_name;
  std::string_view name;

  static MonitorIdentity Of(const Monitor& monitor);  // views into `monitor`
  std::string Key() const;                            // namespace/name
};

struct ObserveResult {
  bool accepted = false;
  std::string ignored_because;  // why it was not accepted ("late: round already evaluated")
  std::vector<StateEvent> events;
};

class MonitorStateMachine {
 public:
  // A monitor without history: Pending (Paused when suspended, Maintenance inside a window).
  MonitorStateMachine(StateMachineSettings settings, TimePoint now);

  // Replaces the state with a stored one (which must be of `identity`'s uid), then applies the
  // current settings; returns the transitions that implies (e.g. to Paused). A stored Invalid
  // state stays Invalid: the owner calls Reconfigure if the validator now accepts the monitor.
  Result<std::vector<StateEvent>> Restore(const MonitorIdentity& identity,
                                          MonitorStateSnapshot snapshot, TimePoint now);

  // Applies new settings: removed regions are forgotten (their results in open rounds too),
  // suspension pauses/resumes, an Invalid monitor becomes Pending. Thresholds apply from the next
  // round on.
  std::vector<StateEvent> Reconfigure(const MonitorIdentity& identity,
                                      StateMachineSettings settings, TimePoint now);

  // The validator rejected the Monitor.
  std::vector<StateEvent> MarkInvalid(const MonitorIdentity& identity, std::string reason,
                                      TimePoint now);

  // Takes one result into account; a result of another monitor (uid) is ignored. `now` stamps
  // the events.
  ObserveResult Observe(const MonitorIdentity& identity, const CheckResult& result, TimePoint now);

  // Evaluates open rounds whose deadline (scheduledAt + round timeout) is at or before
  // `schedule_now`: a time on the time line scheduledAt is on (the owner's ScheduleClock, which
  // a wall-clock step does not move). `now` (wall clock) stamps the events.
  std::vector<StateEvent> Tick(const MonitorIdentity& identity, TimePoint now,
                               TimePoint schedule_now);
  // The same when scheduledAt and the events share one clock.
  std::vector<StateEvent> Tick(const MonitorIdentity& identity, TimePoint now) {
    return Tick(identity, now, now);
  }

  MonitorState state() const { return progress_.state; }
  const MonitorProgress& progress() const { return progress_; }
  // A copy of the state with `identity`, for saving.
  MonitorStateSnapshot Snapshot(const MonitorIdentity& identity) const;
  // The rules in force (normalised: thresholds at least 1).
  const StateMachineRules& rules() const { return rules_; }
  // Whether `region` is one of the expected regions (those of progress().regions).
  bool ExpectsRegion(std::string_view region) const;

 private:
  struct RoundSummary;

  // Evaluates the oldest rounds that are complete or whose deadline is at or before
  // `past_deadline_at`; events are stamped `now`.
  void CloseDueRounds(const MonitorIdentity& identity, TimePoint now, TimePoint past_deadline_at,
                      std::vector<StateEvent>& events);
  bool RoundComplete(const OpenRound& round) const;
  void EvaluateRound(const MonitorIdentity& identity, const OpenRound& round, TimePoint now,
                     std::vector<StateEvent>& events);
  void TransitionTo(const MonitorIdentity& identity, MonitorState to, TimePoint now,
                    const RoundSummary* round, std::vector<StateEvent>& events);
  void UpdateRegion(const CheckResult& result, TimePoint now);
  // Forgets the regions not in `expected` (sorted), their results in open rounds too.
  void DropRemovedRegions(const std::vector<std::string>& expected);
  void ResetProgress();
  void ReleaseOpenRoundsIfEmpty();
  int RequiredRegions() const;
  bool Active() const;

  StateMachineRules rules_;
  // One record per expected region, sorted by name: they are the expected regions (a restored
  // Invalid state may lack some until the next Reconfigure; an Invalid machine judges nothing).
  MonitorProgress progress_;
};

}  // namespace pharos
