// DaemonSetApplier against a real kube-apiserver (no kubelet runs: the objects are checked).

#include "e2e/kube/kube_e2e_helpers.h"
#include "operator/controller/daemon_set_applier.h"
#include "operator/controller/regions_config.h"

namespace pharos::e2e {
namespace {

using DaemonSetApplierE2ETest = KubeE2ETest;

TEST_F(DaemonSetApplierE2ETest, AppliesUpdatesAndDeletesProbeDaemonSets) {
  const std::string url = "http://pharos-operator." + namespace_ + ".svc:8080";
  // The format the chart renders (no namespace: the applier's default is used).
  auto config = RegionsConfig::Parse(R"(
namePrefix: rel-pharos-probe
operatorUrl: )" + url + R"(
regionPodLabel: pharos.dev/region
probe:
  image: ghcr.io/pharos/pharos-probe:0.1.0
  imagePullPolicy: IfNotPresent
  imagePullSecrets: [{name: regcred}]
  serviceAccountName: rel-pharos-probe
  automountServiceAccountToken: false
  tokenSecret: {name: rel-pharos-probe-token, key: token}
  metricsPort: 9191
  labels: {app.kubernetes.io/name: pharos, app.kubernetes.io/instance: rel,
           app.kubernetes.io/component: probe}
  podSecurityContext: {runAsNonRoot: true, runAsUser: 65532, seccompProfile: {type: RuntimeDefault}}
  securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true,
                    capabilities: {drop: [ALL]}}
  extraArgs: [--log-level=debug]
  priorityClassName: ""
regions:
  - name: eu-west
    resources: {requests: {cpu: 50m, memory: 64Mi}, limits: {memory: 256Mi}}
    tolerations: [{key: dedicated, operator: Equal, value: probes, effect: NoSchedule}]
  - name: us-east
    nodeSelector: {example.com/zone: us-east-1}
)",
                                     "regions.yaml");
  ASSERT_TRUE(config.ok()) << config.error();
  DaemonSetApplier applier(*client_, namespace_);
  DaemonSetApplyReport report = applier.Apply(*config);
  ASSERT_TRUE(report.ok()) << report.errors[0];
  EXPECT_EQ(report.applied.size(), 2u);

  const ApiResource daemon_sets = ApiResource::DaemonSets();
  const KubeResponse eu = client_->Get(daemon_sets, namespace_, "rel-pharos-probe-eu-west");
  ASSERT_TRUE(eu.ok()) << eu.Describe();
  EXPECT_EQ(eu.body["metadata"]["labels"]["app.kubernetes.io/managed-by"], "pharos-operator");
  EXPECT_EQ(eu.body["metadata"]["labels"]["pharos.dev/region"], "eu-west");
  EXPECT_EQ(eu.body["metadata"]["labels"]["app.kubernetes.io/instance"], "rel");
  EXPECT_EQ(eu.body["spec"]["selector"]["matchLabels"]["app.kubernetes.io/instance"], "rel");
  const nlohmann::json& pod = eu.body["spec"]["template"]["spec"];
  EXPECT_EQ(pod["nodeSelector"]["topology.kubernetes.io/region"], "eu-west");
  EXPECT_EQ(pod["tolerations"][0]["key"], "dedicated");
  EXPECT_EQ(pod["serviceAccountName"], "rel-pharos-probe");
  EXPECT_EQ(pod["automountServiceAccountToken"], false);
  EXPECT_EQ(pod["imagePullSecrets"][0]["name"], "regcred");
  EXPECT_EQ(pod["securityContext"]["runAsUser"], 65532);
  EXPECT_EQ(pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault");
  const nlohmann::json& container = pod["containers"][0];
  EXPECT_EQ(container["args"][1], url);
  EXPECT_EQ(container["args"].back(), "--log-level=debug");
  EXPECT_EQ(container["ports"][0]["containerPort"], 9191);
  EXPECT_EQ(container["imagePullPolicy"], "IfNotPresent");
  EXPECT_EQ(container["securityContext"]["readOnlyRootFilesystem"], true);
  EXPECT_EQ(container["securityContext"]["capabilities"]["drop"][0], "ALL");
  EXPECT_EQ(container["resources"]["limits"]["memory"], "256Mi");
  EXPECT_EQ(pod["volumes"][0]["secret"]["secretName"], "rel-pharos-probe-token");
  bool managed = false;
  for (const auto& entry : eu.body["metadata"]["managedFields"]) {
    managed = managed || (entry.value("manager", "") == "pharos-operator" &&
                          entry.value("operation", "") == "Apply");
  }
  EXPECT_TRUE(managed);
  const KubeResponse us = client_->Get(daemon_sets, namespace_, "rel-pharos-probe-us-east");
  ASSERT_TRUE(us.ok());
  EXPECT_EQ(us.body["spec"]["template"]["spec"]["nodeSelector"]["example.com/zone"], "us-east-1");

  // Someone edits a field the operator owns: the next apply takes it back (force).
  ASSERT_TRUE(
      client_
          ->Patch(
              daemon_sets, namespace_, "rel-pharos-probe-eu-west", PatchType::kMerge,
              {{"spec",
                {{"template",
                  {{"spec", {{"nodeSelector", {{"topology.kubernetes.io/region", "manual"}}}}}}}}}},
              PatchOptions{})
          .ok());
  // A DaemonSet the operator does not manage must survive.
  nlohmann::json foreign =
      DaemonSetApplier::BuildDaemonSet(*config, config->regions[0], namespace_);
  foreign["metadata"]["name"] = "someone-elses";
  foreign["metadata"]["labels"].erase("app.kubernetes.io/managed-by");
  ASSERT_TRUE(client_->Create(daemon_sets, namespace_, foreign).ok());

  // New image, and us-east removed from the configuration.
  RegionsConfig changed = *config;
  changed.regions.pop_back();
  changed.probe.image = "ghcr.io/pharos/pharos-probe:0.2.0";
  report = applier.Apply(changed);
  ASSERT_TRUE(report.ok()) << report.errors[0];
  EXPECT_EQ(report.applied, std::vector<std::string>{"rel-pharos-probe-eu-west"});
  EXPECT_EQ(report.deleted, std::vector<std::string>{"rel-pharos-probe-us-east"});
  const KubeResponse updated = client_->Get(daemon_sets, namespace_, "rel-pharos-probe-eu-west");
  EXPECT_EQ(updated.body["spec"]["template"]["spec"]["containers"][0]["image"],
            "ghcr.io/pharos/pharos-probe:0.2.0");
  EXPECT_EQ(
      updated.body["spec"]["template"]["spec"]["nodeSelector"]["topology.kubernetes.io/region"],
      "eu-west");
  EXPECT_TRUE(client_->Get(daemon_sets, namespace_, "rel-pharos-probe-us-east").IsNotFound());
  EXPECT_TRUE(client_->Get(daemon_sets, namespace_, "someone-elses").ok());

  // Applying the same again changes nothing.
  const std::string version = JsonStringAt(updated.body, {"metadata", "resourceVersion"});
  ASSERT_TRUE(applier.Apply(changed).ok());
  EXPECT_EQ(JsonStringAt(client_->Get(daemon_sets, namespace_, "rel-pharos-probe-eu-west").body,
                         {"metadata", "resourceVersion"}),
            version);
}

}  // namespace
}  // namespace pharos::e2e
