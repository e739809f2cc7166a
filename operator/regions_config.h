#pragma once

// RegionsConfig: the probe regions the operator runs a probe DaemonSet for, read from a YAML
// file (--regions-config). Every error names the file, line, column and field:
//
//   image: ghcr.io/pharos/pharos-probe:0.1.0     # required unless every region sets one
//   imagePullPolicy: IfNotPresent                # optional: Always | IfNotPresent | Never
//   operatorUrl: http://pharos-operator.pharos-system.svc:8080   # optional (else --operator-url)
//   regionLabel: topology.kubernetes.io/region   # node label a region selects on by default
//   tokenSecret: {name: pharos-probe-token, key: token}          # the default shown
//   resources: {requests: {cpu: 50m, memory: 64Mi}}              # default for every region
//   regions:
//     - name: eu-west                            # DNS label, at most 50 characters
//       nodeSelector: {topology.kubernetes.io/region: eu-west}   # default {regionLabel: name}
//       tolerations: [{key: dedicated, operator: Equal, value: probes, effect: NoSchedule}]
//       resources: {limits: {memory: 256Mi}}     # replaces the default
//       image: ...                               # replaces the default
//       tokenSecret: {name: ..., key: ...}       # replaces the default
//
// Thread-safety: a value type.

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/monitor_loader.h"
#include "common/result.h"

namespace pharos {

// Everything the DaemonSet of one region needs.
struct ProbeRegionConfig {
  std::string name;
  std::map<std::string, std::string> node_selector;
  nlohmann::json tolerations = nlohmann::json::array();  // []core/v1.Toleration
  nlohmann::json resources = nlohmann::json::object();   // core/v1.ResourceRequirements
  std::string image;
  std::string image_pull_policy;  // "" = the Kubernetes default
  std::string token_secret_name = "pharos-probe-token";
  std::string token_secret_key = "token";
  std::string operator_url;
};

class RegionsConfig {
 public:
  // Reads and validates a regions file. The error lists every problem, one per line.
  static Result<RegionsConfig> LoadFile(const std::string& path);
  // Same, from text, as if read from `file_name`.
  static Result<RegionsConfig> Parse(const std::string& text, const std::string& file_name);
  // The individual problems (empty when the text is valid).
  static std::vector<ValidationError> Validate(const std::string& text,
                                               const std::string& file_name);

  const std::vector<ProbeRegionConfig>& regions() const { return regions_; }
  // The regions with operator_url set to `url` where the file did not set one.
  std::vector<ProbeRegionConfig> WithOperatorUrl(const std::string& url) const;

 private:
  static std::vector<ValidationError> ParseInto(const std::string& text,
                                                const std::string& file_name,
                                                RegionsConfig* config);

  std::vector<ProbeRegionConfig> regions_;
};

}  // namespace pharos
