#pragma once

// DiscoveryController: Monitors for Ingresses and Gateway API HTTPRoutes annotated
// `pharos.dev/monitor: "true"` (docs/operator.md#discovery; what the Monitor looks like is
// DiscoveredMonitor's rule):
//   Informer(ingresses.networking.k8s.io)  ─┐
//   Informer(httproutes.gateway.networking.k8s.io) ─┴► RateLimitedWorkQueue of source keys
//     ──► "discovery" thread ──► Reconcile: create, update (PUT with resourceVersion) or delete
//         the source's Monitor
// A source annotated gets its Monitor; edits to the source (annotations, hosts, paths, tls) update
// it; the annotation removed or the source deleted removes it. A Monitor of the same name that
// discovery did not make (no label pharos.dev/discovered-from and ownerReference to the source) is
// never touched: the source is logged as not monitored. A Monitor of discovery's edited by hand
// is put back (the operator's Monitor informer hands such changes to MonitorChanged).
// Only the leader writes; on becoming the leader every source is reconciled, and every Monitor
// discovery made is checked against its source (removing those whose source went away while no
// leader was watching).
// A kind that cannot be listed — the HTTPRoute CRD not installed (404) or RBAC refusing (403) —
// is logged once and skipped, and asked again every `availability_period`, so installing the
// Gateway API later needs no restart.
// Thread-safety: Start/Stop from the owner thread; SetLeading, MonitorChanged from any thread;
// Reconcile from one thread at a time (the "discovery" thread, or a test).

#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>

#include "common/clock.h"
#include "common/mutex.h"
#include "common/result.h"
#include "operator/controller/discovered_monitor.h"
#include "operator/kube/informer.h"
#include "operator/kube/kube_client.h"
#include "operator/kube/rate_limited_work_queue.h"

namespace pharos {

class DiscoveryController {
 public:
  using SourceKind = DiscoveredMonitor::SourceKind;
  // The source object with key "namespace/name" of that kind, as last seen (nullopt: none).
  using SourceLookup =
      std::function<std::optional<nlohmann::json>(SourceKind kind, const std::string& key)>;

  struct Options {
    std::string watch_namespace;  // "" = every namespace
    std::chrono::milliseconds availability_period{60'000};
  };

  struct Stats {
    int64_t created = 0;
    int64_t updated = 0;
    int64_t deleted = 0;
    int64_t failures = 0;  // reconciles that failed (retried with backoff) or were refused
  };

  // `client` and `clock` must outlive the controller.
  DiscoveryController(KubeClient& client, const Clock& clock, Options options);
  // Without informers: sources come from `sources` (tests call Reconcile themselves).
  DiscoveryController(KubeClient& client, const Clock& clock, SourceLookup sources);
  ~DiscoveryController();  // Stop()
  DiscoveryController(const DiscoveryController&) = delete;
  DiscoveryController& operator=(const DiscoveryController&) = delete;

  void Start();
  void Stop();
  // Writes Monitors only while leading; becoming the leader reconciles everything.
  void SetLeading(bool leading);
  // A Monitor added, changed or deleted (the operator's Monitor informer): when it is one of
  // discovery's, its source is reconciled again.
  void MonitorChanged(const nlohmann::json& monitor);

  // Brings the Monitor of the source "<ingress|httproute>/namespace/name" in line with the
  // source. Errors are worth retrying (API failures, conflicts); a source that cannot be
  // monitored as annotated, or whose Monitor name is taken, is logged and answers OK.
  Status Reconcile(const std::string& key);

  // "<kind>/<namespace>/<name>"
  static std::string Key(SourceKind kind, const std::string& namespace_name,
                         const std::string& name);
  // Whether that kind is being watched (it answered a LIST); tests and metrics.
  bool Watching(SourceKind kind) const;
  Stats stats() const;

 private:
  static constexpr size_t kKinds = 2;
  enum class SourceState { kSynced, kSyncing, kUnavailable };

  void Enqueue(SourceKind kind, const nlohmann::json& source);
  void EnqueueAll();
  // Lists the Monitors discovery made and queues their sources (a Monitor whose source is gone
  // is deleted by that source's reconcile).
  Status EnqueueManagedMonitors();
  // Starts the informers of the kinds that can be listed now; logs once those that cannot.
  void CheckAvailability();
  void StartInformer(SourceKind kind);
  void WorkThread();
  void ControlThread();
  SourceState StateOf(SourceKind kind) const;
  std::optional<nlohmann::json> InformerSource(SourceKind kind, const std::string& key) const;
  Status Apply(SourceKind kind, const std::string& namespace_name, const std::string& source_name,
               const std::optional<nlohmann::json>& wanted);
  void Count(int64_t Stats::*field);

  KubeClient& client_;
  const Options options_;
  const bool injected_sources_;
  SourceLookup sources_;
  RateLimitedWorkQueue queue_;
  std::atomic<bool> leading_{false};
  std::atomic<bool> started_{false};
  std::atomic<bool> stopped_{false};
  std::thread work_thread_;
  std::thread control_thread_;
  mutable Mutex mu_;
  CondVar wake_;
  // Set once a kind answered a LIST; never reset before Stop (which joins every thread first).
  std::array<std::unique_ptr<Informer>, kKinds> informers_ GUARDED_BY(mu_);
  std::array<std::string, kKinds> unavailable_ GUARDED_BY(mu_);  // the reason last logged
  bool stopping_ GUARDED_BY(mu_) = false;
  bool resync_ GUARDED_BY(mu_) = false;  // everything to be queued again (became the leader)
  Stats stats_ GUARDED_BY(mu_);
};

}  // namespace pharos
