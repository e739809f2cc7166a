#include "operator/controller/probe_fleet.h"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <set>
#include <string>
#include <thread>

#include "unit/eventually.h"
#include "unit/operator/kube/fake_kube_client.h"

namespace pharos {
namespace {

using testing::FakeKubeClient;

std::string WriteFile(const std::string& name, const std::string& text) {
  std::string path = ::testing::TempDir() + "/probe-fleet-" + name;
  std::ofstream(path, std::ios::trunc) << text;
  return path;
}

using ::pharos::testing::Eventually;  // the fleet works on its own thread

std::set<std::string> StoredDaemonSets(const FakeKubeClient& client) {
  std::set<std::string> names;
  for (const char* region : {"eu-west", "us-east", "ap-south"}) {
    const std::string name = std::string("pharos-probe-") + region;
    if (client.Stored(ApiResource::DaemonSets(), "pharos-system", name)) names.insert(name);
  }
  return names;
}

TEST(ProbeFleetTest, CommandLineDefaultsFillInOnlyWhatTheFileLeavesOut) {
  const RegionsConfigDefaults flags{"registry/probe:flag", "http://flag:8080"};
  const std::string without = WriteFile("no-image.yaml", "regions:\n  - name: eu-west\n");
  Result<RegionsConfig> config = ProbeFleet::LoadConfig(without, flags);
  ASSERT_TRUE(config) << config.error();
  EXPECT_EQ(config->probe.image, "registry/probe:flag");
  EXPECT_EQ(config->operator_url, "http://flag:8080");
  // Without --probe-image the file must name one, and the error says so.
  Result<RegionsConfig> missing =
      ProbeFleet::LoadConfig(without, RegionsConfigDefaults{"", "http://flag:8080"});
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().find("probe.image"), std::string::npos) << missing.error();

  const std::string with = WriteFile(
      "image.yaml",
      "operatorUrl: http://file\nprobe: {image: registry/probe:file}\nregions: [{name: eu}]\n");
  config = ProbeFleet::LoadConfig(with, flags);
  ASSERT_TRUE(config) << config.error();
  EXPECT_EQ(config->probe.image, "registry/probe:file");
  EXPECT_EQ(config->operator_url, "http://file");

  EXPECT_FALSE(ProbeFleet::LoadConfig(::testing::TempDir() + "/does-not-exist.yaml", flags));
}

TEST(ProbeFleetTest, AppliesOnlyWhileLeadingAndFollowsFileChanges) {
  const std::string path =
      WriteFile("fleet.yaml",
                "probe: {image: registry/probe:1}\nregions: [{name: eu-west}, {name: us-east}]\n");
  FakeKubeClient client;
  ProbeFleet::Options options;
  options.config_path = path;
  options.namespace_name = "pharos-system";
  options.defaults.operator_url = "http://pharos.pharos-system.svc:8080";
  options.poll_interval = std::chrono::milliseconds(20);
  ProbeFleet fleet(client, options, ProbeFleet::LoadConfig(path, options.defaults).value());
  fleet.Start();

  // A standby follows the file but never touches the DaemonSets.
  WriteFile("fleet.yaml",
            "probe: {image: registry/probe:1b}\nregions: [{name: eu-west}, {name: us-east}]\n");
  ASSERT_TRUE(Eventually([&] { return fleet.stats().reloads == 1; }));
  EXPECT_TRUE(client.Calls("patch").empty());

  fleet.SetLeader(true);
  ASSERT_TRUE(Eventually([&] {
    return StoredDaemonSets(client) ==
           std::set<std::string>{"pharos-probe-eu-west", "pharos-probe-us-east"};
  }));
  // The DaemonSets are stored before the fleet counts its pass as done.
  ASSERT_TRUE(Eventually([&] { return fleet.stats().applies >= 1; }));
  EXPECT_EQ(fleet.stats().applies, 1);
  // The token Secret was looked for (it is missing here: a warning, not a failure).
  EXPECT_FALSE(client.Calls("get").empty());

  // us-east removed, ap-south added, new image: applied without restarting anything.
  WriteFile("fleet.yaml",
            "probe: {image: registry/probe:2}\nregions: [{name: eu-west}, {name: ap-south}]\n");
  ASSERT_TRUE(Eventually([&] {
    return StoredDaemonSets(client) ==
           std::set<std::string>{"pharos-probe-eu-west", "pharos-probe-ap-south"};
  }));
  const auto eu = client.Stored(ApiResource::DaemonSets(), "pharos-system", "pharos-probe-eu-west");
  EXPECT_EQ((*eu)["spec"]["template"]["spec"]["containers"][0]["image"], "registry/probe:2");
  EXPECT_EQ(fleet.stats().regions, 2u);

  // An invalid edit keeps the last good configuration.
  WriteFile("fleet.yaml", "probe: {image: p:4}\nregions: [{name: Not_A_Label}]\n");
  ASSERT_TRUE(Eventually([&] { return fleet.stats().invalid_reloads == 1; }));
  EXPECT_EQ(fleet.stats().regions, 2u);

  // Losing the lead stops applying: a later change is not applied.
  fleet.SetLeader(false);
  const size_t patches = client.Calls("patch").size();
  WriteFile("fleet.yaml", "probe: {image: registry/probe:3}\nregions: [{name: eu-west}]\n");
  ASSERT_TRUE(Eventually([&] { return fleet.stats().reloads == 3; }));
  EXPECT_EQ(client.Calls("patch").size(), patches);
  fleet.Stop();
}

}  // namespace
}  // namespace pharos
