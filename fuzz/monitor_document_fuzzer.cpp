// Fuzz target: Monitor documents, YAML and JSON, through parsing, defaults and validation — the
// path of `pharos validate`, `pharos run`'s files and the operator's Kubernetes objects. Every
// input is read as a file (YAML, which JSON is a subset of) and, when it is JSON, as a Kubernetes
// API object too. A Monitor that validates must survive its own JSON form and validate again.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "common/monitor_loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  pharos::LoadedMonitors loaded = pharos::LoadMonitorsFromText(text, "fuzz.yaml");
  for (const pharos::ValidationError& error : loaded.errors) {
    (void)error.ToString();
  }
  for (const pharos::Monitor& monitor : loaded.monitors) {
    std::vector<pharos::ValidationError> errors;
    if (!pharos::MonitorFromApiObject(pharos::MonitorToJson(monitor), &errors).ok()) {
      std::abort();  // a valid Monitor's own Kubernetes form must be valid
    }
  }

  const nlohmann::json object = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!object.is_discarded()) {
    std::vector<pharos::ValidationError> errors;
    pharos::Result<pharos::Monitor> monitor = pharos::MonitorFromApiObject(object, &errors);
    if (monitor.ok()) {
      (void)pharos::MonitorToJson(*monitor).dump();
    }
  }
  return 0;
}
