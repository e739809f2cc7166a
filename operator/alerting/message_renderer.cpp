#include "operator/alerting/message_renderer.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "common/html_escape.h"
#include "common/rfc3339.h"
#include "operator/alerting/template_text.h"

namespace pharos {
namespace {

using Json = nlohmann::ordered_json;
using TimePoint = std::chrono::system_clock::time_point;

std::string Hex(const unsigned char* data, size_t size) {
  std::string hex;
  char buffer[3];
  for (size_t i = 0; i < size; ++i) {
    std::snprintf(buffer, sizeof(buffer), "%02x", data[i]);
    hex += buffer;
  }
  return hex;
}

std::string Base64(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  const int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                      reinterpret_cast<const unsigned char*>(data.data()),
                                      static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(written));
  return out;
}

// Base64 in lines of 76 characters, as MIME bodies want them.
std::string Base64Lines(std::string_view data) {
  const std::string encoded = Base64(data);
  std::string out;
  for (size_t i = 0; i < encoded.size(); i += 76) {
    out += encoded.substr(i, 76) + "\r\n";
  }
  return out;
}

// Slack mrkdwn escapes.
std::string SlackEscape(std::string_view text) {
  std::string out;
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string Truncate(std::string text, size_t max) {
  if (text.size() <= max) return text;
  size_t cut = max - 3;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // UTF-8
  return text.substr(0, cut) + "...";
}

std::string Join(const std::vector<std::string>& items, const char* separator = ", ") {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : separator) + item;
  return out;
}

std::string HumanDuration(std::chrono::system_clock::duration duration) {
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(duration).count();
  if (seconds < 0) seconds = 0;
  const int64_t days = seconds / 86400, hours = seconds % 86400 / 3600,
                minutes = seconds % 3600 / 60;
  if (days > 0) return std::to_string(days) + "d " + std::to_string(hours) + "h";
  if (hours > 0) return std::to_string(hours) + "h " + std::to_string(minutes) + "m";
  if (minutes > 0) return std::to_string(minutes) + "m";
  return std::to_string(seconds) + "s";
}

std::string Upper(std::string text) {
  for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

// Colors per event: red, orange, green, red, blue, grey.
int Color(NotificationEvent event) {
  switch (event) {
    case NotificationEvent::kDown:
    case NotificationEvent::kReminder:
      return 0xD32F2F;
    case NotificationEvent::kDegraded:
      return 0xF57C00;
    case NotificationEvent::kRecovered:
      return 0x388E3C;
    case NotificationEvent::kAcknowledged:
      return 0x1976D2;
    case NotificationEvent::kTest:
      return 0x757575;
  }
  return 0x757575;
}

std::string HexColor(NotificationEvent event) {
  char buffer[8];
  std::snprintf(buffer, sizeof(buffer), "#%06X", Color(event));
  return buffer;
}

std::string EventLabel(NotificationEvent event) {
  return event == NotificationEvent::kReminder ? "STILL DOWN" : Upper(ToString(event));
}

// The facts as (name, value) pairs, for the card formats.
std::vector<std::pair<std::string, std::string>> Facts(const Notification& n) {
  std::vector<std::pair<std::string, std::string>> facts;
  if (n.event == NotificationEvent::kTest) {
    return facts;
  }
  facts.emplace_back("Monitor", n.MonitorKey());
  facts.emplace_back("Target", n.monitor_target);
  facts.emplace_back("State", n.state);
  if (!n.regions.empty()) facts.emplace_back("Regions", Join(n.regions));
  if (n.incident) {
    facts.emplace_back("Incident", n.incident->id);
    facts.emplace_back("Started", FormatRfc3339(n.incident->started_at));
    if (n.incident->resolved_at) {
      facts.emplace_back("Resolved", FormatRfc3339(*n.incident->resolved_at));
    }
  }
  if (!n.acknowledged_by.empty()) facts.emplace_back("Acknowledged by", n.acknowledged_by);
  if (!n.screenshots.empty()) facts.emplace_back("Screenshots", Join(n.screenshots, " "));
  return facts;
}

std::string RfcDate(TimePoint time) {
  const std::time_t t = std::chrono::system_clock::to_time_t(time);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[64];
  std::strftime(buffer, sizeof(buffer), "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buffer;
}

// RFC 2047 encoded-word for a header holding non-ASCII text.
std::string HeaderText(const std::string& text) {
  bool ascii = true;
  for (const char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80 || c == '\r' || c == '\n') ascii = false;
  }
  if (ascii) return text;
  std::string clean;
  for (const char c : text) clean += (c == '\r' || c == '\n') ? ' ' : c;
  return "=?UTF-8?B?" + Base64(clean) + "?=";
}

std::string TrimSlash(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

std::string UrlEncode(std::string_view text) {
  std::string out;
  char buffer[4];
  for (const unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      std::snprintf(buffer, sizeof(buffer), "%%%02X", c);
      out += buffer;
    }
  }
  return out;
}

HttpMessage JsonPost(std::string url, const Json& body, const std::string& user_agent) {
  HttpMessage message;
  message.url = std::move(url);
  message.body = body.dump();
  message.headers = {{"Content-Type", "application/json"}, {"User-Agent", user_agent}};
  return message;
}

// One delivery's parts, put together for each type of channel by the member of its name. The
// references are Render's locals and arguments: a ChannelParts lives only inside Render.
struct ChannelParts {
  const AlertChannel& channel;
  const Delivery& delivery;
  const Notification& n;
  const ChannelValues& values;
  const std::string& user_agent;
  const std::string& title;
  const std::string& text;
  const std::string& base;  // the URL without a trailing slash
  const std::vector<std::pair<std::string, std::string>>& facts;

  HttpMessage Webhook() const;
  HttpMessage Slack() const;
  HttpMessage Discord() const;
  HttpMessage MsTeams() const;
  HttpMessage GoogleChat() const;
  HttpMessage PagerDuty() const;
  HttpMessage Opsgenie() const;
  HttpMessage Telegram() const;
  HttpMessage Ntfy() const;
  HttpMessage Alertmanager() const;
  MailMessage Email() const;
};

HttpMessage ChannelParts::Webhook() const {
  HttpMessage message =
      JsonPost(values.url, n.ToJson(delivery.id, channel.Key(), title, text), user_agent);
  message.headers.emplace_back("X-Pharos-Delivery", delivery.id);
  message.headers.emplace_back("X-Pharos-Event", ToString(n.event));
  if (!values.secret.empty()) {
    message.headers.emplace_back("X-Pharos-Signature",
                                 MessageRenderer::Signature(values.secret, message.body));
  }
  for (const auto& [name, value] : channel.headers) message.headers.emplace_back(name, value);
  return message;
}

HttpMessage ChannelParts::Slack() const {
  std::string fields;
  for (const auto& [name, value] : facts) {
    fields += "*" + SlackEscape(name) + ":* " + SlackEscape(value) + "\n";
  }
  Json blocks = Json::array();
  blocks.push_back(
      {{"type", "header"}, {"text", {{"type", "plain_text"}, {"text", Truncate(title, 150)}}}});
  blocks.push_back({{"type", "section"},
                    {"text", {{"type", "mrkdwn"}, {"text", Truncate(SlackEscape(text), 3000)}}}});
  if (!fields.empty()) {
    blocks.push_back(
        {{"type", "section"}, {"text", {{"type", "mrkdwn"}, {"text", Truncate(fields, 3000)}}}});
  }
  blocks.push_back(
      {{"type", "context"},
       {"elements", Json::array({{{"type", "mrkdwn"},
                                  {"text", "Pharos · " + std::string(ToString(n.event)) +
                                               " · delivery " + delivery.id}}})}});
  Json body = {{"text", Truncate(title + ": " + text, 3000)}, {"blocks", std::move(blocks)}};
  return JsonPost(values.url, body, user_agent);
}

HttpMessage ChannelParts::Discord() const {
  Json fields = Json::array();
  for (const auto& [name, value] : facts) {
    fields.push_back({{"name", name},
                      {"value", Truncate(value.empty() ? "-" : value, 1024)},
                      {"inline", name != "Target" && name != "Incident"}});
  }
  Json embed = {{"title", Truncate(title, 256)},
                {"description", Truncate(text, 4096)},
                {"color", Color(n.event)},
                {"fields", std::move(fields)},
                {"timestamp", FormatRfc3339(n.occurred_at)},
                {"footer", {{"text", "Pharos · delivery " + delivery.id}}}};
  Json body = {{"username", "Pharos"},
               {"embeds", Json::array({std::move(embed)})},
               {"allowed_mentions", {{"parse", Json::array()}}}};
  return JsonPost(values.url, body, user_agent);
}

HttpMessage ChannelParts::MsTeams() const {
  Json fact_set = Json::array();
  for (const auto& [name, value] : facts) {
    fact_set.push_back({{"title", name}, {"value", value}});
  }
  Json card_body = Json::array();
  card_body.push_back({{"type", "TextBlock"},
                       {"text", title},
                       {"weight", "Bolder"},
                       {"size", "Medium"},
                       {"wrap", true},
                       {"color", n.event == NotificationEvent::kRecovered  ? "Good"
                                 : n.event == NotificationEvent::kDegraded ? "Warning"
                                 : n.event == NotificationEvent::kTest ||
                                         n.event == NotificationEvent::kAcknowledged
                                     ? "Default"
                                     : "Attention"}});
  card_body.push_back({{"type", "TextBlock"}, {"text", text}, {"wrap", true}});
  if (!fact_set.empty()) {
    card_body.push_back({{"type", "FactSet"}, {"facts", std::move(fact_set)}});
  }
  Json card = {{"$schema", "http://adaptivecards.io/schemas/adaptive-card.json"},
               {"type", "AdaptiveCard"},
               {"version", "1.4"},
               {"body", std::move(card_body)}};
  Json body = {
      {"type", "message"},
      {"summary", title},
      {"attachments", Json::array({{{"contentType", "application/vnd.microsoft.card.adaptive"},
                                    {"contentUrl", nullptr},
                                    {"content", std::move(card)}}})}};
  return JsonPost(values.url, body, user_agent);
}

HttpMessage ChannelParts::GoogleChat() const {
  Json widgets = Json::array();
  widgets.push_back({{"textParagraph", {{"text", HtmlEscaped(text)}}}});
  for (const auto& [name, value] : facts) {
    widgets.push_back({{"decoratedText", {{"topLabel", name}, {"text", HtmlEscaped(value)}}}});
  }
  Json body = {
      {"text", title},
      {"cardsV2",
       Json::array({{{"cardId", delivery.id},
                     {"card",
                      {{"header", {{"title", title}, {"subtitle", "Pharos"}}},
                       {"sections", Json::array({{{"widgets", std::move(widgets)}}})}}}}})}};
  // One thread per incident: its down, reminders and recovery read as one conversation.
  std::string url = values.url;
  if (n.incident) {
    url += (url.find('?') == std::string::npos ? "?" : "&") +
           std::string("messageReplyOption=REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD");
    body["thread"] = {{"threadKey", n.incident->id}};
  }
  return JsonPost(url, body, user_agent);
}

HttpMessage ChannelParts::PagerDuty() const {
  std::string action = "trigger";
  if (n.event == NotificationEvent::kRecovered) action = "resolve";
  if (n.event == NotificationEvent::kAcknowledged) action = "acknowledge";
  const std::string dedup_key = n.incident                            ? n.incident->id
                                : n.event == NotificationEvent::kTest ? "pharos-test-" + delivery.id
                                                                      : n.monitor_uid + "/degraded";
  Json body = {{"routing_key", values.secret}, {"event_action", action}, {"dedup_key", dedup_key}};
  if (action == "trigger") {
    Json details = Json::object();
    for (const auto& [name, value] : facts) details[name] = value;
    details["reason"] = n.reason;
    details["deliveryId"] = delivery.id;
    body["payload"] = {{"summary", Truncate(title + ": " + text, 1024)},
                       {"source", n.monitor_target.empty() ? "pharos" : n.monitor_target},
                       {"severity", n.event == NotificationEvent::kDegraded ? "warning"
                                    : n.event == NotificationEvent::kTest   ? "info"
                                                                            : channel.severity},
                       {"timestamp", FormatRfc3339(n.occurred_at)},
                       {"component", n.MonitorKey()},
                       {"group", n.monitor_namespace},
                       {"class", n.monitor_type},
                       {"custom_details", std::move(details)}};
    body["client"] = "Pharos";
  }
  return JsonPost(values.url, body, user_agent);
}

HttpMessage ChannelParts::Opsgenie() const {
  const std::string alias = n.incident                            ? n.incident->id
                            : n.event == NotificationEvent::kTest ? "pharos-test-" + delivery.id
                                                                  : n.monitor_uid + "/degraded";
  HttpMessage message;
  if (n.event == NotificationEvent::kRecovered) {
    message = JsonPost(base + "/v2/alerts/" + UrlEncode(alias) + "/close?identifierType=alias",
                       Json{{"source", "pharos"}, {"note", Truncate(text, 25000)}}, user_agent);
  } else if (n.event == NotificationEvent::kAcknowledged) {
    message = JsonPost(
        base + "/v2/alerts/" + UrlEncode(alias) + "/acknowledge?identifierType=alias",
        Json{{"source", "pharos"}, {"user", n.acknowledged_by}, {"note", Truncate(text, 25000)}},
        user_agent);
  } else {
    Json details = Json::object();
    for (const auto& [name, value] : facts) details[name] = Truncate(value, 8000);
    details["deliveryId"] = delivery.id;
    message = JsonPost(base + "/v2/alerts",
                       Json{{"message", Truncate(title, 130)},
                            {"alias", alias},
                            {"description", Truncate(text, 15000)},
                            {"source", "pharos"},
                            {"entity", n.MonitorKey()},
                            {"priority", n.event == NotificationEvent::kDegraded ? "P3"
                                         : n.event == NotificationEvent::kTest   ? "P5"
                                                                               : channel.severity},
                            {"tags", Json::array({"pharos", ToString(n.event)})},
                            {"details", std::move(details)}},
                       user_agent);
  }
  message.headers.emplace_back("Authorization", "GenieKey " + values.secret);
  return message;
}

HttpMessage ChannelParts::Telegram() const {
  std::string html = "<b>" + HtmlEscaped(title) + "</b>\n" + HtmlEscaped(text);
  for (const auto& [name, value] : facts) {
    if (name == "Monitor") continue;
    html += "\n<b>" + HtmlEscaped(name) + ":</b> " +
            (name == "Incident" ? "<code>" + HtmlEscaped(value) + "</code>" : HtmlEscaped(value));
  }
  return JsonPost(base + "/bot" + values.secret + "/sendMessage",
                  Json{{"chat_id", channel.chat_id},
                       {"text", Truncate(html, 4096)},
                       {"parse_mode", "HTML"},
                       {"disable_web_page_preview", true}},
                  user_agent);
}

HttpMessage ChannelParts::Ntfy() const {
  const char* tag = n.event == NotificationEvent::kRecovered      ? "white_check_mark"
                    : n.event == NotificationEvent::kDegraded     ? "warning"
                    : n.event == NotificationEvent::kAcknowledged ? "eyes"
                    : n.event == NotificationEvent::kTest         ? "test_tube"
                                                                  : "rotating_light";
  int priority = std::atoi(channel.severity.c_str());
  if (n.event != NotificationEvent::kDown && n.event != NotificationEvent::kReminder) {
    priority = 3;
  }
  HttpMessage message = JsonPost(base,
                                 Json{{"topic", channel.topic},
                                      {"title", title},
                                      {"message", text},
                                      {"priority", priority},
                                      {"tags", Json::array({tag, "pharos"})}},
                                 user_agent);
  if (!values.secret.empty()) {
    message.headers.emplace_back("Authorization", "Bearer " + values.secret);
  }
  return message;
}

HttpMessage ChannelParts::Alertmanager() const {
  const bool resolving = n.event == NotificationEvent::kRecovered;
  const bool test = n.event == NotificationEvent::kTest;
  const bool degraded = n.event == NotificationEvent::kDegraded || (resolving && !n.incident);
  Json labels = {{"alertname", test       ? "PharosTest"
                               : degraded ? "PharosMonitorDegraded"
                                          : "PharosMonitorDown"},
                 {"namespace", n.monitor_namespace},
                 {"monitor", n.monitor_name},
                 {"severity", test       ? "none"
                              : degraded ? "warning"
                                         : "critical"},
                 {"source", "pharos"}};
  if (n.incident) labels["incident"] = n.incident->id;
  if (test) labels["delivery"] = delivery.id;
  for (const auto& [name, value] : channel.labels) labels[name] = value;
  const TimePoint starts = n.incident ? n.incident->started_at : n.occurred_at;
  // Open alerts carry an end a week ahead (Alertmanager would resolve an alert without one
  // after its resolve_timeout); recovery ends them at once.
  const TimePoint ends =
      resolving ? (n.incident && n.incident->resolved_at ? *n.incident->resolved_at : n.occurred_at)
      : test    ? n.occurred_at + std::chrono::minutes(5)
                : n.occurred_at + std::chrono::hours(24 * 7);
  Json alert = {
      {"labels", std::move(labels)},
      {"annotations", {{"summary", title}, {"description", text}, {"target", n.monitor_target}}},
      {"startsAt", FormatRfc3339(starts)},
      {"endsAt", FormatRfc3339(ends)}};
  return JsonPost(base + "/api/v2/alerts", Json::array({std::move(alert)}), user_agent);
}

MailMessage ChannelParts::Email() const {
  MailMessage mail;
  const std::string scheme =
      channel.smtp_security == SmtpSecurity::kImplicitTls ? "smtps://" : "smtp://";
  mail.url = scheme + channel.smtp_server;
  mail.require_tls = channel.smtp_security != SmtpSecurity::kNone;
  mail.username = channel.smtp_username;
  mail.password = values.secret;
  mail.from = channel.mail_from;
  mail.to = channel.mail_to;
  std::string plain = text + "\r\n\r\n";
  std::string rows;
  for (const auto& [name, value] : facts) {
    plain += name;
    plain += ": ";
    plain += value;
    plain += "\r\n";
    rows += "<tr><th align=\"left\" style=\"padding:2px 12px 2px 0\">" + HtmlEscaped(name) +
            "</th><td>" + HtmlEscaped(value) + "</td></tr>";
  }
  plain += "\r\n-- \r\nPharos, delivery " + delivery.id + "\r\n";
  const std::string html =
      "<!DOCTYPE html><html><body style=\"font-family:sans-serif\"><h2 style=\"color:" +
      HexColor(n.event) + "\">" + HtmlEscaped(title) + "</h2><p>" + HtmlEscaped(text) +
      "</p><table>" + rows +
      "</table><p style=\"color:#757575;font-size:small\">Pharos, "
      "delivery " +
      delivery.id + "</p></body></html>";
  const std::string boundary = "pharos-" + delivery.id;
  std::string data;
  data += "From: " + mail.from + "\r\n";
  data += "To: " + Join(mail.to) + "\r\n";
  data += "Subject: " + HeaderText(title) + "\r\n";
  data += "Date: " + RfcDate(n.occurred_at) + "\r\n";
  data += "Message-ID: <" + delivery.id + "@pharos>\r\n";
  if (n.incident) {
    // Mail clients thread every message of one incident together.
    data += "References: <" + Delivery::MakeId(n.incident->id, "thread") + "@pharos>\r\n";
  }
  data += "X-Pharos-Delivery: " + delivery.id + "\r\n";
  data += "X-Pharos-Event: " + std::string(ToString(n.event)) + "\r\n";
  data += "MIME-Version: 1.0\r\n";
  data += "Content-Type: multipart/alternative; boundary=\"" + boundary + "\"\r\n\r\n";
  data += "--" + boundary + "\r\n";
  data += "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n";
  data += Base64Lines(plain);
  data += "--" + boundary + "\r\n";
  data += "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n";
  data += Base64Lines(html);
  data += "--" + boundary + "--\r\n";
  mail.data = std::move(data);
  return mail;
}

}  // namespace

bool MessageRenderer::Accepts(ChannelType type, NotificationEvent event) {
  switch (type) {
    case ChannelType::kPagerDuty:
    case ChannelType::kOpsgenie:
      return event != NotificationEvent::kReminder;
    case ChannelType::kAlertmanager:
      return event != NotificationEvent::kAcknowledged;
    default:
      return true;
  }
}

std::string MessageRenderer::DefaultTitle(const Notification& n) {
  if (n.event == NotificationEvent::kTest) return "[TEST] Pharos test notification";
  return "[" + EventLabel(n.event) + "] " + n.MonitorKey();
}

std::string MessageRenderer::DefaultText(const Notification& n) {
  const std::string where = n.regions.empty() ? "" : " (regions: " + Join(n.regions) + ")";
  const std::string reason = n.reason.empty() ? "" : ": " + n.reason;
  switch (n.event) {
    case NotificationEvent::kDown:
      return n.MonitorKey() + " is Down" + where + reason + ". Checking " + n.monitor_target +
             (n.incident ? ". Incident " + n.incident->id + " opened." : ".");
    case NotificationEvent::kDegraded:
      return n.MonitorKey() + " is Degraded" + where + reason + ". Checking " + n.monitor_target +
             ".";
    case NotificationEvent::kRecovered:
      return n.MonitorKey() + " is " + n.state + " again" +
             (n.incident && n.incident->resolved_at
                  ? " after " + HumanDuration(*n.incident->resolved_at - n.incident->started_at) +
                        ". Incident " + n.incident->id + " resolved."
                  : ".");
    case NotificationEvent::kReminder:
      return n.MonitorKey() + " is still Down" +
             (n.incident ? ", for " + HumanDuration(n.occurred_at - n.incident->started_at) : "") +
             where + reason + ".";
    case NotificationEvent::kAcknowledged:
      return "Incident " + (n.incident ? n.incident->id : std::string()) + " of " + n.MonitorKey() +
             " was acknowledged by " + n.acknowledged_by + "; reminders stop.";
    case NotificationEvent::kTest:
      return n.reason.empty() ? "This is a test notification from Pharos: this channel works."
                              : n.reason;
  }
  return "";
}

std::map<std::string, std::string> MessageRenderer::TemplateValues(const Delivery& delivery) {
  const Notification& n = delivery.notification;
  std::map<std::string, std::string> values = {
      {"event", ToString(n.event)},
      {"state", n.state},
      {"deliveryId", delivery.id},
      {"occurredAt", FormatRfc3339(n.occurred_at)},
      {"channel", delivery.channel},
      {"monitor.namespace", n.monitor_namespace},
      {"monitor.name", n.monitor_name},
      {"monitor.key", n.MonitorKey()},
      {"monitor.type", n.monitor_type},
      {"monitor.target", n.monitor_target},
      {"regions", Join(n.regions)},
      {"reason", n.reason},
      {"acknowledgedBy", n.acknowledged_by},
      {"screenshots", Join(n.screenshots, " ")},
      {"title", DefaultTitle(n)},
      {"text", DefaultText(n)},
  };
  if (n.incident) {
    values["incident.id"] = n.incident->id;
    values["incident.startedAt"] = FormatRfc3339(n.incident->started_at);
    if (n.incident->resolved_at) {
      values["incident.resolvedAt"] = FormatRfc3339(*n.incident->resolved_at);
    }
  }
  return values;
}

std::string MessageRenderer::Signature(const std::string& key, const std::string& body) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), digest, &length);
  return "sha256=" + Hex(digest, length);
}

Result<OutgoingMessage> MessageRenderer::Render(const AlertChannel& channel,
                                                const Delivery& delivery,
                                                const ChannelValues& values,
                                                const std::string& user_agent) {
  const Notification& n = delivery.notification;
  const std::map<std::string, std::string> template_values = TemplateValues(delivery);
  const std::string title = channel.message.title.empty()
                                ? DefaultTitle(n)
                                : TemplateText::Render(channel.message.title, template_values);
  const std::string text = channel.message.text.empty()
                               ? DefaultText(n)
                               : TemplateText::Render(channel.message.text, template_values);
  const std::string base = TrimSlash(values.url);
  if (channel.type != ChannelType::kEmail && base.rfind("http://", 0) != 0 &&
      base.rfind("https://", 0) != 0) {
    return Error{"the channel's URL (from " + channel.url.Describe() + ") is not an http(s) URL",
                 ErrorKind::kInvalidArgument};
  }
  OutgoingMessage out;
  out.timeout = channel.timeout;
  out.ca_file = channel.ca_file;
  out.insecure_skip_verify = channel.insecure_skip_verify;
  const std::vector<std::pair<std::string, std::string>> facts = Facts(n);

  const ChannelParts parts{channel, delivery, n, values, user_agent, title, text, base, facts};
  switch (channel.type) {
    case ChannelType::kWebhook:
      out.content = parts.Webhook();
      break;
    case ChannelType::kSlack:
      out.content = parts.Slack();
      break;
    case ChannelType::kDiscord:
      out.content = parts.Discord();
      break;
    case ChannelType::kMsTeams:
      out.content = parts.MsTeams();
      break;
    case ChannelType::kGoogleChat:
      out.content = parts.GoogleChat();
      break;
    case ChannelType::kPagerDuty:
      out.content = parts.PagerDuty();
      break;
    case ChannelType::kOpsgenie:
      out.content = parts.Opsgenie();
      break;
    case ChannelType::kTelegram:
      out.content = parts.Telegram();
      break;
    case ChannelType::kNtfy:
      out.content = parts.Ntfy();
      break;
    case ChannelType::kAlertmanager:
      out.content = parts.Alertmanager();
      break;
    case ChannelType::kEmail:
      out.content = parts.Email();
      break;
  }
  return out;
}

}  // namespace pharos
