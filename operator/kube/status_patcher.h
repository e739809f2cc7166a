#pragma once

// StatusPatcher: writes the status subresource of custom resources (Monitor.status) through one
// global token bucket (--status-qps), so that thousands of Monitors can never flood the API
// server. Writes are JSON merge patches or server-side apply (fieldManager pharos-operator,
// force) of PATCH .../NAME/status. Patch() writes unconditionally; PatchFromFresh() reads the
// object, lets the caller compute the status from it and writes with the object's
// resourceVersion as a precondition — on 409 Conflict it reads again and recomputes. Deciding
// when a status is worth writing belongs to the caller. Each attempt is counted (ok, conflict,
// error) and reported to an optional observer (for metrics).
// Thread-safety: every method may be called from any thread; calls wait for the rate limiter.

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <stop_token>
#include <string>

#include "common/clock.h"
#include "common/mutex.h"
#include "operator/kube/kube_client.h"
#include "operator/kube/token_bucket.h"

namespace pharos {

enum class StatusPatchMode { kMergePatch, kServerSideApply };
enum class StatusPatchOutcome { kOk, kConflict, kError };

struct StatusPatcherOptions {
  ApiResource resource = ApiResource::Monitors();
  std::string kind = "Monitor";  // the apply body names it
  StatusPatchMode mode = StatusPatchMode::kMergePatch;
  std::string field_manager = "pharos-operator";
  double qps = 10;  // --status-qps; <= 0 = unlimited
  int burst = 20;
  // PatchFromFresh: attempts in all (the first plus retries after conflicts).
  int max_attempts = 5;
};

struct StatusPatcherCounters {
  int64_t ok = 0;
  int64_t conflict = 0;
  int64_t error = 0;
};

class StatusPatcher {
 public:
  using Observer = std::function<void(StatusPatchOutcome outcome, const KubeResponse& response)>;
  // Computes the status to write from the current object; nullopt = nothing to write.
  using StatusFunction = std::function<std::optional<nlohmann::json>(const nlohmann::json& object)>;

  // `clock` drives the rate limiter and must outlive the patcher.
  StatusPatcher(KubeClient& client, StatusPatcherOptions options, const Clock& clock);

  // Call before the first write; the observer runs on the writing thread.
  void SetObserver(Observer observer);

  // Writes `status` (a JSON object) to NAMESPACE/NAME's status. The answer is the API server's:
  // ok() with the updated object as body, or the failure (IsNotFound when the object is gone).
  KubeResponse Patch(const std::string& namespace_name, const std::string& name,
                     const nlohmann::json& status);
  // Optimistic write from fresh state, retried on conflict up to max_attempts. When `compute`
  // returns nullopt nothing is written and the answer is the GET's.
  KubeResponse PatchFromFresh(const std::string& namespace_name, const std::string& name,
                              const StatusFunction& compute);

  StatusPatcherCounters counters() const;
  // Makes calls waiting for the rate limiter return at once (cancelled); later calls too.
  void Shutdown();

 private:
  KubeResponse Write(const std::string& namespace_name, const std::string& name,
                     const nlohmann::json& status, const std::string& resource_version);
  void Report(StatusPatchOutcome outcome, const KubeResponse& response);

  KubeClient& client_;
  const StatusPatcherOptions options_;
  TokenBucket bucket_;
  std::stop_source shutdown_;
  Observer observer_;
  mutable Mutex mutex_;
  StatusPatcherCounters counters_ GUARDED_BY(mutex_);
};

}  // namespace pharos
