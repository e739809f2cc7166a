#pragma once

// Regex: a PCRE2 pattern compiled once and matched against untrusted text (response bodies,
// headers) with a bounded match effort, so a hostile body cannot hang or crash a probe.
// Thread-safety: immutable after Compile; Search may be called from any thread.

#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"

namespace pharos {

class Regex {
 public:
  // Error text says what is wrong and at which offset ("missing closing parenthesis at offset 4").
  static Result<Regex> Compile(std::string_view pattern);

  // True when the pattern matches somewhere in `text`; an error when the match limit is hit.
  Result<bool> Search(std::string_view text) const;

  const std::string& pattern() const { return pattern_; }

 private:
  struct Compiled;
  Regex(std::string pattern, std::shared_ptr<const Compiled> compiled)
      : pattern_(std::move(pattern)), compiled_(std::move(compiled)) {}
  std::string pattern_;
  std::shared_ptr<const Compiled> compiled_;
};

}  // namespace pharos
