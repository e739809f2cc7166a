#pragma once

// FakeKubeClient: an in-memory stand-in for the Kubernetes API for unit tests of the kube
// layer. Objects live in a map keyed by path; every write bumps a global resourceVersion;
// Update checks metadata.resourceVersion (409 Conflict on mismatch); Create answers 409
// AlreadyExists; List pages with limit/continue; merge and apply patches are applied as JSON
// merge patches. Watches are scripted: each Watch() call takes the next WatchScript (events,
// then an end answer); with no script left it blocks until cancelled. `intercept` may answer
// any call instead of the store (to inject failures). Every call is recorded.
// Thread-safety: every method may be called from any thread.

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "operator/kube/kube_client.h"

namespace pharos::testing {

struct RecordedCall {
  std::string verb;  // get list create update patch delete watch
  std::string path;
  nlohmann::json body;
  PatchType patch_type = PatchType::kMerge;
  PatchOptions patch_options;
  ListOptions list_options;
  WatchOptions watch_options;
};

struct WatchScript {
  std::vector<WatchEvent> events;
  KubeResponse end;              // what Watch returns after the events (http_status 200)
  std::function<void()> during;  // runs before the events are delivered (e.g. advance a clock)
};

inline WatchEvent MakeEvent(WatchEvent::Type type, nlohmann::json object) {
  WatchEvent event;
  event.type = type;
  event.object = std::move(object);
  if (type == WatchEvent::Type::kError) KubeStatus::FromJson(event.object, &event.status);
  return event;
}

inline KubeResponse MakeStatusResponse(int code, std::string reason, std::string message = "") {
  KubeResponse response;
  response.http_status = code;
  response.status = KubeStatus{"Failure", std::move(reason), std::move(message), code};
  response.body = {{"kind", "Status"},
                   {"apiVersion", "v1"},
                   {"status", "Failure"},
                   {"reason", response.status.reason},
                   {"message", response.status.message},
                   {"code", code}};
  return response;
}

inline KubeResponse MakeOkResponse(nlohmann::json body = nullptr) {
  KubeResponse response;
  response.http_status = 200;
  response.body = std::move(body);
  return response;
}

class FakeKubeClient : public KubeClient {
 public:
  // Returns an answer to use instead of the store, or nullopt to go on.
  using Interceptor = std::function<std::optional<KubeResponse>(const RecordedCall& call)>;

  void SetInterceptor(Interceptor interceptor) {
    std::lock_guard<std::mutex> lock(mutex_);
    intercept_ = std::move(interceptor);
  }

  void AddWatchScript(WatchScript script) {
    std::lock_guard<std::mutex> lock(mutex_);
    scripts_.push_back(std::move(script));
    changed_.notify_all();
  }

  // Stores `object` (a copy with a fresh resourceVersion) as if created by someone else.
  nlohmann::json Put(const ApiResource& resource, const nlohmann::json& object) {
    std::lock_guard<std::mutex> lock(mutex_);
    nlohmann::json stored = object;
    stored["metadata"]["resourceVersion"] = std::to_string(++resource_version_);
    objects_[resource.Path(JsonStringAt(object, {"metadata", "namespace"}),
                           JsonStringAt(object, {"metadata", "name"}))] = stored;
    return stored;
  }

  std::optional<nlohmann::json> Stored(const ApiResource& resource, std::string_view ns,
                                       std::string_view name) const {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = objects_.find(resource.Path(ns, name));
    if (it == objects_.end()) return std::nullopt;
    return it->second;
  }

  void Erase(const ApiResource& resource, std::string_view ns, std::string_view name) {
    std::lock_guard<std::mutex> lock(mutex_);
    objects_.erase(resource.Path(ns, name));
    ++resource_version_;
  }

  std::vector<RecordedCall> Calls() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return calls_;
  }
  std::vector<RecordedCall> Calls(const std::string& verb) const {
    std::vector<RecordedCall> matching;
    for (auto& call : Calls()) {
      if (call.verb == verb) matching.push_back(call);
    }
    return matching;
  }
  int64_t resource_version() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return resource_version_;
  }

  KubeResponse Get(const ApiResource& resource, std::string_view ns,
                   std::string_view name) override {
    RecordedCall call{"get", resource.Path(ns, name)};
    if (auto answer = Record(call)) return *answer;
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = objects_.find(call.path);
    if (it == objects_.end()) return MakeStatusResponse(404, "NotFound", "not found");
    return MakeOkResponse(it->second);
  }

  KubeResponse List(const ApiResource& resource, std::string_view ns,
                    const ListOptions& options) override {
    RecordedCall call{"list", resource.Path(ns)};
    call.list_options = options;
    call.list_options.stop = {};
    if (auto answer = Record(call)) return *answer;
    std::lock_guard<std::mutex> lock(mutex_);
    // Objects under the collection path, in key order; the continue token is the last key.
    nlohmann::json items = nlohmann::json::array();
    std::string last_path;
    std::string next;
    for (const auto& [path, object] : objects_) {
      if (!InCollection(resource, ns, object, path)) continue;
      if (!MatchesLabels(object, options.label_selector)) continue;
      if (!options.continue_token.empty() && path <= options.continue_token) continue;
      if (options.limit > 0 && static_cast<int64_t>(items.size()) == options.limit) {
        next = last_path;
        break;
      }
      items.push_back(object);
      last_path = path;
    }
    nlohmann::json metadata = {{"resourceVersion", std::to_string(resource_version_)}};
    if (!next.empty()) metadata["continue"] = next;
    return MakeOkResponse({{"kind", "List"}, {"metadata", metadata}, {"items", items}});
  }

  KubeResponse Create(const ApiResource& resource, std::string_view ns,
                      const nlohmann::json& object) override {
    RecordedCall call{"create", resource.Path(ns, JsonStringAt(object, {"metadata", "name"}))};
    call.body = object;
    if (auto answer = Record(call)) return *answer;
    std::lock_guard<std::mutex> lock(mutex_);
    if (objects_.count(call.path) != 0) return MakeStatusResponse(409, "AlreadyExists", "exists");
    nlohmann::json stored = object;
    stored["metadata"]["namespace"] = std::string(ns);
    stored["metadata"]["resourceVersion"] = std::to_string(++resource_version_);
    objects_[call.path] = stored;
    KubeResponse response = MakeOkResponse(stored);
    response.http_status = 201;
    return response;
  }

  KubeResponse Update(const ApiResource& resource, std::string_view ns, std::string_view name,
                      const nlohmann::json& object, const UpdateOptions&) override {
    RecordedCall call{"update", resource.Path(ns, name)};
    call.body = object;
    if (auto answer = Record(call)) return *answer;
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = objects_.find(call.path);
    if (it == objects_.end()) return MakeStatusResponse(404, "NotFound", "not found");
    const std::string sent = JsonStringAt(object, {"metadata", "resourceVersion"});
    if (!sent.empty() && sent != JsonStringAt(it->second, {"metadata", "resourceVersion"})) {
      return MakeStatusResponse(409, "Conflict", "the object has been modified");
    }
    nlohmann::json stored = object;
    stored["metadata"]["resourceVersion"] = std::to_string(++resource_version_);
    it->second = stored;
    return MakeOkResponse(stored);
  }

  KubeResponse Patch(const ApiResource& resource, std::string_view ns, std::string_view name,
                     PatchType type, const nlohmann::json& patch,
                     const PatchOptions& options) override {
    RecordedCall call{"patch", resource.Path(ns, name, options.subresource)};
    call.body = patch;
    call.patch_type = type;
    call.patch_options = options;
    if (auto answer = Record(call)) return *answer;
    std::lock_guard<std::mutex> lock(mutex_);
    const std::string path = resource.Path(ns, name);
    auto it = objects_.find(path);
    if (it == objects_.end()) {
      if (type != PatchType::kApply) return MakeStatusResponse(404, "NotFound", "not found");
      it = objects_.emplace(path, nlohmann::json::object()).first;
    }
    const std::string sent = JsonStringAt(patch, {"metadata", "resourceVersion"});
    if (!sent.empty() && sent != JsonStringAt(it->second, {"metadata", "resourceVersion"})) {
      return MakeStatusResponse(409, "Conflict", "the object has been modified");
    }
    it->second.merge_patch(patch);
    it->second["metadata"]["resourceVersion"] = std::to_string(++resource_version_);
    return MakeOkResponse(it->second);
  }

  KubeResponse Delete(const ApiResource& resource, std::string_view ns, std::string_view name,
                      const DeleteOptions&) override {
    RecordedCall call{"delete", resource.Path(ns, name)};
    if (auto answer = Record(call)) return *answer;
    std::lock_guard<std::mutex> lock(mutex_);
    if (objects_.erase(call.path) == 0) return MakeStatusResponse(404, "NotFound", "not found");
    ++resource_version_;
    return MakeOkResponse({{"kind", "Status"}, {"status", "Success"}});
  }

  KubeResponse Watch(const ApiResource& resource, std::string_view ns, const WatchOptions& options,
                     const WatchHandler& handler, std::stop_token stop) override {
    RecordedCall call{"watch", resource.Path(ns)};
    call.watch_options = options;
    if (auto answer = Record(call)) return *answer;
    std::optional<WatchScript> script;
    {
      std::stop_callback wake(stop, [this] {
        std::lock_guard<std::mutex> lock(mutex_);
        changed_.notify_all();
      });
      std::unique_lock<std::mutex> lock(mutex_);
      changed_.wait(lock, [&] { return !scripts_.empty() || stop.stop_requested(); });
      if (!scripts_.empty() && !stop.stop_requested()) {
        script = std::move(scripts_.front());
        scripts_.pop_front();
      }
    }
    if (!script) {
      KubeResponse cancelled;
      cancelled.http_status = 200;
      cancelled.cancelled = true;
      return cancelled;
    }
    if (script->during) script->during();
    for (const auto& event : script->events) {
      if (!handler(event)) break;
    }
    return script->end;
  }

 private:
  static bool InCollection(const ApiResource& resource, std::string_view ns,
                           const nlohmann::json& object, const std::string& path) {
    if (path.find("/" + resource.plural + "/") == std::string::npos) return false;
    return ns.empty() || JsonStringAt(object, {"metadata", "namespace"}) == ns;
  }

  static const nlohmann::json* LabelsOf(const nlohmann::json& object) {
    if (!object.is_object() || !object.contains("metadata")) return nullptr;
    const nlohmann::json& metadata = object["metadata"];
    if (!metadata.is_object() || !metadata.contains("labels")) return nullptr;
    return metadata["labels"].is_object() ? &metadata["labels"] : nullptr;
  }

  // Label selectors of "key=value" and "key" (exists) terms, comma-separated.
  static bool MatchesLabels(const nlohmann::json& object, const std::string& selector) {
    size_t start = 0;
    while (start < selector.size()) {
      size_t end = selector.find(',', start);
      if (end == std::string::npos) end = selector.size();
      const std::string term = selector.substr(start, end - start);
      const size_t equals = term.find('=');
      if (equals == std::string::npos) {  // "key": the label exists, whatever its value
        const nlohmann::json* labels = LabelsOf(object);
        if (labels == nullptr || !labels->contains(term)) return false;
        start = end + 1;
        continue;
      }
      if (JsonStringAt(object, {"metadata", "labels", term.substr(0, equals)}) !=
          term.substr(equals + 1)) {
        return false;
      }
      start = end + 1;
    }
    return true;
  }

  std::optional<KubeResponse> Record(const RecordedCall& call) {
    Interceptor intercept;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      calls_.push_back(call);
      intercept = intercept_;
    }
    if (intercept) return intercept(call);
    return std::nullopt;
  }

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, nlohmann::json> objects_;
  int64_t resource_version_ = 100;
  std::deque<WatchScript> scripts_;
  std::vector<RecordedCall> calls_;
  Interceptor intercept_;
};

}  // namespace pharos::testing
