#include "common/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

namespace pharos {
namespace {

// Bounds on one Search: backtracking steps, nesting depth and heap (KiB). Far above what a
// sensible pattern needs on a response body, far below what would stall a probe.
constexpr uint32_t kMatchLimit = 1'000'000;
constexpr uint32_t kDepthLimit = 10'000;
constexpr uint32_t kHeapLimitKib = 64 * 1024;

std::string ErrorText(int code) {
  PCRE2_UCHAR buffer[256];
  const int length = pcre2_get_error_message(code, buffer, sizeof(buffer));
  if (length < 0) {
    return "PCRE2 error " + std::to_string(code);
  }
  return std::string(reinterpret_cast<const char*>(buffer), static_cast<size_t>(length));
}

}  // namespace

struct Regex::Compiled {
  Compiled(pcre2_code* compiled_code, pcre2_match_context* match_context)
      : code(compiled_code), context(match_context) {}
  ~Compiled() {
    pcre2_match_context_free(context);
    pcre2_code_free(code);
  }
  Compiled(const Compiled&) = delete;
  Compiled& operator=(const Compiled&) = delete;

  pcre2_code* code;
  pcre2_match_context* context;  // read-only after construction, so shared between threads
};

Result<Regex> Regex::Compile(std::string_view pattern) {
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  // NEVER_UTF: bytes are bytes, and a `(*UTF)` in the pattern cannot switch on UTF checks that
  // would reject non-UTF-8 bodies.
  pcre2_code* code =
      pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.empty() ? "" : pattern.data()),
                    pattern.size(), PCRE2_NEVER_UTF, &error_code, &error_offset, nullptr);
  if (code == nullptr) {
    return Error{ErrorText(error_code) + " at offset " + std::to_string(error_offset)};
  }
  // JIT is an optimisation only; the interpreter is used when it is unavailable.
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
  pcre2_match_context* context = pcre2_match_context_create(nullptr);
  if (context == nullptr) {
    pcre2_code_free(code);
    return Error{"out of memory compiling regular expression"};
  }
  pcre2_set_match_limit(context, kMatchLimit);
  pcre2_set_depth_limit(context, kDepthLimit);
  pcre2_set_heap_limit(context, kHeapLimitKib);
  return Regex(std::string(pattern), std::make_shared<const Compiled>(code, context));
}

Result<bool> Regex::Search(std::string_view text) const {
  std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> match_data(
      pcre2_match_data_create_from_pattern(compiled_->code, nullptr), &pcre2_match_data_free);
  if (!match_data) {
    return Error{"out of memory matching regular expression"};
  }
  const int rc =
      pcre2_match(compiled_->code, reinterpret_cast<PCRE2_SPTR>(text.empty() ? "" : text.data()),
                  text.size(), 0, 0, match_data.get(), compiled_->context);
  if (rc >= 0) {
    return true;
  }
  if (rc == PCRE2_ERROR_NOMATCH) {
    return false;
  }
  if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT || rc == PCRE2_ERROR_HEAPLIMIT ||
      rc == PCRE2_ERROR_JIT_STACKLIMIT) {
    return Error{"regular expression gave up: " + ErrorText(rc) +
                 " (the pattern backtracks too much on this input)"};
  }
  return Error{"regular expression match failed: " + ErrorText(rc)};
}

}  // namespace pharos
