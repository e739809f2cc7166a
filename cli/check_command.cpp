#include "cli/check_command.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ostream>

#include "cli/result_table.h"
#include "common/check_result_json.h"
#include "common/command_line.h"
#include "common/monitor_loader.h"
#include "probe/check_engine.h"
#include "probe/engine_flags.h"

namespace pharos {
namespace {

constexpr int kExitAllGood = 0;
constexpr int kExitSomeFailed = 1;
constexpr int kExitBadInput = 2;

bool Failed(const CheckResult& result) {
  return result.outcome == Outcome::kDown || result.outcome == Outcome::kError;
}

}  // namespace

int CheckCommand::Run(const std::vector<std::string>& args) {
  CommandLine flags;
  flags.AddFlag("output", 'o', "FORMAT", "table or json", "table");
  flags.AddFlag("concurrency", 'c', "N", "checks in flight at once", "256");
  flags.AddFlag("ca-file", '\0', "FILE",
                "PEM bundle of CAs trusted for TLS checks instead of the system store "
                "(also $PHAROS_CA_FILE)");
  EngineFlags::Add(flags);
  flags.AddSwitch("help", 'h', "show this help");
  if (Status parsed = flags.Parse(args); !parsed.ok()) {
    err_ << "pharos check: " << parsed.error() << "\n";
    return kExitBadInput;
  }
  if (flags.IsSet("help")) {
    out_ << "Usage: pharos check [-o table|json] [--concurrency N] PATH...\n\n"
            "Runs every monitor in PATH (YAML or JSON files, directories recursively) once and\n"
            "prints the results. Suspended monitors are skipped. Exit 0 when no check is down or\n"
            "error, 1 when one is, 2 when the input is invalid (nothing is checked then).\n\n"
            "Flags:\n"
         << flags.FlagsHelp();
    return kExitAllGood;
  }
  const std::string format = flags.Get("output");
  if (format != "table" && format != "json") {
    err_ << "pharos check: --output must be table or json, not \"" << format << "\"\n";
    return kExitBadInput;
  }
  CheckEngine::Options options;
  Result<int64_t> concurrency = flags.GetInteger("concurrency", 1, 100'000);
  if (!concurrency) {
    err_ << "pharos check: " << concurrency.error() << "\n";
    return kExitBadInput;
  }
  options.max_concurrency = static_cast<size_t>(*concurrency);
  if (flags.IsSet("ca-file")) {
    options.ca_file = flags.Get("ca-file");
  } else if (const char* ca_file = std::getenv("PHAROS_CA_FILE"); ca_file != nullptr) {
    options.ca_file = ca_file;
  }
  if (Status engine = EngineFlags::Read(flags, &options); !engine.ok()) {
    err_ << "pharos check: " << engine.error() << "\n";
    return kExitBadInput;
  }
  if (flags.positional().empty()) {
    err_ << "pharos check: no PATH given (see --help)\n";
    return kExitBadInput;
  }

  LoadedMonitors loaded = LoadMonitorFiles(flags.positional());
  if (!loaded.errors.empty()) {
    for (const ValidationError& error : loaded.errors) {
      err_ << error.ToString() << "\n";
    }
    err_ << "pharos check: invalid input, nothing was checked\n";
    return kExitBadInput;
  }
  std::vector<Monitor> active;
  for (Monitor& monitor : loaded.monitors) {
    if (monitor.suspend) {
      err_ << "skipped " << monitor.Key() << ": suspended\n";
    } else {
      active.push_back(std::move(monitor));
    }
  }
  if (active.empty()) {
    err_ << "pharos check: no monitors to check in the given paths\n";
    return kExitBadInput;
  }

  const auto started = std::chrono::steady_clock::now();
  std::vector<CheckResult> results = RunChecksOnce(active, options);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  if (format == "json") {
    nlohmann::json array = nlohmann::json::array();
    for (const CheckResult& result : results) {
      array.push_back(CheckResultToJson(result));
    }
    out_ << array.dump(2) << "\n";
  } else {
    ResultTable table;
    for (size_t i = 0; i < results.size(); ++i) {
      table.Add(active[i], results[i]);
    }
    out_ << table.Render();
  }

  const auto count = [&](Outcome outcome) {
    return std::count_if(results.begin(), results.end(),
                         [&](const CheckResult& result) { return result.outcome == outcome; });
  };
  char summary[160];
  std::snprintf(summary, sizeof summary,
                "%zu checked in %.2fs: %ld up, %ld degraded, %ld down, %ld error\n", results.size(),
                seconds, count(Outcome::kUp), count(Outcome::kDegraded), count(Outcome::kDown),
                count(Outcome::kError));
  err_ << summary;
  return std::any_of(results.begin(), results.end(), Failed) ? kExitSomeFailed : kExitAllGood;
}

}  // namespace pharos
