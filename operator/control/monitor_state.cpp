#include "operator/control/monitor_state.h"

#include <array>
#include <utility>

namespace pharos {
namespace {

constexpr std::array<std::pair<MonitorState, const char*>, 7> kStateNames = {{
    {MonitorState::kPending, "Pending"},
    {MonitorState::kUp, "Up"},
    {MonitorState::kDegraded, "Degraded"},
    {MonitorState::kDown, "Down"},
    {MonitorState::kPaused, "Paused"},
    {MonitorState::kMaintenance, "Maintenance"},
    {MonitorState::kInvalid, "Invalid"},
}};

}  // namespace

const char* ToString(MonitorState state) {
  for (const auto& [value, name] : kStateNames) {
    if (value == state) return name;
  }
  return "Pending";
}

std::optional<MonitorState> ParseMonitorState(std::string_view text) {
  for (const auto& [value, name] : kStateNames) {
    if (text == name) return value;
  }
  return std::nullopt;
}

}  // namespace pharos
