#pragma once

// CheckCommand: `pharos check` — runs every monitor in the given files once and prints the
// results as a table or JSON. Exit 0 when none is down/error, 1 when one is, 2 for bad input.
// Thread-safety: runs once on the main thread.

#include <iosfwd>
#include <string>
#include <vector>

namespace pharos {

class CheckCommand {
 public:
  CheckCommand(std::ostream& out, std::ostream& err) : out_(out), err_(err) {}
  int Run(const std::vector<std::string>& args);

 private:
  std::ostream& out_;
  std::ostream& err_;
};

}  // namespace pharos
