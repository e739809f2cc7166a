// pharos-operator: the Pharos control plane for Kubernetes (docs/operator.md).

#include <iostream>
#include <string>
#include <vector>

#include "operator/controller/operator_command.h"

int main(int argc, char** argv) {
  return pharos::OperatorCommand(std::cout, std::cerr)
      .Run(std::vector<std::string>(argv + 1, argv + argc));
}
