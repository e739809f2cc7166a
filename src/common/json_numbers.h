#pragma once

// JsonNumbers: JSON text from the outside world may hold numbers beyond a double's range
// ("1e400"), which JSON allows and nlohmann::json refuses (out_of_range 406). A response body
// with one such number must still be a JSON document for jsonPath assertions: such numbers are
// read as the largest finite double (with their sign) instead.
// Thread-safety: free functions.

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace pharos {

// `text` with every number that overflows a double replaced by ±1.7976931348623157e308; the
// text itself when there is none (strings are left alone). Does not check the JSON otherwise.
std::string ClampOutOfRangeNumbers(std::string_view text);

// nlohmann::json::parse that accepts out-of-range numbers as above; throws what parse throws
// for anything else.
nlohmann::json ParseJsonClampingNumbers(std::string_view text);

}  // namespace pharos
