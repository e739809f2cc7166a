#include "operator/control/state_saver.h"

#include <iterator>
#include <utility>

#include "common/logging.h"

namespace pharos {
namespace {

const Logger& Log() {
  static const Logger logger("core");
  return logger;
}

}  // namespace

void StateSaver::KeepEvents(MonitorStateSave& save) {
  if (save.events.empty()) return;
  std::vector<StateEvent>& kept = unsaved_events_[save.state.monitor_uid];
  kept.insert(kept.end(), std::make_move_iterator(save.events.begin()),
              std::make_move_iterator(save.events.end()));
}

bool StateSaver::Save(MonitorStateSave save) {
  if (auto earlier = unsaved_events_.find(save.state.monitor_uid);
      earlier != unsaved_events_.end()) {
    std::vector<StateEvent> events = std::move(earlier->second);
    unsaved_events_.erase(earlier);
    events.insert(events.end(), std::make_move_iterator(save.events.begin()),
                  std::make_move_iterator(save.events.end()));
    save.events = std::move(events);
  }
  if (StoreFailing()) {
    KeepEvents(save);
    return false;
  }
  if (batch_) {
    batch_->push_back(std::move(save));
    return true;
  }
  if (Status saved = store_.SaveMonitorState(save.state, save.events); !saved) {
    Log().Error("saving monitor state failed; will retry",
                {{"monitor", save.state.monitor_key}, {"error", saved.error()}});
    KeepEvents(save);
    return false;
  }
  return true;
}

std::vector<std::string> StateSaver::Commit() {
  std::vector<MonitorStateSave> batch = std::move(batch_).value_or(std::vector<MonitorStateSave>{});
  batch_.reset();
  std::vector<std::string> unsaved;
  if (batch.empty()) {
    return unsaved;
  }
  if (StoreFailing()) {
    for (MonitorStateSave& save : batch) {
      unsaved.push_back(save.state.monitor_uid);
      KeepEvents(save);
    }
    return unsaved;
  }
  if (store_.SaveMonitorStates(batch)) {
    return unsaved;
  }
  for (MonitorStateSave& save : batch) {
    if (Status saved = store_.SaveMonitorState(save.state, save.events); !saved) {
      unsaved.push_back(save.state.monitor_uid);
      Log().Error("saving monitor state failed; will retry",
                  {{"monitor", save.state.monitor_key}, {"error", saved.error()}});
      KeepEvents(save);
    }
  }
  return unsaved;
}

void StateSaver::Forget(std::string_view uid) {
  if (auto found = unsaved_events_.find(uid); found != unsaved_events_.end()) {
    unsaved_events_.erase(found);
  }
}

size_t StateSaver::unsaved_events() const {
  size_t count = 0;
  for (const auto& [uid, events] : unsaved_events_) count += events.size();
  return count;
}

}  // namespace pharos
