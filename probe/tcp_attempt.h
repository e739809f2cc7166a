#pragma once

// TcpAttempt: one TCP connect of a tcp Monitor, optionally followed by a TLS handshake
// (non-blocking OpenSSL, SNI = serverName or host, certificate and host name checked unless
// insecureSkipVerify). The host is looked up with c-ares unless it is an IP literal; addresses
// are tried in order until one connects. Certificate expiry is recorded even when verification
// fails or is skipped. Each address is put to the TargetPolicy before connecting; when every
// address is refused (or the others fail), the check is an `error` naming the refused address.
// Thread-safety: loop thread only.

#include <openssl/ssl.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/monitor.h"
#include "probe/ares_channel.h"
#include "probe/check_attempt.h"

namespace pharos {

class TcpAttempt final : public CheckAttempt {
 public:
  // `monitor` must outlive the attempt.
  TcpAttempt(const AttemptEnvironment& environment, const Monitor& monitor, Finish finish);
  ~TcpAttempt() override;

  void Start() override;
  Observation Abort(std::chrono::milliseconds timeout) override;

 private:
  enum class Phase { kDns, kConnect, kTls, kDone };

  void OnLookupDone(int status, std::vector<SocketAddress> addresses);
  void ConnectNext();
  void OnConnectReady();
  void StartHandshake();
  void ContinueHandshake();
  void CloseSocket();
  void Fail(std::string message, bool probe_fault = false);
  void Succeed();
  void Report(Observation observation);
  int64_t MicrosSince(std::chrono::steady_clock::time_point from) const;

  const AttemptEnvironment& environment_;
  const Monitor& monitor_;
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

  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point phase_started_;
  Timings timings_;
  std::optional<Observation> reported_;
};

}  // namespace pharos
