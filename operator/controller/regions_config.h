#pragma once

// RegionsConfig: the probe regions the operator runs a probe DaemonSet for, read from a YAML
// file (--regions-config). This is exactly the file the Helm chart renders into its regions
// ConfigMap (charts/pharos/templates/configmap-regions.yaml); docs/install.md#regions-configuration
// describes every field. Every error names the file, line, column and field.
//
//   namespace: pharos-system                     # of the DaemonSets ("" = the operator's)
//   namePrefix: pharos-probe                     # DaemonSet <namePrefix>-<region>
//   operatorUrl: http://pharos.pharos-system.svc:8080   # else --operator-url
//   regionLabel: topology.kubernetes.io/region   # node label of the default nodeSelector
//   regionPodLabel: pharos.dev/region            # pod label carrying the region name
//   probe:                                       # the pod template of every region
//     image: ghcr.io/pharos-dev/pharos-probe:0.1.0   # else --probe-image
//     imagePullPolicy: IfNotPresent
//     imagePullSecrets: [{name: regcred}]
//     serviceAccountName: pharos-probe
//     automountServiceAccountToken: false
//     tokenSecret: {name: pharos-probe-token, key: token}
//     metricsPort: 9091
//     labels: {app.kubernetes.io/name: pharos, app.kubernetes.io/component: probe}
//     podSecurityContext: {runAsNonRoot: true, ...}   # core/v1 PodSecurityContext
//     securityContext: {allowPrivilegeEscalation: false, ...}   # core/v1 SecurityContext
//     extraArgs: [--log-level=debug]
//     priorityClassName: ""
//   regions:
//     - name: eu-west                            # DNS label
//       nodeSelector: {topology.kubernetes.io/region: eu-west}   # default {regionLabel: name}
//       tolerations: [{key: dedicated, operator: Equal, value: probes, effect: NoSchedule}]
//       resources: {requests: {cpu: 50m, memory: 64Mi}}
//
// Thread-safety: a value type.

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/monitor_loader.h"
#include "common/result.h"

namespace pharos {

// `probe.screenshots`: the screenshot sidecar of every probe pod (docs/status-pages.md#in-
// kubernetes): `pharos-probe screenshot-server` on 127.0.0.1:port, which the probe container is
// pointed at with --screenshot-server.
struct ScreenshotSidecarTemplate {
  bool enabled = false;
  std::string image;  // "" = the probe's image (it needs /usr/bin/chromium)
  int port = 9555;
  std::string timeout = "30s";                          // the sidecar's --timeout
  nlohmann::json resources = nlohmann::json::object();  // core/v1 ResourceRequirements
};

// The `probe:` section: what every region's DaemonSet shares.
struct ProbeTemplate {
  std::string image;
  std::string image_pull_policy;  // "" = the Kubernetes default
  std::vector<std::string> image_pull_secrets;
  std::string service_account_name;  // "" = the namespace's default ServiceAccount
  bool automount_service_account_token = false;
  std::string token_secret_name = "pharos-probe-token";
  std::string token_secret_key = "token";
  int metrics_port = 9091;
  // Labels of the DaemonSets and their pods (and their selector, with the region label).
  std::map<std::string, std::string> labels = {{"app.kubernetes.io/name", "pharos"},
                                               {"app.kubernetes.io/component", "probe"}};
  nlohmann::json pod_security_context = DefaultPodSecurityContext();  // core/v1
  nlohmann::json security_context = DefaultSecurityContext();         // core/v1
  std::vector<std::string> extra_args;
  std::string priority_class_name;  // "" = none
  ScreenshotSidecarTemplate screenshots;

  // Non-root, RuntimeDefault seccomp: used when the file sets no podSecurityContext.
  static nlohmann::json DefaultPodSecurityContext();
  // No privilege escalation, read-only root filesystem, every capability dropped.
  static nlohmann::json DefaultSecurityContext();
};

// What differs between regions.
struct ProbeRegionConfig {
  std::string name;
  std::map<std::string, std::string> node_selector;
  nlohmann::json tolerations = nlohmann::json::array();  // []core/v1.Toleration
  nlohmann::json resources = nlohmann::json::object();   // core/v1.ResourceRequirements
};

// Values from the command line for what the file leaves out (the file wins).
struct RegionsConfigDefaults {
  std::string image;         // --probe-image
  std::string operator_url;  // --operator-url
};

struct RegionsConfig {
  static constexpr const char* kDefaultNamePrefix = "pharos-probe";

  std::string namespace_name;  // "" = the operator's namespace
  std::string name_prefix = kDefaultNamePrefix;
  std::string operator_url;
  std::string region_label = "topology.kubernetes.io/region";
  std::string region_pod_label = "pharos.dev/region";
  ProbeTemplate probe;
  std::vector<ProbeRegionConfig> regions;

  // "<namePrefix>-<region>".
  std::string DaemonSetName(std::string_view region) const;

  // Reads and validates a regions file. The error lists every problem, one per line.
  static Result<RegionsConfig> LoadFile(const std::string& path,
                                        const RegionsConfigDefaults& defaults = {});
  // Same, from text, as if read from `file_name`.
  static Result<RegionsConfig> Parse(const std::string& text, const std::string& file_name,
                                     const RegionsConfigDefaults& defaults = {});
  // The individual problems (empty when the text is valid).
  static std::vector<ValidationError> Validate(const std::string& text,
                                               const std::string& file_name,
                                               const RegionsConfigDefaults& defaults = {});

 private:
  static std::vector<ValidationError> ParseInto(const std::string& text,
                                                const std::string& file_name,
                                                const RegionsConfigDefaults& defaults,
                                                RegionsConfig* config);
};

}  // namespace pharos
