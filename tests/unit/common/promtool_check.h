#pragma once

// PromtoolCheckMetrics: what Prometheus' own parser and linter (`promtool check metrics`) say
// about an exposition, for tests that must satisfy the real thing and not only our expectations.

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

namespace pharos {

struct PromtoolVerdict {
  bool found = false;   // promtool is installed (the Debian package "prometheus": scripts/setup)
  bool passed = false;  // exit status 0
  std::string output;   // its findings; empty when the exposition is clean
};

inline PromtoolVerdict PromtoolCheckMetrics(const std::string& exposition) {
  PromtoolVerdict verdict;
  std::string promtool;
  for (const char* candidate : {"/usr/bin/promtool", "/usr/local/bin/promtool"}) {
    if (std::filesystem::exists(candidate)) promtool = candidate;
  }
  if (promtool.empty()) return verdict;
  verdict.found = true;
  const std::filesystem::path input = std::filesystem::temp_directory_path() /
                                      ("pharos_promtool_" + std::to_string(getpid()) + ".txt");
  std::ofstream(input) << exposition;
  const std::string command = promtool + " check metrics < " + input.string() + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe != nullptr) {
    char buffer[4096];
    while (size_t n = fread(buffer, 1, sizeof(buffer), pipe)) verdict.output.append(buffer, n);
    const int status = pclose(pipe);
    verdict.passed = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  } else {
    verdict.output = "could not run " + command;
  }
  std::filesystem::remove(input);
  return verdict;
}

}  // namespace pharos
