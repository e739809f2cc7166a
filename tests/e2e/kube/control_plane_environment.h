#pragma once

// ControlPlaneEnvironment: the GoogleTest global environment of kube_e2e. It starts a real
// etcd + kube-apiserver with tests/k8s/control-plane (binaries from $PHAROS_K8S_BIN, else built
// or found by tests/k8s/build-tools) in a temporary folder, with --watch-cache=false so that old
// resource versions really expire (410 Gone), and stops it at the end. When it cannot start
// (missing tools), every test fails in its SetUp with a message saying how to get them: a fatal
// failure here would make GoogleTest report the tests as skipped, which ctest counts as skipped.
// Thread-safety: SetUp/TearDown run on the main thread; the accessors are read-only afterwards.

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "operator/kube/curl_kube_client.h"
#include "operator/kube/kube_config.h"

namespace pharos::e2e {

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs `args` (no shell) and collects its output.
CommandResult RunCommand(const std::vector<std::string>& args);

class ControlPlaneEnvironment : public ::testing::Environment {
 public:
  void SetUp() override;
  void TearDown() override;

  // The running environment (set up before any test runs).
  static ControlPlaneEnvironment& Get();

  // Empty when the control plane is running; otherwise why it is not.
  const std::string& setup_error() const { return setup_error_; }
  const std::string& dir() const { return dir_; }
  const std::string& bin_dir() const { return bin_dir_; }
  // A value from DIR/env: KUBECONFIG_ADMIN, KUBECONFIG_CERT, KUBE_APISERVER_URL, ADMIN_TOKEN...
  std::string Env(const std::string& key) const;

  // A client from the admin (token) kubeconfig, with generous rate limits for tests.
  std::unique_ptr<CurlKubeClient> AdminClient() const;
  // A client from any kubeconfig file.
  static std::unique_ptr<CurlKubeClient> ClientFor(const std::string& kubeconfig);

  // tests/k8s/control-plane restart-apiserver / compact (returns the compacted revision).
  void RestartApiServer() const;
  std::string Compact() const;
  // kubectl with the admin kubeconfig.
  CommandResult Kubectl(const std::vector<std::string>& args) const;

 private:
  // Starts everything; returns what went wrong ("" on success).
  std::string Start();

  std::string setup_error_;
  std::string source_dir_;
  std::string dir_;
  std::string bin_dir_;
  std::map<std::string, std::string> env_;
  bool started_ = false;
};

}  // namespace pharos::e2e
