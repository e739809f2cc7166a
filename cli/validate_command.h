#pragma once

// ValidateCommand: `pharos validate` — the validation the operator applies, with every error
// located as file:line:col: path: message. Exit 0 when valid, 2 otherwise.
// Thread-safety: runs once on the main thread.

#include <iosfwd>
#include <string>
#include <vector>

namespace pharos {

class ValidateCommand {
 public:
  ValidateCommand(std::ostream& out, std::ostream& err) : out_(out), err_(err) {}
  int Run(const std::vector<std::string>& args);

 private:
  std::ostream& out_;
  std::ostream& err_;
};

}  // namespace pharos
