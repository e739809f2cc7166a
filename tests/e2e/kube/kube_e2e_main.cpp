// kube_e2e: the Kubernetes client layer against a real kube-apiserver + etcd, started once per
// process by ControlPlaneEnvironment.

#include <gtest/gtest.h>

#include "e2e/kube/control_plane_environment.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  // GoogleTest owns and deletes registered environments (its API takes the raw pointer).
  ::testing::AddGlobalTestEnvironment(
      new pharos::e2e::ControlPlaneEnvironment);  // NOLINT(cppcoreguidelines-owning-memory)
  return RUN_ALL_TESTS();
}
