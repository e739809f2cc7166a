#include "operator/regions_config.h"

#include <fstream>
#include <set>
#include <sstream>
#include <utility>

#include "common/document_node.h"
#include "common/field_locations.h"
#include "common/name_syntax.h"

namespace pharos {
namespace {

// Region names become part of DaemonSet names ("pharos-probe-" + name, at most 63 characters).
constexpr size_t kMaxRegionName = 50;

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

  std::map<std::string, std::string> NodeSelector(const DocumentNode& node,
                                                  const std::string& path) {
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

 private:
  std::vector<ValidationError>* errors_;
};

}  // namespace

std::vector<ValidationError> RegionsConfig::ParseInto(const std::string& text,
                                                      const std::string& file_name,
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
                   {"image", "imagePullPolicy", "operatorUrl", "regionLabel", "tokenSecret",
                    "resources", "regions"});

  ProbeRegionConfig defaults;
  std::string region_label = "topology.kubernetes.io/region";
  const DocumentNode* regions = nullptr;
  SourceLocation regions_key = root.location;
  for (const auto& member : root.members) {
    const std::string& key = member.key;
    if (key == "image") {
      if (auto v = parser.String(member.value, key)) defaults.image = *v;
    } else if (key == "imagePullPolicy") {
      if (auto v = parser.PullPolicy(member.value, key)) defaults.image_pull_policy = *v;
    } else if (key == "operatorUrl") {
      if (auto v = parser.Url(member.value, key)) defaults.operator_url = *v;
    } else if (key == "regionLabel") {
      if (auto v = parser.String(member.value, key)) {
        if (IsLabelKey(*v)) {
          region_label = *v;
        } else {
          parser.Fail(member.value.location, key, "not a valid label key");
        }
      }
    } else if (key == "tokenSecret") {
      parser.TokenSecret(member.value, key, &defaults.token_secret_name,
                         &defaults.token_secret_key);
    } else if (key == "resources") {
      defaults.resources = parser.Resources(member.value, key);
    } else if (key == "regions") {
      regions = &member.value;
      regions_key = member.key_location;
    }
  }
  if (regions == nullptr || regions->kind == DocumentNode::Kind::kNull) {
    parser.Fail(regions_key, "regions", "is required: list the probe regions");
    return errors;
  }
  if (regions->kind != DocumentNode::Kind::kSequence) {
    parser.Fail(regions->location, "regions", "must be a list, not " + regions->KindName());
    return errors;
  }
  std::set<std::string> names;
  for (size_t i = 0; i < regions->items.size(); ++i) {
    const DocumentNode& item = regions->items[i];
    const std::string path = FieldLocations::Item("regions", i);
    if (!parser.ExpectMapping(item, path)) continue;
    parser.CheckKeys(item, path,
                     {"name", "nodeSelector", "tolerations", "resources", "image",
                      "imagePullPolicy", "tokenSecret", "operatorUrl"});
    ProbeRegionConfig region = defaults;
    bool has_selector = false;
    bool has_name = false;
    for (const auto& member : item.members) {
      const std::string field = FieldLocations::Child(path, member.key);
      if (member.key == "name") {
        auto name = parser.String(member.value, field);
        if (!name) continue;
        has_name = true;
        if (!IsDns1123Label(*name) || name->size() > kMaxRegionName) {
          parser.Fail(member.value.location, field,
                      "\"" + *name +
                          "\" is not a valid region name (1-50 of a-z 0-9 -, starting and ending "
                          "with a letter or digit)");
          continue;
        }
        if (!names.insert(*name).second) {
          parser.Fail(member.value.location, field, "region \"" + *name + "\" is listed twice");
          continue;
        }
        region.name = *name;
      } else if (member.key == "nodeSelector") {
        region.node_selector = parser.NodeSelector(member.value, field);
        has_selector = true;
      } else if (member.key == "tolerations") {
        region.tolerations = parser.Tolerations(member.value, field);
      } else if (member.key == "resources") {
        region.resources = parser.Resources(member.value, field);
      } else if (member.key == "image") {
        if (auto v = parser.String(member.value, field)) region.image = *v;
      } else if (member.key == "imagePullPolicy") {
        if (auto v = parser.PullPolicy(member.value, field)) region.image_pull_policy = *v;
      } else if (member.key == "tokenSecret") {
        parser.TokenSecret(member.value, field, &region.token_secret_name,
                           &region.token_secret_key);
      } else if (member.key == "operatorUrl") {
        if (auto v = parser.Url(member.value, field)) region.operator_url = *v;
      }
    }
    if (!has_name) {
      parser.Fail(item.location, path, "name is required");
      continue;
    }
    if (region.name.empty()) continue;  // already reported
    if (!has_selector) region.node_selector = {{region_label, region.name}};
    if (region.image.empty()) {
      parser.Fail(item.location, path, "no image: set `image` at the top or in the region");
    }
    config->regions_.push_back(std::move(region));
  }
  return errors;
}

std::vector<ValidationError> RegionsConfig::Validate(const std::string& text,
                                                     const std::string& file_name) {
  RegionsConfig ignored;
  return ParseInto(text, file_name, &ignored);
}

Result<RegionsConfig> RegionsConfig::Parse(const std::string& text, const std::string& file_name) {
  RegionsConfig config;
  const std::vector<ValidationError> errors = ParseInto(text, file_name, &config);
  if (errors.empty()) return config;
  std::string message = "invalid regions config:";
  for (const auto& error : errors) message += "\n  " + error.ToString();
  return Error{message};
}

Result<RegionsConfig> RegionsConfig::LoadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{"regions config " + path + " cannot be read"};
  std::ostringstream text;
  text << in.rdbuf();
  return Parse(text.str(), path);
}

std::vector<ProbeRegionConfig> RegionsConfig::WithOperatorUrl(const std::string& url) const {
  std::vector<ProbeRegionConfig> regions = regions_;
  for (auto& region : regions) {
    if (region.operator_url.empty()) region.operator_url = url;
  }
  return regions;
}

}  // namespace pharos
