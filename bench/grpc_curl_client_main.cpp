// pharos-bench-grpc-curl: the probe's own gRPC health check (libcurl HTTP/2, no gRPC library)
// measured for memory, one half of bench/grpc_memory (see BENCHMARKS.md).
//
//   pharos-bench-grpc-curl --address HOST:PORT --checks N --concurrency C
//
// Runs N grpc.health.v1.Health/Check calls (a fresh connection each, as a probe's check does)
// through CheckEngine with at most C in flight and prints one JSON line: results, wall and CPU
// seconds, and this process's resident memory when idle after start-up, at its peak and after
// the checks.

#include <iostream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench/grpc_bench_report.h"
#include "bench/process_stats.h"
#include "common/monitor.h"
#include "probe/check_engine.h"

namespace pharos::bench {
namespace {

int Main(int argc, char** argv) {
  GrpcBenchFlags flags;
  std::string error;
  if (!GrpcBenchFlags::Parse("pharos-bench-grpc-curl", argc, argv, flags, error)) {
    std::cerr << error;
    return 2;
  }
  auto monitor = std::make_shared<Monitor>();
  monitor->name = "bench-grpc";
  monitor->uid = "bench-grpc";
  monitor->type = MonitorType::kGrpc;
  monitor->timeout = Millis(10'000);
  monitor->grpc = GrpcSpec{};
  monitor->grpc->address = flags.address;

  CheckEngine::Options options;
  options.max_concurrency = flags.concurrency;
  CheckEngine engine(options);
  GrpcBenchReport report("curl", flags);

  std::mutex mu;
  for (size_t i = 0; i < flags.checks; ++i) {
    engine.Submit(monitor, [&](const CheckResult& result) {
      std::lock_guard lock(mu);
      report.Count(result.outcome == Outcome::kUp, result.error);
    });
  }
  engine.Drain();
  std::cout << report.Finish().dump() << std::endl;
  return report.all_serving() ? 0 : 1;
}

}  // namespace
}  // namespace pharos::bench

int main(int argc, char** argv) { return pharos::bench::Main(argc, argv); }
