#include "operator/controller/daemon_set_applier.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "unit/operator/kube/fake_kube_client.h"

namespace pharos {
namespace {

using testing::FakeKubeClient;
using testing::MakeStatusResponse;
using testing::RecordedCall;

ProbeRegionConfig Region(const std::string& name) {
  ProbeRegionConfig region;
  region.name = name;
  region.node_selector = {{"topology.kubernetes.io/region", name}};
  region.resources = {{"requests", {{"cpu", "50m"}}}};
  region.tolerations = nlohmann::json::array({{{"operator", "Exists"}}});
  return region;
}

RegionsConfig Config(std::vector<ProbeRegionConfig> regions) {
  RegionsConfig config;
  config.operator_url = "http://pharos-operator.pharos-system.svc:8080";
  config.probe.image = "ghcr.io/pharos/pharos-probe:0.1.0";
  config.regions = std::move(regions);
  return config;
}

TEST(DaemonSetApplierTest, BuildsASecureProbeDaemonSetByDefault) {
  const RegionsConfig config = Config({Region("eu-west")});
  const nlohmann::json ds =
      DaemonSetApplier::BuildDaemonSet(config, config.regions[0], "pharos-system");
  EXPECT_EQ(ds["apiVersion"], "apps/v1");
  EXPECT_EQ(ds["kind"], "DaemonSet");
  EXPECT_EQ(ds["metadata"]["name"], "pharos-probe-eu-west");
  EXPECT_EQ(ds["metadata"]["namespace"], "pharos-system");
  const nlohmann::json labels = {{"app.kubernetes.io/name", "pharos"},
                                 {"app.kubernetes.io/component", "probe"},
                                 {"app.kubernetes.io/managed-by", "pharos-operator"},
                                 {"pharos.dev/region", "eu-west"}};
  EXPECT_EQ(ds["metadata"]["labels"], labels);
  EXPECT_EQ(ds["spec"]["template"]["metadata"]["labels"], labels);
  for (const auto& [key, value] : ds["spec"]["selector"]["matchLabels"].items()) {
    EXPECT_EQ(labels[key], value) << "the selector must match the pod labels";
  }
  const nlohmann::json& pod = ds["spec"]["template"]["spec"];
  EXPECT_EQ(pod["nodeSelector"]["topology.kubernetes.io/region"], "eu-west");
  EXPECT_EQ(pod["tolerations"][0]["operator"], "Exists");
  EXPECT_EQ(pod["automountServiceAccountToken"], false);
  EXPECT_EQ(pod["securityContext"], ProbeTemplate::DefaultPodSecurityContext());
  EXPECT_FALSE(pod.contains("serviceAccountName"));
  EXPECT_FALSE(pod.contains("imagePullSecrets"));
  EXPECT_FALSE(pod.contains("priorityClassName"));
  ASSERT_EQ(pod["containers"].size(), 1u);
  const nlohmann::json& container = pod["containers"][0];
  EXPECT_EQ(container["image"], "ghcr.io/pharos/pharos-probe:0.1.0");
  EXPECT_EQ(container["command"], nlohmann::json::array({"pharos-probe"}));
  EXPECT_EQ(container["args"],
            nlohmann::json::array({"--operator", "http://pharos-operator.pharos-system.svc:8080",
                                   "--region", "eu-west", "--token-file", "/etc/pharos/token/token",
                                   "--listen", "0.0.0.0:9091"}));
  EXPECT_EQ(container["ports"][0]["name"], "metrics");
  EXPECT_EQ(container["ports"][0]["containerPort"], 9091);
  EXPECT_EQ(container["resources"]["requests"]["cpu"], "50m");
  EXPECT_EQ(container["securityContext"], ProbeTemplate::DefaultSecurityContext());
  EXPECT_FALSE(container.contains("imagePullPolicy"));
  const nlohmann::json& volume = pod["volumes"][0];
  EXPECT_EQ(volume["secret"]["secretName"], "pharos-probe-token");
  EXPECT_EQ(volume["secret"]["items"][0]["key"], "token");
  EXPECT_EQ(volume["secret"]["items"][0]["path"], "token");
  EXPECT_EQ(container["volumeMounts"][0]["mountPath"], "/etc/pharos/token");
  EXPECT_EQ(container["volumeMounts"][0]["readOnly"], true);
}

TEST(DaemonSetApplierTest, UsesEveryFieldOfTheProbeTemplate) {
  RegionsConfig config = Config({Region("us-east")});
  config.name_prefix = "shop-pharos-probe";
  config.region_pod_label = "example.com/region";
  ProbeTemplate& probe = config.probe;
  probe.image_pull_policy = "Always";
  probe.image_pull_secrets = {"regcred", "mirror"};
  probe.service_account_name = "shop-pharos-probe";
  probe.automount_service_account_token = true;
  probe.token_secret_name = "shop-token";
  probe.token_secret_key = "probe";
  probe.metrics_port = 9191;
  probe.labels = {{"app.kubernetes.io/name", "pharos"}, {"app.kubernetes.io/instance", "shop"}};
  probe.pod_security_context = {{"runAsUser", 1000}, {"runAsNonRoot", true}};
  probe.security_context = {{"readOnlyRootFilesystem", true}};
  probe.extra_args = {"--log-level=debug", "--concurrency=64"};
  probe.priority_class_name = "probes";

  const nlohmann::json ds = DaemonSetApplier::BuildDaemonSet(config, config.regions[0], "shop");
  EXPECT_EQ(ds["metadata"]["name"], "shop-pharos-probe-us-east");
  EXPECT_EQ(ds["metadata"]["namespace"], "shop");
  const nlohmann::json selector = {{"app.kubernetes.io/name", "pharos"},
                                   {"app.kubernetes.io/instance", "shop"},
                                   {"example.com/region", "us-east"}};
  EXPECT_EQ(ds["spec"]["selector"]["matchLabels"], selector);
  nlohmann::json labels = selector;
  labels["app.kubernetes.io/managed-by"] = "pharos-operator";
  EXPECT_EQ(ds["metadata"]["labels"], labels);
  EXPECT_EQ(ds["spec"]["template"]["metadata"]["labels"], labels);
  const nlohmann::json& pod = ds["spec"]["template"]["spec"];
  EXPECT_EQ(pod["serviceAccountName"], "shop-pharos-probe");
  EXPECT_EQ(pod["automountServiceAccountToken"], true);
  EXPECT_EQ(pod["imagePullSecrets"],
            nlohmann::json::array({{{"name", "regcred"}}, {{"name", "mirror"}}}));
  EXPECT_EQ(pod["priorityClassName"], "probes");
  EXPECT_EQ(pod["securityContext"], probe.pod_security_context);
  EXPECT_EQ(pod["volumes"][0]["secret"]["secretName"], "shop-token");
  EXPECT_EQ(pod["volumes"][0]["secret"]["items"][0]["key"], "probe");
  const nlohmann::json& container = pod["containers"][0];
  EXPECT_EQ(container["imagePullPolicy"], "Always");
  EXPECT_EQ(container["securityContext"], probe.security_context);
  EXPECT_EQ(container["ports"][0]["containerPort"], 9191);
  EXPECT_EQ(
      container["args"],
      nlohmann::json::array({"--operator", "http://pharos-operator.pharos-system.svc:8080",
                             "--region", "us-east", "--token-file", "/etc/pharos/token/token",
                             "--listen", "0.0.0.0:9191", "--log-level=debug", "--concurrency=64"}));
}

TEST(DaemonSetApplierTest, AppliesEachRegionAndDeletesStaleManagedOnes) {
  FakeKubeClient client;
  const auto managed = [](const std::string& name, const std::string& region) {
    return nlohmann::json{{"apiVersion", "apps/v1"},
                          {"kind", "DaemonSet"},
                          {"metadata",
                           {{"name", name},
                            {"namespace", "pharos-system"},
                            {"labels",
                             {{"app.kubernetes.io/managed-by", "pharos-operator"},
                              {"app.kubernetes.io/name", "pharos"},
                              {"app.kubernetes.io/component", "probe"},
                              {"pharos.dev/region", region}}}}}};
  };
  client.Put(ApiResource::DaemonSets(), managed("pharos-probe-old", "old"));
  client.Put(ApiResource::DaemonSets(), managed("pharos-probe-eu-west", "eu-west"));
  client.Put(ApiResource::DaemonSets(),
             {{"metadata", {{"name", "someone-elses"}, {"namespace", "pharos-system"}}}});
  // Another release's probes (other probe labels) in the same namespace.
  nlohmann::json other = managed("other-probe-old", "old");
  other["metadata"]["labels"]["app.kubernetes.io/name"] = "other";
  client.Put(ApiResource::DaemonSets(), other);

  DaemonSetApplier applier(client, "pharos-system");
  const DaemonSetApplyReport report = applier.Apply(Config({Region("eu-west"), Region("us-east")}));
  ASSERT_TRUE(report.ok()) << report.errors[0];
  EXPECT_EQ(report.applied,
            (std::vector<std::string>{"pharos-probe-eu-west", "pharos-probe-us-east"}));
  EXPECT_EQ(report.deleted, std::vector<std::string>{"pharos-probe-old"});
  const auto patches = client.Calls("patch");
  ASSERT_EQ(patches.size(), 2u);
  EXPECT_EQ(patches[0].patch_type, PatchType::kApply);
  EXPECT_TRUE(patches[0].patch_options.force);
  EXPECT_EQ(patches[0].patch_options.field_manager, "pharos-operator");
  EXPECT_EQ(patches[1].path,
            "/apis/apps/v1/namespaces/pharos-system/daemonsets/pharos-probe-us-east");
  const auto lists = client.Calls("list");
  ASSERT_EQ(lists.size(), 1u);
  EXPECT_EQ(lists[0].list_options.label_selector,
            "app.kubernetes.io/managed-by=pharos-operator,app.kubernetes.io/component=probe,"
            "app.kubernetes.io/name=pharos");
  EXPECT_TRUE(client.Stored(ApiResource::DaemonSets(), "pharos-system", "someone-elses"));
  EXPECT_TRUE(client.Stored(ApiResource::DaemonSets(), "pharos-system", "other-probe-old"));
  EXPECT_FALSE(client.Stored(ApiResource::DaemonSets(), "pharos-system", "pharos-probe-old"));
}

TEST(DaemonSetApplierTest, TheConfigurationsNamespaceWins) {
  FakeKubeClient client;
  RegionsConfig config = Config({Region("eu-west")});
  config.namespace_name = "probes";
  DaemonSetApplier applier(client, "pharos-system");
  EXPECT_EQ(applier.NamespaceOf(config), "probes");
  ASSERT_TRUE(applier.Apply(config).ok());
  EXPECT_EQ(client.Calls("patch")[0].path,
            "/apis/apps/v1/namespaces/probes/daemonsets/pharos-probe-eu-west");
}

TEST(DaemonSetApplierTest, ABadConfigurationAppliesAndDeletesNothing) {
  FakeKubeClient client;
  RegionsConfig no_url = Config({Region("eu-west"), Region("us-east")});
  no_url.operator_url.clear();
  DaemonSetApplier applier(client, "pharos-system");
  const DaemonSetApplyReport report = applier.Apply(no_url);
  ASSERT_EQ(report.errors.size(), 1u);
  EXPECT_NE(report.errors[0].find("no operator URL"), std::string::npos) << report.errors[0];
  EXPECT_TRUE(report.applied.empty());
  EXPECT_TRUE(client.Calls("patch").empty());
  EXPECT_TRUE(client.Calls("list").empty());
  EXPECT_TRUE(client.Calls("delete").empty());
}

TEST(DaemonSetApplierTest, ApiFailuresAreReportedPerDaemonSet) {
  FakeKubeClient client;
  client.SetInterceptor([](const RecordedCall& call) -> std::optional<KubeResponse> {
    if (call.verb == "patch" && call.path.find("us-east") != std::string::npos) {
      return MakeStatusResponse(422, "Invalid", "spec.template: bad");
    }
    return std::nullopt;
  });
  DaemonSetApplier applier(client, "pharos-system");
  const DaemonSetApplyReport report = applier.Apply(Config({Region("eu-west"), Region("us-east")}));
  ASSERT_EQ(report.errors.size(), 1u);
  EXPECT_NE(report.errors[0].find("pharos-system/pharos-probe-us-east"), std::string::npos)
      << report.errors[0];
  EXPECT_NE(report.errors[0].find("HTTP 422 Invalid"), std::string::npos) << report.errors[0];
  EXPECT_EQ(report.applied, std::vector<std::string>{"pharos-probe-eu-west"});
}

TEST(DaemonSetApplierTest, TheScreenshotSidecarJoinsThePodOnLoopback) {
  RegionsConfig config = Config({Region("eu-west")});
  nlohmann::json pod = DaemonSetApplier::BuildDaemonSet(
      config, config.regions[0], "pharos-system")["spec"]["template"]["spec"];
  ASSERT_EQ(pod["containers"].size(), 1u) << "off by default";

  config.probe.screenshots.enabled = true;
  config.probe.screenshots.image = "ghcr.io/pharos/pharos-probe-chromium:0.1.0";
  config.probe.screenshots.timeout = "20s";
  config.probe.screenshots.resources = {{"limits", {{"memory", "1Gi"}}}};
  pod = DaemonSetApplier::BuildDaemonSet(config, config.regions[0],
                                         "pharos-system")["spec"]["template"]["spec"];
  ASSERT_EQ(pod["containers"].size(), 2u);
  const nlohmann::json& probe = pod["containers"][0];
  const nlohmann::json args = probe["args"];
  const auto flag = std::find(args.begin(), args.end(), "--screenshot-server");
  ASSERT_NE(flag, args.end()) << args.dump();
  EXPECT_EQ(*(flag + 1), "http://127.0.0.1:9555");
  const nlohmann::json& sidecar = pod["containers"][1];
  EXPECT_EQ(sidecar["name"], "screenshots");
  EXPECT_EQ(sidecar["image"], "ghcr.io/pharos/pharos-probe-chromium:0.1.0");
  EXPECT_EQ(sidecar["args"],
            nlohmann::json::array({"screenshot-server", "--listen", "127.0.0.1:9555", "--timeout",
                                   "20s", "--temp-dir", "/tmp"}));
  EXPECT_EQ(sidecar["resources"]["limits"]["memory"], "1Gi");
  EXPECT_EQ(sidecar["securityContext"], ProbeTemplate::DefaultSecurityContext());
  EXPECT_FALSE(sidecar.contains("ports")) << "nothing outside the pod reaches it";
  std::vector<std::string> volumes;
  for (const nlohmann::json& volume : pod["volumes"]) volumes.push_back(volume["name"]);
  EXPECT_NE(std::find(volumes.begin(), volumes.end(), "screenshots-tmp"), volumes.end());
  EXPECT_NE(std::find(volumes.begin(), volumes.end(), "screenshots-shm"), volumes.end());

  // Without an image of its own it runs the probe's.
  config.probe.screenshots.image.clear();
  pod = DaemonSetApplier::BuildDaemonSet(config, config.regions[0],
                                         "pharos-system")["spec"]["template"]["spec"];
  EXPECT_EQ(pod["containers"][1]["image"], "ghcr.io/pharos/pharos-probe:0.1.0");
}

}  // namespace
}  // namespace pharos
