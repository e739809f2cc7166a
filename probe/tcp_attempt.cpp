#include "probe/tcp_attempt.h"

#include <ares.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "probe/error_text.h"
#include "probe/event_loop.h"
#include "probe/tls_certificates.h"
#include "probe/tls_context.h"

namespace pharos {

TcpAttempt::TcpAttempt(const AttemptEnvironment& environment, const Monitor& monitor, Finish finish)
    : environment_(environment),
      monitor_(monitor),
      finish_(std::move(finish)),
      policy_(environment.policy) {}

TcpAttempt::~TcpAttempt() {
  resolver_.reset();
  CloseSocket();
}

int64_t TcpAttempt::MicrosSince(std::chrono::steady_clock::time_point from) const {
  return std::chrono::duration_cast<std::chrono::microseconds>(environment_.loop.Now() - from)
      .count();
}

void TcpAttempt::Start() {
  started_ = phase_started_ = environment_.loop.Now();
  if (!monitor_.tcp || monitor_.tcp->host.empty()) {
    Fail("monitor has no tcp host", true);
    return;
  }
  const TcpSpec& spec = *monitor_.tcp;
  if (spec.port <= 0 || spec.port > 65535) {
    Fail("invalid port " + std::to_string(spec.port), true);
    return;
  }
  if (auto literal = ParseIpLiteral(spec.host, spec.port)) {
    addresses_.push_back(*literal);
    phase_ = Phase::kConnect;
    ConnectNext();
    return;
  }
  AresChannel::Options options = AresChannel::Options::ForCheckTimeout(monitor_.timeout);
  auto resolver = AresChannel::Create(environment_.loop, options);
  if (!resolver.ok()) {
    Fail(resolver.error(), true);
    return;
  }
  resolver_ = std::move(resolver).value();
  resolver_->Lookup(spec.host, [this](int status, std::vector<SocketAddress> addresses) {
    OnLookupDone(status, std::move(addresses));
  });
}

void TcpAttempt::OnLookupDone(int status, std::vector<SocketAddress> addresses) {
  timings_.dns_us = MicrosSince(phase_started_);
  const int socket_errno = resolver_->socket_errno();
  resolver_.reset();
  if (status != ARES_SUCCESS || addresses.empty()) {
    if (socket_errno != 0 && status != ARES_ENOTFOUND) {
      Fail("DNS: cannot open a socket: " + DescribeErrno(socket_errno),
           IsProbeResourceError(socket_errno));
      return;
    }
    TransportError error = DescribeHostLookupFailure(status == ARES_SUCCESS ? ARES_ENODATA : status,
                                                     monitor_.tcp->host);
    Fail(std::move(error.message), error.probe_fault);
    return;
  }
  const auto port = htons(static_cast<uint16_t>(monitor_.tcp->port));
  for (SocketAddress& address : addresses) {
    if (address.family() == AF_INET) {
      reinterpret_cast<sockaddr_in*>(&address.storage)->sin_port = port;
    } else if (address.family() == AF_INET6) {
      reinterpret_cast<sockaddr_in6*>(&address.storage)->sin6_port = port;
    }
  }
  addresses_ = std::move(addresses);
  phase_ = Phase::kConnect;
  phase_started_ = environment_.loop.Now();
  ConnectNext();
}

void TcpAttempt::ConnectNext() {
  CloseSocket();
  if (next_address_ >= addresses_.size()) {
    timings_.connect_us = MicrosSince(phase_started_);
    if (!blocked_reason_.empty()) {
      // The probe refused an address the target has: never Down on the probe's account.
      Fail(blocked_reason_, true);
      return;
    }
    Fail(last_connect_error_.empty() ? "cannot connect" : last_connect_error_,
         last_error_probe_fault_);
    return;
  }
  const SocketAddress& address = addresses_[next_address_++];
  if (auto blocked = policy_->Check(reinterpret_cast<const sockaddr*>(&address.storage))) {
    blocked_reason_ = std::move(*blocked);
    ConnectNext();
    return;
  }
  fd_ = socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
  if (fd_ < 0) {
    const int error = errno;
    Fail("cannot open a socket: " + DescribeErrno(error), IsProbeResourceError(error));
    return;
  }
  const int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (connect(fd_, reinterpret_cast<const sockaddr*>(&address.storage), address.length) == 0) {
    OnConnectReady();
    return;
  }
  if (errno != EINPROGRESS) {
    const TransportError error = DescribeSocketError(errno);
    last_connect_error_ = error.message;
    last_error_probe_fault_ = error.probe_fault;
    ConnectNext();
    return;
  }
  Status watched = environment_.loop.Watch(fd_, EPOLLOUT, [this](uint32_t) { OnConnectReady(); });
  if (!watched.ok()) Fail(watched.error(), true);
}

void TcpAttempt::OnConnectReady() {
  int error = 0;
  socklen_t length = sizeof(error);
  if (getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
  if (error != 0) {
    const TransportError described = DescribeSocketError(error);
    last_connect_error_ = described.message;
    last_error_probe_fault_ = described.probe_fault;
    ConnectNext();
    return;
  }
  sockaddr_storage peer{};
  socklen_t peer_length = sizeof(peer);
  if (getpeername(fd_, reinterpret_cast<sockaddr*>(&peer), &peer_length) != 0) {
    if (errno == ENOTCONN) return;  // not connected yet: a spurious wake-up
  }
  timings_.connect_us = MicrosSince(phase_started_);
  if (!monitor_.tcp->tls) {
    Succeed();
    return;
  }
  StartHandshake();
}

void TcpAttempt::StartHandshake() {
  phase_ = Phase::kTls;
  phase_started_ = environment_.loop.Now();
  if (environment_.tls == nullptr) {
    Fail("TLS is unavailable on the probe: " + environment_.tls_error, true);
    return;
  }
  ERR_clear_error();
  ssl_ = SSL_new(environment_.tls->get());
  if (ssl_ == nullptr || SSL_set_fd(ssl_, fd_) != 1) {
    Fail("cannot start a TLS session: " + TakeOpenSslError(), true);
    return;
  }
  const TcpSpec& spec = *monitor_.tcp;
  const std::string& name =
      spec.tls_options.server_name.empty() ? spec.host : spec.tls_options.server_name.str();
  if (ParseIpLiteral(name, 0)) {
    std::string bare = name;
    if (bare.size() >= 2 && bare.front() == '[') bare = bare.substr(1, bare.size() - 2);
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), bare.c_str());
  } else {
    SSL_set_tlsext_host_name(ssl_, name.c_str());
    SSL_set_hostflags(ssl_, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    SSL_set1_host(ssl_, name.c_str());
  }
  SSL_set_connect_state(ssl_);
  ContinueHandshake();
}

void TcpAttempt::ContinueHandshake() {
  ERR_clear_error();
  errno = 0;
  const int result = SSL_do_handshake(ssl_);
  if (result == 1) {
    timings_.tls_us = MicrosSince(phase_started_);
    Succeed();
    return;
  }
  const int error = SSL_get_error(ssl_, result);
  if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
    const uint32_t events = error == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT;
    Status watched =
        environment_.loop.Watch(fd_, events, [this](uint32_t) { ContinueHandshake(); });
    if (!watched.ok()) Fail(watched.error(), true);
    return;
  }
  timings_.tls_us = MicrosSince(phase_started_);
  const int saved_errno = errno;
  const std::string reason = TakeOpenSslError();
  if (error == SSL_ERROR_SYSCALL || error == SSL_ERROR_ZERO_RETURN) {
    if (saved_errno == ECONNRESET) {
      Fail("TLS: connection reset by peer during the handshake");
    } else if (saved_errno != 0) {
      Fail("TLS: handshake failed: " + DescribeErrno(saved_errno));
    } else {
      Fail("TLS: connection closed by peer during the handshake");
    }
    return;
  }
  Fail("TLS: handshake failed" + (reason.empty() ? std::string() : ": " + reason));
}

void TcpAttempt::Succeed() {
  Observation observation;
  observation.timings = timings_;
  observation.timings.total_us = MicrosSince(started_);
  if (ssl_ != nullptr) {
    observation.tls_established = true;
    const CertificateExpiry expiry = PeerChainExpiry(ssl_);
    observation.cert_expiry = expiry.leaf;
    observation.cert_earliest_expiry = expiry.earliest;
    const long verify_result = SSL_get_verify_result(ssl_);
    const TcpSpec& spec = *monitor_.tcp;
    if (!spec.tls_options.insecure_skip_verify && verify_result != X509_V_OK) {
      const std::string& name =
          spec.tls_options.server_name.empty() ? spec.host : spec.tls_options.server_name.str();
      observation.error = DescribeTlsVerifyResult(verify_result, name);
    }
  }
  CloseSocket();
  Report(std::move(observation));
}

void TcpAttempt::Fail(std::string message, bool probe_fault) {
  Observation observation;
  observation.error = std::move(message);
  observation.probe_fault = probe_fault;
  observation.timings = timings_;
  observation.timings.total_us = MicrosSince(started_);
  CloseSocket();
  Report(std::move(observation));
}

Observation TcpAttempt::Abort(std::chrono::milliseconds timeout) {
  if (reported_) return *reported_;
  Observation observation;
  observation.timings = timings_;
  const int64_t in_phase = MicrosSince(phase_started_);
  const char* phase = kPhaseDns;
  switch (phase_) {
    case Phase::kDns:
      observation.timings.dns_us = in_phase;
      break;
    case Phase::kConnect:
      observation.timings.connect_us = in_phase;
      phase = kPhaseConnect;
      break;
    case Phase::kTls:
    case Phase::kDone:
      observation.timings.tls_us = in_phase;
      phase = kPhaseTls;
      break;
  }
  observation.timings.total_us = MicrosSince(started_);
  observation.error = DescribeTimeout(timeout, phase);
  resolver_.reset();
  CloseSocket();
  reported_ = observation;
  return observation;
}

void TcpAttempt::Report(Observation observation) {
  if (reported_) return;
  phase_ = Phase::kDone;
  reported_ = observation;
  finish_(std::move(observation));
}

void TcpAttempt::CloseSocket() {
  if (ssl_ != nullptr) {
    SSL_free(ssl_);
    ssl_ = nullptr;
  }
  if (fd_ >= 0) {
    environment_.loop.Unwatch(fd_);
    close(fd_);
    fd_ = -1;
  }
}

}  // namespace pharos
