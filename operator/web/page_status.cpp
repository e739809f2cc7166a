#include "operator/web/page_status.h"

namespace pharos {

const char* ToString(PageStatus status) {
  switch (status) {
    case PageStatus::kOperational:
      return "operational";
    case PageStatus::kDegraded:
      return "degraded";
    case PageStatus::kPartialOutage:
      return "partial_outage";
    case PageStatus::kMajorOutage:
      return "major_outage";
    case PageStatus::kMaintenance:
      return "maintenance";
  }
  return "operational";
}

const char* Headline(PageStatus status) {
  switch (status) {
    case PageStatus::kOperational:
      return "All systems operational";
    case PageStatus::kDegraded:
      return "Degraded performance";
    case PageStatus::kPartialOutage:
      return "Partial outage";
    case PageStatus::kMajorOutage:
      return "Major outage";
    case PageStatus::kMaintenance:
      return "Under maintenance";
  }
  return "All systems operational";
}

PageStatus OverallStatus(const std::vector<std::optional<MonitorState>>& states,
                         bool maintenance_active) {
  int watched = 0;
  int down = 0;
  int degraded = 0;
  int maintenance = 0;
  for (const std::optional<MonitorState>& state : states) {
    if (!state) continue;
    switch (*state) {
      case MonitorState::kPaused:
      case MonitorState::kPending:
      case MonitorState::kInvalid:
        continue;
      case MonitorState::kDown:
        ++down;
        break;
      case MonitorState::kDegraded:
        ++degraded;
        break;
      case MonitorState::kMaintenance:
        ++maintenance;
        break;
      case MonitorState::kUp:
        break;
    }
    ++watched;
  }
  if (down > 0 && down == watched) return PageStatus::kMajorOutage;
  if (down > 0) return PageStatus::kPartialOutage;
  if (degraded > 0) return PageStatus::kDegraded;
  if (maintenance > 0 || maintenance_active) return PageStatus::kMaintenance;
  return PageStatus::kOperational;
}

const char* ToString(DayLevel level) {
  switch (level) {
    case DayLevel::kNone:
      return "none";
    case DayLevel::kUp:
      return "up";
    case DayLevel::kDegraded:
      return "degraded";
    case DayLevel::kDown:
      return "down";
    case DayLevel::kMaintenance:
      return "maintenance";
  }
  return "none";
}

DayLevel LevelOf(const DayFacts& facts) {
  if (facts.incidents > 0) return DayLevel::kDown;
  if (facts.maintenance) return DayLevel::kMaintenance;
  if (facts.failed > 0 || facts.degraded > 0) return DayLevel::kDegraded;
  if (facts.passed > 0) return DayLevel::kUp;
  return DayLevel::kNone;
}

const char* ComponentStateLabel(std::optional<MonitorState> state) {
  if (!state) return "Unknown";
  switch (*state) {
    case MonitorState::kUp:
      return "Operational";
    case MonitorState::kDegraded:
      return "Degraded performance";
    case MonitorState::kDown:
      return "Outage";
    case MonitorState::kPaused:
      return "Paused";
    case MonitorState::kMaintenance:
      return "Under maintenance";
    case MonitorState::kPending:
      return "No data yet";
    case MonitorState::kInvalid:
      return "Unknown";
  }
  return "Unknown";
}

const char* ComponentStateClass(std::optional<MonitorState> state) {
  if (!state) return "unknown";
  switch (*state) {
    case MonitorState::kUp:
      return "up";
    case MonitorState::kDegraded:
      return "degraded";
    case MonitorState::kDown:
      return "down";
    case MonitorState::kPaused:
      return "paused";
    case MonitorState::kMaintenance:
      return "maintenance";
    case MonitorState::kPending:
    case MonitorState::kInvalid:
      return "unknown";
  }
  return "unknown";
}

}  // namespace pharos
