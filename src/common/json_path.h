#pragma once

// JsonPath: a compiled JSONPath expression (the subset users write in assertions):
// `$`, `.name`, `['name']`, `["name"]`, `[index]` (negative counts from the end), `[*]` and `.*`.
// Parse errors say at which character the expression went wrong.
// Thread-safety: immutable after Parse; Select may be called from any thread.

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace pharos {

class JsonPath {
 public:
  static Result<JsonPath> Parse(std::string_view expression);

  // Every value the expression selects in `document`, in document order; empty when none.
  std::vector<const nlohmann::json*> Select(const nlohmann::json& document) const;

  const std::string& expression() const { return expression_; }

  struct Step {
    enum class Kind { kMember, kIndex, kWildcard } kind = Kind::kMember;
    std::string member;
    long long index = 0;
  };

 private:
  JsonPath(std::string expression, std::vector<Step> steps)
      : expression_(std::move(expression)), steps_(std::move(steps)) {}
  std::string expression_;
  std::vector<Step> steps_;
};

}  // namespace pharos
