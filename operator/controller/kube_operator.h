#pragma once

// KubeOperator: pharos-operator, the Kubernetes form of the control plane (docs/architecture.md,
// docs/operator.md). The manager that composes the building blocks:
//
//   Informer(monitors.pharos.dev, one namespace or all) ──► RateLimitedWorkQueue of keys
//     ──► "mon-reconcile" thread ──► MonitorReconciler ──► OperatorCore (MonitorSet)
//     (a key whose reconcile fails is retried with per-key exponential backoff under an overall
//     bucket, and no key is reconciled twice at once — client-go's controller pattern)
//   OperatorCore transitions ──► MonitorStatusWriter (status at once) + MonitorTransitionEvents
//   LeaderElector(Lease) ──► leading: scheduling, status writes, Events, probe DaemonSets;
//     not leading: none of these (the informer, /healthz, /readyz and /metrics keep running, so a
//     standby can take over at once)
//   Informer(EndpointSlices, label kubernetes.io/service-name) ──► ServiceEndpointIndex ──►
//     each lease of a spec.target.service monitor carries the Service's ready endpoints
//   Informer cache ──► OperatorCore state seeds: on becoming the leader (and for a monitor first
//     seen), a monitor resumes from what its .status shows (StatusStateSeed) when this replica's
//     store holds nothing newer, so a fail-over keeps the state and the open incident
//   Informer(ingresses, httproutes) ──► DiscoveryController ──► Monitors for the annotated ones
//     (leader only; Monitor changes of its own are handed back to it to be put right)
//   ProbeFleet(--regions-config) ──► one probe DaemonSet per region (leader only)
//   Informer(statuspages.pharos.dev) ──► StatusPageController ──► StatusPageDirectory
//     ──► WebFrontend: /status/{slug}, feeds, /api/v1/status/{slug}, /ui/, badges (every replica
//     serves them; the leader writes the StatusPages' status)
//   ControlPlaneHost: the store, the core, and the HTTP server with the probe API, JSON API,
//     /healthz, /readyz, /metrics
//
// Leadership is applied by the "operator-loop" thread, which follows LeaderElector::IsLeader()
// (it turns false on its own when renewing fails past the renew deadline, even while a request
// hangs), so losing the lease stops scheduling within its polling period (100 ms).
// Thread-safety: Create/Start/Stop from the owner thread; the rest from any thread.

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>

#include "common/clock.h"
#include "common/counter_family.h"
#include "common/mutex.h"
#include "common/result.h"
#include "operator/alerting/alerting_api.h"
#include "operator/alerting/alerting_flags.h"
#include "operator/api/probe_tokens.h"
#include "operator/control/operator_core.h"
#include "operator/controller/alerting_controller.h"
#include "operator/controller/discovery_controller.h"
#include "operator/controller/monitor_reconciler.h"
#include "operator/controller/monitor_status_writer.h"
#include "operator/controller/monitor_transition_events.h"
#include "operator/controller/probe_fleet.h"
#include "operator/controller/push_token_keeper.h"
#include "operator/controller/service_endpoint_index.h"
#include "operator/controller/status_page_controller.h"
#include "operator/host/control_plane_host.h"
#include "operator/kube/curl_kube_client.h"
#include "operator/kube/event_recorder.h"
#include "operator/kube/informer.h"
#include "operator/kube/kube_config.h"
#include "operator/kube/leader_elector.h"
#include "operator/kube/rate_limited_work_queue.h"
#include "operator/kube/status_patcher.h"
#include "operator/screenshots/regional_screenshots.h"
#include "operator/screenshots/screenshot_directory.h"
#include "operator/web/status_page_directory.h"
#include "operator/web/web_frontend.h"

namespace pharos {

struct KubeOperatorOptions {
  std::string watch_namespace;  // --namespace; "" = every namespace
  std::string listen = "0.0.0.0:8080";
  HttpServerOptions http;  // --http-* limits
  // --deny-cidr / --allow-cidr: the cluster-wide target policy pushed to probes with their work.
  std::vector<std::string> target_deny;
  std::vector<std::string> target_allow;
  std::string db_path = "pharos.db";
  std::chrono::hours retention{720};
  // Screenshots on downtime taken by the probes' sidecars (docs/status-pages.md#in-kubernetes).
  std::string screenshot_dir = "pharos.db.screenshots";
  size_t screenshot_retention = 500;
  std::chrono::milliseconds screenshot_timeout{30'000};
  std::chrono::milliseconds screenshot_pickup_timeout{60'000};
  // --clickhouse-*: also copy results to ClickHouse (docs/analytics.md); nullopt = SQLite only.
  std::optional<ClickHouseAnalytics::Options> clickhouse;

  // Monitors for annotated Ingresses and HTTPRoutes (DiscoveryController); --no-discovery.
  bool discovery = true;

  bool leader_elect = false;
  std::string leader_election_namespace;  // "" = the kubeconfig's / pod's namespace
  std::string leader_election_id = "pharos-operator";
  std::string identity;  // unique per replica
  std::chrono::milliseconds lease_duration{15'000};
  std::chrono::milliseconds renew_deadline{10'000};
  std::chrono::milliseconds retry_period{2'000};

  std::string regions_config_path;  // "" = no probe DaemonSets are managed
  std::string probe_token_file;     // "" = every probe is refused (401)
  std::string probe_image;
  std::string operator_url;

  std::chrono::milliseconds status_interval{30'000};
  double status_qps = 10;
  // Phases recorded in pharos_check_duration_seconds (--duration-phases).
  OperatorMetrics::DurationPhases duration_phases = OperatorMetrics::DurationPhases::kAll;

  // Notifications (docs/alerting.md#delivery-guarantees; --notification-* flags).
  AlertingTimings alerting;

  // Status pages (docs/status-pages.md#kubernetes): proxies whose X-Forwarded-For names the
  // client (--trusted-proxies; an Ingress controller in front of allowedCidrs pages).
  std::vector<IpRange> trusted_proxies;
};

class KubeOperator {
 public:
  // Validates the options, connects nothing yet: loads the regions config and the probe tokens,
  // opens the database, builds the API clients. Errors name the flag or file at fault; bad
  // input is ErrorKind::kInvalidArgument.
  static Result<std::unique_ptr<KubeOperator>> Create(KubeConfig config,
                                                      KubeOperatorOptions options);
  ~KubeOperator();  // Stop()
  KubeOperator(const KubeOperator&) = delete;
  KubeOperator& operator=(const KubeOperator&) = delete;

  // Binds the HTTP server and starts every component. Errors: the listen address.
  Status Start();
  // Stops leading (releasing the Lease), then every component. Idempotent.
  void Stop();
  // SIGHUP: re-reads the probe tokens and the regions config.
  void Reload();

  // "http://127.0.0.1:PORT" once started.
  std::string base_url() const;
  bool leading() const { return leading_.load(); }
  OperatorCore& core() { return host_->core(); }

 private:
  struct Key {
    explicit Key() = default;
  };

 public:
  KubeOperator(Key, KubeConfig config, KubeOperatorOptions options);

 private:
  Status Init();
  // Informer handlers (informer thread): queue the object's key.
  void Enqueue(const nlohmann::json& object);
  // The "mon-reconcile" thread: reconciles queued keys one at a time.
  void ReconcileThread();
  // A Warning Event "AlertChannelMissing" on a Monitor naming channels that do not exist.
  void WarnMissingChannels(const std::string& key);
  // OperatorCore transitions (core threads): status at once; Events while leading.
  void OnStateChange(const Monitor& monitor, const StateEvent& event);
  void SetLeading(bool leading);
  void LoopThread();
  void CollectMetrics(MetricsWriter& writer);
  // The Monitor as cached by the informer, with apiVersion/kind (Events reference it).
  std::optional<nlohmann::json> CachedMonitor(const std::string& key) const;

  const KubeConfig config_;
  const KubeOperatorOptions options_;
  SystemClock clock_;
  std::unique_ptr<CurlKubeClient> client_;           // informer, status, events, DaemonSets
  std::unique_ptr<CurlKubeClient> election_client_;  // the Lease alone: never starved by the rest
  std::unique_ptr<ProbeTokens> tokens_;
  // Ready endpoints of Services (spec.target.service), read by the probe API: before host_.
  std::unique_ptr<ServiceEndpointIndex> endpoints_;
  std::unique_ptr<ControlPlaneHost> host_;
  std::unique_ptr<StatusPatcher> patcher_;
  std::unique_ptr<PushTokenKeeper> push_token_keeper_;  // into host_->push_tokens()
  std::unique_ptr<MonitorStatusWriter> writer_;
  std::unique_ptr<EventRecorder> events_;
  std::unique_ptr<Informer> informer_;
  std::unique_ptr<RateLimitedWorkQueue> queue_;  // keys of Monitors to reconcile
  TargetPolicy target_policy_;  // the cluster's: the defaults, --deny-cidr, --allow-cidr
  std::unique_ptr<MonitorReconciler> reconciler_;
  std::unique_ptr<MonitorTransitionEvents> transition_events_;
  std::unique_ptr<LeaderElector> elector_;
  std::unique_ptr<ProbeFleet> fleet_;
  std::unique_ptr<AlertingController> alerting_;
  std::unique_ptr<AlertingApi> alerting_api_;
  // Screenshots on downtime: asked of the probes through host_'s probe API, stored in the folder,
  // attached to alerting_'s incidents; flushed by the "operator-loop" thread.
  std::unique_ptr<ScreenshotDirectory> screenshot_files_;
  std::unique_ptr<RegionalScreenshots> screenshots_;
  std::unique_ptr<StatusPageDirectory> pages_;
  std::unique_ptr<WebFrontend> web_;  // reads host_, alerting_: declared after them
  std::unique_ptr<StatusPageController> status_pages_;
  std::unique_ptr<DiscoveryController> discovery_;  // null with --no-discovery
  Mutex missing_mu_;
  // Warned-of missing channels, by monitor uid: the names last reported.
  std::map<std::string, std::string> missing_channels_ GUARDED_BY(missing_mu_);
  MetricsRegistry::CollectorId collector_ = 0;

  std::atomic<bool> leading_{false};
  std::atomic<bool> started_{false};
  std::atomic<bool> stopped_{false};
  std::chrono::steady_clock::time_point start_time_{};
  std::thread loop_thread_;
  std::thread reconcile_thread_;
  std::atomic<int64_t> reconcile_failures_{0};
  Mutex loop_mutex_;
  CondVar loop_wake_;
  bool loop_stopping_ GUARDED_BY(loop_mutex_) = false;
};

}  // namespace pharos
