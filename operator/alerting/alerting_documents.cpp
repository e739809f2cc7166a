#include "operator/alerting/alerting_documents.h"

#include <algorithm>
#include <map>
#include <set>

#include "common/field_locations.h"

namespace pharos {
namespace {

std::string Where(const SourceLocation& location) {
  if (location.file.empty()) return "";
  return location.file + (location.line > 0 ? ":" + std::to_string(location.line) + ":" +
                                                  std::to_string(location.column)
                                            : "");
}

}  // namespace

AlertingDocuments AlertingDocuments::Parse(const std::vector<OtherDocument>& documents) {
  AlertingDocuments out;
  std::map<std::string, SourceLocation> seen;  // kind/namespace/name → where
  for (const OtherDocument& document : documents) {
    const size_t before = out.errors.size();
    std::string key;
    if (document.kind == "AlertChannel") {
      Result<AlertChannel> channel =
          ParseAlertChannel(*document.document, DocumentOrigin::kFile, &out.errors);
      if (channel) {
        key = "AlertChannel/" + channel->Key();
        if (seen.contains(key)) {
          out.errors.push_back(ValidationError{document.document->location, "metadata.name",
                                               "duplicate AlertChannel " + channel->Key() +
                                                   " (first defined at " + Where(seen[key]) + ")"});
        } else {
          out.channels.push_back(std::move(channel).value());
        }
      }
    } else if (document.kind == "MaintenanceWindow") {
      Result<MaintenanceWindow> window =
          ParseMaintenanceWindow(*document.document, DocumentOrigin::kFile, &out.errors);
      if (window) {
        key = "MaintenanceWindow/" + window->Key();
        if (seen.contains(key)) {
          out.errors.push_back(ValidationError{document.document->location, "metadata.name",
                                               "duplicate MaintenanceWindow " + window->Key() +
                                                   " (first defined at " + Where(seen[key]) + ")"});
        } else {
          out.windows.push_back(std::move(window).value());
        }
      }
    }
    // In the order of the text, as for Monitors.
    std::stable_sort(out.errors.begin() + static_cast<std::ptrdiff_t>(before), out.errors.end(),
                     [](const ValidationError& a, const ValidationError& b) {
                       return std::pair(a.location.line, a.location.column) <
                              std::pair(b.location.line, b.location.column);
                     });
    if (!key.empty() && out.errors.size() == before) seen.emplace(key, document.document->location);
  }
  return out;
}

std::vector<ValidationError> AlertingDocuments::CheckChannel(const DocumentNode& document) {
  std::vector<ValidationError> errors;
  (void)ParseAlertChannel(document, DocumentOrigin::kFile, &errors);
  return errors;
}

std::vector<ValidationError> AlertingDocuments::CheckWindow(const DocumentNode& document) {
  std::vector<ValidationError> errors;
  (void)ParseMaintenanceWindow(document, DocumentOrigin::kFile, &errors);
  return errors;
}

std::vector<ValidationError> MissingChannelWarnings(const std::vector<Monitor>& monitors,
                                                    const std::vector<AlertChannel>& channels) {
  std::set<std::string> known;
  for (const AlertChannel& channel : channels) known.insert(channel.Key());
  std::vector<ValidationError> warnings;
  for (const Monitor& monitor : monitors) {
    for (size_t i = 0; i < monitor.alerting.channels.size(); ++i) {
      const std::string& name = monitor.alerting.channels[i];
      if (known.contains(monitor.namespace_name + "/" + name)) continue;
      warnings.push_back(
          ValidationError{*monitor.source, FieldLocations::Item("spec.alerting.channels", i),
                          "Monitor " + monitor.Key() + " names AlertChannel \"" + name +
                              "\", which does not exist in namespace " + monitor.namespace_name +
                              " (its other channels are still notified)"});
    }
  }
  return warnings;
}

}  // namespace pharos
