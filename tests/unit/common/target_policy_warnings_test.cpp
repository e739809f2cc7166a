#include "common/target_policy_warnings.h"

#include <gtest/gtest.h>

namespace pharos {
namespace {

std::string Doc(const std::string& name, const std::string& type, const std::string& spec) {
  return "apiVersion: pharos.dev/v1alpha1\nkind: Monitor\nmetadata:\n  name: " + name +
         "\n  namespace: shop\nspec:\n  type: " + type + "\n  frequency: 1m\n  " + type + ":\n" +
         spec + "---\n";
}

TEST(TargetPolicyWarningsTest, EveryCheckTypesLiteralTargetIsLookedAt) {
  const LoadedMonitors loaded = LoadMonitorsFromText(
      Doc("web", "http", "    url: http://169.254.169.254/latest/meta-data/\n") +
          Doc("db", "tcp", "    host: 169.254.1.1\n    port: 5432\n") +
          Doc("resolver", "dns", "    name: example.com\n    server: '[fe80::1]:53'\n") +
          Doc("ping", "icmp", "    host: 100.100.100.200\n") +
          Doc("orders", "grpc", "    address: '[fd00:ec2::254]:50051'\n") +
          Doc("named", "http", "    url: http://metadata.internal/\n") +
          Doc("local", "icmp", "    host: 127.0.0.1\n"),
      "monitors.yaml");
  ASSERT_TRUE(loaded.errors.empty()) << loaded.errors.front().ToString();
  ASSERT_EQ(loaded.monitors.size(), 7u);
  const std::vector<ValidationError> warnings =
      BlockedTargetWarnings(loaded.monitors, TargetPolicy());
  std::vector<std::string> paths;
  paths.reserve(warnings.size());
  for (const ValidationError& warning : warnings) paths.push_back(warning.path);
  // Names are decided by the probe on the address it connects to, not here; loopback is allowed.
  EXPECT_EQ(paths, (std::vector<std::string>{"spec.http.url", "spec.tcp.host", "spec.dns.server",
                                             "spec.icmp.host", "spec.grpc.address"}));
  EXPECT_NE(warnings[4].message.find("fd00:ec2::254 is blocked"), std::string::npos)
      << warnings[4].message;
}

}  // namespace
}  // namespace pharos
