#include "operator/controller/daemon_set_applier.h"

#include <fmt/format.h>

#include <set>
#include <utility>

#include "common/logging.h"
#include "common/name_syntax.h"

namespace pharos {
namespace {

constexpr const char* kManagedByLabel = "app.kubernetes.io/managed-by";
constexpr const char* kManagedBy = "pharos-operator";

// The probe labels plus the region's: the DaemonSet's selector and its pods' labels.
nlohmann::json SelectorLabels(const RegionsConfig& config, const ProbeRegionConfig& region) {
  nlohmann::json labels = nlohmann::json::object();
  for (const auto& [key, value] : config.probe.labels) labels[key] = value;
  labels[config.region_pod_label] = region.name;
  return labels;
}

}  // namespace

DaemonSetApplier::DaemonSetApplier(KubeClient& client, std::string default_namespace,
                                   std::string field_manager)
    : client_(client),
      default_namespace_(std::move(default_namespace)),
      field_manager_(std::move(field_manager)) {}

std::string DaemonSetApplier::NamespaceOf(const RegionsConfig& config) const {
  return config.namespace_name.empty() ? default_namespace_ : config.namespace_name;
}

Status DaemonSetApplier::CheckConfig(const RegionsConfig& config) {
  if (config.probe.image.empty()) return Error{"no probe image configured"};
  if (config.operator_url.empty()) {
    return Error{"no operator URL for the probes (set operatorUrl or --operator-url)"};
  }
  if (config.probe.token_secret_name.empty() || config.probe.token_secret_key.empty()) {
    return Error{"no probe token Secret name/key"};
  }
  if (config.probe.labels.empty()) {
    return Error{"no probe labels: they select the probe pods of this operator"};
  }
  for (const ProbeRegionConfig& region : config.regions) {
    if (!IsDns1123Label(region.name) || config.DaemonSetName(region.name).size() > 63) {
      return Error{"region \"" + region.name + "\": not a valid region name"};
    }
  }
  return OkStatus();
}

nlohmann::json DaemonSetApplier::BuildDaemonSet(const RegionsConfig& config,
                                                const ProbeRegionConfig& region,
                                                std::string_view namespace_name) {
  using nlohmann::json;
  const ProbeTemplate& probe = config.probe;
  const json selector_labels = SelectorLabels(config, region);
  json labels = selector_labels;
  labels[kManagedByLabel] = kManagedBy;

  json node_selector = json::object();
  for (const auto& [key, value] : region.node_selector) node_selector[key] = value;

  json args = json::array({"--operator", config.operator_url, "--region", region.name,
                           "--token-file", std::string(kTokenDir) + "/token", "--listen",
                           "0.0.0.0:" + std::to_string(probe.metrics_port)});
  const ScreenshotSidecarTemplate& shots = probe.screenshots;
  const std::string sidecar_listen = "127.0.0.1:" + std::to_string(shots.port);
  if (shots.enabled) {
    args.push_back("--screenshot-server");
    args.push_back("http://" + sidecar_listen);
  }
  for (const std::string& arg : probe.extra_args) args.push_back(arg);

  json container = {
      {"name", "probe"},
      {"image", probe.image},
      {"command", json::array({"pharos-probe"})},
      {"args", args},
      {"ports",
       json::array(
           {{{"name", "metrics"}, {"containerPort", probe.metrics_port}, {"protocol", "TCP"}}})},
      {"resources", region.resources.is_object() ? region.resources : json::object()},
      {"livenessProbe",
       {{"httpGet", {{"path", "/healthz"}, {"port", "metrics"}}},
        {"periodSeconds", 10},
        {"failureThreshold", 3}}},
      {"readinessProbe",
       {{"httpGet", {{"path", "/healthz"}, {"port", "metrics"}}}, {"periodSeconds", 5}}},
      {"volumeMounts",
       json::array({{{"name", "token"}, {"mountPath", kTokenDir}, {"readOnly", true}},
                    {{"name", "tmp"}, {"mountPath", "/tmp"}}})}};
  if (probe.security_context.is_object() && !probe.security_context.empty()) {
    container["securityContext"] = probe.security_context;
  }
  if (!probe.image_pull_policy.empty()) container["imagePullPolicy"] = probe.image_pull_policy;

  json pod_spec = {
      {"automountServiceAccountToken", probe.automount_service_account_token},
      {"enableServiceLinks", false},
      {"terminationGracePeriodSeconds", 30},
      {"containers", json::array({container})},
      {"volumes",
       json::array(
           {{{"name", "token"},
             {"secret",
              {{"secretName", probe.token_secret_name},
               {"items", json::array({{{"key", probe.token_secret_key}, {"path", "token"}}})},
               {"defaultMode", 0440}}}},
            {{"name", "tmp"}, {"emptyDir", json::object()}}})}};
  if (shots.enabled) {
    // Chromium writes its profile (a fresh one per capture), crash reports and shared memory:
    // a scratch volume of its own and a memory-backed /dev/shm, the root filesystem stays
    // read-only.
    json sidecar = {
        {"name", "screenshots"},
        {"image", shots.image.empty() ? probe.image : shots.image},
        {"command", json::array({"pharos-probe"})},
        {"args", json::array({"screenshot-server", "--listen", sidecar_listen, "--timeout",
                              shots.timeout, "--temp-dir", "/tmp"})},
        {"env", json::array({{{"name", "HOME"}, {"value", "/tmp"}}})},
        {"resources", shots.resources.is_object() ? shots.resources : json::object()},
        {"volumeMounts", json::array({{{"name", "screenshots-tmp"}, {"mountPath", "/tmp"}},
                                      {{"name", "screenshots-shm"}, {"mountPath", "/dev/shm"}}})}};
    if (probe.security_context.is_object() && !probe.security_context.empty()) {
      sidecar["securityContext"] = probe.security_context;
    }
    if (!probe.image_pull_policy.empty()) sidecar["imagePullPolicy"] = probe.image_pull_policy;
    pod_spec["containers"].push_back(std::move(sidecar));
    pod_spec["volumes"].push_back({{"name", "screenshots-tmp"}, {"emptyDir", json::object()}});
    pod_spec["volumes"].push_back({{"name", "screenshots-shm"},
                                   {"emptyDir", {{"medium", "Memory"}, {"sizeLimit", "256Mi"}}}});
  }
  if (probe.pod_security_context.is_object() && !probe.pod_security_context.empty()) {
    pod_spec["securityContext"] = probe.pod_security_context;
  }
  if (!probe.service_account_name.empty()) {
    pod_spec["serviceAccountName"] = probe.service_account_name;
  }
  if (!probe.image_pull_secrets.empty()) {
    json secrets = json::array();
    for (const std::string& name : probe.image_pull_secrets) secrets.push_back({{"name", name}});
    pod_spec["imagePullSecrets"] = secrets;
  }
  if (!probe.priority_class_name.empty()) {
    pod_spec["priorityClassName"] = probe.priority_class_name;
  }
  if (!node_selector.empty()) pod_spec["nodeSelector"] = node_selector;
  if (region.tolerations.is_array() && !region.tolerations.empty()) {
    pod_spec["tolerations"] = region.tolerations;
  }

  return json{
      {"apiVersion", "apps/v1"},
      {"kind", "DaemonSet"},
      {"metadata",
       {{"name", config.DaemonSetName(region.name)},
        {"namespace", std::string(namespace_name)},
        {"labels", labels}}},
      {"spec",
       {{"selector", {{"matchLabels", selector_labels}}},
        {"updateStrategy", {{"type", "RollingUpdate"}, {"rollingUpdate", {{"maxUnavailable", 1}}}}},
        {"template", {{"metadata", {{"labels", labels}}}, {"spec", pod_spec}}}}}};
}

DaemonSetApplyReport DaemonSetApplier::Apply(const RegionsConfig& config) {
  DaemonSetApplyReport report;
  const std::string namespace_name = NamespaceOf(config);
  if (Status check = CheckConfig(config); !check.ok()) {
    report.errors.push_back("regions config: " + check.error());
    LogWarn("not applying or deleting probe DaemonSets: the region configuration has errors",
            {{"namespace", namespace_name}, {"error", check.error()}});
    return report;
  }
  const ApiResource daemon_sets = ApiResource::DaemonSets();
  std::set<std::string> configured;
  for (const ProbeRegionConfig& region : config.regions) {
    const std::string name = config.DaemonSetName(region.name);
    configured.insert(name);
    PatchOptions options;
    options.field_manager = field_manager_;
    options.force = true;
    const KubeResponse applied =
        client_.Patch(daemon_sets, namespace_name, name, PatchType::kApply,
                      BuildDaemonSet(config, region, namespace_name), options);
    if (!applied.ok()) {
      report.errors.push_back(
          fmt::format("applying DaemonSet {}/{}: {}", namespace_name, name, applied.Describe()));
      continue;
    }
    report.applied.push_back(name);
  }

  // Only DaemonSets with this configuration's probe labels: another release's probes in the
  // same namespace carry other labels (app.kubernetes.io/instance) and are left alone.
  ListOptions list_options;
  list_options.label_selector = std::string(kManagedByLabel) + "=" + kManagedBy;
  for (const auto& [key, value] : config.probe.labels) {
    list_options.label_selector += fmt::format(",{}={}", key, value);
  }
  const KubeResponse listed = client_.ListAll(daemon_sets, namespace_name, list_options);
  if (!listed.ok()) {
    report.errors.push_back("listing probe DaemonSets in " + namespace_name + ": " +
                            listed.Describe());
    return report;
  }
  for (const auto& item : listed.body["items"]) {
    const std::string name = JsonStringAt(item, {"metadata", "name"});
    // The selector already filtered; checked again because deleting is not undoable.
    if (JsonStringAt(item, {"metadata", "labels", kManagedByLabel}) != kManagedBy) continue;
    if (configured.count(name) != 0) continue;
    DeleteOptions delete_options;
    delete_options.propagation_policy = "Background";
    const KubeResponse deleted = client_.Delete(daemon_sets, namespace_name, name, delete_options);
    if (!deleted.ok() && !deleted.IsNotFound()) {
      report.errors.push_back(
          fmt::format("deleting DaemonSet {}/{}: {}", namespace_name, name, deleted.Describe()));
      continue;
    }
    report.deleted.push_back(name);
    LogInfo("deleted the probe DaemonSet of a region no longer configured",
            {{"daemonset", fmt::format("{}/{}", namespace_name, name)}});
  }
  return report;
}

}  // namespace pharos
