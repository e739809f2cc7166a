#include "operator/controller/kube_operator.h"

#include <malloc.h>
#include <pthread.h>

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "common/logging.h"
#include "common/version.h"
#include "operator/controller/kube_secret_resolver.h"
#include "operator/controller/status_state_seed.h"

namespace pharos {
namespace {

using Json = nlohmann::json;

constexpr std::chrono::milliseconds kLoopPeriod{100};

const Logger& Log() {
  static const Logger logger("operator");
  return logger;
}

int64_t GenerationOf(const Json& object) {
  const Json* generation = nullptr;
  if (object.contains("metadata") && object["metadata"].is_object()) {
    auto found = object["metadata"].find("generation");
    if (found != object["metadata"].end()) {
      generation = &*found;
    }
  }
  return generation != nullptr && generation->is_number_integer() ? generation->get<int64_t>() : 0;
}

// Whether anything the operator reads changed (uid, spec, generation, labels, annotations); status
// updates, the operator's own writes among them, change none of these.
bool SameInputs(const Json& old_object, const Json& new_object) {
  static const Json kNull = nullptr;
  auto member = [](const Json& object, const char* parent, const char* key) -> const Json& {
    if (!object.is_object() || !object.contains(parent) || !object[parent].is_object()) {
      return kNull;
    }
    const Json& inner = object[parent];
    auto found = inner.find(key);
    return found == inner.end() ? kNull : *found;
  };
  const Json& old_spec =
      old_object.is_object() && old_object.contains("spec") ? old_object["spec"] : kNull;
  const Json& new_spec =
      new_object.is_object() && new_object.contains("spec") ? new_object["spec"] : kNull;
  return JsonStringAt(old_object, {"metadata", "uid"}) ==
             JsonStringAt(new_object, {"metadata", "uid"}) &&
         GenerationOf(old_object) == GenerationOf(new_object) && old_spec == new_spec &&
         member(old_object, "metadata", "labels") == member(new_object, "metadata", "labels") &&
         member(old_object, "metadata", "annotations") ==
             member(new_object, "metadata", "annotations");
}

// What the operator never reads of a cached Monitor: the server-side apply bookkeeping and
// kubectl's copy of the whole last applied object. Dropping them roughly halves the cache.
void TrimCachedMonitor(Json& object) {
  if (!object.is_object()) {
    return;
  }
  auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) {
    return;
  }
  metadata->erase("managedFields");
  auto annotations = metadata->find("annotations");
  if (annotations != metadata->end() && annotations->is_object()) {
    annotations->erase("kubectl.kubernetes.io/last-applied-configuration");
    if (annotations->empty()) {
      metadata->erase(annotations);
    }
  }
}

}  // namespace

KubeOperator::KubeOperator(Key, KubeConfig config, KubeOperatorOptions options)
    : config_(std::move(config)), options_(std::move(options)) {}

Result<std::unique_ptr<KubeOperator>> KubeOperator::Create(KubeConfig config,
                                                           KubeOperatorOptions options) {
  if (options.status_interval <= std::chrono::milliseconds(0)) {
    return Error{"--status-interval must be greater than 0", ErrorKind::kInvalidArgument};
  }
  if (!(options.status_qps > 0) || !std::isfinite(options.status_qps)) {
    return Error{"--status-qps must be a number greater than 0", ErrorKind::kInvalidArgument};
  }
  if (options.leader_elect) {
    if (options.identity.empty()) {
      return Error{"--identity must not be empty with --leader-elect", ErrorKind::kInvalidArgument};
    }
    if (options.leader_election_id.empty()) {
      return Error{"--leader-election-id must not be empty", ErrorKind::kInvalidArgument};
    }
  }
  if (options.leader_election_namespace.empty()) {
    options.leader_election_namespace = config.namespace_name;
  }
  auto kube_operator = std::make_unique<KubeOperator>(Key{}, std::move(config), std::move(options));
  if (Status initialised = kube_operator->Init(); !initialised) {
    return Error{initialised.error(), initialised.error_kind()};
  }
  return kube_operator;
}

Status KubeOperator::Init() {
  // The probe fleet's configuration first: a bad file is a usage error, reported before anything
  // is opened.
  std::optional<RegionsConfig> regions;
  if (!options_.regions_config_path.empty()) {
    Result<RegionsConfig> loaded =
        ProbeFleet::LoadConfig(options_.regions_config_path,
                               RegionsConfigDefaults{options_.probe_image, options_.operator_url});
    if (!loaded) {
      return Error{"--regions-config: " + loaded.error(), ErrorKind::kInvalidArgument};
    }
    regions = std::move(loaded).value();
  }
  if (!options_.probe_token_file.empty()) {
    Result<std::unique_ptr<ProbeTokens>> loaded = ProbeTokens::Load(options_.probe_token_file);
    if (!loaded) {
      return Error{"--probe-token-file: " + loaded.error(), ErrorKind::kInvalidArgument};
    }
    tokens_ = std::move(loaded).value();
  } else {
    Log().Warn("no --probe-token-file: every probe is refused (401) and no check runs");
  }

  // Status writes (a GET and a PATCH each) must not starve the informer and Events of the
  // client-side rate limit; the Lease has a client of its own so that renewing never waits.
  KubeClientOptions client_options;
  client_options.qps = std::max(20.0, 2 * options_.status_qps + 20);
  client_options.burst = static_cast<int>(std::ceil(client_options.qps * 1.5));
  Result<std::unique_ptr<CurlKubeClient>> client = CurlKubeClient::New(config_, client_options);
  if (!client) {
    return Error{"Kubernetes client: " + client.error()};
  }
  client_ = std::move(client).value();
  if (options_.leader_elect) {
    KubeClientOptions election_options;
    election_options.qps = 5;
    election_options.burst = 10;
    election_options.request_timeout =
        std::chrono::duration_cast<std::chrono::seconds>(options_.renew_deadline);
    election_options.user_agent = "pharos-operator/leader-election";
    Result<std::unique_ptr<CurlKubeClient>> election =
        CurlKubeClient::New(config_, election_options);
    if (!election) {
      return Error{"Kubernetes client: " + election.error()};
    }
    election_client_ = std::move(election).value();
  }

  ControlPlaneHost::Options host_options;
  host_options.db_path = options_.db_path;
  host_options.retention = options_.retention;
  host_options.core.default_regions.clear();
  if (regions) {
    for (const ProbeRegionConfig& region : regions->regions) {
      host_options.core.default_regions.push_back(region.name);
    }
  }
  host_options.core.scheduling = !options_.leader_elect;
  host_options.core.metrics.version = kVersion;
  host_options.core.metrics.duration_phases = options_.duration_phases;
  host_options.http = options_.http;
  host_options.clickhouse = options_.clickhouse;
  host_options.probe_api.target_deny = options_.target_deny;
  host_options.probe_api.target_allow = options_.target_allow;
  endpoints_ = std::make_unique<ServiceEndpointIndex>(
      *client_, ServiceEndpointIndex::Options{options_.watch_namespace});
  host_options.probe_api.endpoints = endpoints_.get();
  Result<std::unique_ptr<ControlPlaneHost>> host =
      ControlPlaneHost::Open(clock_, tokens_.get(), std::move(host_options));
  if (!host) {
    return Error{host.error()};
  }
  host_ = std::move(host).value();
  OperatorCore& core = host_->core();
  core.OnStateChange(
      [this](const Monitor& monitor, const StateEvent& event) { OnStateChange(monitor, event); });

  AlertingController::Options alerting_options;
  alerting_options.watch_namespace = options_.watch_namespace;
  alerting_options.db_path = options_.db_path;
  alerting_options.delivery = options_.alerting.delivery;
  alerting_options.delivery.user_agent = std::string("pharos-operator/") + kVersion;
  alerting_options.engine = options_.alerting.engine;
  Result<std::unique_ptr<AlertingController>> alerting =
      AlertingController::Create(*client_, core, host_->registry(), clock_, alerting_options);
  if (!alerting) {
    return Error{"alerting: " + alerting.error()};
  }
  alerting_ = std::move(alerting).value();
  // Every replica lists the same incidents: the Incident resources, not its own SQLite rows.
  host_->UseIncidentReader(alerting_->incidents());
  alerting_api_ = std::make_unique<AlertingApi>(alerting_->incidents(), alerting_->outbox(),
                                                alerting_->engine(), nullptr, host_->bad_tokens());
  if (Status routed = alerting_api_->Register(
          [this](std::string_view method, std::string_view pattern, HttpHandler handler) {
            return host_->Route(method, pattern, std::move(handler));
          });
      !routed) {
    return routed;
  }

  // After the alerting engine's observer (registered by AlertingController::Create), so the
  // incident a transition opens exists when its screenshot is requested.
  ScreenshotDirectory::Options screenshot_files;
  screenshot_files.path = options_.screenshot_dir;
  screenshot_files.max_files = options_.screenshot_retention;
  screenshot_files_ = std::make_unique<ScreenshotDirectory>(screenshot_files);
  RegionalScreenshots::Options screenshot_options;
  screenshot_options.capture_timeout = options_.screenshot_timeout;
  screenshot_options.pickup_timeout = options_.screenshot_pickup_timeout;
  screenshots_ = std::make_unique<RegionalScreenshots>(*screenshot_files_, alerting_->incidents(),
                                                       screenshot_options);
  core.OnStateChange([this](const Monitor& monitor, const StateEvent& event) {
    screenshots_->OnStateChange(monitor, event, clock_.Now());
  });
  host_->UseScreenshots(*screenshots_);

  pages_ = std::make_unique<StatusPageDirectory>(/*default_page=*/false);
  WebFrontend::Options web_options;
  web_options.edition = std::string("pharos-operator ") + kVersion;
  web_options.trusted_proxies = options_.trusted_proxies;
  web_ = std::make_unique<WebFrontend>(
      WebFrontend::Sources{core, host_->history(), alerting_->incidents(), alerting_->calendar(),
                           nullptr, screenshot_files_.get()},
      *pages_, clock_, web_options);
  if (Status routed = web_->Register(
          [this](std::string_view method, std::string_view pattern, HttpHandler handler) {
            return host_->Route(method, pattern, std::move(handler));
          });
      !routed) {
    return routed;
  }
  StatusPageController::Options page_options;
  page_options.watch_namespace = options_.watch_namespace;
  status_pages_ =
      std::make_unique<StatusPageController>(*client_, *pages_, clock_, std::move(page_options));

  StatusPatcherOptions patcher_options;
  patcher_options.qps = options_.status_qps;
  patcher_options.burst = std::max(1, static_cast<int>(std::ceil(options_.status_qps)));
  patcher_ = std::make_unique<StatusPatcher>(*client_, patcher_options, clock_);
  patcher_->SetObserver([this](StatusPatchOutcome outcome, const KubeResponse&) {
    switch (outcome) {
      case StatusPatchOutcome::kOk:
        host_->CountStatusWrite("ok");
        break;
      case StatusPatchOutcome::kConflict:
        host_->CountStatusWrite("conflict");
        break;
      case StatusPatchOutcome::kError:
        host_->CountStatusWrite("error");
        break;
    }
  });
  MonitorStatusWriter::Options writer_options;
  writer_options.interval = options_.status_interval;
  writer_options.workers = std::clamp(static_cast<int>(std::ceil(options_.status_qps / 20)), 2, 8);
  push_token_keeper_ = std::make_unique<PushTokenKeeper>(
      host_->push_tokens(),
      [this](const std::string& namespace_name, const std::string& name, const std::string& key) {
        return ReadSecretKey(*client_, namespace_name, name, key);
      });
  writer_ = std::make_unique<MonitorStatusWriter>(
      [&core](const std::string& uid) { return core.Snapshot(uid); }, *patcher_, clock_,
      writer_options, [this](const std::string& uid) { return host_->push_tokens().TokenOf(uid); });

  EventRecorderOptions event_options;
  event_options.instance = options_.identity;
  events_ = std::make_unique<EventRecorder>(*client_, event_options, clock_);

  InformerOptions informer_options;
  informer_options.resource = ApiResource::Monitors();
  informer_options.namespace_name = options_.watch_namespace;
  informer_options.thread_name = "mon-informer";
  informer_options.transform = TrimCachedMonitor;
  InformerHandlers handlers;
  if (options_.discovery) {
    DiscoveryController::Options discovery;
    discovery.watch_namespace = options_.watch_namespace;
    discovery_ = std::make_unique<DiscoveryController>(*client_, clock_, discovery);
  }
  handlers.on_add = [this](const Json& object) {
    push_token_keeper_->Follow(object);  // before the reconcile that writes it to the status
    Enqueue(object);
    if (discovery_) {
      discovery_->MonitorChanged(object);
    }
  };
  handlers.on_update = [this](const Json& old_object, const Json& new_object) {
    push_token_keeper_->Follow(new_object);  // the leader's token arrives in a status update
    // A status-only update (most often our own write) changes nothing to reconcile; a uid
    // change (deleted and created again while the watch was down) does, and SameInputs says so.
    if (!SameInputs(old_object, new_object)) {
      Enqueue(new_object);
      if (discovery_) {
        discovery_->MonitorChanged(new_object);
      }
    }
  };
  handlers.on_delete = [this](const Json& object) {
    push_token_keeper_->Forget(object);
    Enqueue(object);
    if (discovery_) {
      discovery_->MonitorChanged(object);
    }
  };
  informer_ = std::make_unique<Informer>(*client_, informer_options, std::move(handlers));
  queue_ = std::make_unique<RateLimitedWorkQueue>(clock_);
  const auto lookup = [this](const std::string& key) { return CachedMonitor(key); };
  Result<TargetPolicy> policy = TargetPolicy::Create(options_.target_deny, options_.target_allow);
  if (!policy) {
    return Error{"target policy: " + policy.error()};
  }
  target_policy_ = std::move(policy).value();
  reconciler_ =
      std::make_unique<MonitorReconciler>(lookup, core, *writer_, *events_, target_policy_);
  transition_events_ = std::make_unique<MonitorTransitionEvents>(lookup, *events_);
  // A new leader (or a replacement pod with an empty store) resumes each monitor from what the
  // previous leader wrote to its status, unless its own store knows something newer.
  core.SetStateSeeder([this](const Monitor& monitor) -> std::optional<StateSeed> {
    std::optional<Json> object = informer_->Get(monitor.Key());
    if (!object) {
      return std::nullopt;
    }
    return StatusStateSeed::FromObject(*object, monitor);
  });

  if (options_.leader_elect) {
    LeaderElectionConfig election;
    election.namespace_name = options_.leader_election_namespace;
    election.lease_name = options_.leader_election_id;
    election.identity = options_.identity;
    election.lease_duration = options_.lease_duration;
    election.renew_deadline = options_.renew_deadline;
    election.retry_period = options_.retry_period;
    election.on_started_leading = [this] { loop_wake_.NotifyAll(); };
    election.on_stopped_leading = [this] { loop_wake_.NotifyAll(); };
    election.on_new_leader = [this](const std::string& holder) {
      Log().Info("leader observed",
                 {{"leader", holder.empty() ? "(none)" : holder}, {"identity", options_.identity}});
    };
    Result<std::unique_ptr<LeaderElector>> elector =
        LeaderElector::New(*election_client_, std::move(election), clock_);
    if (!elector) {
      return Error{"leader election: " + elector.error()};
    }
    elector_ = std::move(elector).value();
  }

  if (regions) {
    ProbeFleet::Options fleet_options;
    fleet_options.config_path = options_.regions_config_path;
    fleet_options.namespace_name = options_.leader_election_namespace;
    fleet_options.defaults = RegionsConfigDefaults{options_.probe_image, options_.operator_url};
    fleet_ = std::make_unique<ProbeFleet>(*client_, fleet_options, std::move(*regions));
  }

  return OkStatus();
}

KubeOperator::~KubeOperator() { Stop(); }

Status KubeOperator::Start() {
  start_time_ = std::chrono::steady_clock::now();
  collector_ =
      host_->registry().AddCollector([this](MetricsWriter& writer) { CollectMetrics(writer); });
  if (Status listening = host_->Start(options_.listen); !listening) {
    host_->registry().RemoveCollector(collector_);
    return listening;
  }
  started_ = true;
  writer_->Start();
  events_->Start();
  reconcile_thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "mon-reconcile");
    ReconcileThread();
  });
  endpoints_->Start();
  informer_->Start();
  alerting_->Start();
  status_pages_->Start();
  if (discovery_) {
    discovery_->Start();
  }
  if (fleet_) {
    fleet_->Start();
  }
  if (elector_) {
    elector_->Start();
  }
  loop_thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "operator-loop");
    LoopThread();
  });
  Log().Info("pharos-operator started",
             {{"version", kVersion},
              {"source", config_.source},
              {"namespace", options_.watch_namespace.empty() ? "(all)" : options_.watch_namespace},
              {"listen", host_->base_url()},
              {"leader_election", options_.leader_elect},
              {"identity", options_.identity},
              {"regions_config", options_.regions_config_path},
              {"status_interval_ms", static_cast<int64_t>(options_.status_interval.count())},
              {"status_qps", options_.status_qps}});
  return OkStatus();
}

void KubeOperator::Stop() {
  if (stopped_.exchange(true)) {
    return;
  }
  if (!started_) {
    return;
  }
  {
    MutexLock lock(loop_mutex_);
    loop_stopping_ = true;
  }
  loop_wake_.NotifyAll();
  if (loop_thread_.joinable()) {
    loop_thread_.join();
  }
  // Stop acting as the leader, then release the Lease (a standby takes over without waiting for
  // it to expire).
  SetLeading(false);
  if (elector_) {
    elector_->Stop();
  }
  if (fleet_) {
    fleet_->Stop();
  }
  writer_->Stop();
  alerting_->Stop();
  status_pages_->Stop();
  if (discovery_) {
    discovery_->Stop();
  }
  informer_->Stop();
  endpoints_->Stop();
  queue_->ShutDown();
  if (reconcile_thread_.joinable()) {
    reconcile_thread_.join();
  }
  host_->Stop();
  events_->Stop();
  host_->registry().RemoveCollector(collector_);
  Log().Info("pharos-operator stopped", {{"database", options_.db_path}});
}

void KubeOperator::Reload() {
  if (tokens_) {
    if (Status reloaded = tokens_->Reload(); !reloaded) {
      Log().Error("reloading the probe tokens failed; the previous tokens stay in use",
                  {{"error", reloaded.error()}});
    }
  }
  if (fleet_) {
    fleet_->Reload();
  }
}

std::string KubeOperator::base_url() const { return host_ ? host_->base_url() : ""; }

void KubeOperator::LoopThread() {
  bool loaded = false;
  bool channels_checked = false;
  MutexLock lock(loop_mutex_);
  while (!loop_stopping_) {
    lock.Unlock();
    if (!channels_checked && loaded && alerting_->HasSynced()) {
      channels_checked = true;
      for (const Json& object : informer_->List()) {
        WarnMissingChannels(ObjectKey(object));
      }
    }
    // Loaded once the first list is delivered and every key it queued has been reconciled.
    if (!loaded && informer_->HasSynced() && queue_->Len() == 0 && queue_->ProcessingLen() == 0) {
      loaded = true;
      host_->core().MarkMonitorsLoaded();
      // The first LIST held every Monitor twice (the pages and their parsed items) for a
      // moment; hand that memory back to the system instead of keeping it as free heap.
      malloc_trim(0);
      const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::steady_clock::now() - start_time_);
      Log().Info("monitors synced from the API server",
                 {{"monitors", host_->core().monitor_count()},
                  {"scheduled", host_->core().scheduled_count()},
                  {"elapsed_ms", static_cast<int64_t>(elapsed.count())}});
    }
    screenshots_->Flush(clock_.Now());
    const bool leader = elector_ ? elector_->IsLeader() : true;
    if (leader != leading_.load()) {
      SetLeading(leader);
    }
    lock.Lock();
    loop_wake_.WaitFor(loop_mutex_, kLoopPeriod);
  }
}

void KubeOperator::SetLeading(bool leading) {
  if (leading_.exchange(leading) == leading) {
    return;
  }
  if (leading) {
    Log().Info("leading: scheduling checks, writing statuses, Events and probe DaemonSets",
               {{"identity", options_.identity}});
    host_->core().SetScheduling(true);
    writer_->SetActive(true);
    if (fleet_) {
      fleet_->SetLeader(true);
    }
    reconciler_->SetLeading(true);
    alerting_->SetLeading(true);
    status_pages_->SetLeading(true);
    if (discovery_) {
      discovery_->SetLeading(true);
    }
  } else {
    // Scheduling stops first: the new leader may already be checking.
    host_->core().SetScheduling(false);
    alerting_->SetLeading(false);
    status_pages_->SetLeading(false);
    if (discovery_) {
      discovery_->SetLeading(false);
    }
    reconciler_->SetLeading(false);
    writer_->SetActive(false);
    if (fleet_) {
      fleet_->SetLeader(false);
    }
    Log().Info("not leading: no checks scheduled, nothing written to the API server",
               {{"identity", options_.identity}});
  }
}

std::optional<Json> KubeOperator::CachedMonitor(const std::string& key) const {
  std::optional<Json> object = informer_->Get(key);
  if (!object) {
    return std::nullopt;
  }
  if (!object->contains("apiVersion")) {
    (*object)["apiVersion"] = ApiResource::Monitors().ApiVersion();
  }
  if (!object->contains("kind")) {
    (*object)["kind"] = "Monitor";
  }
  return object;
}

void KubeOperator::Enqueue(const Json& object) {
  const std::string name = JsonStringAt(object, {"metadata", "name"});
  if (name.empty()) {
    Log().Warn("ignoring a Monitor without metadata.name", {{"object", ObjectKey(object)}});
    return;
  }
  queue_->Add(ObjectKey(object));
}

void KubeOperator::ReconcileThread() {
  while (std::optional<std::string> key = queue_->Get()) {
    if (Status reconciled = reconciler_->Reconcile(*key); reconciled) {
      queue_->Forget(*key);
      WarnMissingChannels(*key);
    } else {
      reconcile_failures_.fetch_add(1, std::memory_order_relaxed);
      Log().Error("reconciling a Monitor failed; retrying with backoff",
                  {{"monitor", *key},
                   {"error", reconciled.error()},
                   {"retries", queue_->NumRequeues(*key)}});
      queue_->AddRateLimited(*key);
    }
    queue_->Done(*key);
  }
}

void KubeOperator::WarnMissingChannels(const std::string& key) {
  std::optional<Json> object = CachedMonitor(key);
  const std::string uid = object ? JsonStringAt(*object, {"metadata", "uid"}) : "";
  std::shared_ptr<const Monitor> monitor = uid.empty() ? nullptr : core().MonitorSpec(uid);
  if (!monitor || !alerting_->HasSynced()) {
    return;  // checked again once the channels are known (LoopThread)
  }
  std::string missing;
  for (const std::string& name : alerting_->engine().ChannelsFor(*monitor).missing) {
    missing += (missing.empty() ? "" : ", ") + name;
  }
  {
    MutexLock lock(missing_mu_);
    std::string& reported = missing_channels_[uid];
    if (missing == reported) {
      return;
    }
    reported = missing;
  }
  if (!missing.empty()) {
    events_->Warning(ObjectReference::FromObject(*object), "AlertChannelMissing",
                     "spec.alerting.channels names AlertChannels that do not exist in namespace " +
                         monitor->namespace_name + ": " + missing +
                         " (the other channels are still notified)");
  }
}

void KubeOperator::OnStateChange(const Monitor& monitor, const StateEvent& event) {
  writer_->StateChanged(event);
  if (leading_) {
    transition_events_->OnTransition(monitor, event);
  }
}

void KubeOperator::CollectMetrics(MetricsWriter& writer) {
  const InformerStats informer = informer_->stats();
  writer.BeginFamily("pharos_informer_lists_total",
                     "LIST requests of the Monitor informer (the first sync and every re-list).",
                     MetricType::kCounter);
  writer.Sample({}, static_cast<double>(informer.lists));
  writer.BeginFamily("pharos_informer_relists_total",
                     "Re-lists of the Monitor informer after the API server answered 410 Gone "
                     "(the watch's resourceVersion was compacted).",
                     MetricType::kCounter);
  writer.Sample({}, static_cast<double>(informer.relists_after_gone));
  writer.BeginFamily("pharos_informer_watches_total", "WATCH requests of the Monitor informer.",
                     MetricType::kCounter);
  writer.Sample({}, static_cast<double>(informer.watches));
  writer.BeginFamily("pharos_informer_watch_failures_total",
                     "Monitor watches that failed (errors, 5xx, 429, closed at once).",
                     MetricType::kCounter);
  writer.Sample({}, static_cast<double>(informer.watch_failures + informer.list_failures));
  writer.BeginFamily(
      "pharos_monitor_queue_depth",
      "Monitor keys waiting to be reconciled (ready now, or delayed after a failure).",
      MetricType::kGauge);
  writer.Sample({}, static_cast<double>(queue_->Len() + queue_->WaitingLen()));
  writer.BeginFamily("pharos_monitor_reconcile_failures_total",
                     "Monitor reconciles that failed and were queued again with backoff.",
                     MetricType::kCounter);
  writer.Sample({}, static_cast<double>(reconcile_failures_.load(std::memory_order_relaxed)));
  writer.BeginFamily("pharos_informer_synced",
                     "1 once the Monitor informer has delivered its first complete list.",
                     MetricType::kGauge);
  writer.Sample({}, informer_->HasSynced() ? 1 : 0);

  writer.BeginFamily("pharos_monitors",
                     "Monitors the operator knows (valid, invalid and suspended).",
                     MetricType::kGauge);
  writer.Sample({}, static_cast<double>(host_->core().monitor_count()));
  writer.BeginFamily("pharos_monitors_scheduled",
                     "Monitors the scheduler is checking now (0 on a replica that is not the "
                     "leader).",
                     MetricType::kGauge);
  writer.Sample({}, static_cast<double>(host_->core().scheduled_count()));

  const EventRecorderStats events = events_->stats();
  writer.BeginFamily("pharos_kube_events_total",
                     "Attempts to send Kubernetes Events, by result: created, aggregated (a "
                     "repeat counted on an existing Event), retried (the API server could not "
                     "take it now: sent again after a backoff), failed (refused; not retried).",
                     MetricType::kCounter, {"result"});
  writer.Sample({"created"}, static_cast<double>(events.created));
  writer.Sample({"aggregated"}, static_cast<double>(events.aggregated));
  writer.Sample({"retried"}, static_cast<double>(events.retried));
  writer.Sample({"failed"}, static_cast<double>(events.failed));
  writer.BeginFamily("pharos_kube_events_dropped_total",
                     "Kubernetes Events never sent, by reason: queue_full (the oldest waiting "
                     "Event, dropped when the queue was at its bound), spam_filter (too many "
                     "from one object).",
                     MetricType::kCounter, {"reason"});
  writer.Sample({"queue_full"}, static_cast<double>(events.dropped_full));
  writer.Sample({"spam_filter"}, static_cast<double>(events.dropped_spam));
  writer.BeginFamily("pharos_kube_events_queued",
                     "Kubernetes Events waiting to be sent (at most 1000).", MetricType::kGauge);
  writer.Sample({}, static_cast<double>(events.queued));

  if (discovery_) {
    const DiscoveryController::Stats discovery = discovery_->stats();
    writer.BeginFamily("pharos_discovery_monitor_writes_total",
                       "Monitors discovery created, updated or deleted for annotated Ingresses and "
                       "HTTPRoutes, and sources it could not monitor or reconcile (failed).",
                       MetricType::kCounter, {"result"});
    writer.Sample({"created"}, static_cast<double>(discovery.created));
    writer.Sample({"updated"}, static_cast<double>(discovery.updated));
    writer.Sample({"deleted"}, static_cast<double>(discovery.deleted));
    writer.Sample({"failed"}, static_cast<double>(discovery.failures));
  }
  if (fleet_) {
    const ProbeFleet::Stats fleet = fleet_->stats();
    writer.BeginFamily("pharos_probe_fleet_applies_total",
                       "Rounds of applying the probe DaemonSets, by result (ok, error).",
                       MetricType::kCounter, {"result"});
    writer.Sample({"ok"}, static_cast<double>(fleet.applies));
    writer.Sample({"error"}, static_cast<double>(fleet.failures));
    writer.BeginFamily("pharos_probe_fleet_regions", "Regions in the regions config in force.",
                       MetricType::kGauge);
    writer.Sample({}, static_cast<double>(fleet.regions));
  }
}

}  // namespace pharos
