#include "common/check_result.h"

#include <algorithm>
#include <utility>

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

double IcmpStats::LossPercent() const {
  if (sent <= 0) {
    return 100.0;
  }
  const int lost = std::max(0, sent - received);
  return 100.0 * static_cast<double>(lost) / static_cast<double>(sent);
}

std::string AddressResult::Label() const {
  return name.empty() ? address : address + " (" + name + ")";
}

CheckResult CheckResult::Of(const Monitor& monitor) {
  CheckResult result;
  result.monitor_namespace = monitor.namespace_name;
  result.monitor_name = monitor.name;
  result.monitor_uid = monitor.uid;
  result.generation = monitor.generation;
  result.type = monitor.type;
  result.target = monitor.Target();
  return result;
}

CheckResult CheckResult::NotChecked(const WorkReference& item,
                                    std::chrono::system_clock::time_point at, std::string reason) {
  CheckResult result;
  result.monitor_uid = item.monitor_uid;
  result.generation = item.generation;
  result.region = item.region;
  result.probe = item.probe;
  result.item_id = item.item_id;
  result.scheduled_at = item.scheduled_at;
  result.started_at = at;
  result.outcome = Outcome::kError;
  result.error = std::move(reason);
  result.attempts = 0;
  return result;
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
