#include "operator/alerting/alert_channel.h"

#include <curl/curl.h>

#include <algorithm>
#include <memory>

#include "common/name_syntax.h"
#include "operator/alerting/template_text.h"

namespace pharos {
namespace {

using Kind = DocumentNode::Kind;
using Fields = std::map<std::string, const DocumentNode*>;

constexpr std::pair<ChannelType, std::string_view> kTypeNames[] = {
    {ChannelType::kWebhook, "webhook"},
    {ChannelType::kSlack, "slack"},
    {ChannelType::kDiscord, "discord"},
    {ChannelType::kMsTeams, "msteams"},
    {ChannelType::kGoogleChat, "googlechat"},
    {ChannelType::kPagerDuty, "pagerduty"},
    {ChannelType::kOpsgenie, "opsgenie"},
    {ChannelType::kTelegram, "telegram"},
    {ChannelType::kNtfy, "ntfy"},
    {ChannelType::kEmail, "email"},
    {ChannelType::kAlertmanager, "alertmanager"},
};

const DocumentNode* Get(const Fields& fields, const char* key) {
  auto found = fields.find(key);
  return found == fields.end() ? nullptr : found->second;
}

// An absolute http(s) URL with a host, as libcurl reads it; an error in plain words otherwise.
Status CheckUrl(const std::string& url, std::initializer_list<std::string_view> schemes) {
  if (url.find("://") == std::string::npos) {
    return Error{"must be an absolute URL such as https://hooks.example.com/pharos"};
  }
  for (const char c : url) {
    if (static_cast<unsigned char>(c) <= ' ' || c == '\x7f') {
      return Error{"must not contain spaces or control characters (percent-encode them)"};
    }
  }
  std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> handle(curl_url(), &curl_url_cleanup);
  if (!handle) {
    return Error{"cannot parse URL: out of memory"};
  }
  const CURLUcode code =
      curl_url_set(handle.get(), CURLUPART_URL, url.c_str(), CURLU_NON_SUPPORT_SCHEME);
  if (code != CURLUE_OK) {
    return Error{"is not a valid URL: " + std::string(curl_url_strerror(code))};
  }
  char* scheme = nullptr;
  std::string scheme_text;
  if (curl_url_get(handle.get(), CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK && scheme) {
    scheme_text = scheme;
  }
  curl_free(scheme);
  char* host = nullptr;
  const bool has_host =
      curl_url_get(handle.get(), CURLUPART_HOST, &host, 0) == CURLUE_OK && host && *host;
  curl_free(host);
  if (std::find(schemes.begin(), schemes.end(), scheme_text) == schemes.end()) {
    std::string allowed;
    for (std::string_view s : schemes) allowed += (allowed.empty() ? "" : " or ") + std::string(s);
    return Error{"scheme must be " + allowed + " (got \"" + scheme_text + "\")"};
  }
  if (!has_host) {
    return Error{"must have a host"};
  }
  return OkStatus();
}

// Reads the document's channel spec.
class ChannelParser {
 public:
  ChannelParser(DocumentReader& reader, AlertChannel& channel)
      : reader_(reader), channel_(channel) {}

  void Spec(const DocumentNode& spec) {
    std::vector<std::string_view> known = {"type",    "default", "sendDegraded",
                                           "timeout", "tls",     "template"};
    for (const auto& [type, name] : kTypeNames) known.push_back(name);
    auto fields = reader_.Fields(spec, "spec", known);
    if (!fields) return;
    const DocumentNode* type_node = Get(*fields, "type");
    bool typed = false;
    if (type_node == nullptr) {
      reader_.Fail(spec.location, "spec.type", "required: " + TypeList());
    } else {
      std::string text;
      if (reader_.String(*type_node, "spec.type", &text)) {
        if (auto type = ParseChannelType(text)) {
          channel_.type = *type;
          typed = true;
        } else {
          reader_.Fail(type_node->location, "spec.type",
                       DocumentReader::NotOneOf(text, ChannelTypeNames()));
        }
      }
    }
    if (const DocumentNode* node = Get(*fields, "default")) {
      reader_.Bool(*node, "spec.default", &channel_.is_default);
    }
    if (const DocumentNode* node = Get(*fields, "sendDegraded")) {
      reader_.Bool(*node, "spec.sendDegraded", &channel_.send_degraded);
    }
    if (const DocumentNode* node = Get(*fields, "timeout")) {
      std::chrono::milliseconds timeout{};
      if (reader_.Duration(*node, "spec.timeout", &timeout)) {
        if (timeout < std::chrono::seconds(1) || timeout > std::chrono::minutes(2)) {
          reader_.Fail(node->location, "spec.timeout", "must be between 1s and 2m");
        } else {
          channel_.timeout = timeout;
        }
      }
    }
    if (const DocumentNode* node = Get(*fields, "tls")) {
      if (auto tls = reader_.Fields(*node, "spec.tls", {"caFile", "insecureSkipVerify"})) {
        if (const DocumentNode* ca = Get(*tls, "caFile")) {
          reader_.String(*ca, "spec.tls.caFile", &channel_.ca_file);
        }
        if (const DocumentNode* skip = Get(*tls, "insecureSkipVerify")) {
          reader_.Bool(*skip, "spec.tls.insecureSkipVerify", &channel_.insecure_skip_verify);
        }
      }
    }
    if (const DocumentNode* node = Get(*fields, "template")) {
      if (auto text = reader_.Fields(*node, "spec.template", {"title", "text"})) {
        const std::pair<const char*, std::string*> parts[] = {{"title", &channel_.message.title},
                                                              {"text", &channel_.message.text}};
        for (const auto& [key, out] : parts) {
          const std::string path = std::string("spec.template.") + key;
          if (const DocumentNode* part = Get(*text, key);
              part && reader_.String(*part, path, out)) {
            if (Status checked = TemplateText::Check(*out); !checked) {
              reader_.Fail(part->location, path, checked.error());
            }
          }
        }
      }
    }
    // Exactly the block of the type.
    for (const auto& [type, name] : kTypeNames) {
      const DocumentNode* block = Get(*fields, std::string(name).c_str());
      if (block != nullptr && (!typed || type != channel_.type)) {
        if (typed) {
          reader_.Fail(block->location, "spec." + std::string(name),
                       "only the block of spec.type (" + std::string(ToString(channel_.type)) +
                           ") may be set");
        }
      }
    }
    if (!typed) return;
    const std::string block_name = ToString(channel_.type);
    const DocumentNode* block = Get(*fields, block_name.c_str());
    const std::string path = "spec." + block_name;
    if (block == nullptr) {
      reader_.Fail(spec.location, path, "required for type " + block_name);
      return;
    }
    Block(*block, path);
  }

 private:
  static std::string TypeList() {
    std::string text;
    for (const auto& [type, name] : kTypeNames) {
      text += (text.empty() ? "" : ", ") + std::string(name);
    }
    return text;
  }

  // A value or valueFrom. `secret`: a value may not be written in the document.
  void Source(const DocumentNode& node, const std::string& path, bool secret, ValueSource* out) {
    if (node.kind == Kind::kScalar) {
      if (secret) {
        reader_.Fail(
            node.location, path,
            "a secret is never written in the document: use valueFrom (" + SourceKinds() + ")");
        return;
      }
      out->value = node.scalar;
      return;
    }
    auto fields = reader_.Fields(node, path, {"value", "valueFrom"});
    if (!fields) return;
    const DocumentNode* value = Get(*fields, "value");
    const DocumentNode* from = Get(*fields, "valueFrom");
    if ((value == nullptr) == (from == nullptr)) {
      reader_.Fail(node.location, path, "set exactly one of value and valueFrom");
      return;
    }
    if (value != nullptr) {
      if (secret) {
        reader_.Fail(
            value->location, DocumentReader::Child(path, "value"),
            "a secret is never written in the document: use valueFrom (" + SourceKinds() + ")");
        return;
      }
      std::string text;
      if (reader_.String(*value, DocumentReader::Child(path, "value"), &text)) out->value = text;
      return;
    }
    const std::string from_path = DocumentReader::Child(path, "valueFrom");
    auto kinds = reader_.Fields(*from, from_path, {"env", "file", "secretKeyRef"});
    if (!kinds) return;
    if (kinds->size() != 1) {
      reader_.Fail(from->location, from_path, "set exactly one of " + SourceKinds());
      return;
    }
    const bool api = reader_.origin() == DocumentOrigin::kApiObject;
    const auto& [kind, source] = *kinds->begin();
    const std::string kind_path = DocumentReader::Child(from_path, kind);
    if (kind == "secretKeyRef") {
      if (!api) {
        reader_.Fail(source->location, kind_path,
                     "secretKeyRef is for AlertChannel resources in Kubernetes; in files use env "
                     "or file");
        return;
      }
      auto ref = reader_.Fields(*source, kind_path, {"name", "key"});
      if (!ref) return;
      const DocumentNode* name = Get(*ref, "name");
      const DocumentNode* key = Get(*ref, "key");
      if (name == nullptr || key == nullptr) {
        reader_.Fail(source->location, kind_path, "name and key are required");
        return;
      }
      if (reader_.String(*name, kind_path + ".name", &out->secret_name) &&
          !IsDns1123Subdomain(out->secret_name)) {
        reader_.Fail(name->location, kind_path + ".name", "is not a valid Secret name");
      }
      reader_.String(*key, kind_path + ".key", &out->secret_key);
      return;
    }
    if (api) {
      reader_.Fail(source->location, kind_path,
                   kind + " would read the operator's own " +
                       (kind == "env" ? "environment" : "files") +
                       "; in Kubernetes use valueFrom.secretKeyRef");
      return;
    }
    std::string text;
    if (!reader_.String(*source, kind_path, &text)) return;
    if (text.empty()) {
      reader_.Fail(source->location, kind_path, "must not be empty");
      return;
    }
    (kind == "env" ? out->env : out->file) = text;
  }

  std::string SourceKinds() const {
    return reader_.origin() == DocumentOrigin::kApiObject ? "secretKeyRef" : "env or file";
  }

  void Url(const Fields& fields, const char* key, const std::string& path, bool required,
           std::initializer_list<std::string_view> schemes = {"http", "https"}) {
    const DocumentNode* node = Get(fields, key);
    const std::string url_path = DocumentReader::Child(path, key);
    if (node == nullptr) {
      if (required) reader_.Fail(reader_.document_location(), url_path, "required");
      return;
    }
    Source(*node, url_path, /*secret=*/false, &channel_.url);
    if (channel_.url.value) {
      if (Status checked = CheckUrl(*channel_.url.value, schemes); !checked) {
        reader_.Fail(node->location, url_path, checked.error());
      }
    }
  }

  void Secret(const Fields& fields, const char* key, const std::string& path, bool required) {
    const DocumentNode* node = Get(fields, key);
    const std::string secret_path = DocumentReader::Child(path, key);
    if (node == nullptr) {
      if (required) {
        reader_.Fail(reader_.document_location(), secret_path,
                     "required (valueFrom: " + SourceKinds() + ")");
      }
      return;
    }
    Source(*node, secret_path, /*secret=*/true, &channel_.secret);
  }

  void Text(const Fields& fields, const char* key, const std::string& path, std::string* out,
            bool required) {
    const DocumentNode* node = Get(fields, key);
    const std::string text_path = DocumentReader::Child(path, key);
    if (node == nullptr) {
      if (required) reader_.Fail(reader_.document_location(), text_path, "required");
      return;
    }
    if (reader_.String(*node, text_path, out) && required && out->empty()) {
      reader_.Fail(node->location, text_path, "must not be empty");
    }
  }

  void Block(const DocumentNode& block, const std::string& path) {
    switch (channel_.type) {
      case ChannelType::kWebhook: {
        auto fields = reader_.Fields(block, path, {"url", "secret", "headers"});
        if (!fields) return;
        Url(*fields, "url", path, true);
        Secret(*fields, "secret", path, false);
        if (const DocumentNode* headers = Get(*fields, "headers")) {
          reader_.StringMap(*headers, path + ".headers", &channel_.headers);
          for (const auto& [name, value] : channel_.headers) {
            if (!IsHttpToken(name) || value.find_first_of("\r\n") != std::string::npos) {
              reader_.Fail(headers->location, DocumentReader::Child(path + ".headers", name),
                           "not a valid HTTP header (name a token, value without line breaks)");
            }
          }
        }
        return;
      }
      case ChannelType::kSlack:
      case ChannelType::kDiscord:
      case ChannelType::kMsTeams:
      case ChannelType::kGoogleChat: {
        auto fields = reader_.Fields(block, path, {"url"});
        if (!fields) return;
        Url(*fields, "url", path, true);
        return;
      }
      case ChannelType::kPagerDuty: {
        auto fields = reader_.Fields(block, path, {"routingKey", "url", "severity"});
        if (!fields) return;
        Secret(*fields, "routingKey", path, true);
        Url(*fields, "url", path, false);
        if (channel_.url.empty()) channel_.url.value = std::string(kPagerDutyEventsUrl);
        channel_.severity = "critical";
        Enum(*fields, "severity", path, {"critical", "error", "warning", "info"});
        return;
      }
      case ChannelType::kOpsgenie: {
        auto fields = reader_.Fields(block, path, {"apiKey", "url", "priority"});
        if (!fields) return;
        Secret(*fields, "apiKey", path, true);
        Url(*fields, "url", path, false);
        if (channel_.url.empty()) channel_.url.value = std::string(kOpsgenieApiUrl);
        channel_.severity = "P1";
        Enum(*fields, "priority", path, {"P1", "P2", "P3", "P4", "P5"});
        return;
      }
      case ChannelType::kTelegram: {
        auto fields = reader_.Fields(block, path, {"botToken", "chatId", "url"});
        if (!fields) return;
        Secret(*fields, "botToken", path, true);
        Text(*fields, "chatId", path, &channel_.chat_id, true);
        Url(*fields, "url", path, false);
        if (channel_.url.empty()) channel_.url.value = std::string(kTelegramApiUrl);
        return;
      }
      case ChannelType::kNtfy: {
        auto fields = reader_.Fields(block, path, {"url", "topic", "token", "priority"});
        if (!fields) return;
        Url(*fields, "url", path, false);
        if (channel_.url.empty()) channel_.url.value = std::string(kNtfyUrl);
        Text(*fields, "topic", path, &channel_.topic, true);
        if (!channel_.topic.empty() && !IsHttpToken(channel_.topic)) {
          reader_.Fail(Get(*fields, "topic")->location, path + ".topic",
                       "use letters, digits, '-' and '_' only");
        }
        Secret(*fields, "token", path, false);
        channel_.severity = "4";
        Enum(*fields, "priority", path, {"1", "2", "3", "4", "5"});
        return;
      }
      case ChannelType::kEmail: {
        auto fields = reader_.Fields(block, path,
                                     {"server", "security", "username", "password", "from", "to"});
        if (!fields) return;
        Text(*fields, "server", path, &channel_.smtp_server, true);
        if (!channel_.smtp_server.empty()) {
          const size_t colon = channel_.smtp_server.rfind(':');
          const std::string port =
              colon == std::string::npos ? "" : channel_.smtp_server.substr(colon + 1);
          if (colon == std::string::npos || colon == 0 || port.empty() ||
              !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
            reader_.Fail(Get(*fields, "server")->location, path + ".server",
                         "must be HOST:PORT, e.g. smtp.example.com:587");
          }
        }
        if (const DocumentNode* node = Get(*fields, "security")) {
          std::string text;
          if (reader_.String(*node, path + ".security", &text)) {
            if (text == "starttls") {
              channel_.smtp_security = SmtpSecurity::kStartTls;
            } else if (text == "tls") {
              channel_.smtp_security = SmtpSecurity::kImplicitTls;
            } else if (text == "none") {
              channel_.smtp_security = SmtpSecurity::kNone;
            } else {
              reader_.Fail(node->location, path + ".security",
                           DocumentReader::NotOneOf(text, {"starttls", "tls", "none"}));
            }
          }
        }
        Text(*fields, "username", path, &channel_.smtp_username, false);
        Secret(*fields, "password", path, false);
        if (!channel_.smtp_username.empty() && channel_.secret.empty()) {
          reader_.Fail(Get(*fields, "username")->location, path + ".password",
                       "required with username (valueFrom: " + SourceKinds() + ")");
        }
        Text(*fields, "from", path, &channel_.mail_from, true);
        if (!channel_.mail_from.empty() && !LooksLikeAddress(channel_.mail_from)) {
          reader_.Fail(Get(*fields, "from")->location, path + ".from",
                       "must be an e-mail address (name@example.com)");
        }
        if (const DocumentNode* to = Get(*fields, "to")) {
          if (reader_.StringList(*to, path + ".to", &channel_.mail_to)) {
            for (size_t i = 0; i < channel_.mail_to.size(); ++i) {
              if (!LooksLikeAddress(channel_.mail_to[i])) {
                reader_.Fail(to->items[i].location, DocumentReader::Item(path + ".to", i),
                             "must be an e-mail address (name@example.com)");
              }
            }
            if (channel_.mail_to.empty() || channel_.mail_to.size() > 50) {
              reader_.Fail(to->location, path + ".to", "list 1 to 50 recipients");
            }
          }
        } else {
          reader_.Fail(block.location, path + ".to", "required: at least one recipient");
        }
        return;
      }
      case ChannelType::kAlertmanager: {
        auto fields = reader_.Fields(block, path, {"url", "labels"});
        if (!fields) return;
        Url(*fields, "url", path, true);
        if (const DocumentNode* labels = Get(*fields, "labels")) {
          reader_.StringMap(*labels, path + ".labels", &channel_.labels);
          for (const auto& [name, value] : channel_.labels) {
            const bool valid = !name.empty() && !(name[0] >= '0' && name[0] <= '9') &&
                               std::all_of(name.begin(), name.end(), [](char c) {
                                 return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                        (c >= '0' && c <= '9') || c == '_';
                               });
            if (!valid) {
              reader_.Fail(labels->location, DocumentReader::Child(path + ".labels", name),
                           "not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)");
            }
          }
        }
        return;
      }
    }
  }

  void Enum(const Fields& fields, const char* key, const std::string& path,
            const std::vector<std::string_view>& allowed) {
    const DocumentNode* node = Get(fields, key);
    if (node == nullptr) return;
    const std::string enum_path = DocumentReader::Child(path, key);
    std::string text;
    if (!reader_.String(*node, enum_path, &text)) return;
    if (std::find(allowed.begin(), allowed.end(), text) == allowed.end()) {
      reader_.Fail(node->location, enum_path, DocumentReader::NotOneOf(text, allowed));
      return;
    }
    channel_.severity = text;
  }

  static bool LooksLikeAddress(const std::string& address) {
    const size_t at = address.find('@');
    return at != std::string::npos && at > 0 && at + 1 < address.size() &&
           address.find('@', at + 1) == std::string::npos &&
           address.find_first_of(" \t\r\n<>,;\"") == std::string::npos;
  }

  DocumentReader& reader_;
  AlertChannel& channel_;
};

}  // namespace

const char* ToString(ChannelType type) {
  for (const auto& [value, name] : kTypeNames) {
    if (value == type) return name.data();
  }
  return "webhook";
}

std::optional<ChannelType> ParseChannelType(std::string_view text) {
  for (const auto& [value, name] : kTypeNames) {
    if (name == text) return value;
  }
  return std::nullopt;
}

const std::vector<std::string_view>& ChannelTypeNames() {
  static const std::vector<std::string_view> kNames = [] {
    std::vector<std::string_view> names;
    for (const auto& [value, name] : kTypeNames) names.push_back(name);
    return names;
  }();
  return kNames;
}

std::string ValueSource::Describe() const {
  if (!env.empty()) return "environment variable " + env;
  if (!file.empty()) return "file " + file;
  if (!secret_name.empty()) return "key \"" + secret_key + "\" of Secret " + secret_name;
  return value ? "a value" : "nothing";
}

Result<AlertChannel> ParseAlertChannel(const DocumentNode& document, DocumentOrigin origin,
                                       std::vector<ValidationError>* errors) {
  const size_t before = errors->size();
  DocumentReader reader(origin, *errors);
  AlertChannel channel;
  if (const DocumentNode* spec = reader.Envelope(document, "AlertChannel", &channel.meta)) {
    ChannelParser(reader, channel).Spec(*spec);
  }
  if (errors->size() != before) {
    return Error{"invalid AlertChannel " + channel.Key() + ": " + (*errors)[before].ToString(),
                 ErrorKind::kInvalidArgument};
  }
  return channel;
}

}  // namespace pharos
