#include "probe/icmp_attempt.h"

#include <ares.h>
#include <sys/epoll.h>

#include <algorithm>
#include <numeric>

#include "common/duration.h"
#include "probe/error_text.h"

namespace pharos {

IcmpAttempt::IcmpAttempt(const AttemptEnvironment& environment, const Monitor& monitor,
                         std::optional<SocketAddress> pinned, Finish finish)
    : environment_(environment), monitor_(monitor), pinned_(pinned), finish_(std::move(finish)) {}

IcmpAttempt::~IcmpAttempt() {
  resolver_.reset();
  Close();
}

int64_t IcmpAttempt::MicrosSince(std::chrono::steady_clock::time_point from) const {
  return std::chrono::duration_cast<std::chrono::microseconds>(environment_.loop.Now() - from)
      .count();
}

void IcmpAttempt::Start() {
  started_ = environment_.loop.Now();
  if (!monitor_.icmp) {
    Fail("monitor has no icmp section", true);
    return;
  }
  if (pinned_) {
    Ping(*pinned_);
    return;
  }
  const IcmpSpec& spec = *monitor_.icmp;
  if (auto literal = ParseIpLiteral(spec.host, 0)) {
    Ping(*literal);
    return;
  }
  auto resolver =
      AresChannel::ForTargetLookup(environment_.loop, monitor_.timeout, environment_.resolver);
  if (!resolver.ok()) {
    Fail(resolver.error(), true);
    return;
  }
  resolver_ = std::move(resolver).value();
  resolving_ = true;
  resolver_->Lookup(spec.host, [this](int status, std::vector<SocketAddress> addresses) {
    OnLookupDone(status, std::move(addresses));
  });
}

void IcmpAttempt::OnLookupDone(int status, std::vector<SocketAddress> addresses) {
  resolving_ = false;
  dns_us_ = MicrosSince(started_);
  const int socket_errno = resolver_->socket_errno();
  resolver_.reset();
  const IcmpSpec& spec = *monitor_.icmp;
  if (status != ARES_SUCCESS || addresses.empty()) {
    if (socket_errno != 0 && status != ARES_ENOTFOUND) {
      Fail("DNS: cannot open a socket: " + DescribeErrno(socket_errno),
           IsProbeResourceError(socket_errno));
      return;
    }
    TransportError error =
        DescribeHostLookupFailure(status == ARES_SUCCESS ? ARES_ENODATA : status, spec.host);
    Fail(std::move(error.message), error.probe_fault);
    return;
  }
  const int wanted = spec.ip_family == IpFamily::kIpv4   ? AF_INET
                     : spec.ip_family == IpFamily::kIpv6 ? AF_INET6
                                                         : AF_UNSPEC;
  const auto found = std::find_if(addresses.begin(), addresses.end(), [&](const SocketAddress& a) {
    return wanted == AF_UNSPEC || a.family() == wanted;
  });
  if (found == addresses.end()) {
    Fail(std::string("DNS: ") + spec.host + " has no " +
             (wanted == AF_INET ? "IPv4 (A)" : "IPv6 (AAAA)") + " address",
         false);
    return;
  }
  Ping(*found);
}

void IcmpAttempt::Ping(const SocketAddress& address) {
  target_ = address;
  // As every check type: the probe's policy judges the exact address before any packet leaves.
  if (auto blocked =
          environment_.policy->Check(reinterpret_cast<const sockaddr*>(&address.storage))) {
    Fail(std::move(*blocked), true);
    return;
  }
  bool resource_error = false;
  Result<IcmpSocket> opened =
      IcmpSocket::Open(address.family(), environment_.icmp_socket, &resource_error);
  if (!opened.ok()) {
    // Not the target's fault either way: the probe is not allowed to ping, or is out of sockets.
    Fail(opened.error(), true);
    return;
  }
  socket_ = std::move(opened).value();
  Status watched =
      environment_.loop.Watch(socket_->fd(), EPOLLIN, [this](uint32_t) { OnReadable(); });
  if (!watched.ok()) {
    Fail(watched.error(), true);
    return;
  }
  SendNext();
}

void IcmpAttempt::SendNext() {
  next_send_ = 0;
  const IcmpSpec& spec = *monitor_.icmp;
  const auto sequence = static_cast<uint16_t>(sent_);
  ++sent_;
  Status sent = socket_->Send(target_, sequence, spec.packet_size);
  if (sent.ok()) {
    outstanding_[sequence] = environment_.loop.Now();
  } else {
    send_error_ = sent.error();  // counted as lost
  }
  if (sent_ < spec.count) {
    next_send_ =
        environment_.loop.AddTimer(environment_.loop.Now() + spec.interval, [this] { SendNext(); });
  } else if (outstanding_.empty()) {
    // Nothing more can arrive.
    if (rtts_us_.empty()) {
      Fail("cannot send echo requests to " + target_.ToString() + ": " + send_error_, false);
    } else {
      Report(Statistics());
    }
  }
}

void IcmpAttempt::OnReadable() {
  while (!reported_) {
    bool would_block = false;
    Result<std::optional<IcmpSocket::Reply>> received = socket_->Receive(&would_block);
    if (!received.ok()) {
      // An ICMP error queued on the socket (unreachable): the request it answers is lost.
      send_error_ = received.error();
      continue;
    }
    if (would_block) return;
    if (!*received) continue;  // someone else's packet
    const auto request = outstanding_.find((*received)->sequence);
    if (request == outstanding_.end()) continue;  // duplicate or late
    rtts_us_.push_back(MicrosSince(request->second));
    outstanding_.erase(request);
    if (sent_ >= monitor_.icmp->count && outstanding_.empty()) {
      Report(Statistics());
      return;
    }
  }
}

Observation IcmpAttempt::Statistics() const {
  Observation observation;
  IcmpStats stats;
  stats.sent = sent_;
  stats.received = static_cast<int>(rtts_us_.size());
  if (!rtts_us_.empty()) {
    stats.rtt_min_us = *std::min_element(rtts_us_.begin(), rtts_us_.end());
    stats.rtt_max_us = *std::max_element(rtts_us_.begin(), rtts_us_.end());
    stats.rtt_avg_us = std::accumulate(rtts_us_.begin(), rtts_us_.end(), int64_t{0}) /
                       static_cast<int64_t>(rtts_us_.size());
  }
  observation.icmp = stats;
  observation.timings.dns_us = dns_us_;
  // The latency of a ping is its round trip, not the time spent waiting between requests.
  observation.timings.total_us = rtts_us_.empty() ? MicrosSince(started_) : stats.rtt_avg_us;
  return observation;
}

void IcmpAttempt::Fail(std::string message, bool probe_fault) {
  Observation observation;
  observation.error = std::move(message);
  observation.probe_fault = probe_fault;
  observation.timings.dns_us = dns_us_;
  observation.timings.total_us = MicrosSince(started_);
  Report(std::move(observation));
}

Observation IcmpAttempt::Abort(std::chrono::milliseconds timeout) {
  if (reported_) return *reported_;
  Observation observation;
  if (resolving_) {
    observation.error = DescribeTimeout(timeout, kPhaseDns);
    observation.timings.dns_us = observation.timings.total_us = MicrosSince(started_);
  } else {
    observation = Statistics();
    if (rtts_us_.empty()) {
      observation.error = "no reply to " + std::to_string(sent_) + " echo request" +
                          (sent_ == 1 ? "" : "s") + " within " + FormatDuration(timeout) +
                          " (100% packet loss)" + (send_error_.empty() ? "" : ": " + send_error_);
    }
  }
  resolver_.reset();
  Close();
  reported_ = observation;
  return observation;
}

void IcmpAttempt::Report(Observation observation) {
  if (reported_) return;
  Close();
  reported_ = observation;
  finish_(std::move(observation));
}

void IcmpAttempt::Close() {
  if (next_send_ != 0) {
    environment_.loop.CancelTimer(next_send_);
    next_send_ = 0;
  }
  if (socket_) {
    environment_.loop.Unwatch(socket_->fd());
    socket_.reset();
  }
}

}  // namespace pharos
