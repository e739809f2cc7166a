#pragma once

// DaemonSetApplier: keeps one probe DaemonSet per configured region (apps/v1, named
// <namePrefix>-<region>, in the configuration's namespace or else the operator's), by
// server-side apply with the field manager pharos-operator (force, so the operator's fields win
// over manual edits), and deletes the DaemonSets it manages (label
// app.kubernetes.io/managed-by=pharos-operator plus every probe label of the configuration)
// whose region is no longer configured. Each pod runs
//   pharos-probe --operator URL --region R --token-file /etc/pharos/token/token
//                --listen 0.0.0.0:<metricsPort> <extraArgs...>
// with the probe token mounted from the configured Secret, the metrics port named "metrics",
// and the configuration's labels, service account, pull secrets, security contexts, priority
// class, node selector, tolerations and resources (docs/install.md#regions-configuration).
// Thread-safety: Apply may be called from any thread, one call at a time per namespace.

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "operator/controller/regions_config.h"
#include "operator/kube/kube_client.h"

namespace pharos {

struct DaemonSetApplyReport {
  std::vector<std::string> applied;  // DaemonSet names created or updated
  std::vector<std::string> deleted;  // DaemonSet names deleted
  std::vector<std::string> errors;   // one line per failure, naming the DaemonSet or region
  bool ok() const { return errors.empty(); }
};

class DaemonSetApplier {
 public:
  static constexpr const char* kTokenDir = "/etc/pharos/token";

  // `default_namespace`: where the DaemonSets go when the configuration names no namespace.
  DaemonSetApplier(KubeClient& client, std::string default_namespace,
                   std::string field_manager = "pharos-operator");

  // The namespace the DaemonSets of `config` live in.
  std::string NamespaceOf(const RegionsConfig& config) const;
  // The DaemonSet for `region` as applied (a pure function, for tests and dry runs).
  static nlohmann::json BuildDaemonSet(const RegionsConfig& config, const ProbeRegionConfig& region,
                                       std::string_view namespace_name);
  // What makes a configuration unusable (no image, no operator URL, a bad name); OK when fine.
  static Status CheckConfig(const RegionsConfig& config);

  // Applies every region's DaemonSet, then deletes managed DaemonSets of other regions. No
  // regions deletes them all, so pass only a successfully loaded configuration. Regions that
  // fail are reported and the rest still applied; nothing is applied or deleted when the
  // configuration fails its check.
  DaemonSetApplyReport Apply(const RegionsConfig& config);

 private:
  KubeClient& client_;
  const std::string default_namespace_;
  const std::string field_manager_;
};

}  // namespace pharos
