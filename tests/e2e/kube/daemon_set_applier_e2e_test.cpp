// DaemonSetApplier against a real kube-apiserver (no kubelet runs: the objects are checked).

#include "e2e/kube/kube_e2e_helpers.h"
#include "operator/daemon_set_applier.h"
#include "operator/regions_config.h"

namespace pharos::e2e {
namespace {

using DaemonSetApplierE2ETest = KubeE2ETest;

TEST_F(DaemonSetApplierE2ETest, AppliesUpdatesAndDeletesProbeDaemonSets) {
  auto config = RegionsConfig::Parse(R"(
image: ghcr.io/pharos/pharos-probe:0.1.0
resources: {requests: {cpu: 50m, memory: 64Mi}, limits: {memory: 256Mi}}
regions:
  - name: eu-west
    tolerations: [{key: dedicated, operator: Equal, value: probes, effect: NoSchedule}]
  - name: us-east
    nodeSelector: {example.com/zone: us-east-1}
)",
                                     "regions.yaml");
  ASSERT_TRUE(config.ok()) << config.error();
  const std::string url = "http://pharos-operator." + namespace_ + ".svc:8080";
  DaemonSetApplier applier(*client_, namespace_);
  DaemonSetApplyReport report = applier.Apply(config->WithOperatorUrl(url));
  ASSERT_TRUE(report.ok()) << report.errors[0];
  EXPECT_EQ(report.applied.size(), 2u);

  const ApiResource daemon_sets = ApiResource::DaemonSets();
  const KubeResponse eu = client_->Get(daemon_sets, namespace_, "pharos-probe-eu-west");
  ASSERT_TRUE(eu.ok()) << eu.Describe();
  EXPECT_EQ(eu.body["metadata"]["labels"]["app.kubernetes.io/managed-by"], "pharos-operator");
  EXPECT_EQ(eu.body["metadata"]["labels"]["pharos.dev/region"], "eu-west");
  const nlohmann::json& pod = eu.body["spec"]["template"]["spec"];
  EXPECT_EQ(pod["nodeSelector"]["topology.kubernetes.io/region"], "eu-west");
  EXPECT_EQ(pod["tolerations"][0]["key"], "dedicated");
  EXPECT_EQ(pod["containers"][0]["args"][1], url);
  EXPECT_EQ(pod["containers"][0]["ports"][0]["containerPort"], 9091);
  EXPECT_EQ(pod["containers"][0]["resources"]["limits"]["memory"], "256Mi");
  EXPECT_EQ(pod["volumes"][0]["secret"]["secretName"], "pharos-probe-token");
  bool managed = false;
  for (const auto& entry : eu.body["metadata"]["managedFields"]) {
    managed = managed || (entry.value("manager", "") == "pharos-operator" &&
                          entry.value("operation", "") == "Apply");
  }
  EXPECT_TRUE(managed);
  const KubeResponse us = client_->Get(daemon_sets, namespace_, "pharos-probe-us-east");
  ASSERT_TRUE(us.ok());
  EXPECT_EQ(us.body["spec"]["template"]["spec"]["nodeSelector"]["example.com/zone"], "us-east-1");

  // Someone edits a field the operator owns: the next apply takes it back (force).
  ASSERT_TRUE(
      client_
          ->Patch(
              daemon_sets, namespace_, "pharos-probe-eu-west", PatchType::kMerge,
              {{"spec",
                {{"template",
                  {{"spec", {{"nodeSelector", {{"topology.kubernetes.io/region", "manual"}}}}}}}}}},
              PatchOptions{})
          .ok());
  // A DaemonSet the operator does not manage must survive.
  nlohmann::json foreign =
      DaemonSetApplier::BuildDaemonSet(config->WithOperatorUrl(url)[0], namespace_);
  foreign["metadata"]["name"] = "someone-elses";
  foreign["metadata"]["labels"].erase("app.kubernetes.io/managed-by");
  ASSERT_TRUE(client_->Create(daemon_sets, namespace_, foreign).ok());

  // New image, and us-east removed from the configuration.
  auto changed = config->WithOperatorUrl(url);
  changed.pop_back();
  changed[0].image = "ghcr.io/pharos/pharos-probe:0.2.0";
  report = applier.Apply(changed);
  ASSERT_TRUE(report.ok()) << report.errors[0];
  EXPECT_EQ(report.applied, std::vector<std::string>{"pharos-probe-eu-west"});
  EXPECT_EQ(report.deleted, std::vector<std::string>{"pharos-probe-us-east"});
  const KubeResponse updated = client_->Get(daemon_sets, namespace_, "pharos-probe-eu-west");
  EXPECT_EQ(updated.body["spec"]["template"]["spec"]["containers"][0]["image"],
            "ghcr.io/pharos/pharos-probe:0.2.0");
  EXPECT_EQ(
      updated.body["spec"]["template"]["spec"]["nodeSelector"]["topology.kubernetes.io/region"],
      "eu-west");
  EXPECT_TRUE(client_->Get(daemon_sets, namespace_, "pharos-probe-us-east").IsNotFound());
  EXPECT_TRUE(client_->Get(daemon_sets, namespace_, "someone-elses").ok());

  // Applying the same again changes nothing.
  const std::string version = JsonStringAt(updated.body, {"metadata", "resourceVersion"});
  ASSERT_TRUE(applier.Apply(changed).ok());
  EXPECT_EQ(JsonStringAt(client_->Get(daemon_sets, namespace_, "pharos-probe-eu-west").body,
                         {"metadata", "resourceVersion"}),
            version);
}

}  // namespace
}  // namespace pharos::e2e
