#pragma once

// JSON form of CheckResult, used by `pharos check -o json`, the probe protocol and the JSON API.
// Fields: namespace, name, uid, generation, type, target, region, probe, itemId, scheduledAt,
// startedAt (RFC 3339 UTC with milliseconds), outcome, statusCode,
// timings {dnsUs, connectUs, tlsUs, firstByteUs, transferUs, totalUs}, certExpiry,
// certEarliestExpiry (RFC 3339 or null), failedAssertion {type, expected, actual, message} or null,
// error, attempts, dnsRecords, icmp {sent, received, packetLossPercent, rttMinUs, rttAvgUs,
// rttMaxUs} or null, addresses [{address, name, outcome, statusCode, totalUs, message, icmp}].
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

// The members `icmp` and `addresses` alone, as CheckResultToJson writes them: what the SQLite
// result store keeps of an icmp check and of the check of every address.
nlohmann::json CheckDetailsToJson(const CheckResult& result);
// Reads them into `result`, leaving its other fields as they are; strict like
// CheckResultFromJson (absent members leave none).
Status CheckDetailsFromJson(const nlohmann::json& json, CheckResult& result);

}  // namespace pharos
