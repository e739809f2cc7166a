#include "operator/kube/status_patcher.h"

#include <fmt/format.h>

#include <utility>

#include "common/logging.h"

namespace pharos {

StatusPatcher::StatusPatcher(KubeClient& client, StatusPatcherOptions options, const Clock& clock)
    : client_(client), options_(std::move(options)), bucket_(options_.qps, options_.burst, clock) {}

void StatusPatcher::SetObserver(Observer observer) { observer_ = std::move(observer); }

StatusPatcherCounters StatusPatcher::counters() const {
  MutexLock lock(mutex_);
  return counters_;
}

void StatusPatcher::Shutdown() { shutdown_.request_stop(); }

void StatusPatcher::Report(StatusPatchOutcome outcome, const KubeResponse& response) {
  {
    MutexLock lock(mutex_);
    switch (outcome) {
      case StatusPatchOutcome::kOk:
        ++counters_.ok;
        break;
      case StatusPatchOutcome::kConflict:
        ++counters_.conflict;
        break;
      case StatusPatchOutcome::kError:
        ++counters_.error;
        break;
    }
  }
  if (observer_) observer_(outcome, response);
}

KubeResponse StatusPatcher::Write(const std::string& namespace_name, const std::string& name,
                                  const nlohmann::json& status,
                                  const std::string& resource_version) {
  if (!bucket_.Acquire(shutdown_.get_token())) {
    KubeResponse cancelled;
    cancelled.cancelled = true;
    cancelled.transport_error = "status patcher is shutting down";
    return cancelled;
  }
  nlohmann::json body = {{"status", status}};
  if (!resource_version.empty()) body["metadata"]["resourceVersion"] = resource_version;
  PatchOptions patch_options;
  patch_options.subresource = "status";
  patch_options.field_manager = options_.field_manager;
  PatchType type = PatchType::kMerge;
  if (options_.mode == StatusPatchMode::kServerSideApply) {
    type = PatchType::kApply;
    patch_options.force = true;
    body["apiVersion"] = options_.resource.ApiVersion();
    body["kind"] = options_.kind;
    body["metadata"]["name"] = name;
    body["metadata"]["namespace"] = namespace_name;
  }
  KubeResponse response =
      client_.Patch(options_.resource, namespace_name, name, type, body, patch_options);
  if (response.ok()) {
    Report(StatusPatchOutcome::kOk, response);
  } else if (response.IsConflict()) {
    Report(StatusPatchOutcome::kConflict, response);
  } else {
    Report(StatusPatchOutcome::kError, response);
  }
  return response;
}

KubeResponse StatusPatcher::Patch(const std::string& namespace_name, const std::string& name,
                                  const nlohmann::json& status) {
  KubeResponse response = Write(namespace_name, name, status, "");
  if (!response.ok() && !response.cancelled && !response.IsNotFound()) {
    LogWarn("writing a status failed",
            {{"object", namespace_name + "/" + name}, {"error", response.Describe()}});
  }
  return response;
}

KubeResponse StatusPatcher::PatchFromFresh(const std::string& namespace_name,
                                           const std::string& name, const StatusFunction& compute) {
  KubeResponse response;
  for (int attempt = 1; attempt <= std::max(1, options_.max_attempts); ++attempt) {
    KubeResponse current = client_.Get(options_.resource, namespace_name, name);
    if (!current.ok()) return current;
    const std::optional<nlohmann::json> status = compute(current.body);
    if (!status) return current;
    const std::string resource_version =
        JsonStringAt(current.body, {"metadata", "resourceVersion"});
    response = Write(namespace_name, name, *status, resource_version);
    if (!response.IsConflict()) break;
    LogDebug("status conflict; retrying from fresh state",
             {{"object", fmt::format("{}/{}", namespace_name, name)}, {"attempt", attempt}});
  }
  if (!response.ok() && !response.cancelled && !response.IsNotFound()) {
    LogWarn("writing a status failed",
            {{"object", namespace_name + "/" + name}, {"error", response.Describe()}});
  }
  return response;
}

}  // namespace pharos
