#pragma once

// DnsAttempt: one query of a dns Monitor (A, AAAA, CNAME, MX, TXT or NS) with c-ares, against
// the system resolver or the monitor's server ("host[:port]"; a host name there is looked up
// first). NXDOMAIN, SERVFAIL and REFUSED become plain errors; an empty answer is not an error
// (the default assertion wants at least one record; an explicit `dnsRecord empty` may want none).
// The server address (a literal, or the first allowed address of its name) is put to the
// TargetPolicy before the query; the system resolver is the probe's own and is not.
// Thread-safety: loop thread only.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/monitor.h"
#include "common/result.h"
#include "probe/ares_channel.h"
#include "probe/check_attempt.h"

namespace pharos {

// A DNS server as given in a Monitor: host (brackets removed) and port.
struct DnsServer {
  std::string host;
  int port = 53;
};
// "10.0.0.2", "10.0.0.2:5353", "[::1]:53", "::1", "ns.example.com:53".
Result<DnsServer> ParseDnsServer(std::string_view text);

class DnsAttempt final : public CheckAttempt {
 public:
  // `monitor` must outlive the attempt.
  DnsAttempt(const AttemptEnvironment& environment, const Monitor& monitor, Finish finish);
  ~DnsAttempt() override = default;

  void Start() override;
  Observation Abort(std::chrono::milliseconds timeout) override;

 private:
  void OnServerLookupDone(int status, const std::vector<SocketAddress>& addresses);
  void Query(const std::string& servers_csv);
  void OnAnswer(int status, const std::vector<unsigned char>& answer);
  void Fail(std::string message, bool probe_fault);
  void Report(Observation observation);
  AresChannel::Options ChannelOptions() const;
  int64_t ElapsedMicros() const;

  const AttemptEnvironment& environment_;
  const Monitor& monitor_;
  Finish finish_;
  const std::shared_ptr<const TargetPolicy> policy_;  // the one in force when the attempt began
  DnsServer server_;
  std::unique_ptr<AresChannel> channel_;
  std::chrono::steady_clock::time_point started_;
  std::optional<Observation> reported_;
};

}  // namespace pharos
