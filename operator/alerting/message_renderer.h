#pragma once

// MessageRenderer: a delivery as each service expects it (docs/alerting.md#channels): the
// webhook payload contract signed with HMAC-SHA256, Slack blocks, Discord embeds, a Teams
// Adaptive Card, Google Chat cards, PagerDuty Events API v2 (trigger / acknowledge / resolve,
// dedup_key = the incident id), Opsgenie alerts (alias = the incident id, closed on recovery),
// Telegram HTML, ntfy JSON publishing, a MIME e-mail with text and HTML parts, Alertmanager's
// POST /api/v2/alerts (endsAt on recovery). The same facts everywhere; the channel's template
// may replace the title and text.
// Thread-safety: pure functions.

#include <map>
#include <string>

#include "common/result.h"
#include "operator/alerting/alert_channel.h"
#include "operator/alerting/notification.h"
#include "operator/alerting/outgoing_message.h"

namespace pharos {

// The channel's values read from their sources (SecretResolver).
struct ChannelValues {
  std::string url;
  std::string secret;  // empty when the channel has none
};

class MessageRenderer {
 public:
  // Whether a channel of `type` is told about `event` at all (PagerDuty and Opsgenie escalate
  // by themselves: no reminders; Alertmanager has no acknowledgement).
  static bool Accepts(ChannelType type, NotificationEvent event);

  // The default title ("[DOWN] shop/checkout-api") and text of a notification.
  static std::string DefaultTitle(const Notification& notification);
  static std::string DefaultText(const Notification& notification);
  // The placeholder values of TemplateText for this delivery.
  static std::map<std::string, std::string> TemplateValues(const Delivery& delivery);

  // An error is permanent: the delivery cannot be rendered (a URL read from a secret that is
  // not a URL, say).
  static Result<OutgoingMessage> Render(const AlertChannel& channel, const Delivery& delivery,
                                        const ChannelValues& values, const std::string& user_agent);

  // "sha256=<hex HMAC-SHA256 of body with key>": the X-Pharos-Signature header.
  static std::string Signature(const std::string& key, const std::string& body);
};

}  // namespace pharos
