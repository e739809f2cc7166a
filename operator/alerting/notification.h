#pragma once

// Notification and Delivery: what Pharos tells people and the record of telling one channel
// (docs/alerting.md#payload, #delivery).
// * A Notification is one fact (a monitor went down, an incident was resolved, a reminder...),
//   the same for every channel. Its key is deterministic — "<incident id>/down",
//   "<incident id>/reminder/3", "<monitor uid>/degraded/<ms>" — so that whoever decides it again
//   (a restarted process catching up, a new leader) decides the same notification.
// * A Delivery is one notification to one channel: its id (the deliveryId receivers see, the same
//   on every retry) is derived from the notification's key and the channel, so it too is the
//   same whoever sends it. It carries the retry bookkeeping of the outbox.
// * Notification::ToJson(delivery id, channel) is the webhook payload contract.
// Thread-safety: value types.

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace pharos {

enum class NotificationEvent { kDown, kDegraded, kRecovered, kReminder, kAcknowledged, kTest };
const char* ToString(NotificationEvent event);  // "down" "degraded" "recovered" ...
std::optional<NotificationEvent> ParseNotificationEvent(std::string_view text);

struct NotificationIncident {
  std::string id;
  std::chrono::system_clock::time_point started_at{};
  std::optional<std::chrono::system_clock::time_point> resolved_at;

  bool operator==(const NotificationIncident&) const = default;
};

struct Notification {
  using TimePoint = std::chrono::system_clock::time_point;

  NotificationEvent event = NotificationEvent::kDown;
  // Distinguishes repeated notifications of one kind (the n-th reminder); 0 otherwise.
  int sequence = 0;
  std::string monitor_uid;
  std::string monitor_namespace;
  std::string monitor_name;
  std::string monitor_type;    // http tcp dns
  std::string monitor_target;  // the URL, host:port, name
  std::string state;           // the monitor's state: Down Degraded Up ...
  std::optional<NotificationIncident> incident;
  std::vector<std::string> regions;  // failing (or degraded) regions
  std::string reason;                // the first error, or why
  std::string acknowledged_by;       // acknowledged: who
  // The incident's screenshots taken so far, oldest first: absolute URLs when --public-url is
  // set, else paths on the server ("/api/v1/screenshots/<id>.png"). The outage notice is sent
  // before its capture ends, so recovery, reminder and acknowledgement notices carry them.
  std::vector<std::string> screenshots;
  TimePoint occurred_at{};

  // Deterministic: see above.
  std::string Key() const;
  std::string MonitorKey() const { return monitor_namespace + "/" + monitor_name; }

  // The webhook payload (docs/alerting.md#payload), with `title` and `text` as rendered.
  nlohmann::ordered_json ToJson(const std::string& delivery_id, const std::string& channel,
                                const std::string& title, const std::string& text) const;
  // What the outbox stores (every field, lossless); FromStored reads it back.
  std::string ToStored() const;
  static Result<Notification> FromStored(std::string_view text);

  bool operator==(const Notification&) const = default;
};

enum class DeliveryState { kPending, kDelivered, kFailed };
const char* ToString(DeliveryState state);  // "Pending" "Delivered" "Failed"
std::optional<DeliveryState> ParseDeliveryState(std::string_view text);

struct Delivery {
  using TimePoint = std::chrono::system_clock::time_point;

  std::string id;       // the deliveryId: MakeId(notification.Key(), channel)
  std::string channel;  // namespace/name of the AlertChannel
  Notification notification;
  DeliveryState state = DeliveryState::kPending;
  int attempts = 0;
  TimePoint created_at{};
  TimePoint next_attempt_at{};  // pending: not before
  std::optional<TimePoint> delivered_at;
  std::string last_error;  // the last failure (HTTP status and what the receiver said)

  // 32 hex digits of SHA-256 over the notification key and the channel.
  static std::string MakeId(std::string_view notification_key, std::string_view channel);
  static Delivery Of(const Notification& notification, const std::string& channel, TimePoint now);

  bool operator==(const Delivery&) const = default;
};

}  // namespace pharos
