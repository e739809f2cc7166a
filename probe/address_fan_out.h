#pragma once

// AddressFanOut: the check of every address of a target (docs/monitor-reference.md, "Every
// address"): every A and AAAA address its host resolves to (resolve: all), or every ready
// endpoint of its Service as the operator handed them over (spec.target.service). Each address
// is checked by an attempt of its own, all at once, pinned to that address (HTTP keeps the
// URL's Host, SNI and certificate name); each one's observation is judged on its own by the
// AssertionEvaluator into an AddressResult. The fan-out reports one Observation: the address
// results, and the fields of the address that stands for them under the monitor's
// addressQuorum (AddressVerdict): the first failing one when the verdict fails, else the
// slowest. At most kMaxAddresses addresses are checked (the first ones, in resolver or
// EndpointSlice order), each with a socket of its own.
// Thread-safety: loop thread only.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/monitor.h"
#include "common/service_endpoint.h"
#include "probe/ares_channel.h"
#include "probe/check_attempt.h"

namespace pharos {

class AddressFanOut final : public CheckAttempt {
 public:
  static constexpr size_t kMaxAddresses = 256;

  // One address to check.
  struct Target {
    SocketAddress address;  // with the port to connect to (where the check type has one)
    std::string label;      // "127.0.0.2", "10.1.2.3:8080"
    std::optional<ServiceEndpoint> endpoint;
  };
  using MakeAttempt = std::function<std::unique_ptr<CheckAttempt>(const Target&, Finish)>;

  // `monitor` must outlive the attempt; `endpoints` are the Service's (nullopt: not known).
  AddressFanOut(const AttemptEnvironment& environment, const Monitor& monitor,
                std::optional<std::vector<ServiceEndpoint>> endpoints, MakeAttempt make,
                Finish finish);
  ~AddressFanOut() override;

  void Start() override;
  Observation Abort(std::chrono::milliseconds timeout) override;

  // The host and port spec.http/tcp/grpc/icmp names (port 0 when the type has none, or for
  // http, whose attempt takes its port from the URL).
  static Result<std::pair<std::string, int>> HostAndPort(const Monitor& monitor);

 private:
  struct Check {
    Target target;
    std::unique_ptr<CheckAttempt> attempt;
    std::optional<Observation> observation;
  };

  void OnLookupDone(int status, std::vector<SocketAddress> addresses);
  void CheckAll(std::vector<Target> targets);
  void OnAddressDone(size_t index, Observation observation);
  Observation Combine();
  void Fail(std::string message, bool probe_fault);
  void Report(Observation observation);

  const AttemptEnvironment& environment_;
  const Monitor& monitor_;
  const std::optional<std::vector<ServiceEndpoint>> endpoints_;
  MakeAttempt make_;
  Finish finish_;

  std::unique_ptr<AresChannel> resolver_;
  int port_ = 0;
  std::string host_;
  std::vector<Check> checks_;
  size_t pending_ = 0;
  std::chrono::steady_clock::time_point started_;
  int64_t dns_us_ = 0;
  // Shared with posted completions, which check it so nothing runs after destruction.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::optional<Observation> reported_;
};

}  // namespace pharos
