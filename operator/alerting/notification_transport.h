#pragma once

// NotificationTransport: puts an OutgoingMessage on the wire and says what the receiver
// answered, so the outbox can tell delivered from retry-later from never. An interface so that
// the delivery logic is unit-tested with a double; CurlNotificationTransport is the real one
// (HTTP and SMTP through libcurl). The integration tests use real receivers on loopback.
// Thread-safety: implementations are safe to call from any thread.

#include <chrono>
#include <string>

#include "operator/alerting/outgoing_message.h"

namespace pharos {

struct TransportResult {
  // The HTTP status, or the SMTP server's last reply code; 0 when nothing answered.
  int status = 0;
  bool smtp = false;
  // Why nothing (or no complete answer) came back: connection refused, timeout, TLS failure,
  // SMTP authentication refused...; empty when the receiver answered.
  std::string error;
  // An authentication failure below HTTP (SMTP AUTH refused): retrying will not help.
  bool permanent_error = false;
  std::chrono::seconds retry_after{0};  // from Retry-After (HTTP 429/503)
  std::string body;                     // the start of the answer, for the failure reason
};

class NotificationTransport {
 public:
  virtual ~NotificationTransport() = default;
  // Blocks for at most the message's timeout.
  virtual TransportResult Send(const OutgoingMessage& message) = 0;
};

}  // namespace pharos
