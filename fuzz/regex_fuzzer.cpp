// Fuzz target: `matches` assertions — a PCRE2 pattern a user wrote, run against a body a target
// returned. Input: the pattern, a NUL byte, then the body. Match limits must bound every search,
// so a catastrophic pattern ("(a+)+$" on "aaaa…b") ends in an error, never a hang (libFuzzer's
// -timeout catches one).

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/regex.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t separator = input.find('\0');
  const std::string_view pattern = input.substr(0, separator);
  const std::string_view body =
      separator == std::string_view::npos ? std::string_view() : input.substr(separator + 1);
  pharos::Result<pharos::Regex> regex = pharos::Regex::Compile(pattern);
  if (regex.ok()) {
    (void)regex->Search(body);
  }
  return 0;
}
