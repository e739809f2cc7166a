#include "operator/alerting/maintenance_window.h"

#include <algorithm>

#include "common/name_syntax.h"
#include "common/rfc3339.h"

namespace pharos {
namespace {

using Fields = std::map<std::string, const DocumentNode*>;

const DocumentNode* Get(const Fields& fields, const char* key) {
  auto found = fields.find(key);
  return found == fields.end() ? nullptr : found->second;
}

}  // namespace

bool MaintenanceWindow::Covers(const Monitor& monitor) const {
  if (monitor.namespace_name != meta.namespace_name) return false;
  if (std::find(monitors.begin(), monitors.end(), monitor.name) != monitors.end()) return true;
  if (!match_labels) return false;
  for (const auto& [key, value] : *match_labels) {
    auto found = monitor.labels.find(key);
    if (found == monitor.labels.end() || found->second != value) return false;
  }
  return true;
}

std::vector<std::pair<MaintenanceWindow::TimePoint, MaintenanceWindow::TimePoint>>
MaintenanceWindow::Occurrences(TimePoint from, TimePoint to) const {
  std::vector<std::pair<TimePoint, TimePoint>> out;
  if (start && end) {
    if (*start<to&& * end> from) out.emplace_back(*start, *end);
    return out;
  }
  if (schedule) {
    for (const TimePoint at : schedule->Between(from - duration, to)) {
      if (at + duration > from) out.emplace_back(at, at + duration);
    }
  }
  return out;
}

Result<MaintenanceWindow> ParseMaintenanceWindow(const DocumentNode& document,
                                                 DocumentOrigin origin,
                                                 std::vector<ValidationError>* errors) {
  const size_t before = errors->size();
  DocumentReader reader(origin, *errors);
  MaintenanceWindow window;
  const DocumentNode* spec = reader.Envelope(document, "MaintenanceWindow", &window.meta);
  std::optional<Fields> fields;
  if (spec != nullptr) {
    fields = reader.Fields(*spec, "spec",
                           {"description", "start", "end", "schedule", "duration", "timeZone",
                            "monitors", "selector"});
  }
  if (fields) {
    if (const DocumentNode* node = Get(*fields, "description")) {
      reader.String(*node, "spec.description", &window.description);
    }
    const auto time = [&](const char* key, std::optional<MaintenanceWindow::TimePoint>* out) {
      const DocumentNode* node = Get(*fields, key);
      if (node == nullptr) return;
      const std::string path = std::string("spec.") + key;
      std::string text;
      if (!reader.String(*node, path, &text)) return;
      Result<MaintenanceWindow::TimePoint> parsed = ParseRfc3339(text);
      if (!parsed) {
        reader.Fail(
            node->location, path,
            "must be an RFC 3339 time such as 2026-12-20T22:00:00Z (" + parsed.error() + ")");
        return;
      }
      *out = *parsed;
    };
    time("start", &window.start);
    time("end", &window.end);
    const DocumentNode* schedule = Get(*fields, "schedule");
    const DocumentNode* duration = Get(*fields, "duration");
    const DocumentNode* zone = Get(*fields, "timeZone");
    const bool one_off = Get(*fields, "start") != nullptr || Get(*fields, "end") != nullptr;
    if (one_off && schedule != nullptr) {
      reader.Fail(schedule->location, "spec.schedule",
                  "a window is either one-off (start and end) or recurring (schedule and "
                  "duration), not both");
    } else if (one_off) {
      if (!Get(*fields, "start") || !Get(*fields, "end")) {
        reader.Fail(spec->location, Get(*fields, "start") ? "spec.end" : "spec.start",
                    "a one-off window needs both start and end");
      } else if (window.start && window.end && *window.end <= *window.start) {
        reader.Fail(Get(*fields, "end")->location, "spec.end", "must be after spec.start");
      }
      if (duration != nullptr || zone != nullptr) {
        reader.Fail((duration ? duration : zone)->location,
                    duration ? "spec.duration" : "spec.timeZone",
                    "only for recurring windows (schedule)");
      }
    } else if (schedule != nullptr) {
      if (zone != nullptr) reader.String(*zone, "spec.timeZone", &window.time_zone);
      if (Status known = CheckTimeZone(window.time_zone); !known) {
        reader.Fail(zone ? zone->location : spec->location, "spec.timeZone", known.error());
      }
      std::string expression;
      if (reader.String(*schedule, "spec.schedule", &expression) &&
          CheckTimeZone(window.time_zone)) {
        Result<CronSchedule> parsed = CronSchedule::Parse(expression, window.time_zone);
        if (!parsed) {
          reader.Fail(schedule->location, "spec.schedule", parsed.error());
        } else {
          window.schedule = std::move(parsed).value();
        }
      }
      if (duration == nullptr) {
        reader.Fail(schedule->location, "spec.duration", "required with schedule, e.g. 2h");
      } else if (reader.Duration(*duration, "spec.duration", &window.duration) &&
                 (window.duration < std::chrono::minutes(1) ||
                  window.duration > kMaxMaintenanceDuration)) {
        reader.Fail(duration->location, "spec.duration", "must be between 1m and 168h");
      }
    } else {
      reader.Fail(spec->location, "spec",
                  "set start and end (one-off) or schedule and duration (recurring)");
    }
    const DocumentNode* monitors = Get(*fields, "monitors");
    const DocumentNode* selector = Get(*fields, "selector");
    if (monitors != nullptr && reader.StringList(*monitors, "spec.monitors", &window.monitors)) {
      for (size_t i = 0; i < window.monitors.size(); ++i) {
        if (!IsDns1123Subdomain(window.monitors[i])) {
          reader.Fail(monitors->items[i].location, DocumentReader::Item("spec.monitors", i),
                      DocumentReader::Quote(window.monitors[i]) + " is not a Monitor name");
        }
      }
    }
    if (selector != nullptr) {
      if (auto selector_fields = reader.Fields(*selector, "spec.selector", {"matchLabels"})) {
        window.match_labels.emplace();
        if (const DocumentNode* labels = Get(*selector_fields, "matchLabels")) {
          reader.StringMap(*labels, "spec.selector.matchLabels", &*window.match_labels);
        }
      }
    }
    if (monitors == nullptr && selector == nullptr) {
      reader.Fail(spec->location, "spec.monitors",
                  "name the monitors (monitors: [name]) and/or select them (selector: "
                  "{matchLabels: {...}}; {} selects every monitor of the namespace)");
    }
  }
  if (errors->size() != before) {
    return Error{"invalid MaintenanceWindow " + window.Key() + ": " + (*errors)[before].ToString(),
                 ErrorKind::kInvalidArgument};
  }
  return window;
}

}  // namespace pharos
