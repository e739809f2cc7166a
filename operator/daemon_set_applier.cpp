#include "operator/daemon_set_applier.h"

#include <set>
#include <utility>

#include "common/logging.h"
#include "common/name_syntax.h"

namespace pharos {
namespace {

constexpr const char* kNameLabel = "app.kubernetes.io/name";
constexpr const char* kComponentLabel = "app.kubernetes.io/component";
constexpr const char* kManagedByLabel = "app.kubernetes.io/managed-by";
constexpr const char* kRegionLabel = "pharos.dev/region";
constexpr const char* kManagedBy = "pharos-operator";
constexpr int kNonRootId = 65532;

}  // namespace

DaemonSetApplier::DaemonSetApplier(KubeClient& client, std::string namespace_name,
                                   std::string field_manager)
    : client_(client),
      namespace_(std::move(namespace_name)),
      field_manager_(std::move(field_manager)) {}

std::string DaemonSetApplier::DaemonSetName(std::string_view region) {
  return "pharos-probe-" + std::string(region);
}

Status DaemonSetApplier::CheckRegion(const ProbeRegionConfig& region) {
  if (!IsDns1123Label(region.name) || DaemonSetName(region.name).size() > 63) {
    return Error{"region \"" + region.name + "\": not a valid region name"};
  }
  if (region.image.empty()) return Error{"region " + region.name + ": no probe image configured"};
  if (region.operator_url.empty()) {
    return Error{"region " + region.name +
                 ": no operator URL for the probes (set operatorUrl or --operator-url)"};
  }
  if (region.token_secret_name.empty() || region.token_secret_key.empty()) {
    return Error{"region " + region.name + ": no probe token Secret name/key"};
  }
  return OkStatus();
}

nlohmann::json DaemonSetApplier::BuildDaemonSet(const ProbeRegionConfig& region,
                                                std::string_view namespace_name) {
  using nlohmann::json;
  const json selector_labels = {
      {kNameLabel, "pharos"}, {kComponentLabel, "probe"}, {kRegionLabel, region.name}};
  json labels = selector_labels;
  labels[kManagedByLabel] = kManagedBy;

  json node_selector = json::object();
  for (const auto& [key, value] : region.node_selector) node_selector[key] = value;

  const std::string token_file = std::string(kTokenDir) + "/token";
  json container = {
      {"name", "probe"},
      {"image", region.image},
      {"command", json::array({"pharos-probe"})},
      {"args",
       json::array({"--operator", region.operator_url, "--region", region.name, "--token-file",
                    token_file, "--listen", "0.0.0.0:" + std::to_string(kMetricsPort)})},
      {"ports",
       json::array({{{"name", "metrics"}, {"containerPort", kMetricsPort}, {"protocol", "TCP"}}})},
      {"resources", region.resources.is_object() ? region.resources : json::object()},
      {"securityContext",
       {{"allowPrivilegeEscalation", false},
        {"readOnlyRootFilesystem", true},
        {"runAsNonRoot", true},
        {"capabilities", {{"drop", json::array({"ALL"})}}}}},
      {"livenessProbe",
       {{"httpGet", {{"path", "/healthz"}, {"port", "metrics"}}},
        {"periodSeconds", 10},
        {"failureThreshold", 3}}},
      {"readinessProbe",
       {{"httpGet", {{"path", "/healthz"}, {"port", "metrics"}}}, {"periodSeconds", 5}}},
      {"volumeMounts",
       json::array({{{"name", "token"}, {"mountPath", kTokenDir}, {"readOnly", true}},
                    {{"name", "tmp"}, {"mountPath", "/tmp"}}})}};
  if (!region.image_pull_policy.empty()) container["imagePullPolicy"] = region.image_pull_policy;

  json pod_spec = {
      {"automountServiceAccountToken", false},
      {"enableServiceLinks", false},
      {"securityContext",
       {{"runAsNonRoot", true},
        {"runAsUser", kNonRootId},
        {"runAsGroup", kNonRootId},
        {"fsGroup", kNonRootId},
        {"seccompProfile", {{"type", "RuntimeDefault"}}}}},
      {"terminationGracePeriodSeconds", 30},
      {"containers", json::array({container})},
      {"volumes",
       json::array(
           {{{"name", "token"},
             {"secret",
              {{"secretName", region.token_secret_name},
               {"items", json::array({{{"key", region.token_secret_key}, {"path", "token"}}})},
               {"defaultMode", 0440}}}},
            {{"name", "tmp"}, {"emptyDir", json::object()}}})}};
  if (!node_selector.empty()) pod_spec["nodeSelector"] = node_selector;
  if (region.tolerations.is_array() && !region.tolerations.empty()) {
    pod_spec["tolerations"] = region.tolerations;
  }

  return json{
      {"apiVersion", "apps/v1"},
      {"kind", "DaemonSet"},
      {"metadata",
       {{"name", DaemonSetName(region.name)},
        {"namespace", std::string(namespace_name)},
        {"labels", labels}}},
      {"spec",
       {{"selector", {{"matchLabels", selector_labels}}},
        {"updateStrategy", {{"type", "RollingUpdate"}, {"rollingUpdate", {{"maxUnavailable", 1}}}}},
        {"template", {{"metadata", {{"labels", labels}}}, {"spec", pod_spec}}}}}};
}

DaemonSetApplyReport DaemonSetApplier::Apply(const std::vector<ProbeRegionConfig>& regions) {
  DaemonSetApplyReport report;
  const ApiResource daemon_sets = ApiResource::DaemonSets();
  std::set<std::string> configured;
  bool config_ok = true;
  for (const auto& region : regions) {
    configured.insert(region.name);
    if (auto check = CheckRegion(region); !check.ok()) {
      report.errors.push_back(check.error());
      config_ok = false;
      continue;
    }
    const std::string name = DaemonSetName(region.name);
    PatchOptions options;
    options.field_manager = field_manager_;
    options.force = true;
    const KubeResponse applied = client_.Patch(daemon_sets, namespace_, name, PatchType::kApply,
                                               BuildDaemonSet(region, namespace_), options);
    if (!applied.ok()) {
      report.errors.push_back("applying DaemonSet " + namespace_ + "/" + name + ": " +
                              applied.Describe());
      continue;
    }
    report.applied.push_back(name);
  }
  if (!config_ok) {
    LogWarn("not deleting probe DaemonSets: the region configuration has errors",
            {{"namespace", namespace_}});
    return report;
  }

  ListOptions list_options;
  list_options.label_selector =
      std::string(kManagedByLabel) + "=" + kManagedBy + "," + kComponentLabel + "=probe";
  const KubeResponse listed = client_.ListAll(daemon_sets, namespace_, list_options);
  if (!listed.ok()) {
    report.errors.push_back("listing probe DaemonSets in " + namespace_ + ": " + listed.Describe());
    return report;
  }
  for (const auto& item : listed.body["items"]) {
    const std::string name = JsonStringAt(item, {"metadata", "name"});
    const std::string region = JsonStringAt(item, {"metadata", "labels", kRegionLabel});
    // The selector already filtered; checked again because deleting is not undoable.
    if (JsonStringAt(item, {"metadata", "labels", kManagedByLabel}) != kManagedBy) continue;
    if (configured.count(region) != 0 && name == DaemonSetName(region)) continue;
    DeleteOptions delete_options;
    delete_options.propagation_policy = "Background";
    const KubeResponse deleted = client_.Delete(daemon_sets, namespace_, name, delete_options);
    if (!deleted.ok() && !deleted.IsNotFound()) {
      report.errors.push_back("deleting DaemonSet " + namespace_ + "/" + name + ": " +
                              deleted.Describe());
      continue;
    }
    report.deleted.push_back(name);
    LogInfo("deleted the probe DaemonSet of a region no longer configured",
            {{"daemonset", namespace_ + "/" + name}, {"region", region}});
  }
  return report;
}

}  // namespace pharos
