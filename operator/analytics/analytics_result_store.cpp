#include "operator/analytics/analytics_result_store.h"

namespace pharos {

Result<AppendResult> AnalyticsResultStore::Append(const std::vector<CheckResult>& results) {
  Result<AppendResult> appended = primary_.Append(results);
  if (!appended) {
    return appended;
  }
  std::vector<CheckResult> fresh;
  for (size_t i = 0; i < results.size() && i < appended->statuses.size(); ++i) {
    if (appended->statuses[i] == AppendStatus::kNew) {
      fresh.push_back(results[i]);
    }
  }
  sink_.Add(fresh);
  return appended;
}

}  // namespace pharos
