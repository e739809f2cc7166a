#pragma once

// JSON text written directly, for the hot replies (a lease of hundreds of items) where building
// an nlohmann::json tree per item first cost an allocation per field. Strings are escaped as
// RFC 8259 requires (quote, backslash, control characters); other bytes pass through, so the
// caller gives UTF-8.
// Thread-safety: free functions.

#include <string>
#include <string_view>

namespace pharos {

// Appends `value` as a JSON string literal, quotes included.
void AppendJsonString(std::string& out, std::string_view value);

// Appends `"key":` (the key escaped as above).
void AppendJsonKey(std::string& out, std::string_view key);

}  // namespace pharos
