#pragma once

// EmptyResultStore: a ResultStore that keeps nothing and answers every read with nothing: the
// base of test doubles that care about one or two of its calls and override just those.
// Thread-safety: stateless; a subclass says what its own members need.

#include <string_view>
#include <vector>

#include "operator/control/result_store.h"

namespace pharos::testing {

class EmptyResultStore : public ResultStore {
 public:
  Result<AppendResult> Append(const std::vector<CheckResult>& results) override {
    AppendResult appended;
    appended.statuses.assign(results.size(), AppendStatus::kNew);
    return appended;
  }
  Result<WindowStats> Stats(const StatsQuery&) override { return WindowStats{}; }
  Result<std::vector<Rollup>> Rollups(const RollupQuery&) override { return std::vector<Rollup>{}; }
  Result<std::vector<CheckResult>> Results(const ResultQuery&) override {
    return std::vector<CheckResult>{};
  }
  Result<std::vector<Incident>> Incidents(const IncidentQuery&) override {
    return std::vector<Incident>{};
  }
  Status SaveMonitorState(const MonitorStateSnapshot&, const std::vector<StateEvent>&) override {
    return OkStatus();
  }
  Result<std::vector<MonitorStateSnapshot>> LoadMonitorStates() override {
    return std::vector<MonitorStateSnapshot>{};
  }
  Status ForgetMonitor(std::string_view, TimePoint) override { return OkStatus(); }
  Result<PruneReport> Prune(TimePoint) override { return PruneReport{}; }
};

}  // namespace pharos::testing
