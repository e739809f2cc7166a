#pragma once

// RFC 3339 timestamps as Pharos writes them: UTC with milliseconds, "2026-11-25T23:17:54.123Z",
// or with the precision a Kubernetes field wants (metav1.Time: seconds; metav1.MicroTime:
// microseconds).
// Thread-safety: free functions; no shared state.

#include <chrono>
#include <string>
#include <string_view>

#include "common/result.h"

namespace pharos {

enum class Rfc3339Precision { kSeconds, kMillis, kMicros };

// Always UTC, always the precision's fractional digits (none, three or six; truncated toward the
// past).
std::string FormatRfc3339(std::chrono::system_clock::time_point time,
                          Rfc3339Precision precision = Rfc3339Precision::kMillis);

// Accepts "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)" ('t'/'z' too); the fraction may
// have 1 to 9 digits. Errors say what is wrong with the text.
// Times outside what system_clock holds (about 1678 to 2262) are errors, never wrapped around;
// errors quote at most the first 64 characters of the text.
Result<std::chrono::system_clock::time_point> ParseRfc3339(std::string_view text);
// The same, but a valid time outside that range becomes time_point::min() or ::max() (a query's
// "since 9999-12-31" asks for nothing, not for an error).
Result<std::chrono::system_clock::time_point> ParseRfc3339Saturating(std::string_view text);

}  // namespace pharos
