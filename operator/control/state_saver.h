#pragma once

// StateSaver: persists monitor states (with the events that produced them) to the ResultStore,
// one at a time or collected into one transaction. Thousands of saves at once (shutdown,
// housekeeping, a burst of transitions, leadership changes) then cost one commit instead of one
// per monitor. When a batch fails as a whole it is retried one state at a time, so one bad state
// cannot keep the others unsaved; the caller learns which states are still unsaved and retries
// them later. The events of an unsaved state are kept and go with that monitor's next save, so an
// incident opened or resolved while the store failed is still recorded (saving is idempotent).
// While `store_failing` says the store fails (ResultWriter holds results in memory), nothing is
// written: every save stays unsaved at once instead of waiting on a full, broken or locked disk.
// Thread-safety: none; OperatorCore uses it under its state lock.

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "operator/control/result_store.h"

namespace pharos {

class StateSaver {
 public:
  explicit StateSaver(ResultStore& store, std::function<bool()> store_failing = {})
      : store_(store), store_failing_(std::move(store_failing)) {}

  // From here until Commit, Save collects states instead of committing each.
  void Begin() { batch_.emplace(); }
  // Saves `save` (with the monitor's events still unsaved) now, or into the batch begun. False
  // when saving now failed or was skipped: the state is still unsaved.
  bool Save(MonitorStateSave save);
  // Saves the collected states. Returns the uids of those that could not be saved.
  std::vector<std::string> Commit();
  // The monitor is gone: its unsaved events are dropped.
  void Forget(std::string_view uid);
  // Events waiting for their monitor's next save.
  size_t unsaved_events() const;

 private:
  bool StoreFailing() const { return store_failing_ && store_failing_(); }
  void KeepEvents(MonitorStateSave& save);

  ResultStore& store_;
  std::function<bool()> store_failing_;
  std::optional<std::vector<MonitorStateSave>> batch_;
  std::map<std::string, std::vector<StateEvent>, std::less<>> unsaved_events_;
};

}  // namespace pharos
