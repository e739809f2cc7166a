#include "common/check_result.h"

namespace pharos {

const char* ToString(Outcome outcome) {
  switch (outcome) {
    case Outcome::kUp:
      return "up";
    case Outcome::kDegraded:
      return "degraded";
    case Outcome::kDown:
      return "down";
    case Outcome::kError:
      return "error";
  }
  return "error";
}

std::optional<Outcome> ParseOutcome(std::string_view text) {
  if (text == "up") {
    return Outcome::kUp;
  }
  if (text == "degraded") {
    return Outcome::kDegraded;
  }
  if (text == "down") {
    return Outcome::kDown;
  }
  if (text == "error") {
    return Outcome::kError;
  }
  return std::nullopt;
}

}  // namespace pharos
