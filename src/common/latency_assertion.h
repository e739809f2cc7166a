#pragma once

// The one rule for latency assertions (type: latency), shared by the probe's AssertionEvaluator
// (on a check's total time) and the control plane's Heartbeat (on a push job's run time):
// the assertion's value is a duration ("500ms", "2s") compared with the measured time in
// microseconds by the numeric ops eq, not_eq, gt, gte, lt, lte. A failure reads
// "latency is 734.5ms, expected lt 500ms", its actual the measured time written the same way.
// Thread-safety: pure function.

#include <chrono>
#include <optional>

#include "common/check_result.h"
#include "common/monitor.h"

namespace pharos {

// nullopt when `assertion` (of type latency) holds for `measured`. A value that is not a
// duration, or an op that does not compare numbers (validation rejects both), fails with a
// message saying so.
std::optional<FailedAssertion> JudgeLatency(const Assertion& assertion,
                                            std::chrono::microseconds measured);

}  // namespace pharos
