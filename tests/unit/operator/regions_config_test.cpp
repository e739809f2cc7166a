#include "operator/regions_config.h"

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

TEST(RegionsConfigTest, ParsesRegionsWithDefaults) {
  auto config = RegionsConfig::Parse(R"(
image: ghcr.io/pharos/pharos-probe:0.1.0
imagePullPolicy: IfNotPresent
tokenSecret: {name: probe-token, key: value}
resources:
  requests: {cpu: 50m, memory: 64Mi}
regions:
  - name: eu-west
  - name: us-east
    nodeSelector: {node.example.com/zone: us-east-1}
    tolerations:
      - {key: dedicated, operator: Equal, value: probes, effect: NoSchedule}
      - {operator: Exists, effect: NoExecute, tolerationSeconds: 30}
    resources: {limits: {memory: 256Mi}}
    image: registry.local/probe:dev
    operatorUrl: https://pharos.example.com
)",
                                     "regions.yaml");
  ASSERT_TRUE(config.ok()) << config.error();
  const auto regions = config->WithOperatorUrl("http://pharos-operator.pharos-system.svc:8080");
  ASSERT_EQ(regions.size(), 2u);
  const ProbeRegionConfig& eu = regions[0];
  EXPECT_EQ(eu.name, "eu-west");
  EXPECT_EQ(eu.node_selector,
            (std::map<std::string, std::string>{{"topology.kubernetes.io/region", "eu-west"}}));
  EXPECT_EQ(eu.image, "ghcr.io/pharos/pharos-probe:0.1.0");
  EXPECT_EQ(eu.image_pull_policy, "IfNotPresent");
  EXPECT_EQ(eu.token_secret_name, "probe-token");
  EXPECT_EQ(eu.token_secret_key, "value");
  EXPECT_EQ(eu.resources, (nlohmann::json{{"requests", {{"cpu", "50m"}, {"memory", "64Mi"}}}}));
  EXPECT_EQ(eu.operator_url, "http://pharos-operator.pharos-system.svc:8080");
  EXPECT_TRUE(eu.tolerations.empty());

  const ProbeRegionConfig& us = regions[1];
  EXPECT_EQ(us.node_selector,
            (std::map<std::string, std::string>{{"node.example.com/zone", "us-east-1"}}));
  ASSERT_EQ(us.tolerations.size(), 2u);
  EXPECT_EQ(us.tolerations[0], (nlohmann::json{{"key", "dedicated"},
                                               {"operator", "Equal"},
                                               {"value", "probes"},
                                               {"effect", "NoSchedule"}}));
  EXPECT_EQ(us.tolerations[1]["tolerationSeconds"], 30);
  EXPECT_EQ(us.resources, (nlohmann::json{{"limits", {{"memory", "256Mi"}}}}));
  EXPECT_EQ(us.image, "registry.local/probe:dev");
  EXPECT_EQ(us.operator_url, "https://pharos.example.com");
}

TEST(RegionsConfigTest, RegionLabelChangesTheDefaultSelector) {
  auto config = RegionsConfig::Parse(
      "image: probe:1\nregionLabel: example.com/probe-region\nregions: [{name: lab}]\n", "r.yaml");
  ASSERT_TRUE(config.ok()) << config.error();
  EXPECT_EQ(config->regions()[0].node_selector,
            (std::map<std::string, std::string>{{"example.com/probe-region", "lab"}}));
}

TEST(RegionsConfigTest, ErrorsAreLocated) {
  const auto errors = RegionsConfig::Validate(R"(image: probe:1
regoins: []
regions:
  - name: EU_West
  - name: us-east
  - name: us-east
    tolerations: [{key: a, operator: Maybe}]
  - name: ap-south
    resources: {requests: {cpu: lots}}
    nodeSelector: {"bad key!": x}
  - nodeSelector: {}
  - name: this-region-name-is-far-too-long-to-fit-in-a-daemonset-name
)",
                                              "regions.yaml");
  EXPECT_TRUE(HasError(errors, "regions.yaml:2:1: regoins: unknown field")) << All(errors);
  EXPECT_TRUE(HasError(errors, "regions.yaml:4:11: regions[0].name: \"EU_West\" is not a valid"))
      << All(errors);
  EXPECT_TRUE(
      HasError(errors, "regions.yaml:6:11: regions[2].name: region \"us-east\" is listed twice"))
      << All(errors);
  EXPECT_TRUE(HasError(errors, "regions.yaml:7:38: regions[2].tolerations[0].operator: must be"))
      << All(errors);
  EXPECT_TRUE(HasError(
      errors, "regions.yaml:9:33: regions[3].resources.requests.cpu: \"lots\" is not a quantity"))
      << All(errors);
  EXPECT_TRUE(HasError(errors, "regions[3].nodeSelector[\"bad key!\"]: not a valid label key"))
      << All(errors);
  EXPECT_TRUE(HasError(errors, "regions.yaml:11:5: regions[4]: name is required")) << All(errors);
  EXPECT_TRUE(HasError(errors, "regions[5].name: \"this-region")) << All(errors);
}

TEST(RegionsConfigTest, NeedsAnImageAndRegions) {
  auto no_regions = RegionsConfig::Parse("image: probe:1\n", "r.yaml");
  ASSERT_FALSE(no_regions.ok());
  EXPECT_NE(no_regions.error().find("regions: is required"), std::string::npos)
      << no_regions.error();

  auto no_image = RegionsConfig::Parse("regions: [{name: eu}]\n", "r.yaml");
  ASSERT_FALSE(no_image.ok());
  EXPECT_NE(no_image.error().find("no image"), std::string::npos) << no_image.error();

  auto empty = RegionsConfig::Parse("", "r.yaml");
  ASSERT_FALSE(empty.ok());

  auto broken = RegionsConfig::Parse("regions: [\n", "r.yaml");
  ASSERT_FALSE(broken.ok());
  EXPECT_NE(broken.error().find("r.yaml:"), std::string::npos) << broken.error();

  auto none = RegionsConfig::Parse("image: p:1\nregions: []\n", "r.yaml");
  ASSERT_TRUE(none.ok()) << none.error();
  EXPECT_TRUE(none->regions().empty());
}

TEST(RegionsConfigTest, TolerationRules) {
  const auto errors = RegionsConfig::Validate(R"(image: p:1
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

}  // namespace
}  // namespace pharos
