#pragma once

// RunCommand: `pharos run` — the standalone all-in-one (docs/standalone.md): OperatorCore on a
// SQLite file, the HTTP server (probe API, JSON API, /metrics, health), an in-process probe for
// the local region, and the Monitor files, reloaded on change or SIGHUP. External pharos-probe
// processes may join for other regions with a token from --probe-token-file. SIGINT/SIGTERM
// shut down cleanly: stop leasing, drain in-flight checks, commit every result, close the store.
// Without PATH it runs the first of `default_paths` that exists (./monitors.yaml, then
// /etc/pharos/monitors.d/, the directory of the Debian package and the container image) and
// says which. Exit 0 after a clean shutdown, 1 when it cannot start (database, listen address),
// 2 for bad input (flags, invalid Monitor files, unreadable token file, no PATH and no default).
// Thread-safety: runs once on the main thread, which handles the signals (sigwait); every other
// thread is started with SIGINT, SIGTERM and SIGHUP blocked.

#include <iosfwd>
#include <string>
#include <utility>
#include <vector>

namespace pharos {

class RunCommand {
 public:
  // Where `pharos run` without PATH looks, in order.
  static std::vector<std::string> DefaultPaths() {
    return {"./monitors.yaml", "/etc/pharos/monitors.d"};
  }

  RunCommand(std::ostream& out, std::ostream& err,
             std::vector<std::string> default_paths = DefaultPaths())
      : out_(out), err_(err), default_paths_(std::move(default_paths)) {}
  int Run(const std::vector<std::string>& args);

 private:
  std::ostream& out_;
  std::ostream& err_;
  std::vector<std::string> default_paths_;
};

}  // namespace pharos
