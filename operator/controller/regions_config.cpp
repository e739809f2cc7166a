#include "operator/controller/regions_config.h"

#include <fstream>
#include <initializer_list>
#include <optional>
#include <set>
#include <sstream>
#include <utility>

#include "common/document_node.h"
#include "common/duration.h"
#include "common/field_locations.h"
#include "common/name_syntax.h"

namespace pharos {
namespace {

// DaemonSet names are DNS labels: "<namePrefix>-<region>" fits in 63 characters.
constexpr size_t kMaxDaemonSetName = 63;

// The label the operator sets itself on every DaemonSet (so not allowed in probe.labels).
constexpr const char* kManagedByLabel = "app.kubernetes.io/managed-by";

// Fields of core/v1 PodSecurityContext and SecurityContext (a typo is reported here, with its
// line, rather than by the API server when the DaemonSet is applied).
constexpr std::initializer_list<const char*> kPodSecurityContextFields = {
    "appArmorProfile",
    "fsGroup",
    "fsGroupChangePolicy",
    "runAsGroup",
    "runAsNonRoot",
    "runAsUser",
    "seLinuxChangePolicy",
    "seLinuxOptions",
    "seccompProfile",
    "supplementalGroups",
    "supplementalGroupsPolicy",
    "sysctls",
    "windowsOptions"};
constexpr std::initializer_list<const char*> kSecurityContextFields = {
    "allowPrivilegeEscalation", "appArmorProfile", "capabilities", "privileged", "procMount",
    "readOnlyRootFilesystem",   "runAsGroup",      "runAsNonRoot", "runAsUser",  "seLinuxOptions",
    "seccompProfile",           "windowsOptions"};

// A label value: at most 63 of [A-Za-z0-9-_.], starting and ending alphanumeric (may be empty).
bool IsLabelValue(std::string_view text) {
  if (text.empty()) return true;
  if (text.size() > 63) return false;
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (!alnum(text.front()) || !alnum(text.back())) return false;
  for (char c : text) {
    if (!alnum(c) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

// A label key: [prefix/]name, the prefix a DNS subdomain, the name a label value of 1-63.
bool IsLabelKey(std::string_view text) {
  const auto slash = text.find('/');
  std::string_view name = text;
  if (slash != std::string_view::npos) {
    if (!IsDns1123Subdomain(text.substr(0, slash))) return false;
    name = text.substr(slash + 1);
  }
  return !name.empty() && IsLabelValue(name);
}

// A resource quantity: "100m", "1.5", "64Mi", "1e3", "2G".
bool IsQuantity(std::string_view text) {
  size_t i = 0;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
  const size_t digits_start = i;
  bool dot = false;
  while (i < text.size() && ((text[i] >= '0' && text[i] <= '9') || (text[i] == '.' && !dot))) {
    dot = dot || text[i] == '.';
    ++i;
  }
  if (i == digits_start || (i == digits_start + 1 && dot)) return false;
  const std::string_view suffix = text.substr(i);
  static const char* const kSuffixes[] = {"",  "n", "u",  "m",  "k",  "M",  "G",  "T",
                                          "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
  for (const char* s : kSuffixes) {
    if (suffix == s) return true;
  }
  if (suffix.size() >= 2 && (suffix[0] == 'e' || suffix[0] == 'E')) {
    size_t j = 1;
    if (suffix[j] == '+' || suffix[j] == '-') ++j;
    if (j >= suffix.size()) return false;
    for (; j < suffix.size(); ++j) {
      if (suffix[j] < '0' || suffix[j] > '9') return false;
    }
    return true;
  }
  return false;
}

class Parser {
 public:
  explicit Parser(std::vector<ValidationError>* errors) : errors_(errors) {}

  void Fail(const SourceLocation& where, const std::string& path, const std::string& message) {
    errors_->push_back(ValidationError{where, path, message});
  }

  bool ExpectMapping(const DocumentNode& node, const std::string& path) {
    if (node.kind == DocumentNode::Kind::kMapping) return true;
    Fail(node.location, path, "must be a mapping, not " + node.KindName());
    return false;
  }

  // A scalar as a string; nullopt (with an error) otherwise.
  std::optional<std::string> String(const DocumentNode& node, const std::string& path) {
    if (node.kind == DocumentNode::Kind::kScalar) return node.scalar;
    Fail(node.location, path, "must be a string, not " + node.KindName());
    return std::nullopt;
  }

  // Checks that every member is one of `known` and that none is repeated.
  void CheckKeys(const DocumentNode& node, const std::string& path,
                 std::initializer_list<const char*> known) {
    std::set<std::string> seen;
    for (const auto& member : node.members) {
      bool ok = false;
      std::string list;
      for (const char* k : known) {
        ok = ok || member.key == k;
        list += (list.empty() ? "" : ", ") + std::string(k);
      }
      const std::string field = FieldLocations::Child(path, member.key);
      if (!ok) Fail(member.key_location, field, "unknown field (known: " + list + ")");
      if (!seen.insert(member.key).second) Fail(member.key_location, field, "repeated field");
    }
  }

  std::map<std::string, std::string> LabelMap(const DocumentNode& node, const std::string& path) {
    std::map<std::string, std::string> selector;
    if (!ExpectMapping(node, path)) return selector;
    for (const auto& member : node.members) {
      const std::string field = FieldLocations::Child(path, member.key);
      if (!IsLabelKey(member.key)) {
        Fail(member.key_location, field, "not a valid label key");
        continue;
      }
      auto value = String(member.value, field);
      if (!value) continue;
      if (!IsLabelValue(*value)) {
        Fail(member.value.location, field,
             "not a valid label value (at most 63 of A-Z a-z 0-9 - _ ., alphanumeric at both "
             "ends)");
        continue;
      }
      selector[member.key] = *value;
    }
    return selector;
  }

  nlohmann::json Tolerations(const DocumentNode& node, const std::string& path) {
    nlohmann::json tolerations = nlohmann::json::array();
    if (node.kind == DocumentNode::Kind::kNull) return tolerations;
    if (node.kind != DocumentNode::Kind::kSequence) {
      Fail(node.location, path, "must be a list, not " + node.KindName());
      return tolerations;
    }
    for (size_t i = 0; i < node.items.size(); ++i) {
      const DocumentNode& item = node.items[i];
      const std::string item_path = FieldLocations::Item(path, i);
      if (!ExpectMapping(item, item_path)) continue;
      CheckKeys(item, item_path, {"key", "operator", "value", "effect", "tolerationSeconds"});
      nlohmann::json toleration = nlohmann::json::object();
      std::string op = "Equal";
      std::string effect;
      bool has_seconds = false;
      for (const auto& member : item.members) {
        const std::string field = FieldLocations::Child(item_path, member.key);
        if (member.key == "tolerationSeconds") {
          auto text = String(member.value, field);
          if (!text) continue;
          char* end = nullptr;
          const long long seconds = std::strtoll(text->c_str(), &end, 10);
          if (text->empty() || *end != '\0') {
            Fail(member.value.location, field, "must be a whole number of seconds");
            continue;
          }
          toleration["tolerationSeconds"] = seconds;
          has_seconds = true;
          continue;
        }
        auto text = String(member.value, field);
        if (!text) continue;
        if (member.key == "operator") {
          if (*text != "Exists" && *text != "Equal") {
            Fail(member.value.location, field, "must be Exists or Equal");
            continue;
          }
          op = *text;
        } else if (member.key == "effect") {
          if (!text->empty() && *text != "NoSchedule" && *text != "PreferNoSchedule" &&
              *text != "NoExecute") {
            Fail(member.value.location, field, "must be NoSchedule, PreferNoSchedule or NoExecute");
            continue;
          }
          effect = *text;
        }
        toleration[member.key] = *text;
      }
      if (op == "Exists" && !toleration.value("value", std::string()).empty()) {
        Fail(item.location, item_path, "value must be empty when operator is Exists");
      }
      if (op == "Equal" && toleration.value("key", std::string()).empty()) {
        Fail(item.location, item_path, "key is required unless operator is Exists");
      }
      if (has_seconds && effect != "NoExecute") {
        Fail(item.location, item_path, "tolerationSeconds needs effect NoExecute");
      }
      tolerations.push_back(std::move(toleration));
    }
    return tolerations;
  }

  nlohmann::json Resources(const DocumentNode& node, const std::string& path) {
    nlohmann::json resources = nlohmann::json::object();
    if (!ExpectMapping(node, path)) return resources;
    CheckKeys(node, path, {"requests", "limits"});
    for (const auto& member : node.members) {
      if (member.key != "requests" && member.key != "limits") continue;
      const std::string group_path = FieldLocations::Child(path, member.key);
      if (!ExpectMapping(member.value, group_path)) continue;
      nlohmann::json group = nlohmann::json::object();
      for (const auto& quantity : member.value.members) {
        const std::string field = FieldLocations::Child(group_path, quantity.key);
        auto text = String(quantity.value, field);
        if (!text) continue;
        if (!IsQuantity(*text)) {
          Fail(quantity.value.location, field,
               "\"" + *text + "\" is not a quantity (e.g. 100m, 0.5, 64Mi, 1G)");
          continue;
        }
        group[quantity.key] = *text;
      }
      resources[member.key] = std::move(group);
    }
    return resources;
  }

  void TokenSecret(const DocumentNode& node, const std::string& path, std::string* name,
                   std::string* key) {
    if (!ExpectMapping(node, path)) return;
    CheckKeys(node, path, {"name", "key"});
    for (const auto& member : node.members) {
      const std::string field = FieldLocations::Child(path, member.key);
      auto text = String(member.value, field);
      if (!text) continue;
      if (member.key == "name") {
        if (!IsDns1123Subdomain(*text)) {
          Fail(member.value.location, field, "not a valid Secret name");
          continue;
        }
        *name = *text;
      } else if (member.key == "key") {
        if (text->empty()) {
          Fail(member.value.location, field, "must not be empty");
          continue;
        }
        *key = *text;
      }
    }
  }

  std::optional<std::string> PullPolicy(const DocumentNode& node, const std::string& path) {
    auto text = String(node, path);
    if (!text) return std::nullopt;
    if (*text != "Always" && *text != "IfNotPresent" && *text != "Never") {
      Fail(node.location, path, "must be Always, IfNotPresent or Never");
      return std::nullopt;
    }
    return text;
  }

  std::optional<std::string> Url(const DocumentNode& node, const std::string& path) {
    auto text = String(node, path);
    if (!text) return std::nullopt;
    if (text->rfind("http://", 0) != 0 && text->rfind("https://", 0) != 0) {
      Fail(node.location, path, "must be an http:// or https:// URL");
      return std::nullopt;
    }
    return text;
  }

  std::optional<bool> Bool(const DocumentNode& node, const std::string& path) {
    if (node.kind == DocumentNode::Kind::kScalar && !node.quoted &&
        (node.scalar == "true" || node.scalar == "false")) {
      return node.scalar == "true";
    }
    Fail(node.location, path, "must be true or false, not " + node.KindName());
    return std::nullopt;
  }

  std::optional<int> Port(const DocumentNode& node, const std::string& path) {
    if (node.kind == DocumentNode::Kind::kScalar && !node.quoted && !node.scalar.empty() &&
        node.scalar.size() <= 5 &&
        node.scalar.find_first_not_of("0123456789") == std::string::npos) {
      const int port = std::stoi(node.scalar);
      if (port >= 1 && port <= 65535) return port;
    }
    Fail(node.location, path, "must be a port number from 1 to 65535, not " + node.KindName());
    return std::nullopt;
  }

  std::vector<std::string> StringList(const DocumentNode& node, const std::string& path) {
    std::vector<std::string> list;
    if (node.kind == DocumentNode::Kind::kNull) return list;
    if (node.kind != DocumentNode::Kind::kSequence) {
      Fail(node.location, path, "must be a list of strings, not " + node.KindName());
      return list;
    }
    for (size_t i = 0; i < node.items.size(); ++i) {
      if (auto text = String(node.items[i], FieldLocations::Item(path, i))) list.push_back(*text);
    }
    return list;
  }

  // [{name: regcred}] (core/v1 LocalObjectReference list).
  std::vector<std::string> ImagePullSecrets(const DocumentNode& node, const std::string& path) {
    std::vector<std::string> names;
    if (node.kind == DocumentNode::Kind::kNull) return names;
    if (node.kind != DocumentNode::Kind::kSequence) {
      Fail(node.location, path, "must be a list like [{name: regcred}], not " + node.KindName());
      return names;
    }
    for (size_t i = 0; i < node.items.size(); ++i) {
      const DocumentNode& item = node.items[i];
      const std::string item_path = FieldLocations::Item(path, i);
      if (!ExpectMapping(item, item_path)) continue;
      CheckKeys(item, item_path, {"name"});
      const DocumentNode* name = nullptr;
      for (const auto& member : item.members) {
        if (member.key == "name") name = &member.value;
      }
      if (name == nullptr) {
        Fail(item.location, item_path, "name is required");
        continue;
      }
      auto text = String(*name, FieldLocations::Child(item_path, "name"));
      if (!text) continue;
      if (!IsDns1123Subdomain(*text)) {
        Fail(name->location, FieldLocations::Child(item_path, "name"), "not a valid Secret name");
        continue;
      }
      names.push_back(*text);
    }
    return names;
  }

  // A Kubernetes object passed through as JSON: plain true/false become booleans, plain whole
  // numbers integers, plain null/~ null; everything else (and anything quoted) a string.
  nlohmann::json ToJson(const DocumentNode& node) {
    switch (node.kind) {
      case DocumentNode::Kind::kNull:
        return nullptr;
      case DocumentNode::Kind::kSequence: {
        nlohmann::json list = nlohmann::json::array();
        for (const DocumentNode& item : node.items) list.push_back(ToJson(item));
        return list;
      }
      case DocumentNode::Kind::kMapping: {
        nlohmann::json object = nlohmann::json::object();
        for (const auto& member : node.members) object[member.key] = ToJson(member.value);
        return object;
      }
      case DocumentNode::Kind::kScalar:
        break;
    }
    const std::string& text = node.scalar;
    if (node.quoted || text.empty()) return text;
    if (text == "true" || text == "false") return text == "true";
    if (text == "null" || text == "~") return nullptr;
    const size_t digits = text.find_first_not_of("0123456789", text[0] == '-' ? 1 : 0);
    if (digits == std::string::npos && text.size() > (text[0] == '-' ? 1u : 0u) &&
        text.size() <= 18) {
      return std::stoll(text);
    }
    return text;
  }

  // A core/v1 (Pod)SecurityContext: a mapping of `known` fields, passed through.
  nlohmann::json SecurityContext(const DocumentNode& node, const std::string& path,
                                 std::initializer_list<const char*> known) {
    if (node.kind == DocumentNode::Kind::kNull) return nlohmann::json::object();
    if (!ExpectMapping(node, path)) return nlohmann::json::object();
    CheckKeys(node, path, known);
    return ToJson(node);
  }

 private:
  std::vector<ValidationError>* errors_;
};

}  // namespace

nlohmann::json ProbeTemplate::DefaultPodSecurityContext() {
  constexpr int kNonRootId = 65532;
  return {{"runAsNonRoot", true},
          {"runAsUser", kNonRootId},
          {"runAsGroup", kNonRootId},
          {"fsGroup", kNonRootId},
          {"seccompProfile", {{"type", "RuntimeDefault"}}}};
}

nlohmann::json ProbeTemplate::DefaultSecurityContext() {
  return {{"allowPrivilegeEscalation", false},
          {"readOnlyRootFilesystem", true},
          {"runAsNonRoot", true},
          {"capabilities", {{"drop", nlohmann::json::array({"ALL"})}}}};
}

std::string RegionsConfig::DaemonSetName(std::string_view region) const {
  return name_prefix + "-" + std::string(region);
}

namespace {

// `probe.screenshots` into `sidecar`.
void ParseScreenshots(Parser& parser, const DocumentNode& node, const std::string& path,
                      ScreenshotSidecarTemplate* sidecar) {
  if (!parser.ExpectMapping(node, path)) return;
  parser.CheckKeys(node, path, {"enabled", "image", "port", "timeout", "resources"});
  for (const auto& member : node.members) {
    const std::string field = FieldLocations::Child(path, member.key);
    const DocumentNode& value = member.value;
    if (member.key == "enabled") {
      if (auto v = parser.Bool(value, field)) sidecar->enabled = *v;
    } else if (member.key == "image") {
      if (auto v = parser.String(value, field)) sidecar->image = *v;
    } else if (member.key == "port") {
      if (auto v = parser.Port(value, field)) sidecar->port = *v;
    } else if (member.key == "timeout") {
      auto v = parser.String(value, field);
      if (!v) continue;
      if (Result<Millis> timeout = ParseDuration(*v); !timeout || *timeout < Millis(1'000)) {
        parser.Fail(value.location, field, "expected a duration of at least 1s, e.g. \"30s\"");
        continue;
      }
      sidecar->timeout = *v;
    } else if (member.key == "resources") {
      sidecar->resources = parser.Resources(value, field);
    }
  }
}

// The `probe:` section into `probe`.
void ParseProbe(Parser& parser, const DocumentNode& node, ProbeTemplate* probe,
                SourceLocation* labels_location) {
  if (!parser.ExpectMapping(node, "probe")) return;
  parser.CheckKeys(
      node, "probe",
      {"image", "imagePullPolicy", "imagePullSecrets", "serviceAccountName",
       "automountServiceAccountToken", "tokenSecret", "metricsPort", "labels", "podSecurityContext",
       "securityContext", "extraArgs", "priorityClassName", "screenshots"});
  for (const auto& member : node.members) {
    const std::string& key = member.key;
    const std::string field = FieldLocations::Child("probe", key);
    const DocumentNode& value = member.value;
    if (key == "image") {
      if (auto v = parser.String(value, field)) probe->image = *v;
    } else if (key == "imagePullPolicy") {
      if (value.kind == DocumentNode::Kind::kScalar && value.scalar.empty()) continue;
      if (auto v = parser.PullPolicy(value, field)) probe->image_pull_policy = *v;
    } else if (key == "imagePullSecrets") {
      probe->image_pull_secrets = parser.ImagePullSecrets(value, field);
    } else if (key == "serviceAccountName") {
      auto v = parser.String(value, field);
      if (!v) continue;
      if (!v->empty() && !IsDns1123Subdomain(*v)) {
        parser.Fail(value.location, field, "not a valid ServiceAccount name");
        continue;
      }
      probe->service_account_name = *v;
    } else if (key == "automountServiceAccountToken") {
      if (auto v = parser.Bool(value, field)) probe->automount_service_account_token = *v;
    } else if (key == "tokenSecret") {
      parser.TokenSecret(value, field, &probe->token_secret_name, &probe->token_secret_key);
    } else if (key == "metricsPort") {
      if (auto v = parser.Port(value, field)) probe->metrics_port = *v;
    } else if (key == "labels") {
      probe->labels = parser.LabelMap(value, field);
      *labels_location = value.location;
      if (probe->labels.empty() && value.kind == DocumentNode::Kind::kMapping) {
        parser.Fail(value.location, field,
                    "must not be empty: the labels select the probe pods of this operator");
      }
      if (probe->labels.count(kManagedByLabel) != 0) {
        parser.Fail(value.location, FieldLocations::Child(field, kManagedByLabel),
                    "is set by the operator (pharos-operator); remove it");
      }
    } else if (key == "podSecurityContext") {
      probe->pod_security_context = parser.SecurityContext(value, field, kPodSecurityContextFields);
    } else if (key == "securityContext") {
      probe->security_context = parser.SecurityContext(value, field, kSecurityContextFields);
    } else if (key == "extraArgs") {
      probe->extra_args = parser.StringList(value, field);
    } else if (key == "priorityClassName") {
      auto v = parser.String(value, field);
      if (!v) continue;
      if (!v->empty() && !IsDns1123Subdomain(*v)) {
        parser.Fail(value.location, field, "not a valid PriorityClass name");
        continue;
      }
      probe->priority_class_name = *v;
    } else if (key == "screenshots") {
      ParseScreenshots(parser, value, field, &probe->screenshots);
    }
  }
}

}  // namespace

std::vector<ValidationError> RegionsConfig::ParseInto(const std::string& text,
                                                      const std::string& file_name,
                                                      const RegionsConfigDefaults& defaults,
                                                      RegionsConfig* config) {
  std::vector<ValidationError> errors;
  ParsedDocuments parsed = ParseYamlDocuments(text, file_name);
  errors = std::move(parsed.errors);
  if (!errors.empty()) return errors;
  if (parsed.documents.size() != 1) {
    errors.push_back(ValidationError{SourceLocation{file_name, 0, 0}, "",
                                     parsed.documents.empty()
                                         ? "the file is empty; it needs at least `regions:`"
                                         : "the file must hold a single YAML document"});
    return errors;
  }
  const DocumentNode& root = parsed.documents.front();
  Parser parser(&errors);
  if (!parser.ExpectMapping(root, "")) return errors;
  parser.CheckKeys(root, "",
                   {"namespace", "namePrefix", "operatorUrl", "regionLabel", "regionPodLabel",
                    "probe", "regions"});

  const DocumentNode* regions = nullptr;
  SourceLocation regions_key = root.location;
  bool has_probe = false;
  SourceLocation labels_location = root.location;
  for (const auto& member : root.members) {
    const std::string& key = member.key;
    if (key == "namespace") {
      auto v = parser.String(member.value, key);
      if (!v) continue;
      if (!v->empty() && !IsDns1123Label(*v)) {
        parser.Fail(member.value.location, key, "not a valid namespace name");
        continue;
      }
      config->namespace_name = *v;
    } else if (key == "namePrefix") {
      auto v = parser.String(member.value, key);
      if (!v) continue;
      if (!IsDns1123Label(*v) || v->size() > kMaxDaemonSetName - 2) {
        parser.Fail(member.value.location, key,
                    "\"" + *v +
                        "\" is not a valid name prefix (1-61 of a-z 0-9 -, starting and "
                        "ending with a letter or digit)");
        continue;
      }
      config->name_prefix = *v;
    } else if (key == "operatorUrl") {
      if (auto v = parser.Url(member.value, key)) config->operator_url = *v;
    } else if (key == "regionLabel" || key == "regionPodLabel") {
      auto v = parser.String(member.value, key);
      if (!v) continue;
      if (!IsLabelKey(*v)) {
        parser.Fail(member.value.location, key, "not a valid label key");
        continue;
      }
      (key == "regionLabel" ? config->region_label : config->region_pod_label) = *v;
    } else if (key == "probe") {
      has_probe = true;
      ParseProbe(parser, member.value, &config->probe, &labels_location);
    } else if (key == "regions") {
      regions = &member.value;
      regions_key = member.key_location;
    }
  }
  if (config->probe.labels.count(config->region_pod_label) != 0) {
    parser.Fail(labels_location, FieldLocations::Child("probe.labels", config->region_pod_label),
                "is the region pod label (regionPodLabel), set per region by the operator");
  }
  if (config->probe.image.empty()) config->probe.image = defaults.image;
  if (config->probe.image.empty()) {
    parser.Fail(root.location, has_probe ? "probe.image" : "probe",
                "no probe image: set probe.image (or --probe-image)");
  }
  if (config->operator_url.empty()) config->operator_url = defaults.operator_url;
  if (config->operator_url.empty()) {
    parser.Fail(root.location, "operatorUrl",
                "no URL for the probes to reach the operator at: set operatorUrl (or "
                "--operator-url)");
  }

  if (regions == nullptr || regions->kind == DocumentNode::Kind::kNull) {
    parser.Fail(regions_key, "regions", "is required: list the probe regions");
    return errors;
  }
  if (regions->kind != DocumentNode::Kind::kSequence) {
    parser.Fail(regions->location, "regions", "must be a list, not " + regions->KindName());
    return errors;
  }
  const size_t max_region = kMaxDaemonSetName - config->name_prefix.size() - 1;
  std::set<std::string> names;
  for (size_t i = 0; i < regions->items.size(); ++i) {
    const DocumentNode& item = regions->items[i];
    const std::string path = FieldLocations::Item("regions", i);
    if (!parser.ExpectMapping(item, path)) continue;
    parser.CheckKeys(item, path, {"name", "nodeSelector", "tolerations", "resources"});
    ProbeRegionConfig region;
    bool has_selector = false;
    bool has_name = false;
    for (const auto& member : item.members) {
      const std::string field = FieldLocations::Child(path, member.key);
      if (member.key == "name") {
        auto name = parser.String(member.value, field);
        if (!name) continue;
        has_name = true;
        if (!IsDns1123Label(*name)) {
          parser.Fail(member.value.location, field,
                      "\"" + *name +
                          "\" is not a valid region name (a-z 0-9 -, starting and ending with a "
                          "letter or digit)");
          continue;
        }
        if (name->size() > max_region) {
          parser.Fail(member.value.location, field,
                      "region \"" + *name + "\" is too long: the DaemonSet name \"" +
                          config->DaemonSetName(*name) + "\" must fit in 63 characters (at most " +
                          std::to_string(max_region) + " with namePrefix \"" + config->name_prefix +
                          "\")");
          continue;
        }
        if (!names.insert(*name).second) {
          parser.Fail(member.value.location, field, "region \"" + *name + "\" is listed twice");
          continue;
        }
        region.name = *name;
      } else if (member.key == "nodeSelector") {
        region.node_selector = parser.LabelMap(member.value, field);
        has_selector = true;
      } else if (member.key == "tolerations") {
        region.tolerations = parser.Tolerations(member.value, field);
      } else if (member.key == "resources") {
        if (member.value.kind != DocumentNode::Kind::kNull) {
          region.resources = parser.Resources(member.value, field);
        }
      }
    }
    if (!has_name) {
      parser.Fail(item.location, path, "name is required");
      continue;
    }
    if (region.name.empty()) continue;  // already reported
    if (!has_selector) region.node_selector = {{config->region_label, region.name}};
    config->regions.push_back(std::move(region));
  }
  return errors;
}

std::vector<ValidationError> RegionsConfig::Validate(const std::string& text,
                                                     const std::string& file_name,
                                                     const RegionsConfigDefaults& defaults) {
  RegionsConfig ignored;
  return ParseInto(text, file_name, defaults, &ignored);
}

Result<RegionsConfig> RegionsConfig::Parse(const std::string& text, const std::string& file_name,
                                           const RegionsConfigDefaults& defaults) {
  RegionsConfig config;
  const std::vector<ValidationError> errors = ParseInto(text, file_name, defaults, &config);
  if (errors.empty()) return config;
  std::string message = "invalid regions config:";
  for (const auto& error : errors) message += "\n  " + error.ToString();
  return Error{message};
}

Result<RegionsConfig> RegionsConfig::LoadFile(const std::string& path,
                                              const RegionsConfigDefaults& defaults) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{"regions config " + path + " cannot be read"};
  std::ostringstream text;
  text << in.rdbuf();
  return Parse(text.str(), path, defaults);
}

}  // namespace pharos
