#pragma once

// ResultAdmission: which incoming results may be stored. A result is refused (with a reason the
// probe can act on) when its monitor is unknown or it comes from a region the monitor does not
// use; it is a duplicate (not stored again) when its item was already acked after a commit.
// Admitted results of a known monitor get the monitor's namespace, name, type and target when
// they lack them. Ingestion then stores the admitted results and shows them to the state
// machines (OperatorCore::Ingest).
// Thread-safety: as its MonitorSpecIndex and WorkDispatcher (safe from any thread).

#include <cstddef>
#include <vector>

#include "common/check_result.h"
#include "operator/control/monitor_spec_index.h"
#include "operator/control/result_sink.h"
#include "operator/control/work_dispatcher.h"

namespace pharos {

class ResultAdmission {
 public:
  struct Batch {
    IngestReport report;                // an outcome per input result; refused ones filled in
    std::vector<CheckResult> admitted;  // to store, in input order
    std::vector<size_t> positions;      // index in the input of each admitted result
  };

  ResultAdmission(const MonitorSpecIndex& specs, const WorkDispatcher& dispatcher)
      : specs_(specs), dispatcher_(dispatcher) {}

  Batch Admit(std::vector<CheckResult> results) const;

 private:
  const MonitorSpecIndex& specs_;
  const WorkDispatcher& dispatcher_;
};

}  // namespace pharos
