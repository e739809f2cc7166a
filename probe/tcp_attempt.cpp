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

#include "common/duration.h"
#include "probe/error_text.h"
#include "probe/http_request_plan.h"
#include "probe/tls_certificates.h"
#include "probe/tls_context.h"

namespace pharos {
namespace {

const std::vector<TcpStep>& ConversationOf(const Monitor& monitor) {
  static const std::vector<TcpStep> kNone;
  return monitor.tcp ? monitor.tcp->conversation : kNone;
}

}  // namespace

TcpAttempt::TcpAttempt(const AttemptEnvironment& environment, const Monitor& monitor,
                       std::optional<SocketAddress> pinned, Finish finish)
    : environment_(environment),
      monitor_(monitor),
      pinned_(pinned),
      finish_(std::move(finish)),
      policy_(environment.policy),
      conversation_(ConversationOf(monitor), monitor.tcp && monitor.tcp->tls) {}

TcpAttempt::~TcpAttempt() {
  resolver_.reset();
  CloseSocket();
}

int64_t TcpAttempt::MicrosSince(std::chrono::steady_clock::time_point from) const {
  return std::chrono::duration_cast<std::chrono::microseconds>(environment_.loop.Now() - from)
      .count();
}

const std::string& TcpAttempt::ServerName() const { return server_name_; }

void TcpAttempt::Start() {
  started_ = phase_started_ = environment_.loop.Now();
  if (!monitor_.tcp) {
    Fail("monitor has no tcp section", true);
    return;
  }
  const TcpSpec& spec = *monitor_.tcp;
  // SNI and the name the certificate must carry: serverName, else the Service's in-cluster
  // name, else the host.
  server_name_ = !spec.tls_options.server_name.empty() ? spec.tls_options.server_name.str()
                 : monitor_.service                    ? ServiceHostName(monitor_)
                                                       : spec.host;
  if (pinned_) {
    addresses_.push_back(*pinned_);
    phase_ = Phase::kConnect;
    ConnectNext();
    return;
  }
  if (spec.host.empty()) {
    Fail("monitor has no tcp host", true);
    return;
  }
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
  auto resolver =
      AresChannel::ForTargetLookup(environment_.loop, monitor_.timeout, environment_.resolver);
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
  for (SocketAddress& address : addresses) {
    address.SetPort(monitor_.tcp->port);
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
  connected_at_ = environment_.loop.Now();
  if (monitor_.tcp->tls) {
    StartHandshake();
    return;
  }
  phase_ = Phase::kConversation;
  RunSteps();
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
  const std::string& name = ServerName();
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
    timings_.tls_us += MicrosSince(phase_started_);
    OnHandshakeDone();
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
  timings_.tls_us += MicrosSince(phase_started_);
  const int saved_errno = errno;
  const std::string reason = TakeOpenSslError();
  const std::string where =
      in_starttls_ ? "STARTTLS (" + conversation_.CurrentStepName() + ")" : "TLS";
  if (error == SSL_ERROR_SYSCALL || error == SSL_ERROR_ZERO_RETURN) {
    if (saved_errno == ECONNRESET) {
      Fail(where + ": connection reset by peer during the handshake");
    } else if (saved_errno != 0) {
      Fail(where + ": handshake failed: " + DescribeErrno(saved_errno));
    } else {
      Fail(where + ": connection closed by peer during the handshake");
    }
    return;
  }
  Fail(where + ": handshake failed" + (reason.empty() ? std::string() : ": " + reason));
}

void TcpAttempt::OnHandshakeDone() {
  if (in_starttls_) {
    in_starttls_ = false;
    conversation_.TlsStarted();
  }
  phase_ = Phase::kConversation;
  RunSteps();
}

void TcpAttempt::WaitFor(uint32_t events) {
  Status watched = environment_.loop.Watch(fd_, events, [this](uint32_t) { RunSteps(); });
  if (!watched.ok()) Fail(watched.error(), true);
}

void TcpAttempt::RunSteps() {
  while (!reported_) {
    if (step_timer_ != 0 && timer_step_ != conversation_.step()) {
      environment_.loop.CancelTimer(step_timer_);  // its step is over
      step_timer_ = 0;
    }
    switch (conversation_.Next()) {
      case TcpConversation::Action::kSend: {
        if (out_.empty()) {
          out_ = conversation_.send_text();
          out_sent_ = 0;
        }
        const Io io = Flush();
        if (io == Io::kWait) return WaitFor(want_events_);
        if (io == Io::kFailed) return;
        out_.clear();
        conversation_.Sent();
        break;
      }
      case TcpConversation::Action::kReceive: {
        const std::optional<Millis> timeout = conversation_.step_timeout();
        if (timeout && step_timer_ == 0) {
          const size_t index = conversation_.step();
          timer_step_ = index;
          step_timer_ = environment_.loop.AddTimer(environment_.loop.Now() + *timeout,
                                                   [this, index] { OnStepTimeout(index); });
        }
        const Read read = ReadSome();
        if (read == Read::kFailed) return;
        if (read == Read::kWait) return WaitFor(want_events_);
        if (read == Read::kEnd) conversation_.Closed();
        break;
      }
      case TcpConversation::Action::kStartTls:
        environment_.loop.Unwatch(fd_);
        in_starttls_ = true;
        return StartHandshake();  // OnHandshakeDone moves to the next step
      case TcpConversation::Action::kDone:
        return Succeed();
      case TcpConversation::Action::kFailed:
        return Fail(conversation_.error(), conversation_.probe_fault());
    }
  }
}

TcpAttempt::Io TcpAttempt::Flush() {
  while (out_sent_ < out_.size()) {
    const char* data = out_.data() + out_sent_;
    const size_t size = out_.size() - out_sent_;
    if (ssl_ != nullptr) {
      ERR_clear_error();
      errno = 0;
      const int written = SSL_write(ssl_, data, static_cast<int>(size));
      if (written > 0) {
        out_sent_ += static_cast<size_t>(written);
        continue;
      }
      const int error = SSL_get_error(ssl_, written);
      if (error == SSL_ERROR_WANT_WRITE || error == SSL_ERROR_WANT_READ) {
        want_events_ = error == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT;
        return Io::kWait;
      }
      Fail("TLS write failed in " + conversation_.CurrentStepName() + ": " +
           (errno != 0 ? DescribeErrno(errno) : TakeOpenSslError()));
      return Io::kFailed;
    }
    const ssize_t written = send(fd_, data, size, MSG_NOSIGNAL);
    if (written >= 0) {
      out_sent_ += static_cast<size_t>(written);
      continue;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      want_events_ = EPOLLOUT;
      return Io::kWait;
    }
    if (errno == EINTR) continue;
    Fail("cannot send in " + conversation_.CurrentStepName() + ": " + DescribeErrno(errno));
    return Io::kFailed;
  }
  return Io::kDone;
}

TcpAttempt::Read TcpAttempt::ReadSome() {
  char buffer[4096];
  while (true) {
    const size_t room = std::min(sizeof(buffer), conversation_.room());
    ssize_t received = 0;
    if (ssl_ != nullptr) {
      ERR_clear_error();
      errno = 0;
      const int read = SSL_read(ssl_, buffer, static_cast<int>(room));
      if (read <= 0) {
        const int error = SSL_get_error(ssl_, read);
        if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
          want_events_ = error == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT;
          return Read::kWait;
        }
        if (error == SSL_ERROR_ZERO_RETURN || (error == SSL_ERROR_SYSCALL && errno == 0)) {
          return Read::kEnd;
        }
        Fail("TLS read failed in " + conversation_.CurrentStepName() + ": " +
             (errno != 0 ? DescribeErrno(errno) : TakeOpenSslError()));
        return Read::kFailed;
      }
      received = read;
    } else {
      received = recv(fd_, buffer, room, 0);
      if (received == 0) return Read::kEnd;
      if (received < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          want_events_ = EPOLLIN;
          return Read::kWait;
        }
        if (errno == EINTR) continue;
        Fail("cannot read in " + conversation_.CurrentStepName() + ": " + DescribeErrno(errno));
        return Read::kFailed;
      }
    }
    if (!got_first_byte_) {
      got_first_byte_ = true;
      timings_.first_byte_us = MicrosSince(connected_at_) - timings_.tls_us;
    }
    conversation_.Received(std::string_view(buffer, static_cast<size_t>(received)));
    // One read at a time: the caller looks for a matching line before reading on.
    return Read::kData;
  }
}

void TcpAttempt::OnStepTimeout(size_t step) {
  step_timer_ = 0;
  if (reported_ || step != conversation_.step()) return;
  conversation_.TimedOut();
  Fail(conversation_.error());
}

void TcpAttempt::Succeed() {
  Observation observation;
  observation.timings = timings_;
  observation.timings.total_us = MicrosSince(started_);
  if (got_first_byte_) {
    observation.timings.transfer_us =
        std::max<int64_t>(0, observation.timings.total_us - timings_.dns_us - timings_.connect_us -
                                 timings_.tls_us - timings_.first_byte_us);
  }
  if (ssl_ != nullptr) {
    observation.tls_established = true;
    const CertificateExpiry expiry = PeerChainExpiry(ssl_);
    observation.cert_expiry = expiry.leaf;
    observation.cert_earliest_expiry = expiry.earliest;
    const long verify_result = SSL_get_verify_result(ssl_);
    if (!monitor_.tcp->tls_options.insecure_skip_verify && verify_result != X509_V_OK) {
      observation.error = DescribeTlsVerifyResult(verify_result, ServerName());
    }
  }
  CloseSocket();
  Report(std::move(observation));
}

void TcpAttempt::Fail(std::string message, bool probe_fault) {
  if (reported_) return;
  Observation observation;
  observation.error = std::move(message);
  observation.probe_fault = probe_fault;
  observation.timings = timings_;
  observation.timings.total_us = MicrosSince(started_);
  if (ssl_ != nullptr) {
    const CertificateExpiry expiry = PeerChainExpiry(ssl_);
    observation.cert_expiry = expiry.leaf;
    observation.cert_earliest_expiry = expiry.earliest;
  }
  CloseSocket();
  Report(std::move(observation));
}

Observation TcpAttempt::Abort(std::chrono::milliseconds timeout) {
  if (reported_) return *reported_;
  Observation observation;
  observation.timings = timings_;
  const int64_t in_phase = MicrosSince(phase_started_);
  switch (phase_) {
    case Phase::kDns:
      observation.timings.dns_us = in_phase;
      observation.error = DescribeTimeout(timeout, kPhaseDns);
      break;
    case Phase::kConnect:
      observation.timings.connect_us = in_phase;
      observation.error = DescribeTimeout(timeout, kPhaseConnect);
      break;
    case Phase::kTls:
      observation.timings.tls_us += in_phase;
      observation.error = !in_starttls_ ? DescribeTimeout(timeout, kPhaseTls)
                                        : "timeout after " + FormatDuration(timeout) + " in " +
                                              conversation_.CurrentStepName();
      break;
    case Phase::kConversation:
    case Phase::kDone:
      observation.error = "timeout after " + FormatDuration(timeout) + " in " +
                          conversation_.CurrentStepName() + conversation_.ReceivedText();
      break;
  }
  observation.timings.total_us = MicrosSince(started_);
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
  if (step_timer_ != 0) {
    environment_.loop.CancelTimer(step_timer_);
    step_timer_ = 0;
  }
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
