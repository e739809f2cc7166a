#include "operator/kube/kube_client.h"

#include <utility>

namespace pharos {

std::string ApiResource::ApiVersion() const {
  return group.empty() ? version : group + "/" + version;
}

std::string ApiResource::Path(std::string_view namespace_name, std::string_view name,
                              std::string_view subresource) const {
  std::string path = group.empty() ? "/api/" + version : "/apis/" + group + "/" + version;
  if (namespaced && !namespace_name.empty()) {
    path += "/namespaces/";
    path += namespace_name;
  }
  path += "/" + plural;
  if (!name.empty()) {
    path += "/";
    path += name;
    if (!subresource.empty()) {
      path += "/";
      path += subresource;
    }
  }
  return path;
}

bool KubeStatus::FromJson(const nlohmann::json& object, KubeStatus* status) {
  if (JsonStringAt(object, {"kind"}) != "Status") return false;
  status->status = JsonStringAt(object, {"status"});
  status->reason = JsonStringAt(object, {"reason"});
  status->message = JsonStringAt(object, {"message"});
  const auto code = object.find("code");
  status->code = code != object.end() && code->is_number_integer() ? code->get<int>() : 0;
  return true;
}

std::string KubeResponse::Describe() const {
  if (cancelled) return "cancelled";
  if (http_status == 0) return "transport: " + transport_error;
  std::string text = "HTTP " + std::to_string(http_status);
  if (!status.reason.empty()) text += " " + status.reason;
  if (!status.message.empty()) text += ": " + status.message;
  if (!transport_error.empty()) text += " (" + transport_error + ")";
  return text;
}

std::string WatchEvent::ResourceVersion() const {
  return JsonStringAt(object, {"metadata", "resourceVersion"});
}

const char* WatchEvent::TypeName(Type type) {
  switch (type) {
    case Type::kAdded:
      return "ADDED";
    case Type::kModified:
      return "MODIFIED";
    case Type::kDeleted:
      return "DELETED";
    case Type::kBookmark:
      return "BOOKMARK";
    case Type::kError:
      return "ERROR";
  }
  return "UNKNOWN";
}

KubeResponse KubeClient::ListAll(const ApiResource& resource, std::string_view namespace_name,
                                 ListOptions options) {
  const ListOptions first = options;
  bool restarted = false;
  nlohmann::json items = nlohmann::json::array();
  while (true) {
    KubeResponse page = List(resource, namespace_name, options);
    if (page.IsGone() && !options.continue_token.empty() && !restarted) {
      // The continue token outlived etcd's compaction: start again as a consistent read.
      restarted = true;
      options = first;
      options.resource_version.clear();
      options.resource_version_match.clear();
      items = nlohmann::json::array();
      continue;
    }
    if (!page.ok()) return page;
    if (!page.body.is_object()) {
      page.transport_error = "list answer is not a JSON object";
      return page;
    }
    auto page_items = page.body.find("items");
    if (page_items != page.body.end() && page_items->is_array()) {
      for (auto& item : *page_items) items.push_back(std::move(item));
    }
    const std::string next = JsonStringAt(page.body, {"metadata", "continue"});
    if (next.empty() || options.limit <= 0) {
      const std::string rv = JsonStringAt(page.body, {"metadata", "resourceVersion"});
      KubeResponse all = std::move(page);
      all.body =
          nlohmann::json{{"metadata", {{"resourceVersion", rv}}}, {"items", std::move(items)}};
      return all;
    }
    options.continue_token = next;
    // A continue token pins the snapshot; the resource version must not be sent with it.
    options.resource_version.clear();
    options.resource_version_match.clear();
  }
}

std::string ObjectKey(const nlohmann::json& object) {
  const std::string name = JsonStringAt(object, {"metadata", "name"});
  const std::string ns = JsonStringAt(object, {"metadata", "namespace"});
  return ns.empty() ? name : ns + "/" + name;
}

std::string JsonStringAt(const nlohmann::json& object,
                         std::initializer_list<std::string_view> path) {
  const nlohmann::json* node = &object;
  for (std::string_view step : path) {
    if (!node->is_object()) return "";
    const auto it = node->find(step);
    if (it == node->end()) return "";
    node = &*it;
  }
  return node->is_string() ? node->get<std::string>() : "";
}

}  // namespace pharos
