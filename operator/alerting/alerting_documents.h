#pragma once

// AlertingDocuments: the AlertChannel and MaintenanceWindow documents of a set of files (the
// OtherDocuments LoadMonitorFiles hands back), parsed and checked together: each document's own
// errors, located, plus duplicates of one namespace/name; and the warnings about Monitors that
// name a channel no document defines (a warning, not an error: the channel may come later, and
// nothing crashes meanwhile — the monitor's other channels are still told).
// Thread-safety: pure functions.

#include <string>
#include <vector>

#include "common/monitor.h"
#include "common/monitor_loader.h"
#include "operator/alerting/alert_channel.h"
#include "operator/alerting/maintenance_window.h"

namespace pharos {

inline const OtherKinds kAlertingKinds = {"AlertChannel", "MaintenanceWindow"};

struct AlertingDocuments {
  std::vector<AlertChannel> channels;
  std::vector<MaintenanceWindow> windows;
  std::vector<ValidationError> errors;

  static AlertingDocuments Parse(const std::vector<OtherDocument>& documents);
  // One error list per kind check of MonitorFileSource (documents are checked one at a time).
  static std::vector<ValidationError> CheckChannel(const DocumentNode& document);
  static std::vector<ValidationError> CheckWindow(const DocumentNode& document);
};

// "monitors.yaml:3:1: shop/checkout-api: spec.alerting.channels[1]: no AlertChannel \"pager\" in
// namespace shop (notifications go to its other channels)".
std::vector<ValidationError> MissingChannelWarnings(const std::vector<Monitor>& monitors,
                                                    const std::vector<AlertChannel>& channels);

}  // namespace pharos
