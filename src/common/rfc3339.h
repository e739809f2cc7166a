#pragma once

// RFC 3339 timestamps as Pharos writes them: UTC with milliseconds, "2026-11-25T23:17:54.123Z".
// Thread-safety: free functions; no shared state.

#include <chrono>
#include <string>
#include <string_view>

#include "common/result.h"

namespace pharos {

// Always UTC, always three fractional digits (truncated toward the past).
std::string FormatRfc3339(std::chrono::system_clock::time_point time);

// Accepts "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)" ('t'/'z' too); the fraction may
// have 1 to 9 digits. Errors say what is wrong with the text.
Result<std::chrono::system_clock::time_point> ParseRfc3339(std::string_view text);

}  // namespace pharos
