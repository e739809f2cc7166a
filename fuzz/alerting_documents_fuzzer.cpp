// Fuzz target: AlertChannel and MaintenanceWindow documents (with the Monitors that name their
// channels) as `pharos run` reads them from files: parsing, validation, the set checks, and the
// occurrences of every valid window over a week (cron schedules in their time zones).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "operator/alerting/alerting_documents.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const pharos::LoadedMonitors loaded =
      pharos::LoadMonitorsFromText(text, "alerting.yaml", pharos::kAlertingKinds);
  const pharos::AlertingDocuments documents = pharos::AlertingDocuments::Parse(loaded.others);
  for (const pharos::ValidationError& error : documents.errors) {
    (void)error.ToString();
  }
  (void)pharos::MissingChannelWarnings(loaded.monitors, documents.channels);
  // 2026-03-23 00:00 UTC: a week around the European spring daylight-saving change.
  const auto from = std::chrono::system_clock::time_point(std::chrono::seconds(1'774'224'000));
  for (const pharos::MaintenanceWindow& window : documents.windows) {
    (void)window.Occurrences(from, from + std::chrono::hours(24 * 7));
    for (const pharos::Monitor& monitor : loaded.monitors) {
      (void)window.Covers(monitor);
    }
  }
  return 0;
}
