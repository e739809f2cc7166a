#include "operator/controller/regions_config.h"

#include <gtest/gtest.h>

#include <string>

namespace pharos {
namespace {

bool HasError(const std::vector<ValidationError>& errors, const std::string& text) {
  for (const auto& error : errors) {
    if (error.ToString().find(text) != std::string::npos) return true;
  }
  return false;
}

std::string All(const std::vector<ValidationError>& errors) {
  std::string text;
  for (const auto& error : errors) text += error.ToString() + "\n";
  return text;
}

// What `helm template` renders into the regions ConfigMap (toYaml sorts the keys).
constexpr const char* kChartRendered = R"(namePrefix: shop-pharos-probe
namespace: pharos-system
operatorUrl: http://shop-pharos.pharos-system.svc:8080
probe:
  automountServiceAccountToken: false
  extraArgs:
  - --log-level=debug
  image: ghcr.io/pharos-dev/pharos-probe:0.1.0
  imagePullPolicy: IfNotPresent
  imagePullSecrets:
  - name: regcred
  labels:
    app.kubernetes.io/component: probe
    app.kubernetes.io/instance: shop
    app.kubernetes.io/name: pharos
  metricsPort: 9091
  podSecurityContext:
    fsGroup: 65532
    runAsGroup: 65532
    runAsNonRoot: true
    runAsUser: 65532
    seccompProfile:
      type: RuntimeDefault
  priorityClassName: probes
  securityContext:
    allowPrivilegeEscalation: false
    capabilities:
      drop:
      - ALL
    readOnlyRootFilesystem: true
    runAsNonRoot: true
  serviceAccountName: shop-pharos-probe
  tokenSecret:
    key: token
    name: shop-pharos-probe-token
regionLabel: topology.kubernetes.io/region
regionPodLabel: pharos.dev/region
regions:
- name: eu-west
  nodeSelector:
    topology.kubernetes.io/region: eu-west
  resources:
    limits:
      memory: 256Mi
    requests:
      cpu: 50m
      memory: 64Mi
  tolerations: []
- name: us-east
  nodeSelector:
    node.example.com/zone: us-east-1
  resources:
    requests:
      cpu: 200m
  tolerations:
  - {key: dedicated, operator: Equal, value: probes, effect: NoSchedule}
  - {operator: Exists, effect: NoExecute, tolerationSeconds: 30}
)";

TEST(RegionsConfigTest, ReadsWhatTheChartRenders) {
  auto config = RegionsConfig::Parse(kChartRendered, "regions.yaml");
  ASSERT_TRUE(config.ok()) << config.error();
  EXPECT_EQ(config->namespace_name, "pharos-system");
  EXPECT_EQ(config->name_prefix, "shop-pharos-probe");
  EXPECT_EQ(config->DaemonSetName("eu-west"), "shop-pharos-probe-eu-west");
  EXPECT_EQ(config->operator_url, "http://shop-pharos.pharos-system.svc:8080");
  EXPECT_EQ(config->region_label, "topology.kubernetes.io/region");
  EXPECT_EQ(config->region_pod_label, "pharos.dev/region");

  const ProbeTemplate& probe = config->probe;
  EXPECT_EQ(probe.image, "ghcr.io/pharos-dev/pharos-probe:0.1.0");
  EXPECT_EQ(probe.image_pull_policy, "IfNotPresent");
  EXPECT_EQ(probe.image_pull_secrets, std::vector<std::string>{"regcred"});
  EXPECT_EQ(probe.service_account_name, "shop-pharos-probe");
  EXPECT_FALSE(probe.automount_service_account_token);
  EXPECT_EQ(probe.token_secret_name, "shop-pharos-probe-token");
  EXPECT_EQ(probe.token_secret_key, "token");
  EXPECT_EQ(probe.metrics_port, 9091);
  EXPECT_EQ(probe.labels,
            (std::map<std::string, std::string>{{"app.kubernetes.io/component", "probe"},
                                                {"app.kubernetes.io/instance", "shop"},
                                                {"app.kubernetes.io/name", "pharos"}}));
  EXPECT_EQ(probe.pod_security_context,
            (nlohmann::json{{"fsGroup", 65532},
                            {"runAsGroup", 65532},
                            {"runAsNonRoot", true},
                            {"runAsUser", 65532},
                            {"seccompProfile", {{"type", "RuntimeDefault"}}}}));
  EXPECT_EQ(probe.security_context, (nlohmann::json{{"allowPrivilegeEscalation", false},
                                                    {"capabilities", {{"drop", {"ALL"}}}},
                                                    {"readOnlyRootFilesystem", true},
                                                    {"runAsNonRoot", true}}));
  EXPECT_EQ(probe.extra_args, std::vector<std::string>{"--log-level=debug"});
  EXPECT_EQ(probe.priority_class_name, "probes");

  ASSERT_EQ(config->regions.size(), 2u);
  const ProbeRegionConfig& eu = config->regions[0];
  EXPECT_EQ(eu.name, "eu-west");
  EXPECT_EQ(eu.node_selector,
            (std::map<std::string, std::string>{{"topology.kubernetes.io/region", "eu-west"}}));
  EXPECT_EQ(eu.resources, (nlohmann::json{{"limits", {{"memory", "256Mi"}}},
                                          {"requests", {{"cpu", "50m"}, {"memory", "64Mi"}}}}));
  EXPECT_TRUE(eu.tolerations.empty());

  const ProbeRegionConfig& us = config->regions[1];
  EXPECT_EQ(us.node_selector,
            (std::map<std::string, std::string>{{"node.example.com/zone", "us-east-1"}}));
  ASSERT_EQ(us.tolerations.size(), 2u);
  EXPECT_EQ(us.tolerations[0], (nlohmann::json{{"key", "dedicated"},
                                               {"operator", "Equal"},
                                               {"value", "probes"},
                                               {"effect", "NoSchedule"}}));
  EXPECT_EQ(us.tolerations[1]["tolerationSeconds"], 30);
}

TEST(RegionsConfigTest, DefaultsForAMinimalFile) {
  auto config = RegionsConfig::Parse("regions: [{name: lab}]\n", "r.yaml",
                                     RegionsConfigDefaults{"probe:flag", "http://op:8080"});
  ASSERT_TRUE(config.ok()) << config.error();
  EXPECT_EQ(config->namespace_name, "");
  EXPECT_EQ(config->DaemonSetName("lab"), "pharos-probe-lab");
  EXPECT_EQ(config->probe.image, "probe:flag");
  EXPECT_EQ(config->operator_url, "http://op:8080");
  EXPECT_EQ(config->probe.token_secret_name, "pharos-probe-token");
  EXPECT_EQ(config->probe.metrics_port, 9091);
  EXPECT_EQ(config->probe.pod_security_context, ProbeTemplate::DefaultPodSecurityContext());
  EXPECT_EQ(config->probe.security_context, ProbeTemplate::DefaultSecurityContext());
  EXPECT_EQ(config->regions[0].node_selector,
            (std::map<std::string, std::string>{{"topology.kubernetes.io/region", "lab"}}));
}

TEST(RegionsConfigTest, TheFileWinsOverTheCommandLine) {
  auto config =
      RegionsConfig::Parse("operatorUrl: https://file\nprobe: {image: probe:file}\nregions: []\n",
                           "r.yaml", RegionsConfigDefaults{"probe:flag", "http://flag"});
  ASSERT_TRUE(config.ok()) << config.error();
  EXPECT_EQ(config->probe.image, "probe:file");
  EXPECT_EQ(config->operator_url, "https://file");
}

TEST(RegionsConfigTest, RegionLabelChangesTheDefaultSelector) {
  auto config = RegionsConfig::Parse(
      "operatorUrl: http://op\nprobe: {image: probe:1}\nregionLabel: example.com/probe-region\n"
      "regions: [{name: lab}]\n",
      "r.yaml");
  ASSERT_TRUE(config.ok()) << config.error();
  EXPECT_EQ(config->regions[0].node_selector,
            (std::map<std::string, std::string>{{"example.com/probe-region", "lab"}}));
}

TEST(RegionsConfigTest, ErrorsAreLocated) {
  const auto errors = RegionsConfig::Validate(R"(operatorUrl: http://op
probe:
  image: probe:1
  imagePulPolicy: Always
  metricsPort: 70000
  automountServiceAccountToken: "no"
  labels: {pharos.dev/region: x, app.kubernetes.io/managed-by: me}
  securityContext: {runAsUsr: 1}
  imagePullSecrets: [{name: "Bad_Name"}]
regoins: []
namePrefix: Probe
regions:
  - name: EU_West
  - name: us-east
  - name: us-east
    tolerations: [{key: a, operator: Maybe}]
  - name: ap-south
    resources: {requests: {cpu: lots}}
    nodeSelector: {"bad key!": x}
  - nodeSelector: {}
  - name: this-region-name-is-too-long-for-the-daemon-set-name-55
  - name: eu
    image: p:2
)",
                                              "regions.yaml");
  EXPECT_TRUE(HasError(errors, "regions.yaml:4:3: probe.imagePulPolicy: unknown field"))
      << All(errors);
  EXPECT_TRUE(HasError(errors, "regions.yaml:5:16: probe.metricsPort: must be a port number"))
      << All(errors);
  EXPECT_TRUE(
      HasError(errors, "regions.yaml:6:33: probe.automountServiceAccountToken: must be true"))
      << All(errors);
  EXPECT_TRUE(HasError(errors, "probe.labels[\"app.kubernetes.io/managed-by\"]: is set by"))
      << All(errors);
  EXPECT_TRUE(
      HasError(errors, "regions.yaml:7:11: probe.labels[\"pharos.dev/region\"]: is the region pod"))
      << All(errors);
  EXPECT_TRUE(HasError(errors, "regions.yaml:8:21: probe.securityContext.runAsUsr: unknown field"))
      << All(errors);
  EXPECT_TRUE(HasError(errors, "probe.imagePullSecrets[0].name: not a valid Secret name"))
      << All(errors);
  EXPECT_TRUE(HasError(errors, "regions.yaml:10:1: regoins: unknown field")) << All(errors);
  EXPECT_TRUE(HasError(errors, "regions.yaml:11:13: namePrefix: \"Probe\" is not a valid"))
      << All(errors);
  EXPECT_TRUE(HasError(errors, "regions.yaml:13:11: regions[0].name: \"EU_West\" is not a valid"))
      << All(errors);
  EXPECT_TRUE(
      HasError(errors, "regions.yaml:15:11: regions[2].name: region \"us-east\" is listed twice"))
      << All(errors);
  EXPECT_TRUE(HasError(errors, "regions.yaml:16:38: regions[2].tolerations[0].operator: must be"))
      << All(errors);
  EXPECT_TRUE(HasError(
      errors, "regions.yaml:18:33: regions[3].resources.requests.cpu: \"lots\" is not a quantity"))
      << All(errors);
  EXPECT_TRUE(HasError(errors, "regions[3].nodeSelector[\"bad key!\"]: not a valid label key"))
      << All(errors);
  EXPECT_TRUE(HasError(errors, "regions.yaml:20:5: regions[4]: name is required")) << All(errors);
  EXPECT_TRUE(HasError(errors, "regions[5].name: region \"this-region")) << All(errors);
  EXPECT_TRUE(HasError(errors, "must fit in 63 characters")) << All(errors);
  EXPECT_TRUE(HasError(errors, "regions.yaml:23:5: regions[6].image: unknown field"))
      << All(errors);
}

TEST(RegionsConfigTest, TheOldFlatFormatIsRejectedWithItsFields) {
  const auto errors = RegionsConfig::Validate(
      "image: probe:1\ntokenSecret: {name: t, key: k}\nregions: [{name: eu}]\n", "r.yaml",
      RegionsConfigDefaults{"", "http://op"});
  EXPECT_TRUE(HasError(errors, "r.yaml:1:1: image: unknown field")) << All(errors);
  EXPECT_TRUE(HasError(errors, "r.yaml:2:1: tokenSecret: unknown field")) << All(errors);
}

TEST(RegionsConfigTest, NeedsAnImageAnOperatorUrlAndRegions) {
  auto no_regions =
      RegionsConfig::Parse("operatorUrl: http://op\nprobe: {image: probe:1}\n", "r.yaml");
  ASSERT_FALSE(no_regions.ok());
  EXPECT_NE(no_regions.error().find("regions: is required"), std::string::npos)
      << no_regions.error();

  auto no_image = RegionsConfig::Parse("operatorUrl: http://op\nregions: [{name: eu}]\n", "r.yaml");
  ASSERT_FALSE(no_image.ok());
  EXPECT_NE(no_image.error().find("no probe image"), std::string::npos) << no_image.error();

  auto no_url = RegionsConfig::Parse("probe: {image: p:1}\nregions: [{name: eu}]\n", "r.yaml");
  ASSERT_FALSE(no_url.ok());
  EXPECT_NE(no_url.error().find("operatorUrl: no URL"), std::string::npos) << no_url.error();

  auto empty = RegionsConfig::Parse("", "r.yaml");
  ASSERT_FALSE(empty.ok());

  auto broken = RegionsConfig::Parse("regions: [\n", "r.yaml");
  ASSERT_FALSE(broken.ok());
  EXPECT_NE(broken.error().find("r.yaml:"), std::string::npos) << broken.error();

  auto none =
      RegionsConfig::Parse("operatorUrl: http://op\nprobe: {image: p:1}\nregions: []\n", "r.yaml");
  ASSERT_TRUE(none.ok()) << none.error();
  EXPECT_TRUE(none->regions.empty());
}

TEST(RegionsConfigTest, TolerationRules) {
  const auto errors = RegionsConfig::Validate(R"(operatorUrl: http://op
probe: {image: p:1}
regions:
  - name: a
    tolerations:
      - {operator: Equal, value: x}
      - {key: k, operator: Exists, value: x}
      - {key: k, value: v, effect: NoSchedule, tolerationSeconds: 5}
      - {key: k, effect: Sometimes}
      - {key: k, tolerationSeconds: soon, effect: NoExecute}
)",
                                              "r.yaml");
  EXPECT_TRUE(HasError(errors, "tolerations[0]: key is required")) << All(errors);
  EXPECT_TRUE(HasError(errors, "tolerations[1]: value must be empty")) << All(errors);
  EXPECT_TRUE(HasError(errors, "tolerations[2]: tolerationSeconds needs effect NoExecute"))
      << All(errors);
  EXPECT_TRUE(HasError(errors, "tolerations[3].effect: must be")) << All(errors);
  EXPECT_TRUE(HasError(errors, "tolerations[4].tolerationSeconds: must be a whole number"))
      << All(errors);
}

TEST(RegionsConfigTest, ReadsTheScreenshotSidecar) {
  auto config = RegionsConfig::Parse(R"(operatorUrl: http://op
probe:
  image: probe:1
  screenshots:
    enabled: true
    image: probe-chromium:1
    port: 9600
    timeout: 20s
    resources: {limits: {memory: 1Gi}}
regions: [{name: eu}]
)",
                                     "r.yaml");
  ASSERT_TRUE(config.ok()) << config.error();
  const ScreenshotSidecarTemplate& shots = config->probe.screenshots;
  EXPECT_TRUE(shots.enabled);
  EXPECT_EQ(shots.image, "probe-chromium:1");
  EXPECT_EQ(shots.port, 9600);
  EXPECT_EQ(shots.timeout, "20s");
  EXPECT_EQ(shots.resources["limits"]["memory"], "1Gi");

  auto off =
      RegionsConfig::Parse("operatorUrl: http://op\nprobe: {image: p:1}\nregions: []\n", "r.yaml");
  ASSERT_TRUE(off.ok()) << off.error();
  EXPECT_FALSE(off->probe.screenshots.enabled);

  const auto errors = RegionsConfig::Validate(R"(operatorUrl: http://op
probe:
  image: probe:1
  screenshots: {enabled: "yes", port: 0, timeout: 10ms, browser: x}
regions: [{name: eu}]
)",
                                              "r.yaml");
  EXPECT_TRUE(HasError(errors, "probe.screenshots.browser: unknown field")) << errors.size();
  EXPECT_TRUE(HasError(errors, "probe.screenshots.enabled"));
  EXPECT_TRUE(HasError(errors, "probe.screenshots.port"));
  EXPECT_TRUE(HasError(errors, "probe.screenshots.timeout: expected a duration of at least 1s"));
}

}  // namespace
}  // namespace pharos
