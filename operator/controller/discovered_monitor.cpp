#include "operator/controller/discovered_monitor.h"

#include <cstdio>
#include <string_view>

#include "common/stable_hash.h"
#include "operator/kube/kube_client.h"

namespace pharos {
namespace {

using Json = nlohmann::json;

// A DNS-1123 subdomain's limit (a Monitor's metadata.name).
constexpr size_t kMaxName = 253;
constexpr size_t kMaxPath = 2048;

const Json* Member(const Json& object, const char* name) {
  if (!object.is_object()) {
    return nullptr;
  }
  auto found = object.find(name);
  return found == object.end() ? nullptr : &*found;
}

std::string StringMember(const Json& object, const char* name) {
  const Json* field = Member(object, name);
  return field != nullptr && field->is_string() ? field->get<std::string>() : std::string();
}

const Json& ArrayMember(const Json& object, const char* name) {
  static const Json kEmpty = Json::array();
  const Json* field = Member(object, name);
  return field != nullptr && field->is_array() ? *field : kEmpty;
}

std::optional<std::string> Annotation(const Json& source, const char* name) {
  const Json* metadata = Member(source, "metadata");
  const Json* annotations = metadata == nullptr ? nullptr : Member(*metadata, "annotations");
  const Json* value = annotations == nullptr ? nullptr : Member(*annotations, name);
  if (value == nullptr || !value->is_string()) {
    return std::nullopt;
  }
  return value->get<std::string>();
}

bool UsableHost(const std::string& host) {
  return !host.empty() && host.find('*') == std::string::npos;
}

// A path of an Ingress rule or HTTPRoute match that is a literal prefix or path (regular
// expressions and implementation-specific forms are not requested as they are).
std::string LiteralPath(const std::string& path, const std::string& type, bool prefix_type) {
  const bool literal = type == "Exact" || type == (prefix_type ? "PathPrefix" : "Prefix");
  return literal && !path.empty() && path.front() == '/' ? path : std::string();
}

struct Target {
  std::string host;
  std::string path;  // "" = "/"
  bool tls = false;
};

Result<Target> IngressTarget(const Json& ingress) {
  const Json* spec = Member(ingress, "spec");
  if (spec == nullptr) {
    return Error{"spec is missing", ErrorKind::kInvalidArgument};
  }
  Target target;
  for (const Json& rule : ArrayMember(*spec, "rules")) {
    const std::string host = StringMember(rule, "host");
    if (!UsableHost(host)) {
      continue;
    }
    target.host = host;
    const Json* http = Member(rule, "http");
    if (http != nullptr) {
      const Json& paths = ArrayMember(*http, "paths");
      if (!paths.empty()) {
        target.path =
            LiteralPath(StringMember(paths[0], "path"), StringMember(paths[0], "pathType"), false);
      }
    }
    break;
  }
  if (target.host.empty()) {
    return Error{"spec.rules names no host (a wildcard or a catch-all rule is not a URL)",
                 ErrorKind::kInvalidArgument};
  }
  for (const Json& tls : ArrayMember(*spec, "tls")) {
    const Json& hosts = ArrayMember(tls, "hosts");
    if (hosts.empty()) {
      target.tls = true;
    }
    for (const Json& host : hosts) {
      target.tls = target.tls || (host.is_string() && host.get<std::string>() == target.host);
    }
  }
  return target;
}

Result<Target> HttpRouteTarget(const Json& route) {
  const Json* spec = Member(route, "spec");
  if (spec == nullptr) {
    return Error{"spec is missing", ErrorKind::kInvalidArgument};
  }
  Target target;
  for (const Json& hostname : ArrayMember(*spec, "hostnames")) {
    if (hostname.is_string() && UsableHost(hostname.get<std::string>())) {
      target.host = hostname.get<std::string>();
      break;
    }
  }
  if (target.host.empty()) {
    return Error{"spec.hostnames names no host (wildcards are not a URL)",
                 ErrorKind::kInvalidArgument};
  }
  const Json& rules = ArrayMember(*spec, "rules");
  if (!rules.empty()) {
    const Json& matches = ArrayMember(rules[0], "matches");
    const Json* path = matches.empty() ? nullptr : Member(matches[0], "path");
    if (path != nullptr) {
      std::string type = StringMember(*path, "type");
      target.path =
          LiteralPath(StringMember(*path, "value"), type.empty() ? "PathPrefix" : type, true);
    }
  }
  return target;
}

// "200" → eq 200; "2xx" → 200 <= code < 300.
Result<Json> StatusAssertions(const std::string& text) {
  const auto error = [&] {
    return Error{std::string(DiscoveredMonitor::kExpectStatusAnnotation) + ": \"" + text +
                     "\" is not a status code (100-599) or a class such as \"2xx\"",
                 ErrorKind::kInvalidArgument};
  };
  if (text.size() != 3 || text[0] < '1' || text[0] > '5') {
    return error();
  }
  if (text[1] == 'x' && text[2] == 'x') {
    const int low = (text[0] - '0') * 100;
    return Json::array(
        {{{"type", "statusCode"}, {"op", "gte"}, {"value", std::to_string(low)}},
         {{"type", "statusCode"}, {"op", "lt"}, {"value", std::to_string(low + 100)}}});
  }
  for (char c : text) {
    if (c < '0' || c > '9') {
      return error();
    }
  }
  return Json::array({{{"type", "statusCode"}, {"op", "eq"}, {"value", text}}});
}

}  // namespace

const char* DiscoveredMonitor::KindName(SourceKind kind) {
  return kind == SourceKind::kIngress ? "ingress" : "httproute";
}

const char* DiscoveredMonitor::KindTitle(SourceKind kind) {
  return kind == SourceKind::kIngress ? "Ingress" : "HTTPRoute";
}

const char* DiscoveredMonitor::SourceApiVersion(SourceKind kind) {
  return kind == SourceKind::kIngress ? "networking.k8s.io/v1" : "gateway.networking.k8s.io/v1";
}

bool DiscoveredMonitor::Wanted(const Json& source) {
  return Annotation(source, kMonitorAnnotation) == "true";
}

std::string DiscoveredMonitor::MonitorName(SourceKind kind, const std::string& source_name) {
  const std::string suffix = std::string("-") + KindName(kind);
  if (source_name.size() + suffix.size() <= kMaxName) {
    return source_name + suffix;
  }
  char hash[17];
  std::snprintf(hash, sizeof(hash), "%016llx",
                static_cast<unsigned long long>(StableHash64(source_name)));
  const size_t keep = kMaxName - suffix.size() - 17;
  std::string head = source_name.substr(0, keep);
  while (!head.empty() && (head.back() == '-' || head.back() == '.')) {
    head.pop_back();
  }
  return head + "-" + hash + suffix;
}

Result<std::optional<Json>> DiscoveredMonitor::For(SourceKind kind, const Json& source) {
  if (!Wanted(source)) {
    return std::optional<Json>();
  }
  const std::string name = JsonStringAt(source, {"metadata", "name"});
  const std::string namespace_name = JsonStringAt(source, {"metadata", "namespace"});
  const std::string uid = JsonStringAt(source, {"metadata", "uid"});
  if (name.empty() || namespace_name.empty() || uid.empty()) {
    return Error{"metadata.name, namespace or uid is missing", ErrorKind::kInvalidArgument};
  }
  Result<Target> target =
      kind == SourceKind::kIngress ? IngressTarget(source) : HttpRouteTarget(source);
  if (!target) {
    return Error{target.error(), ErrorKind::kInvalidArgument};
  }
  std::string scheme = target->tls ? "https" : "http";
  if (std::optional<std::string> wanted = Annotation(source, kSchemeAnnotation)) {
    if (*wanted != "http" && *wanted != "https") {
      return Error{
          std::string(kSchemeAnnotation) + ": \"" + *wanted + "\" is neither http nor https",
          ErrorKind::kInvalidArgument};
    }
    scheme = *wanted;
  }
  std::string path = target->path.empty() ? "/" : target->path;
  if (std::optional<std::string> wanted = Annotation(source, kPathAnnotation)) {
    if (wanted->empty() || wanted->front() != '/' || wanted->size() > kMaxPath ||
        wanted->find_first_of(" \t\r\n#") != std::string::npos) {
      return Error{std::string(kPathAnnotation) +
                       ": must start with / and hold no spaces or fragment (at most 2048 "
                       "characters)",
                   ErrorKind::kInvalidArgument};
    }
    path = *wanted;
  }

  Json spec = {{"type", "http"}, {"http", {{"url", scheme + "://" + target->host + path}}}};
  if (std::optional<std::string> frequency = Annotation(source, kFrequencyAnnotation)) {
    spec["frequency"] = *frequency;
  }
  if (std::optional<std::string> status = Annotation(source, kExpectStatusAnnotation)) {
    Result<Json> assertions = StatusAssertions(*status);
    if (!assertions) {
      return Error{assertions.error(), ErrorKind::kInvalidArgument};
    }
    spec["assertions"] = std::move(assertions).value();
  }
  Json monitor = {
      {"apiVersion", ApiResource::Monitors().ApiVersion()},
      {"kind", "Monitor"},
      {"metadata",
       {{"name", MonitorName(kind, name)},
        {"namespace", namespace_name},
        {"labels", {{kManagedByLabel, kManagedByValue}, {kDiscoveredFromLabel, KindName(kind)}}},
        {"ownerReferences", Json::array({{{"apiVersion", SourceApiVersion(kind)},
                                          {"kind", KindTitle(kind)},
                                          {"name", name},
                                          {"uid", uid},
                                          {"controller", true}}})}}},
      {"spec", std::move(spec)}};
  return std::optional<Json>(std::move(monitor));
}

bool DiscoveredMonitor::OwnedBy(const Json& monitor, SourceKind kind,
                                const std::string& source_name) {
  if (JsonStringAt(monitor, {"metadata", "labels", kDiscoveredFromLabel}) != KindName(kind)) {
    return false;
  }
  const Json* metadata = Member(monitor, "metadata");
  if (metadata == nullptr) {
    return false;
  }
  for (const Json& owner : ArrayMember(*metadata, "ownerReferences")) {
    if (StringMember(owner, "kind") == KindTitle(kind) &&
        StringMember(owner, "name") == source_name) {
      return true;
    }
  }
  return false;
}

}  // namespace pharos
