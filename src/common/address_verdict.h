#pragma once

// AddressVerdict: what the results of several addresses of one target (resolve: all, or the
// ready endpoints of a Service, docs/monitor-reference.md "Every address") amount to for the
// region that checked them, under spec.alerting.addressQuorum. The probe uses it for the
// result's own outcome, and the state machine again with the quorum in force, so both agree.
// Rules:
// * addresses whose outcome is `error` (the probe could not check them) count on neither side;
//   with no other address left the verdict is `error`;
// * required = min(quorum, addresses checked), majority = checked / 2 + 1;
// * down when at least `required` addresses are down; else degraded when down + degraded reach
//   `required`; else up;
// * the reason names the failing addresses (at most three, then how many more) and the count:
//   "127.0.0.2: connection refused (1 of 3 addresses failing)".
// Thread-safety: pure functions.

#include <optional>
#include <string>
#include <vector>

#include "common/check_result.h"

namespace pharos {

struct AddressVerdict {
  Outcome outcome = Outcome::kError;
  int checked = 0;  // addresses with an outcome other than error
  int failing = 0;  // down
  int required = 1;
  std::string reason;  // empty when up

  // Judges `addresses` (not empty) with `quorum` (nullopt = majority).
  static AddressVerdict Of(const std::vector<AddressResult>& addresses, std::optional<int> quorum);
};

}  // namespace pharos
