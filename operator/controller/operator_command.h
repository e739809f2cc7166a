#pragma once

// OperatorCommand: the command line of pharos-operator (docs/operator.md): parses and checks the
// flags, sets up logging, finds the Kubernetes configuration (--kubeconfig, else $KUBECONFIG,
// else the in-cluster service account), runs a KubeOperator until SIGINT/SIGTERM (SIGHUP reloads
// the probe tokens and the regions config). Exit 0 after a clean shutdown, 1 when it cannot start
// (database, listen address, Kubernetes configuration), 2 for bad input (flags, files).
// Thread-safety: Run once, on the main thread, which handles the signals (sigwait); every other
// thread is started with SIGINT, SIGTERM and SIGHUP blocked.

#include <iosfwd>
#include <string>
#include <vector>

#include "common/result.h"
#include "operator/controller/kube_operator.h"
#include "operator/kube/kube_config.h"

namespace pharos {

class OperatorCommand {
 public:
  OperatorCommand(std::ostream& out, std::ostream& err) : out_(out), err_(err) {}
  int Run(const std::vector<std::string>& args);

  // What the flags ask for, checked (exposed for tests).
  struct Parsed {
    bool help = false;
    bool version = false;
    std::string help_text;
    KubeConfigLoadOptions kube;
    KubeOperatorOptions options;
    std::string log_format = "auto";
    std::string log_level = "info";
  };
  static Result<Parsed> Parse(const std::vector<std::string>& args);

 private:
  std::ostream& out_;
  std::ostream& err_;
};

}  // namespace pharos
