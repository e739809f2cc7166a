#pragma once

// GrpcBenchReport: what bench/grpc_memory's two clients (the probe's libcurl call and a libgrpc++
// call) print, measured the same way: resident memory when idle after start-up, at the peak
// (VmHWM) and after the calls, wall and CPU seconds, and how many calls found the server
// SERVING. GrpcBenchFlags: their shared command line. Neither uses Pharos' libraries, so the
// libgrpc++ client maps nothing of Pharos. Thread-safety: none; one thread uses a report.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "bench/process_stats.h"

namespace pharos::bench {

struct GrpcBenchFlags {
  std::string address;  // host:port of the health server
  size_t checks = 0;
  size_t concurrency = 0;

  // `--address HOST:PORT --checks N --concurrency C`; on error the message with the usage.
  static bool Parse(const char* program, int argc, char** argv, GrpcBenchFlags& flags,
                    std::string& error);
};

class GrpcBenchReport {
 public:
  // Records the idle memory and the start of the measured window.
  GrpcBenchReport(std::string client, const GrpcBenchFlags& flags);

  void Count(bool serving, const std::string& error);
  bool all_serving() const { return serving_ == flags_.checks; }
  // Ends the window and returns the JSON line.
  nlohmann::json Finish();

 private:
  const std::string client_;
  const GrpcBenchFlags flags_;
  const int64_t idle_rss_;
  const CpuTimes cpu_start_;
  const std::chrono::steady_clock::time_point start_;
  size_t serving_ = 0;
  size_t failed_ = 0;
  std::string first_failure_;
};

}  // namespace pharos::bench
