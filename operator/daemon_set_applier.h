#pragma once

// DaemonSetApplier: keeps one probe DaemonSet per configured region (apps/v1, named
// pharos-probe-<region>) in the operator's namespace, by server-side apply with the field
// manager pharos-operator (force, so the operator's fields win over manual edits), and deletes
// the DaemonSets it manages (label app.kubernetes.io/managed-by=pharos-operator) whose region is
// no longer configured. Each pod runs
//   pharos-probe --operator URL --region R --token-file /etc/pharos/token/token
//                --listen 0.0.0.0:9091
// with the probe token mounted from a Secret, the metrics port 9091 named "metrics", and secure
// defaults (non-root, read-only root filesystem, no privilege escalation, all capabilities
// dropped, RuntimeDefault seccomp, no service account token).
// Thread-safety: Apply may be called from any thread, one call at a time per namespace.

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "operator/kube_client.h"
#include "operator/regions_config.h"

namespace pharos {

struct DaemonSetApplyReport {
  std::vector<std::string> applied;  // DaemonSet names created or updated
  std::vector<std::string> deleted;  // DaemonSet names deleted
  std::vector<std::string> errors;   // one line per failure, naming the DaemonSet or region
  bool ok() const { return errors.empty(); }
};

class DaemonSetApplier {
 public:
  static constexpr int kMetricsPort = 9091;
  static constexpr const char* kTokenDir = "/etc/pharos/token";

  DaemonSetApplier(KubeClient& client, std::string namespace_name,
                   std::string field_manager = "pharos-operator");

  // "pharos-probe-" + region.
  static std::string DaemonSetName(std::string_view region);
  // The DaemonSet for `region` as applied (a pure function, for tests and dry runs).
  static nlohmann::json BuildDaemonSet(const ProbeRegionConfig& region,
                                       std::string_view namespace_name);
  // What makes a region unusable (no image, no operator URL, bad name); OK when fine.
  static Status CheckRegion(const ProbeRegionConfig& region);

  // Applies every region's DaemonSet, then deletes managed DaemonSets of other regions. An
  // empty list deletes them all, so pass only a successfully loaded configuration. Regions that
  // fail are reported and the rest still applied; deletion is skipped when any region failed
  // its check (the configuration is suspect).
  DaemonSetApplyReport Apply(const std::vector<ProbeRegionConfig>& regions);

 private:
  KubeClient& client_;
  const std::string namespace_;
  const std::string field_manager_;
};

}  // namespace pharos
