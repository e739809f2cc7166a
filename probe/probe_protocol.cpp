#include "probe/probe_protocol.h"

#include "common/rfc3339.h"

namespace pharos {
namespace {

using Json = nlohmann::json;

nlohmann::json IdentityJson(const ProbeIdentity& probe) {
  return Json{{"name", probe.name}, {"region", probe.region}};
}

// A positive whole number no larger than `max`, or an error naming `field`.
Result<int64_t> PositiveInteger(const Json& json, const std::string& field, int64_t max) {
  if (!json.is_number_integer() || json.get<int64_t>() < 1 || json.get<int64_t>() > max) {
    return Error{field + ": expected a whole number from 1 to " + std::to_string(max) + ", got " +
                 json.dump()};
  }
  return json.get<int64_t>();
}

Result<std::vector<std::string>> StringList(const Json& reply, const std::string& field) {
  std::vector<std::string> list;
  if (!reply.contains(field) || reply[field].is_null()) return list;
  if (!reply[field].is_array()) return Error{field + ": expected an array of strings"};
  for (size_t i = 0; i < reply[field].size(); ++i) {
    const Json& id = reply[field][i];
    if (!id.is_string()) {
      return Error{field + "[" + std::to_string(i) + "]: expected a string, got " + id.dump()};
    }
    list.push_back(id.get<std::string>());
  }
  return list;
}

Result<std::chrono::system_clock::time_point> TimeField(const Json& item, const std::string& field,
                                                        const std::string& path) {
  if (!item[field].is_string()) return Error{path + "." + field + ": expected an RFC 3339 time"};
  auto time = ParseRfc3339(item[field].get<std::string>());
  if (!time.ok()) return Error{path + "." + field + ": " + time.error()};
  return *time;
}

// The `endpoints` of an item: [{address, port, name}], addresses as IP literals.
Result<std::vector<ServiceEndpoint>> Endpoints(const Json& list, const std::string& path) {
  if (!list.is_array()) return Error{path + ": expected an array"};
  std::vector<ServiceEndpoint> endpoints;
  endpoints.reserve(list.size());
  for (size_t i = 0; i < list.size(); ++i) {
    const Json& entry = list[i];
    const std::string at = path + "[" + std::to_string(i) + "]";
    if (!entry.is_object()) return Error{at + ": expected an object"};
    ServiceEndpoint endpoint;
    if (!entry.contains("address") || !entry["address"].is_string() ||
        entry["address"].get<std::string>().empty()) {
      return Error{at + ".address: expected a non-empty string"};
    }
    endpoint.address = entry["address"].get<std::string>();
    if (entry.contains("port") && !entry["port"].is_null()) {
      if (!entry["port"].is_number_integer() || entry["port"].get<int64_t>() < 0 ||
          entry["port"].get<int64_t>() > 65535) {
        return Error{at + ".port: expected a whole number from 0 to 65535"};
      }
      endpoint.port = entry["port"].get<int>();
    }
    if (entry.contains("name") && !entry["name"].is_null()) {
      if (!entry["name"].is_string()) return Error{at + ".name: expected a string"};
      endpoint.name = entry["name"].get<std::string>();
    }
    endpoints.push_back(std::move(endpoint));
  }
  return endpoints;
}

// A spec version: opaque, 1-64 characters.
Result<std::string> SpecVersion(const Json& value) {
  constexpr size_t kMaxLength = 64;
  if (!value.is_string() || value.get_ref<const std::string&>().empty() ||
      value.get_ref<const std::string&>().size() > kMaxLength) {
    return Error{"expected a string of 1-64 characters"};
  }
  return value.get<std::string>();
}

Result<LeaseItem> ParseItem(const Json& item, const std::string& path) {
  if (!item.is_object()) return Error{path + ": expected an object"};
  LeaseItem parsed;
  if (!item.contains("id") || !item["id"].is_string() || item["id"].get<std::string>().empty()) {
    return Error{path + ".id: expected a non-empty string"};
  }
  parsed.id = item["id"].get<std::string>();
  if (!item.contains("monitorUid") || !item["monitorUid"].is_string() ||
      item["monitorUid"].get<std::string>().empty()) {
    return Error{path + ".monitorUid: expected a non-empty string (item " + parsed.id + ")"};
  }
  parsed.monitor_uid = item["monitorUid"].get<std::string>();
  if (item.contains("generation")) {
    if (!item["generation"].is_number_integer()) {
      return Error{path + ".generation: expected a whole number (item " + parsed.id + ")"};
    }
    parsed.generation = item["generation"].get<int64_t>();
  }
  if (item.contains("region")) {
    if (!item["region"].is_string()) {
      return Error{path + ".region: expected a string (item " + parsed.id + ")"};
    }
    parsed.region = item["region"].get<std::string>();
  }
  if (item.contains("attempt")) {
    if (!item["attempt"].is_number_integer()) {
      return Error{path + ".attempt: expected a whole number (item " + parsed.id + ")"};
    }
    parsed.attempt = item["attempt"].get<int>();
  }
  if (!item.contains("scheduledAt")) {
    return Error{path + ".scheduledAt: missing (item " + parsed.id + ")"};
  }
  auto scheduled = TimeField(item, "scheduledAt", path);
  if (!scheduled.ok()) return Error{scheduled.error() + " (item " + parsed.id + ")"};
  parsed.scheduled_at = *scheduled;
  for (const char* field : {"deadline", "leaseExpiresAt"}) {
    if (!item.contains(field) || item[field].is_null()) continue;
    auto time = TimeField(item, field, path);
    if (!time.ok()) return Error{time.error() + " (item " + parsed.id + ")"};
    (std::string(field) == "deadline" ? parsed.deadline : parsed.lease_expires_at) = *time;
  }
  if (item.contains("endpoints") && !item["endpoints"].is_null()) {
    auto endpoints = Endpoints(item["endpoints"], path + ".endpoints");
    if (!endpoints.ok()) return Error{endpoints.error() + " (item " + parsed.id + ")"};
    parsed.endpoints = std::move(endpoints).value();
  }
  if (const auto version = item.find("specVersion"); version != item.end() && !version->is_null()) {
    auto text = SpecVersion(*version);
    if (!text.ok()) {
      return Error{path + ".specVersion: " + text.error() + " (item " + parsed.id + ")"};
    }
    parsed.spec_version = std::move(text).value();
  }
  return parsed;
}

}  // namespace

std::string RegisterRequestBody(const ProbeIdentity& probe, size_t capacity) {
  Json body = IdentityJson(probe);
  body["version"] = probe.version;
  body["capacity"] = capacity;
  return body.dump();
}

std::string LeaseRequestBody(const ProbeIdentity& probe, size_t max_items, int wait_seconds) {
  Json body = IdentityJson(probe);
  body["max"] = max_items;
  body["waitSeconds"] = wait_seconds;
  body["omitSpecs"] = true;
  return body.dump();
}

std::string MonitorSpecsRequestBody(const ProbeIdentity& probe,
                                    const std::vector<std::string>& uids) {
  Json body = IdentityJson(probe);
  body["uids"] = uids;
  return body.dump();
}

std::string ResultsRequestBody(const ProbeIdentity& probe,
                               const std::vector<std::string>& results) {
  // The results are already serialized; splice them in rather than parse them again.
  std::string body = IdentityJson(probe).dump();
  body.pop_back();  // the closing brace
  body += ",\"results\":[";
  for (size_t i = 0; i < results.size(); ++i) {
    if (i > 0) body += ',';
    body += results[i];
  }
  body += "]}";
  return body;
}

Result<RegisterReply> ParseRegisterReply(const Json& json) {
  if (!json.is_object()) return Error{"register reply: expected a JSON object"};
  RegisterReply reply;
  if (json.contains("leaseWaitMaxSeconds")) {
    auto seconds = PositiveInteger(json["leaseWaitMaxSeconds"], "leaseWaitMaxSeconds", 3600);
    if (!seconds.ok()) return Error{"register reply: " + seconds.error()};
    reply.lease_wait_max_seconds = static_cast<int>(*seconds);
  }
  if (json.contains("resultBatchMax")) {
    auto batch = PositiveInteger(json["resultBatchMax"], "resultBatchMax", 1'000'000);
    if (!batch.ok()) return Error{"register reply: " + batch.error()};
    reply.result_batch_max = static_cast<size_t>(*batch);
  }
  return reply;
}

namespace {

// The reply's `targetPolicy` ({"deny": [...], "allow": [...]}); the defaults alone when absent.
Result<TargetPolicy> ParseTargetPolicy(const Json& json, const std::string& where) {
  if (!json.contains("targetPolicy") || json["targetPolicy"].is_null()) return TargetPolicy();
  const Json& policy = json["targetPolicy"];
  if (!policy.is_object()) {
    return Error{where + ": targetPolicy: expected {\"deny\": [...], \"allow\": [...]}"};
  }
  auto deny = StringList(policy, "deny");
  if (!deny.ok()) return Error{where + ": targetPolicy." + deny.error()};
  auto allow = StringList(policy, "allow");
  if (!allow.ok()) return Error{where + ": targetPolicy." + allow.error()};
  auto parsed = TargetPolicy::Create(*deny, *allow);
  if (!parsed.ok()) return Error{where + ": targetPolicy: " + parsed.error()};
  return parsed;
}

}  // namespace

Result<LeaseReply> ParseLeaseReply(const Json& json) {
  if (!json.is_object()) return Error{"lease reply: expected a JSON object"};
  LeaseReply reply;
  if (json.contains("items") && !json["items"].is_null()) {
    if (!json["items"].is_array()) return Error{"lease reply: items: expected an array"};
    const Json& items = json["items"];
    for (size_t i = 0; i < items.size(); ++i) {
      auto item = ParseItem(items[i], "items[" + std::to_string(i) + "]");
      if (item.ok()) {
        reply.items.push_back(std::move(item).value());
      } else {
        reply.unreadable_items.push_back(item.error());
      }
    }
  }
  if (json.contains("monitors") && !json["monitors"].is_null()) {
    if (!json["monitors"].is_object()) {
      return Error{"lease reply: monitors: expected an object of Monitors by uid"};
    }
    reply.monitors = json["monitors"];
  }
  auto policy = ParseTargetPolicy(json, "lease reply");
  if (!policy.ok()) return Error{policy.error()};
  reply.cluster_policy = std::move(policy).value();
  return reply;
}

Result<ResultsReply> ParseResultsReply(const Json& json) {
  if (!json.is_object()) return Error{"results reply: expected a JSON object"};
  ResultsReply reply;
  auto accepted = StringList(json, "accepted");
  if (!accepted.ok()) return Error{"results reply: " + accepted.error()};
  reply.accepted = std::move(accepted).value();
  auto duplicates = StringList(json, "duplicates");
  if (!duplicates.ok()) return Error{"results reply: " + duplicates.error()};
  reply.duplicates = std::move(duplicates).value();
  if (json.contains("rejected") && !json["rejected"].is_null()) {
    if (!json["rejected"].is_array()) return Error{"results reply: rejected: expected an array"};
    for (size_t i = 0; i < json["rejected"].size(); ++i) {
      const Json& entry = json["rejected"][i];
      const std::string path = "results reply: rejected[" + std::to_string(i) + "]";
      if (!entry.is_object() || !entry.contains("id") || !entry["id"].is_string()) {
        return Error{path + ": expected {\"id\": ..., \"reason\": ...}"};
      }
      RejectedResult rejected{entry["id"].get<std::string>(), ""};
      if (entry.contains("reason") && entry["reason"].is_string()) {
        rejected.reason = entry["reason"].get<std::string>();
      }
      reply.rejected.push_back(std::move(rejected));
    }
  }
  return reply;
}

Result<MonitorSpecsReply> ParseMonitorSpecsReply(const Json& json) {
  if (!json.is_object()) return Error{"monitors reply: expected a JSON object"};
  MonitorSpecsReply reply;
  const auto monitors = json.find("monitors");
  if (monitors == json.end() || monitors->is_null()) return reply;
  if (!monitors->is_object()) {
    return Error{"monitors reply: monitors: expected an object of Monitors by uid"};
  }
  const auto versions = json.find("specVersions");
  if (versions == json.end() || !versions->is_object()) {
    return Error{"monitors reply: specVersions: expected an object of versions by uid"};
  }
  for (const auto& [uid, object] : monitors->items()) {
    const auto version = versions->find(uid);
    if (version == versions->end()) {
      return Error{"monitors reply: specVersions: no version for monitor " + uid};
    }
    auto text = SpecVersion(*version);
    if (!text.ok()) return Error{"monitors reply: specVersions." + uid + ": " + text.error()};
    reply.versions.emplace(uid, std::move(text).value());
  }
  reply.monitors = *monitors;
  return reply;
}

std::string ScreenshotLeaseRequestBody(const ProbeIdentity& probe, size_t max) {
  Json body = IdentityJson(probe);
  body["max"] = max;
  return body.dump();
}

std::string ScreenshotFailedRequestBody(const ProbeIdentity& probe, const std::string& id,
                                        const std::string& error) {
  Json body = IdentityJson(probe);
  body["id"] = id;
  // The operator keeps at most 1024 bytes; cut on a character boundary (the JSON must stay UTF-8).
  constexpr size_t kMaxError = 1000;
  std::string text = error.substr(0, kMaxError);
  while (text.size() < error.size() && !text.empty() &&
         (static_cast<unsigned char>(error[text.size()]) & 0xC0) == 0x80) {
    text.pop_back();
  }
  body["error"] = text;
  return body.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string ScreenshotUploadQuery(const ProbeIdentity& probe, const std::string& id) {
  // Probe names, regions and request ids need no escaping (their syntax is checked).
  return "?name=" + probe.name + "&region=" + probe.region + "&id=" + id;
}

Result<std::vector<ScreenshotLeaseItem>> ParseScreenshotLeaseReply(const Json& json) {
  if (!json.is_object()) return Error{"screenshot lease reply: expected a JSON object"};
  std::vector<ScreenshotLeaseItem> items;
  if (!json.contains("requests") || json["requests"].is_null()) return items;
  auto policy = ParseTargetPolicy(json, "screenshot lease reply");
  if (!policy.ok()) return Error{policy.error()};
  if (!json["requests"].is_array()) {
    return Error{"screenshot lease reply: requests: expected an array"};
  }
  for (size_t i = 0; i < json["requests"].size(); ++i) {
    const Json& entry = json["requests"][i];
    const std::string path = "screenshot lease reply: requests[" + std::to_string(i) + "]";
    if (!entry.is_object()) return Error{path + ": expected an object"};
    ScreenshotLeaseItem item;
    for (auto [field, target] :
         {std::pair{"id", &item.id}, std::pair{"url", &item.url},
          std::pair{"monitor", &item.monitor}, std::pair{"incident", &item.incident},
          std::pair{"moment", &item.moment}}) {
      if (!entry.contains(field) || entry[field].is_null()) continue;
      if (!entry[field].is_string()) return Error{path + "." + field + ": expected a string"};
      *target = entry[field].get<std::string>();
    }
    if (item.id.empty() || item.id.size() > 64 ||
        item.id.find_first_not_of("0123456789abcdef") != std::string::npos) {
      return Error{path + ".id: expected 1-64 lower-case hex digits"};
    }
    if (item.url.rfind("http://", 0) != 0 && item.url.rfind("https://", 0) != 0) {
      return Error{path + ".url: expected an http:// or https:// URL"};
    }
    item.cluster_policy = *policy;
    items.push_back(std::move(item));
  }
  return items;
}

}  // namespace pharos
