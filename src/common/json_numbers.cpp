#include "common/json_numbers.h"

#include <cmath>
#include <cstdlib>

namespace pharos {
namespace {

bool IsNumberChar(char c) {
  return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

}  // namespace

std::string ClampOutOfRangeNumbers(std::string_view text) {
  std::string out;
  bool changed = false;
  bool in_string = false;
  bool escaped = false;
  size_t copied = 0;  // text[0, copied) is in `out` (once something changed)
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
      continue;
    }
    if (c != '-' && (c < '0' || c > '9')) continue;
    size_t end = i;
    while (end < text.size() && IsNumberChar(text[end])) ++end;
    const std::string_view token = text.substr(i, end - i);
    // Only an exponent can take a number past a double's range with few characters; a long
    // run of digits can too, so both are tried.
    const std::string copy(token);
    const double value = std::strtod(copy.c_str(), nullptr);
    if (std::isinf(value)) {
      if (!changed) out.reserve(text.size());
      changed = true;
      out.append(text.substr(copied, i - copied));
      out += value < 0 ? "-1.7976931348623157e308" : "1.7976931348623157e308";
      copied = end;
    }
    i = end - 1;
  }
  if (!changed) return std::string(text);
  out.append(text.substr(copied));
  return out;
}

nlohmann::json ParseJsonClampingNumbers(std::string_view text) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::out_of_range&) {
    return nlohmann::json::parse(ClampOutOfRangeNumbers(text));
  }
}

}  // namespace pharos
