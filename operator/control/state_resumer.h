#pragma once

// StateResumer: where a monitor's state machine resumes from when the core gains the monitor
// (first added, or leadership regained): the snapshot the store saved, with the results stored
// after it replayed (the process stopped in between), or a StateSeed from outside the store
// (Kubernetes: the Monitor's .status written by the previous leader). The seed wins only when it
// holds newer evidence than both the store's snapshot and the state in memory, so a replica
// never goes back in time, and a leader change neither flaps through Pending nor opens a second
// incident (docs/architecture.md, "Leader changes").
// Thread-safety: none; OperatorCore uses it under its state lock. Reads the store only.

#include <cstddef>
#include <optional>
#include <vector>

#include "common/check_result.h"
#include "common/duration.h"
#include "common/result.h"
#include "operator/control/monitor_state_machine.h"
#include "operator/control/result_store.h"
#include "operator/control/state_seed.h"

namespace pharos {

class StateResumer {
 public:
  enum class Source { kNone, kStore, kSeed };

  struct Resumed {
    // Transitions the resumption produced: observers hear of these.
    std::vector<StateEvent> events;
    // Incidents to record in the store without telling observers (a seed's incident opened, a
    // stale open one resolved): bookkeeping, not transitions.
    std::vector<StateEvent> bookkeeping;
    // Results replayed into the machine, oldest first (their certificates matter to the caller).
    std::vector<CheckResult> replayed;
    size_t accepted_replays = 0;  // how many of them changed the state
    std::optional<TimePoint> incident_since;
  };

  // `replay_margin`: how far before the saved snapshot stored results are replayed.
  StateResumer(HistoryReader& history, Millis replay_margin)
      : history_(history), replay_margin_(replay_margin) {}

  // Which of the stored snapshot and the seed the machine resumes from, given what it holds.
  static Source Choose(const MonitorProgress& in_memory,
                       const std::optional<MonitorStateSnapshot>& stored,
                       const std::optional<StateSeed>& seed);

  // Restores `machine` from the store's snapshot and replays the results stored after it.
  Result<Resumed> FromStore(MonitorStateMachine& machine, const MonitorIdentity& identity,
                            MonitorStateSnapshot snapshot, TimePoint now);
  // Restores `machine` from the seed; the store is to follow the seed's incident (bookkeeping).
  Result<Resumed> FromSeed(MonitorStateMachine& machine, const MonitorIdentity& identity,
                           StateSeed seed, TimePoint now);

 private:
  // The id and start of the monitor's open incident in the store; nullopt when none.
  std::optional<Incident> OpenIncident(std::string_view uid);

  HistoryReader& history_;
  const Millis replay_margin_;
};

}  // namespace pharos
