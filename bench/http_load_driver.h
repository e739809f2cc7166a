#pragma once

// HttpLoadDriver: a closed-loop HTTP load generator for the check-throughput benchmark. It keeps
// `concurrency` GET requests to one URL in flight until `requests` have completed, over
// keep-alive connections (as a Prometheus server scraping blackbox_exporter would), and counts
// the responses whose body holds `success_marker` (e.g. "probe_success 1").
// Thread-safety: one Run() at a time per object; uses libcurl multi on the calling thread.

#include <cstddef>
#include <string>

#include "common/result.h"

namespace pharos::bench {

class HttpLoadDriver {
 public:
  struct Options {
    std::string url;
    size_t requests = 0;
    size_t concurrency = 64;
    std::string success_marker;  // empty: every 200 counts as a success
    long timeout_ms = 30'000;    // per request
  };

  struct Report {
    size_t completed = 0;  // requests that got an HTTP response
    size_t succeeded = 0;  // 200 with the success marker
    size_t failed = 0;     // completed but not succeeded
    size_t transport_errors = 0;
    std::string first_failure;  // what the first failure looked like
    double wall_seconds = 0;
  };

  explicit HttpLoadDriver(Options options) : options_(std::move(options)) {}

  Result<Report> Run();

 private:
  Options options_;
};

}  // namespace pharos::bench
