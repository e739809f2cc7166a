// Fuzz target: JSONPath assertions — compiling the expression a user wrote and selecting from a
// response body a target returned. Input: the expression, a newline, then the body.

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

#include "common/json_path.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t newline = input.find('\n');
  const std::string_view expression = input.substr(0, newline);
  const std::string_view body =
      newline == std::string_view::npos ? std::string_view() : input.substr(newline + 1);

  pharos::Result<pharos::JsonPath> path = pharos::JsonPath::Parse(expression);
  if (!path.ok()) {
    return 0;
  }
  const nlohmann::json document = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) {
    return 0;
  }
  for (const nlohmann::json* value : path->Select(document)) {
    (void)value->dump();
  }
  return 0;
}
