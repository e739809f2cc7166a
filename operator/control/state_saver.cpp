#include "operator/control/state_saver.h"

#include <utility>

#include "common/logging.h"

namespace pharos {
namespace {

const Logger& Log() {
  static const Logger logger("core");
  return logger;
}

}  // namespace

bool StateSaver::Save(MonitorStateSave save) {
  if (batch_) {
    batch_->push_back(std::move(save));
    return true;
  }
  if (Status saved = store_.SaveMonitorState(save.state, save.events); !saved) {
    Log().Error("saving monitor state failed; will retry",
                {{"monitor", save.state.monitor_key}, {"error", saved.error()}});
    return false;
  }
  return true;
}

std::vector<std::string> StateSaver::Commit() {
  std::vector<MonitorStateSave> batch = std::move(batch_).value_or(std::vector<MonitorStateSave>{});
  batch_.reset();
  std::vector<std::string> unsaved;
  if (batch.empty() || store_.SaveMonitorStates(batch)) {
    return unsaved;
  }
  for (const MonitorStateSave& save : batch) {
    if (Status saved = store_.SaveMonitorState(save.state, save.events); !saved) {
      unsaved.push_back(save.state.monitor_uid);
      Log().Error("saving monitor state failed; will retry",
                  {{"monitor", save.state.monitor_key}, {"error", saved.error()}});
    }
  }
  return unsaved;
}

}  // namespace pharos
