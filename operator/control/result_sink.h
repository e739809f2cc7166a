#pragma once

// ResultSink: where check results enter the control plane, whoever measured them (a remote probe
// through the probe API, the in-process probe, the dispatcher's "no probe completed the check").
// OperatorCore implements it: results are stored once by item id, then shown to the monitor's
// state machine; `done` reports what happened to each. A probe acknowledges its results only
// after `done` reported success, so nothing acked is ever lost.
// Thread-safety: implementations are safe to call from any thread.

#include <functional>
#include <string>
#include <vector>

#include "common/check_result.h"
#include "common/result.h"

namespace pharos {

// What happened to one ingested result.
struct IngestOutcome {
  enum class Kind { kAccepted, kDuplicate, kRejected };
  Kind kind = Kind::kRejected;
  std::string item_id;
  std::string reason;  // kRejected: why (the probe drops the result)
};

struct IngestReport {
  std::vector<IngestOutcome> outcomes;  // one per result, in input order
};

class ResultSink {
 public:
  // An error means nothing was stored (store failure, shutting down, not the leader): retry.
  using IngestDone = std::function<void(Result<IngestReport>)>;

  virtual ~ResultSink() = default;

  // Stores `results` and feeds them to the state machines; `done` runs exactly once, after the
  // commit (on the writer's thread) or at once on the calling thread when nothing needs storing
  // or the results cannot be accepted.
  virtual void Ingest(std::vector<CheckResult> results, IngestDone done) = 0;
};

}  // namespace pharos
