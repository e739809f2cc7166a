#include "operator/control/result_store.h"

#include <algorithm>
#include <string>

namespace pharos {

size_t AppendResult::Count(AppendStatus status) const {
  return static_cast<size_t>(std::count(statuses.begin(), statuses.end(), status));
}

std::optional<double> WindowStats::UptimePercent() const {
  const int64_t passed = up + degraded;
  if (passed + down == 0) return std::nullopt;
  return 100.0 * static_cast<double>(passed) / static_cast<double>(passed + down);
}

Status ResultStore::SaveMonitorStates(const std::vector<MonitorStateSave>& saves) {
  for (const MonitorStateSave& save : saves) {
    if (Status saved = SaveMonitorState(save.state, save.events); !saved) return saved;
  }
  return OkStatus();
}

Result<MonitorSummary> HistoryReader::Summarize(std::string_view monitor_uid, TimePoint now) {
  using std::chrono::hours;
  MonitorSummary summary;
  const std::pair<hours, WindowStats*> windows[] = {{hours(24), &summary.last_24h},
                                                    {hours(24 * 7), &summary.last_7d},
                                                    {hours(24 * 30), &summary.last_30d}};
  for (const auto& [length, out] : windows) {
    Result<WindowStats> stats =
        Stats(StatsQuery{std::string(monitor_uid), std::nullopt, now - length, now});
    if (!stats) return Error{stats.error()};
    *out = std::move(stats).value();
  }
  return summary;
}

}  // namespace pharos
