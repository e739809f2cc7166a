#pragma once

// StateSaver: persists monitor states (with the events that produced them) to the ResultStore,
// one at a time or collected into one transaction. Thousands of saves at once (shutdown,
// housekeeping, a burst of transitions, leadership changes) then cost one commit instead of one
// per monitor. When a batch fails as a whole it is retried one state at a time, so one bad state
// cannot keep the others unsaved; the caller learns which states are still unsaved and retries
// them later.
// Thread-safety: none; OperatorCore uses it under its state lock.

#include <optional>
#include <string>
#include <vector>

#include "operator/control/result_store.h"

namespace pharos {

class StateSaver {
 public:
  explicit StateSaver(ResultStore& store) : store_(store) {}

  // From here until Commit, Save collects states instead of committing each.
  void Begin() { batch_.emplace(); }
  // Saves `save` now, or into the batch begun. False when saving now failed (logged): the state
  // is still unsaved.
  bool Save(MonitorStateSave save);
  // Saves the collected states. Returns the uids of those that could not be saved.
  std::vector<std::string> Commit();

 private:
  ResultStore& store_;
  std::optional<std::vector<MonitorStateSave>> batch_;
};

}  // namespace pharos
