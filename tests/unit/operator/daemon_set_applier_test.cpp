#include "operator/daemon_set_applier.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "unit/operator/fake_kube_client.h"

namespace pharos {
namespace {

using testing::FakeKubeClient;
using testing::MakeStatusResponse;
using testing::RecordedCall;

ProbeRegionConfig Region(const std::string& name) {
  ProbeRegionConfig region;
  region.name = name;
  region.node_selector = {{"topology.kubernetes.io/region", name}};
  region.image = "ghcr.io/pharos/pharos-probe:0.1.0";
  region.operator_url = "http://pharos-operator.pharos-system.svc:8080";
  region.resources = {{"requests", {{"cpu", "50m"}}}};
  region.tolerations = nlohmann::json::array({{{"operator", "Exists"}}});
  return region;
}

TEST(DaemonSetApplierTest, BuildsASecureProbeDaemonSet) {
  const nlohmann::json ds = DaemonSetApplier::BuildDaemonSet(Region("eu-west"), "pharos-system");
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
  EXPECT_EQ(pod["securityContext"]["runAsNonRoot"], true);
  EXPECT_EQ(pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault");
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
  EXPECT_EQ(container["securityContext"]["allowPrivilegeEscalation"], false);
  EXPECT_EQ(container["securityContext"]["readOnlyRootFilesystem"], true);
  EXPECT_EQ(container["securityContext"]["capabilities"]["drop"], nlohmann::json::array({"ALL"}));
  EXPECT_FALSE(container.contains("imagePullPolicy"));
  const nlohmann::json& volume = pod["volumes"][0];
  EXPECT_EQ(volume["secret"]["secretName"], "pharos-probe-token");
  EXPECT_EQ(volume["secret"]["items"][0]["key"], "token");
  EXPECT_EQ(volume["secret"]["items"][0]["path"], "token");
  EXPECT_EQ(container["volumeMounts"][0]["mountPath"], "/etc/pharos/token");
  EXPECT_EQ(container["volumeMounts"][0]["readOnly"], true);
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
                              {"app.kubernetes.io/component", "probe"},
                              {"pharos.dev/region", region}}}}}};
  };
  client.Put(ApiResource::DaemonSets(), managed("pharos-probe-old", "old"));
  client.Put(ApiResource::DaemonSets(), managed("pharos-probe-eu-west", "eu-west"));
  client.Put(ApiResource::DaemonSets(),
             {{"metadata", {{"name", "someone-elses"}, {"namespace", "pharos-system"}}}});

  DaemonSetApplier applier(client, "pharos-system");
  const DaemonSetApplyReport report = applier.Apply({Region("eu-west"), Region("us-east")});
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
            "app.kubernetes.io/managed-by=pharos-operator,app.kubernetes.io/component=probe");
  EXPECT_TRUE(client.Stored(ApiResource::DaemonSets(), "pharos-system", "someone-elses"));
  EXPECT_FALSE(client.Stored(ApiResource::DaemonSets(), "pharos-system", "pharos-probe-old"));
}

TEST(DaemonSetApplierTest, ABadRegionIsReportedAndNothingIsDeleted) {
  FakeKubeClient client;
  ProbeRegionConfig no_url = Region("eu-west");
  no_url.operator_url.clear();
  DaemonSetApplier applier(client, "pharos-system");
  const DaemonSetApplyReport report = applier.Apply({no_url, Region("us-east")});
  ASSERT_EQ(report.errors.size(), 1u);
  EXPECT_NE(report.errors[0].find("region eu-west: no operator URL"), std::string::npos);
  EXPECT_EQ(report.applied, std::vector<std::string>{"pharos-probe-us-east"});
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
  const DaemonSetApplyReport report = applier.Apply({Region("eu-west"), Region("us-east")});
  ASSERT_EQ(report.errors.size(), 1u);
  EXPECT_NE(report.errors[0].find("pharos-system/pharos-probe-us-east"), std::string::npos)
      << report.errors[0];
  EXPECT_NE(report.errors[0].find("HTTP 422 Invalid"), std::string::npos) << report.errors[0];
  EXPECT_EQ(report.applied, std::vector<std::string>{"pharos-probe-eu-west"});
}

}  // namespace
}  // namespace pharos
