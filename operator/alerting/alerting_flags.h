#pragma once

// AlertingFlags: the notification flags `pharos run` and `pharos-operator` share, so that they
// mean the same in both editions (docs/alerting.md#delivery-guarantees):
//   --notification-backoff DURATION      first wait before a failed notification is retried (2s)
//   --notification-backoff-max DURATION  longest wait between retries (5m)
//   --notification-give-up DURATION      undelivered this long after it was decided: failed (24h)
//   --alerting-interval DURATION         how often reminders are decided and missed
//                                        notifications caught up (10s)
//   --public-url URL                     what links in notifications start with (none)
// Thread-safety: free functions; used once at start-up.

#include "common/command_line.h"
#include "common/result.h"
#include "operator/alerting/alerting_engine.h"
#include "operator/alerting/delivery_dispatcher.h"

namespace pharos {

struct AlertingTimings {
  DeliveryDispatcher::Options delivery;
  AlertingEngine::Options engine;
};

void AddAlertingFlags(CommandLine& flags);

// `base` with the flags' values (every flag has a default, so every field is set); errors name
// the flag. The longest backoff is at least the first one.
Result<AlertingTimings> AlertingTimingsFromFlags(const CommandLine& flags, AlertingTimings base);

}  // namespace pharos
