// pharos: the command-line front of Pharos — check, validate, run, notify.

#include <iostream>
#include <string>
#include <vector>

#include "cli/check_command.h"
#include "cli/notify_command.h"
#include "cli/run_command.h"
#include "cli/validate_command.h"
#include "common/version.h"

namespace {

constexpr const char* kUsage =
    "Usage: pharos COMMAND [FLAGS] PATH...\n\n"
    "Commands:\n"
    "  run        run Pharos standalone: schedule, check, store, serve the API and /metrics\n"
    "  check      run every monitor once and print the results (exit 1 when any fails)\n"
    "  validate   check Monitor files and print every error with file:line:col\n"
    "  notify     `notify test PATH... --channel NAME`: send a test notification to a channel\n\n"
    "Flags:\n"
    "  -h, --help     show help (also `pharos COMMAND --help`)\n"
    "  --version      print the version\n";

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::cerr << kUsage;
    return 2;
  }
  const std::string command = args.front();
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (command == "--help" || command == "-h" || command == "help") {
    std::cout << kUsage;
    return 0;
  }
  if (command == "--version" || command == "version") {
    std::cout << "pharos " << pharos::kVersion << "\n";
    return 0;
  }
  if (command == "check") {
    return pharos::CheckCommand(std::cout, std::cerr).Run(rest);
  }
  if (command == "run") {
    return pharos::RunCommand(std::cout, std::cerr).Run(rest);
  }
  if (command == "notify") {
    return pharos::NotifyCommand(std::cout, std::cerr).Run(rest);
  }
  if (command == "validate") {
    return pharos::ValidateCommand(std::cout, std::cerr).Run(rest);
  }
  std::cerr << "pharos: unknown command \"" << command << "\"\n\n" << kUsage;
  return 2;
}
