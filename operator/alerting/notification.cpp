#include "operator/alerting/notification.h"

#include <openssl/evp.h>

#include <array>
#include <cstdio>

#include "common/rfc3339.h"

namespace pharos {
namespace {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

constexpr std::pair<NotificationEvent, std::string_view> kEvents[] = {
    {NotificationEvent::kDown, "down"},
    {NotificationEvent::kDegraded, "degraded"},
    {NotificationEvent::kRecovered, "recovered"},
    {NotificationEvent::kReminder, "reminder"},
    {NotificationEvent::kAcknowledged, "acknowledged"},
    {NotificationEvent::kTest, "test"},
};

int64_t Ms(std::chrono::system_clock::time_point time) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

std::chrono::system_clock::time_point FromMs(int64_t ms) {
  return std::chrono::system_clock::time_point(std::chrono::milliseconds(ms));
}

}  // namespace

const char* ToString(NotificationEvent event) {
  for (const auto& [value, name] : kEvents) {
    if (value == event) return name.data();
  }
  return "down";
}

std::optional<NotificationEvent> ParseNotificationEvent(std::string_view text) {
  for (const auto& [value, name] : kEvents) {
    if (name == text) return value;
  }
  return std::nullopt;
}

const char* ToString(DeliveryState state) {
  switch (state) {
    case DeliveryState::kPending:
      return "Pending";
    case DeliveryState::kDelivered:
      return "Delivered";
    case DeliveryState::kFailed:
      return "Failed";
  }
  return "Pending";
}

std::optional<DeliveryState> ParseDeliveryState(std::string_view text) {
  for (DeliveryState state :
       {DeliveryState::kPending, DeliveryState::kDelivered, DeliveryState::kFailed}) {
    if (text == ToString(state)) return state;
  }
  return std::nullopt;
}

std::string Notification::Key() const {
  std::string key;
  switch (event) {
    case NotificationEvent::kDown:
    case NotificationEvent::kRecovered:
    case NotificationEvent::kAcknowledged:
      if (incident) {
        key = incident->id + "/" + ToString(event);
        break;
      }
      [[fallthrough]];
    default:
      key = (incident ? incident->id : monitor_uid) + "/" + ToString(event) + "/" +
            std::to_string(event == NotificationEvent::kReminder ? sequence : Ms(occurred_at));
      break;
  }
  return key;
}

OrderedJson Notification::ToJson(const std::string& delivery_id, const std::string& channel,
                                 const std::string& title, const std::string& text) const {
  OrderedJson incident_json = nullptr;
  if (incident) {
    incident_json = {
        {"id", incident->id},
        {"startedAt", FormatRfc3339(incident->started_at)},
        {"resolvedAt", incident->resolved_at ? OrderedJson(FormatRfc3339(*incident->resolved_at))
                                             : OrderedJson(nullptr)}};
  }
  OrderedJson payload = {
      {"version", "v1"},
      {"event", ToString(event)},
      {"deliveryId", delivery_id},
      {"occurredAt", FormatRfc3339(occurred_at)},
      {"monitor",
       {{"namespace", monitor_namespace},
        {"name", monitor_name},
        {"type", monitor_type},
        {"target", monitor_target}}},
      {"state", state},
      {"incident", std::move(incident_json)},
      {"regions", regions},
      {"reason", reason},
      {"screenshots", screenshots},
      {"channel", channel},
      {"title", title},
      {"text", text},
  };
  if (event == NotificationEvent::kAcknowledged) {
    payload["acknowledgedBy"] = acknowledged_by;
  }
  return payload;
}

std::string Notification::ToStored() const {
  Json stored = {{"event", ToString(event)},
                 {"sequence", sequence},
                 {"monitorUid", monitor_uid},
                 {"namespace", monitor_namespace},
                 {"name", monitor_name},
                 {"type", monitor_type},
                 {"target", monitor_target},
                 {"state", state},
                 {"regions", regions},
                 {"reason", reason},
                 {"acknowledgedBy", acknowledged_by},
                 {"screenshots", screenshots},
                 {"occurredAtMs", Ms(occurred_at)}};
  if (incident) {
    stored["incident"] = {{"id", incident->id}, {"startedAtMs", Ms(incident->started_at)}};
    if (incident->resolved_at) stored["incident"]["resolvedAtMs"] = Ms(*incident->resolved_at);
  }
  return stored.dump();
}

Result<Notification> Notification::FromStored(std::string_view text) {
  Json stored = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!stored.is_object()) {
    return Error{"stored notification is not a JSON object"};
  }
  try {
    Notification out;
    const auto event = ParseNotificationEvent(stored.at("event").get<std::string>());
    if (!event) return Error{"stored notification has an unknown event"};
    out.event = *event;
    out.sequence = stored.value("sequence", 0);
    out.monitor_uid = stored.value("monitorUid", "");
    out.monitor_namespace = stored.value("namespace", "");
    out.monitor_name = stored.value("name", "");
    out.monitor_type = stored.value("type", "");
    out.monitor_target = stored.value("target", "");
    out.state = stored.value("state", "");
    out.regions = stored.value("regions", std::vector<std::string>{});
    out.reason = stored.value("reason", "");
    out.acknowledged_by = stored.value("acknowledgedBy", "");
    out.screenshots = stored.value("screenshots", std::vector<std::string>{});
    out.occurred_at = FromMs(stored.value("occurredAtMs", int64_t{0}));
    if (stored.contains("incident") && stored["incident"].is_object()) {
      const Json& incident = stored["incident"];
      NotificationIncident facts;
      facts.id = incident.value("id", "");
      facts.started_at = FromMs(incident.value("startedAtMs", int64_t{0}));
      if (incident.contains("resolvedAtMs")) {
        facts.resolved_at = FromMs(incident["resolvedAtMs"].get<int64_t>());
      }
      out.incident = std::move(facts);
    }
    return out;
  } catch (const Json::exception& error) {
    return Error{std::string("stored notification is malformed: ") + error.what()};
  }
}

std::string Delivery::MakeId(std::string_view notification_key, std::string_view channel) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  const std::string input = std::string(notification_key) + "\n" + std::string(channel);
  EVP_Digest(input.data(), input.size(), digest.data(), &length, EVP_sha256(), nullptr);
  std::string hex;
  char buffer[3];
  for (unsigned int i = 0; i < 16 && i < length; ++i) {
    std::snprintf(buffer, sizeof(buffer), "%02x", digest[i]);
    hex += buffer;
  }
  return hex;
}

Delivery Delivery::Of(const Notification& notification, const std::string& channel, TimePoint now) {
  Delivery delivery;
  delivery.id = MakeId(notification.Key(), channel);
  delivery.channel = channel;
  delivery.notification = notification;
  delivery.created_at = now;
  delivery.next_attempt_at = now;
  return delivery;
}

}  // namespace pharos
