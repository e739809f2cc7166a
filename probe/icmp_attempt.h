#pragma once

// IcmpAttempt: one ping of an icmp Monitor: spec.icmp.count echo requests to one address of the
// host, spec.icmp.interval apart, each with packetSize bytes of payload, over an IcmpSocket
// (datagram or raw, AttemptEnvironment::icmp_socket). It reports when every reply is in, or when
// the engine's deadline ends the wait: packets sent and received and the round trips
// (IcmpStats), with the average round trip as the check's total time. No reply at all is a
// transport error ("100% packet loss"); some loss is a statistic for packetLoss assertions.
// The host is looked up with c-ares (the first address of spec.icmp.ipFamily) unless it is an
// IP literal or the attempt is pinned to one address.
// Thread-safety: loop thread only.

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/monitor.h"
#include "probe/ares_channel.h"
#include "probe/check_attempt.h"
#include "probe/event_loop.h"
#include "probe/icmp_socket.h"

namespace pharos {

class IcmpAttempt final : public CheckAttempt {
 public:
  // `monitor` must outlive the attempt.
  IcmpAttempt(const AttemptEnvironment& environment, const Monitor& monitor,
              std::optional<SocketAddress> pinned, Finish finish);
  ~IcmpAttempt() override;

  void Start() override;
  Observation Abort(std::chrono::milliseconds timeout) override;

 private:
  void OnLookupDone(int status, std::vector<SocketAddress> addresses);
  void Ping(const SocketAddress& address);
  void SendNext();
  void OnReadable();
  Observation Statistics() const;
  void Fail(std::string message, bool probe_fault);
  void Report(Observation observation);
  void Close();
  int64_t MicrosSince(std::chrono::steady_clock::time_point from) const;

  const AttemptEnvironment& environment_;
  const Monitor& monitor_;
  const std::optional<SocketAddress> pinned_;
  Finish finish_;

  std::unique_ptr<AresChannel> resolver_;
  std::optional<IcmpSocket> socket_;
  SocketAddress target_;
  EventLoop::TimerId next_send_ = 0;
  int sent_ = 0;
  std::map<uint16_t, std::chrono::steady_clock::time_point> outstanding_;  // by sequence
  std::vector<int64_t> rtts_us_;
  std::string send_error_;  // of the last echo request that could not be sent

  std::chrono::steady_clock::time_point started_;
  int64_t dns_us_ = 0;
  bool resolving_ = false;
  std::optional<Observation> reported_;
};

}  // namespace pharos
