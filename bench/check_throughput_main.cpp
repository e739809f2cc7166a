// pharos-bench-checks: the two measuring halves of bench/check_throughput (see BENCHMARKS.md).
//
//   pharos-bench-checks pharos --url URL --checks N --concurrency C [--warmup W]
//       Runs N HTTP checks of URL (a fresh connection each) through CheckEngine with at most C in
//       flight, after W warm-up checks, and prints one JSON line: wall seconds, checks/s and this
//       process's CPU seconds (getrusage, every thread) spent in the measured window.
//   pharos-bench-checks drive --url URL --requests N --concurrency C [--marker TEXT]
//       Keeps C requests to URL in flight until N completed (keep-alive connections) and prints
//       one JSON line with the counts and this driver's own CPU; used to drive blackbox_exporter's
//       /probe endpoint as hard as it goes.

#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench/http_load_driver.h"
#include "bench/process_stats.h"
#include "common/command_line.h"
#include "common/monitor.h"
#include "probe/check_engine.h"

namespace pharos::bench {
namespace {

constexpr const char* kUsage =
    "usage: pharos-bench-checks pharos --url URL --checks N --concurrency C [--warmup W]\n"
    "       pharos-bench-checks drive --url URL --requests N --concurrency C [--marker TEXT]\n";

Result<size_t> PositiveCount(const CommandLine& flags, const std::string& name) {
  const std::string text = flags.Get(name);
  try {
    size_t used = 0;
    const long long value = std::stoll(text, &used);
    if (used == text.size() && value > 0) {
      return static_cast<size_t>(value);
    }
  } catch (const std::exception&) {
  }
  return Error{"--" + name + " must be a positive integer, got '" + text + "'"};
}

// Outcome tallies of one batch of checks; written on the engine thread, read after Drain().
struct Tally {
  std::mutex mu;
  size_t up = 0;
  size_t not_up = 0;
  std::string first_failure;
};

void RunBatch(CheckEngine& engine, const std::shared_ptr<const Monitor>& monitor, size_t count,
              Tally& tally) {
  for (size_t i = 0; i < count; ++i) {
    engine.Submit(monitor, [&tally](const CheckResult& result) {
      std::lock_guard lock(tally.mu);
      if (result.outcome == Outcome::kUp) {
        ++tally.up;
      } else {
        ++tally.not_up;
        if (tally.first_failure.empty()) {
          tally.first_failure = std::string(ToString(result.outcome)) + ": " + result.error +
                                " (status " + std::to_string(result.status_code) + ")";
        }
      }
    });
  }
  engine.Drain();
}

int RunPharos(const CommandLine& flags) {
  auto checks = PositiveCount(flags, "checks");
  auto concurrency = PositiveCount(flags, "concurrency");
  auto warmup = PositiveCount(flags, "warmup");
  for (const auto* parsed : {&checks, &concurrency, &warmup}) {
    if (!parsed->ok()) {
      std::cerr << "pharos-bench-checks: " << parsed->error() << "\n";
      return 2;
    }
  }
  auto monitor = std::make_shared<Monitor>();
  monitor->name = "bench-target";
  monitor->uid = "bench-target";
  monitor->type = MonitorType::kHttp;
  monitor->timeout = Millis(10'000);
  monitor->http = HttpSpec{};
  monitor->http->url = flags.Get("url");

  CheckEngine::Options options;
  options.max_concurrency = *concurrency;
  CheckEngine engine(options);

  Tally warm;
  RunBatch(engine, monitor, *warmup, warm);

  Tally tally;
  const CpuTimes cpu_before = ProcessCpu();
  const auto begin = std::chrono::steady_clock::now();
  RunBatch(engine, monitor, *checks, tally);
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
  const CpuTimes cpu = ProcessCpu() - cpu_before;

  nlohmann::json out{{"side", "pharos"},
                     {"checks", *checks},
                     {"concurrency", *concurrency},
                     {"warmup", *warmup},
                     {"warmup_up", warm.up},
                     {"up", tally.up},
                     {"failed", tally.not_up},
                     {"first_failure", tally.first_failure},
                     {"wall_s", wall},
                     {"cpu_user_s", cpu.user_s},
                     {"cpu_sys_s", cpu.system_s},
                     {"cpu_s", cpu.total()}};
  std::cout << out.dump() << std::endl;
  return tally.not_up == 0 ? 0 : 1;
}

int RunDriver(const CommandLine& flags) {
  auto requests = PositiveCount(flags, "requests");
  auto concurrency = PositiveCount(flags, "concurrency");
  for (const auto* parsed : {&requests, &concurrency}) {
    if (!parsed->ok()) {
      std::cerr << "pharos-bench-checks: " << parsed->error() << "\n";
      return 2;
    }
  }
  HttpLoadDriver driver({flags.Get("url"), *requests, *concurrency, flags.Get("marker")});
  const CpuTimes cpu_before = ProcessCpu();
  auto report = driver.Run();
  const CpuTimes cpu = ProcessCpu() - cpu_before;
  if (!report.ok()) {
    std::cerr << "pharos-bench-checks: " << report.error() << "\n";
    return 2;
  }
  nlohmann::json out{{"side", "driver"},
                     {"requests", *requests},
                     {"concurrency", *concurrency},
                     {"completed", report->completed},
                     {"succeeded", report->succeeded},
                     {"failed", report->failed + report->transport_errors},
                     {"first_failure", report->first_failure},
                     {"wall_s", report->wall_seconds},
                     {"driver_cpu_s", cpu.total()}};
  std::cout << out.dump() << std::endl;
  return report->succeeded == *requests ? 0 : 1;
}

int Main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << kUsage;
    return 2;
  }
  const std::string mode = argv[1];
  CommandLine flags;
  flags.AddFlag("url", '\0', "URL", "what to request");
  flags.AddFlag("checks", '\0', "N", "checks to measure (pharos)", "20000");
  flags.AddFlag("warmup", '\0', "N", "checks before measuring (pharos)", "200");
  flags.AddFlag("requests", '\0', "N", "requests to complete (drive)", "20000");
  flags.AddFlag("concurrency", '\0', "C", "requests or checks in flight", "64");
  flags.AddFlag("marker", '\0', "TEXT", "body text that marks a success (drive)");
  const Status parsed = flags.Parse(std::vector<std::string>(argv + 2, argv + argc));
  if (!parsed.ok() || flags.Get("url").empty()) {
    std::cerr << "pharos-bench-checks: "
              << (parsed.ok() ? std::string("--url is required") : parsed.error()) << "\n"
              << kUsage << flags.FlagsHelp();
    return 2;
  }
  if (mode == "pharos") {
    return RunPharos(flags);
  }
  if (mode == "drive") {
    return RunDriver(flags);
  }
  std::cerr << "pharos-bench-checks: unknown mode '" << mode << "'\n" << kUsage;
  return 2;
}

}  // namespace
}  // namespace pharos::bench

int main(int argc, char** argv) { return pharos::bench::Main(argc, argv); }
