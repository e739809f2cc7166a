#pragma once

// AssertionEvaluator: judges what an attempt observed against a Monitor's assertions and
// degradedAfter, giving the outcome (up, degraded, down, error) and the first assertion that did
// not hold, in plain words. Rules:
// * a transport error fails the check whatever the assertions say (error when the probe was at
//   fault, down otherwise);
// * without assertions: HTTP needs a 2xx status, TCP a connection (and TLS handshake), DNS at
//   least one record;
// * comparisons are numeric when both sides parse as numbers, textual otherwise;
// * several values (jsonPath selections, repeated headers, DNS records): eq, gt, gte, lt, lte,
//   contains, matches and not_empty hold when ANY value does; not_eq, not_contains and empty
//   hold when EVERY value does (so also when there is none).
// Thread-safety: const methods; safe from any thread if the Clock is.

#include <optional>
#include <string>
#include <vector>

#include "common/check_result.h"
#include "common/clock.h"
#include "common/monitor.h"
#include "probe/observation.h"

namespace pharos {

class AssertionEvaluator {
 public:
  struct Verdict {
    Outcome outcome = Outcome::kError;
    std::optional<FailedAssertion> failed_assertion;
  };

  // `clock` (for certificate expiry) must outlive the evaluator.
  explicit AssertionEvaluator(const Clock& clock) : clock_(clock) {}

  Verdict Judge(const Monitor& monitor, const Observation& observation) const;

  // nullopt when `assertion` holds.
  std::optional<FailedAssertion> Evaluate(const Monitor& monitor, const Assertion& assertion,
                                          const Observation& observation) const;
  // The rule applied when a monitor has no assertions; nullopt when it holds.
  std::optional<FailedAssertion> EvaluateDefault(const Monitor& monitor,
                                                 const Observation& observation) const;

 private:
  const Clock& clock_;
};

}  // namespace pharos
