#include "bench/grpc_bench_report.h"

#include <filesystem>
#include <stdexcept>
#include <string_view>
#include <utility>

namespace pharos::bench {
namespace {

bool PositiveCount(std::string_view name, const std::string& text, size_t& value,
                   std::string& error) {
  try {
    size_t used = 0;
    const long long parsed = std::stoll(text, &used);
    if (used == text.size() && parsed > 0) {
      value = static_cast<size_t>(parsed);
      return true;
    }
  } catch (const std::exception&) {
  }
  error = "--" + std::string(name) + " must be a positive integer, got '" + text + "'";
  return false;
}

size_t ThreadCount() {
  std::error_code ec;
  size_t count = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/task", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++count;
  }
  return count;
}

}  // namespace

bool GrpcBenchFlags::Parse(const char* program, int argc, char** argv, GrpcBenchFlags& flags,
                           std::string& error) {
  const std::string usage =
      std::string("usage: ") + program + " --address HOST:PORT --checks N --concurrency C\n";
  for (int i = 1; i < argc; ++i) {
    const std::string_view name = argv[i];
    if (i + 1 >= argc) {
      error = std::string(program) + ": " + std::string(name) + " needs a value\n" + usage;
      return false;
    }
    const std::string value = argv[++i];
    bool ok = true;
    if (name == "--address") {
      flags.address = value;
    } else if (name == "--checks") {
      ok = PositiveCount("checks", value, flags.checks, error);
    } else if (name == "--concurrency") {
      ok = PositiveCount("concurrency", value, flags.concurrency, error);
    } else {
      error = "unknown flag " + std::string(name);
      ok = false;
    }
    if (!ok) {
      error = std::string(program).append(": ").append(error).append("\n").append(usage);
      return false;
    }
  }
  if (flags.address.empty() || flags.checks == 0 || flags.concurrency == 0) {
    error = std::string(program) + ": --address, --checks and --concurrency are required\n" + usage;
    return false;
  }
  return true;
}

GrpcBenchReport::GrpcBenchReport(std::string client, const GrpcBenchFlags& flags)
    : client_(std::move(client)),
      flags_(flags),
      idle_rss_((TrimHeap(), ResidentBytes())),
      cpu_start_(ProcessCpu()),
      start_(std::chrono::steady_clock::now()) {}

void GrpcBenchReport::Count(bool serving, const std::string& error) {
  if (serving) {
    ++serving_;
    return;
  }
  ++failed_;
  if (first_failure_.empty()) first_failure_ = error;
}

nlohmann::json GrpcBenchReport::Finish() {
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const CpuTimes cpu = ProcessCpu() - cpu_start_;
  const size_t threads = ThreadCount();
  TrimHeap();
  return {{"client", client_},
          {"checks", flags_.checks},
          {"concurrency", flags_.concurrency},
          {"serving", serving_},
          {"failed", failed_},
          {"first_failure", first_failure_},
          {"wall_s", wall},
          {"cpu_s", cpu.total()},
          {"threads", threads},
          {"idle_rss_bytes", idle_rss_},
          {"peak_rss_bytes", PeakResidentBytes()},
          {"end_rss_bytes", ResidentBytes()}};
}

}  // namespace pharos::bench
