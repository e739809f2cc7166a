#pragma once

// TcpAttempt: one TCP connect of a tcp Monitor, optionally followed by a TLS handshake
// (non-blocking OpenSSL, SNI = serverName or host, certificate and host name checked unless
// insecureSkipVerify) and by the monitor's conversation: its steps in order — send text, read
// lines until one contains a text or matches a regular expression (each expect with its own
// timeout), STARTTLS (a handshake on the open connection). What to send, whether a line matches
// and when to start TLS is TcpConversation's to decide; this class does the I/O and timers. The
// host is looked up with c-ares unless it is an IP literal or the attempt is pinned to one address
// (resolve: all, a Service endpoint); addresses are tried in order until one connects. Certificate
// expiry is recorded even when verification fails or is skipped. Each address is put to the
// TargetPolicy before connecting; when every address is refused (or the others fail), the check is
// an `error` naming the refused address. Thread-safety: loop thread only.

#include <openssl/ssl.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/monitor.h"
#include "probe/ares_channel.h"
#include "probe/check_attempt.h"
#include "probe/event_loop.h"
#include "probe/tcp_conversation.h"

namespace pharos {

class TcpAttempt final : public CheckAttempt {
 public:
  // `monitor` must outlive the attempt. `pinned`: the one address to connect to (with its
  // port), instead of spec.tcp.host and port.
  TcpAttempt(const AttemptEnvironment& environment, const Monitor& monitor,
             std::optional<SocketAddress> pinned, Finish finish);
  ~TcpAttempt() override;

  void Start() override;
  Observation Abort(std::chrono::milliseconds timeout) override;

 private:
  enum class Phase { kDns, kConnect, kTls, kConversation, kDone };
  enum class Io { kDone, kWait, kFailed };
  enum class Read { kData, kWait, kEnd, kFailed };

  void OnLookupDone(int status, std::vector<SocketAddress> addresses);
  void ConnectNext();
  void OnConnectReady();
  void StartHandshake();
  void ContinueHandshake();
  void OnHandshakeDone();
  // Does what the conversation asks until it has to wait, is done or failed.
  void RunSteps();
  Io Flush();       // writes out_ from out_sent_
  Read ReadSome();  // hands one read's worth to the conversation
  void WaitFor(uint32_t events);
  void OnStepTimeout(size_t step);
  void CloseSocket();
  void Fail(std::string message, bool probe_fault = false);
  void Succeed();
  void Report(Observation observation);
  int64_t MicrosSince(std::chrono::steady_clock::time_point from) const;
  const std::string& ServerName() const;

  const AttemptEnvironment& environment_;
  const Monitor& monitor_;
  const std::optional<SocketAddress> pinned_;
  Finish finish_;
  const std::shared_ptr<const TargetPolicy> policy_;  // the one in force when the attempt began

  Phase phase_ = Phase::kDns;
  std::unique_ptr<AresChannel> resolver_;
  std::vector<SocketAddress> addresses_;
  size_t next_address_ = 0;
  std::string last_connect_error_;
  std::string blocked_reason_;  // the last address the policy refused
  bool last_error_probe_fault_ = false;
  int fd_ = -1;
  SSL* ssl_ = nullptr;
  std::string server_name_;

  // The conversation: its logic, and the I/O state of the step under way.
  TcpConversation conversation_;
  EventLoop::TimerId step_timer_ = 0;
  size_t timer_step_ = 0;  // the step step_timer_ is the own timeout of
  std::string out_;        // the current send step's text
  size_t out_sent_ = 0;
  bool got_first_byte_ = false;
  bool in_starttls_ = false;  // the handshake under way is a startTls step's
  uint32_t want_events_ = 0;  // what the last read or write that could not go on waits for

  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point phase_started_;
  std::chrono::steady_clock::time_point connected_at_;
  Timings timings_;
  std::optional<Observation> reported_;
};

}  // namespace pharos
