#include "operator/control/result_admission.h"

#include <algorithm>
#include <memory>
#include <utility>

namespace pharos {

ResultAdmission::Batch ResultAdmission::Admit(std::vector<CheckResult> results) const {
  Batch batch;
  batch.report.outcomes.resize(results.size());
  for (size_t i = 0; i < results.size(); ++i) {
    CheckResult& result = results[i];
    IngestOutcome& outcome = batch.report.outcomes[i];
    outcome.item_id = result.item_id;
    if (!result.item_id.empty() && dispatcher_.WasAcked(result.item_id)) {
      // Acked after its commit, so already stored: skip the write. Older duplicates are caught
      // by the store's unique item id; neither reaches the state machine.
      outcome.kind = IngestOutcome::Kind::kDuplicate;
      continue;
    }
    const std::shared_ptr<const Monitor> spec = specs_.Find(result.monitor_uid);
    if (!spec) {
      outcome.reason = "unknown monitor uid '" + result.monitor_uid +
                       "': it was removed or never existed; drop the result";
      continue;
    }
    const Monitor& monitor = *spec;
    if (!monitor.regions.empty() && std::find(monitor.regions.begin(), monitor.regions.end(),
                                              result.region) == monitor.regions.end()) {
      outcome.reason = "region '" + result.region + "' is not one of the regions of monitor " +
                       monitor.Key() + "; drop the result";
      continue;
    }
    if (result.monitor_namespace.empty() && result.monitor_name.empty()) {
      result.monitor_namespace = monitor.namespace_name;
      result.monitor_name = monitor.name;
    }
    if (result.target.empty()) {
      result.type = monitor.type;
      result.target = monitor.Target();
    }
    batch.positions.push_back(i);
    batch.admitted.push_back(std::move(result));
  }
  return batch;
}

}  // namespace pharos
