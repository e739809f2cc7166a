#pragma once

// ResultBounds: what a result sent by a probe may hold, field by field, so that a broken or
// hostile probe cannot store what no probe could have measured (a check 292,000 years long, a
// negative status code, a 3 MB error) and poison the metrics and history built from it.
// Errors name the field ("timings.totalUs: ..."); the probe API prefixes "results[i].".
// Thread-safety: free functions.

#include <chrono>

#include "common/check_result.h"
#include "common/result.h"

namespace pharos {

struct ResultBounds {
  static constexpr int64_t kMaxPhaseUs = 24LL * 3600 * 1'000'000;  // one day per phase
  static constexpr int64_t kMaxAttempts = 1000;
  static constexpr size_t kMaxErrorBytes = 4096;
  static constexpr size_t kMaxAssertionFieldBytes = 1024;
  static constexpr size_t kMaxDnsRecords = 1000;
  static constexpr size_t kMaxDnsRecordBytes = 1024;
  static constexpr size_t kMaxTargetBytes = 8192;
  static constexpr size_t kMaxItemIdBytes = 256;
  // How far in the future scheduledAt/startedAt may be (clocks differ a little).
  static constexpr std::chrono::hours kMaxClockAhead{24};
};

// OK when every field of `result` is within ResultBounds; `now` is the operator's clock.
Status CheckResultBounds(const CheckResult& result, std::chrono::system_clock::time_point now);

}  // namespace pharos
