#pragma once

// AlertChannel: where notifications go (docs/alerting.md) — the in-memory form of an
// `AlertChannel` document (files of `pharos run`) or resource (alertchannels.pharos.dev), and its
// parser/validator. One block named after the type holds the type's settings, as a Monitor does:
//
//   spec:
//     type: webhook
//     webhook: {url: "https://hooks.example.com/pharos", secret: {valueFrom: {env: HOOK_SECRET}}}
//
// Values that are secrets (a webhook's signing secret, PagerDuty's routing key, Opsgenie's API
// key, Telegram's bot token, ntfy's token, the SMTP password) come from `valueFrom`: `env` or
// `file` in files, `secretKeyRef` in Kubernetes; never written in the document. Endpoint URLs may
// be written directly (and may come from valueFrom too: a Slack webhook URL is a credential).
// Thread-safety: value types and pure functions.

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/document_node.h"
#include "common/monitor_loader.h"
#include "common/result.h"
#include "operator/alerting/document_reader.h"

namespace pharos {

enum class ChannelType {
  kWebhook,
  kSlack,
  kDiscord,
  kMsTeams,
  kGoogleChat,
  kPagerDuty,
  kOpsgenie,
  kTelegram,
  kNtfy,
  kEmail,
  kAlertmanager,
};
const char* ToString(ChannelType type);  // "webhook" "slack" ... as written in documents
std::optional<ChannelType> ParseChannelType(std::string_view text);
const std::vector<std::string_view>& ChannelTypeNames();

// A value written in the document, or where to read it.
struct ValueSource {
  std::optional<std::string> value;  // written as is
  std::string env;                   // valueFrom.env (files only)
  std::string file;                  // valueFrom.file (files only)
  std::string secret_name;           // valueFrom.secretKeyRef.name (Kubernetes only)
  std::string secret_key;            // valueFrom.secretKeyRef.key

  bool empty() const { return !value && env.empty() && file.empty() && secret_name.empty(); }
  // "env HOOK_SECRET", "file /run/x", "Secret hooks key url", "a value": for messages (never
  // the value itself).
  std::string Describe() const;
  bool operator==(const ValueSource&) const = default;
};

enum class SmtpSecurity { kStartTls, kImplicitTls, kNone };

struct MessageTemplate {
  std::string title;  // empty = the channel type's own
  std::string text;

  bool operator==(const MessageTemplate&) const = default;
};

struct AlertChannel {
  ObjectMeta meta;
  ChannelType type = ChannelType::kWebhook;
  bool is_default = false;  // applies to the namespace's monitors that name no channel
  bool send_degraded = true;
  std::chrono::milliseconds timeout{10'000};  // one delivery attempt
  // TLS of the endpoint: extra CAs (a PEM file) and whether to skip verification.
  std::string ca_file;
  bool insecure_skip_verify = false;
  MessageTemplate message;

  // The type's settings (those the type uses; see docs/alerting.md).
  ValueSource url;     // endpoint; email: unused (see smtp_server)
  ValueSource secret;  // webhook secret, routingKey, apiKey, botToken, ntfy token, SMTP password
  std::map<std::string, std::string> headers;  // webhook: extra headers
  std::string chat_id;                         // telegram
  std::string topic;                           // ntfy
  std::string severity;                        // pagerduty (critical...), opsgenie (P1..P5),
                                               // ntfy (1..5)
  std::map<std::string, std::string> labels;   // alertmanager: extra labels
  // email
  std::string smtp_server;  // host:port
  SmtpSecurity smtp_security = SmtpSecurity::kStartTls;
  std::string smtp_username;
  std::string mail_from;
  std::vector<std::string> mail_to;

  std::string Key() const { return meta.Key(); }
  bool operator==(const AlertChannel&) const = default;
};

// Parses and validates one AlertChannel document; errors located as for Monitors
// ("channels.yaml:7:12: spec.webhook.url: must be an absolute http(s) URL").
Result<AlertChannel> ParseAlertChannel(const DocumentNode& document, DocumentOrigin origin,
                                       std::vector<ValidationError>* errors);

// The default endpoints of the hosted services (every one can be set, so tests use loopback).
inline constexpr std::string_view kPagerDutyEventsUrl = "https://events.pagerduty.com/v2/enqueue";
inline constexpr std::string_view kOpsgenieApiUrl = "https://api.opsgenie.com";
inline constexpr std::string_view kTelegramApiUrl = "https://api.telegram.org";
inline constexpr std::string_view kNtfyUrl = "https://ntfy.sh";

}  // namespace pharos
