#pragma once

// CurlNotificationTransport: HTTP(S) requests and SMTP submissions through libcurl. HTTP: no
// redirects followed (a receiver that moves must be reconfigured, not guessed), the answer's
// first 2 KB kept for the failure reason, Retry-After read (seconds or an HTTP date). SMTP:
// smtp:// with STARTTLS required (CURLUSESSL_ALL) unless the channel says `security: none`,
// smtps:// for implicit TLS, AUTH when a username is set, the server's reply code kept.
// Thread-safety: Send may run on any thread concurrently (one easy handle per call).

#include "operator/alerting/notification_transport.h"

namespace pharos {

class CurlNotificationTransport final : public NotificationTransport {
 public:
  TransportResult Send(const OutgoingMessage& message) override;
};

}  // namespace pharos
