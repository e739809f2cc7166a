#pragma once

// NotifyCommand: `pharos notify test FILE... --channel NAME` — sends a `test` notification to one
// AlertChannel of the files, at once and once (no outbox, no retries), and prints what the
// receiver answered, so a channel can be checked before anyone needs it. Exit 0 when delivered,
// 1 when the receiver refused it or could not be reached, 2 for bad input (invalid files, no
// such channel).
// Thread-safety: runs once on the main thread.

#include <iosfwd>
#include <string>
#include <vector>

namespace pharos {

class NotifyCommand {
 public:
  NotifyCommand(std::ostream& out, std::ostream& err) : out_(out), err_(err) {}
  int Run(const std::vector<std::string>& args);

 private:
  std::ostream& out_;
  std::ostream& err_;
};

}  // namespace pharos
