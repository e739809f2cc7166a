#pragma once

// JSON form of CheckResult, used by `pharos check -o json`, the probe protocol and the JSON API.
// Fields: namespace, name, uid, generation, type, target, region, probe, itemId, scheduledAt,
// startedAt (RFC 3339 UTC with milliseconds), outcome, statusCode,
// timings {dnsUs, connectUs, tlsUs, firstByteUs, transferUs, totalUs}, certExpiry,
// certEarliestExpiry (RFC 3339 or null), failedAssertion {type, expected, actual, message} or null,
// error, attempts, dnsRecords.
// Reading: `outcome` is required; other absent fields keep CheckResult's defaults, and unknown
// fields are ignored (a newer probe may send more).
// Thread-safety: free functions.

#include <nlohmann/json.hpp>

#include "common/check_result.h"
#include "common/result.h"

namespace pharos {

nlohmann::json CheckResultToJson(const CheckResult& result);
// Strict: wrong types or unknown outcomes are errors naming the field.
Result<CheckResult> CheckResultFromJson(const nlohmann::json& json);

}  // namespace pharos
