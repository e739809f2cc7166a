#pragma once

// Helpers shared by the kube_e2e tests: a fixture that gives every test an admin client and a
// namespace of its own, polling with a deadline, and object builders.

#include <gtest/gtest.h>

#include <cctype>
#include <chrono>
#include <random>
#include <string>
#include <thread>

#include "e2e/kube/control_plane_environment.h"

namespace pharos::e2e {

// Polls `condition` every 20 ms until it holds or `timeout` passes; returns its last value.
template <typename Condition>
bool Eventually(Condition condition, std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return condition();
}

inline nlohmann::json ConfigMapObject(const std::string& ns, const std::string& name,
                                      const std::string& value = "v") {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", name}, {"namespace", ns}}},
          {"data", {{"key", value}}}};
}

class KubeE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(ControlPlaneEnvironment::Get().setup_error().empty())
        << ControlPlaneEnvironment::Get().setup_error();
    client_ = ControlPlaneEnvironment::Get().AdminClient();
    ASSERT_NE(client_, nullptr);
    namespace_ = NewNamespace();
  }

  // Creates a namespace named after the test, unique per run.
  std::string NewNamespace() {
    std::string name = "e2e-";
    for (char c : std::string(::testing::UnitTest::GetInstance()->current_test_info()->name())) {
      if (name.size() >= 40) break;
      if (std::isupper(static_cast<unsigned char>(c)) && name.back() != '-' && name.size() > 4) {
        name += '-';
      }
      name += std::isalnum(static_cast<unsigned char>(c))
                  ? static_cast<char>(std::tolower(static_cast<unsigned char>(c)))
                  : '-';
    }
    static std::mt19937 random(std::random_device{}());
    name += "-" + std::to_string(random() % 100000);
    const KubeResponse created = client_->Create(
        ApiResource::Namespaces(), "",
        {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", name}}}});
    EXPECT_TRUE(created.ok()) << created.Describe();
    return name;
  }

  ControlPlaneEnvironment& control_plane() { return ControlPlaneEnvironment::Get(); }

  std::unique_ptr<CurlKubeClient> client_;
  std::string namespace_;
};

}  // namespace pharos::e2e
