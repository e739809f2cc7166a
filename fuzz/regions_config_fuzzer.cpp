// Fuzz target: the operator's regions file (--regions-config, the Helm chart's regions
// ConfigMap), parsed and validated; a valid file must name a DaemonSet for every region.

#include <cstddef>
#include <cstdint>
#include <string>

#include "operator/controller/regions_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  pharos::Result<pharos::RegionsConfig> config =
      pharos::RegionsConfig::Parse(text, "regions.yaml", {"pharos-probe:fuzz", "http://op:8080"});
  if (config.ok()) {
    for (const pharos::ProbeRegionConfig& region : config->regions) {
      (void)config->DaemonSetName(region.name);
      (void)region.tolerations.dump();
    }
  }
  return 0;
}
