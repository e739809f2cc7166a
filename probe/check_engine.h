#pragma once

// CheckEngine: runs HTTP, TCP, DNS, ICMP and gRPC checks concurrently on ONE event-loop thread
// ("pharos-checks"): libcurl multi (socket API) for HTTP(S) and gRPC (HTTP/2), non-blocking
// sockets (+ OpenSSL for TLS) for TCP, c-ares for DNS, ICMP sockets for pings. No thread per
// check, a fresh connection per check. A check of every address (resolve: all, a Service's
// endpoints) runs one attempt per address at once (AddressFanOut). Push monitors are not
// checked here (the operator receives their pings): submitting one reports an `error` result.
// Each submitted check runs its retries, evaluates assertions and degradedAfter, and reports one
// CheckResult through its callback. monitor.timeout bounds each attempt (all phases); a check
// with retries can take up to (retries + 1) × timeout. If the engine could not start (no epoll,
// no libcurl), every Submit reports an `error` result at once, on the calling thread.
// Thread-safety: Submit, Drain, InFlight and the destructor may be called from any thread;
// callbacks run on the engine thread and must not block.

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/check_result.h"
#include "common/monitor.h"
#include "common/service_endpoint.h"
#include "common/target_policy.h"
#include "probe/icmp_socket.h"

namespace pharos {

class CheckEngine {
 public:
  struct Options {
    size_t max_concurrency = 512;     // checks in flight at once; more wait in line
    size_t max_body_bytes = 1 << 20;  // response bytes kept for assertions
    int max_redirects = 10;
    std::string user_agent;  // empty = "pharos/<version>"
    std::string ca_file;     // PEM CAs trusted for targets; empty = the system store
    // DNS servers for the targets' host names ("127.0.0.1:5353,[::1]:53"); empty = the
    // system's resolver configuration.
    std::string resolver;
    IcmpSocket::Kind icmp_socket = IcmpSocket::Kind::kAuto;
    // Addresses checks may connect to (--deny-cidr / --allow-cidr on top of the defaults).
    TargetPolicy target_policy;
    // --redact-bodies: a failed header, body or jsonPath assertion reports which assertion
    // failed and what it expected, never what the response held (docs/security.md).
    bool redact_bodies = false;
  };
  using Callback = std::function<void(CheckResult)>;

  explicit CheckEngine(Options options);
  ~CheckEngine();  // finishes nothing: in-flight checks are abandoned; call Drain() first
  CheckEngine(const CheckEngine&) = delete;
  CheckEngine& operator=(const CheckEngine&) = delete;

  // Queues one check of `monitor` (its type decides what is checked). The result has identity
  // fields (namespace, name, uid, generation, type, target, started_at) filled; region, probe,
  // item_id and scheduled_at are the caller's to fill. `endpoints`: the ready endpoints of the
  // monitor's Service (spec.target.service), as the operator knows them; nullopt = unknown.
  void Submit(std::shared_ptr<const Monitor> monitor, Callback done,
              std::optional<std::vector<ServiceEndpoint>> endpoints = std::nullopt);

  // Blocks until every check submitted so far has reported. Never call it from a callback.
  void Drain();

  // Checks submitted and not yet reported: running, or waiting for a free slot.
  size_t InFlight() const;

  // Adds a cluster-wide policy (from the operator) to Options::target_policy for the checks
  // started from now on; an empty policy (defaults only) removes a previous one.
  void SetClusterPolicy(const TargetPolicy& cluster);

 private:
  class Loop;
  std::unique_ptr<Loop> loop_;
};

// Runs every monitor once, results in input order. For `pharos check` and tests.
std::vector<CheckResult> RunChecksOnce(const std::vector<Monitor>& monitors,
                                       CheckEngine::Options options);

}  // namespace pharos
