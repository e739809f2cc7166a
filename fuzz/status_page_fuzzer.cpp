// Fuzz target: StatusPage documents, from files (strict) and as Kubernetes objects (JSON),
// parsed and validated, with the set check across pages.

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/document_node.h"
#include "common/monitor_loader.h"
#include "operator/web/status_page_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const pharos::LoadedMonitors loaded =
      pharos::LoadMonitorsFromText(text, "pages.yaml", {"StatusPage"});
  std::vector<pharos::StatusPage> pages;
  for (const pharos::OtherDocument& document : loaded.others) {
    pharos::ParsedStatusPage parsed =
        pharos::ParseStatusPage(*document.document, pharos::StatusPageSource::kFile);
    if (parsed.errors.empty()) {
      pages.push_back(std::move(parsed.page));
    }
  }
  (void)pharos::CheckStatusPageSet(pages);

  const nlohmann::json object = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!object.is_discarded()) {
    pharos::Result<pharos::DocumentNode> document = pharos::DocumentNodeFromJson(object);
    if (document.ok()) {
      (void)pharos::ParseStatusPage(*document, pharos::StatusPageSource::kApiObject);
    }
  }
  return 0;
}
