#include "operator/controller/kube_operator.h"

#include <malloc.h>
#include <pthread.h>

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "common/logging.h"
#include "common/monitor_loader.h"
#include "common/version.h"
#include "operator/controller/status_state_seed.h"
#include "operator/storage/sqlite_result_store.h"

namespace pharos {
namespace {

using Json = nlohmann::json;

constexpr std::chrono::milliseconds kLoopPeriod{100};

const Logger& Log() {
  static const Logger logger("operator");
  return logger;
}

std::string JoinErrors(const std::vector<ValidationError>& errors) {
  std::string joined;
  for (const ValidationError& error : errors) {
    joined += (joined.empty() ? "" : "; ") + error.ToString();
  }
  return joined;
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
    return Error{"--status-interval must be greater than 0"};
  }
  if (!(options.status_qps > 0) || !std::isfinite(options.status_qps)) {
    return Error{"--status-qps must be a number greater than 0"};
  }
  if (options.leader_elect) {
    if (options.identity.empty()) {
      return Error{"--identity must not be empty with --leader-elect"};
    }
    if (options.leader_election_id.empty()) {
      return Error{"--leader-election-id must not be empty"};
    }
  }
  if (options.leader_election_namespace.empty()) {
    options.leader_election_namespace = config.namespace_name;
  }
  auto kube_operator = std::make_unique<KubeOperator>(Key{}, std::move(config), std::move(options));
  if (Status initialised = kube_operator->Init(); !initialised) {
    return Error{initialised.error()};
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
      return Error{"--regions-config: " + loaded.error()};
    }
    regions = std::move(loaded).value();
  }
  if (!options_.probe_token_file.empty()) {
    Result<std::unique_ptr<ProbeTokens>> loaded = ProbeTokens::Load(options_.probe_token_file);
    if (!loaded) {
      return Error{"--probe-token-file: " + loaded.error()};
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

  SqliteResultStore::Options store_options;
  store_options.path = options_.db_path;
  store_options.raw_retention = options_.retention;
  store_options.hourly_retention =
      std::max(store_options.hourly_retention, store_options.raw_retention);
  store_options.daily_retention =
      std::max(store_options.daily_retention, store_options.raw_retention);
  Result<std::unique_ptr<SqliteResultStore>> store = SqliteResultStore::Open(store_options);
  if (!store) {
    return Error{"--db " + options_.db_path + ": " + store.error()};
  }
  OperatorCore::Options core_options;
  core_options.default_regions.clear();
  if (regions) {
    for (const ProbeRegionConfig& region : regions->regions) {
      core_options.default_regions.push_back(region.name);
    }
  }
  core_options.scheduling = !options_.leader_elect;
  core_options.metrics.version = kVersion;
  core_options.metrics.duration_phases = options_.duration_phases;
  Result<std::unique_ptr<OperatorCore>> core =
      OperatorCore::Create(clock_, std::move(store).value(), core_options);
  if (!core) {
    return Error{core.error()};
  }
  core_ = std::move(core).value();
  core_->OnStateChange(
      [this](const Monitor& monitor, const StateEvent& event) { OnStateChange(monitor, event); });

  StatusPatcherOptions patcher_options;
  patcher_options.qps = options_.status_qps;
  patcher_options.burst = std::max(1, static_cast<int>(std::ceil(options_.status_qps)));
  patcher_ = std::make_unique<StatusPatcher>(*client_, patcher_options, clock_);
  patcher_->SetObserver([this](StatusPatchOutcome outcome, const KubeResponse&) {
    switch (outcome) {
      case StatusPatchOutcome::kOk:
        core_->metrics().CountStatusWrite("ok");
        break;
      case StatusPatchOutcome::kConflict:
        core_->metrics().CountStatusWrite("conflict");
        break;
      case StatusPatchOutcome::kError:
        core_->metrics().CountStatusWrite("error");
        break;
    }
  });
  MonitorStatusWriter::Options writer_options;
  writer_options.interval = options_.status_interval;
  writer_options.workers = std::clamp(static_cast<int>(std::ceil(options_.status_qps / 20)), 2, 8);
  writer_ = std::make_unique<MonitorStatusWriter>(
      [this](const std::string& uid) { return core_->Snapshot(uid); }, *patcher_, clock_,
      writer_options);

  EventRecorderOptions event_options;
  event_options.instance = options_.identity;
  events_ = std::make_unique<EventRecorder>(*client_, event_options, clock_);

  InformerOptions informer_options;
  informer_options.resource = ApiResource::Monitors();
  informer_options.namespace_name = options_.watch_namespace;
  informer_options.thread_name = "mon-informer";
  informer_options.transform = TrimCachedMonitor;
  InformerHandlers handlers;
  handlers.on_add = [this](const Json& object) { Enqueue(object); };
  handlers.on_update = [this](const Json& old_object, const Json& new_object) {
    // A status-only update (most often our own write) changes nothing to reconcile; a uid
    // change (deleted and created again while the watch was down) does, and SameInputs says so.
    if (!SameInputs(old_object, new_object)) {
      Enqueue(new_object);
    }
  };
  handlers.on_delete = [this](const Json& object) { Enqueue(object); };
  informer_ = std::make_unique<Informer>(*client_, informer_options, std::move(handlers));
  queue_ = std::make_unique<RateLimitedWorkQueue>(clock_);
  // A new leader (or a replacement pod with an empty store) resumes each monitor from what the
  // previous leader wrote to its status, unless its own store knows something newer.
  core_->SetStateSeeder([this](const Monitor& monitor) -> std::optional<StateSeed> {
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
    election.on_started_leading = [this] { loop_wake_.notify_all(); };
    election.on_stopped_leading = [this] { loop_wake_.notify_all(); };
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

  server_ = std::make_unique<HttpServer>();
  json_api_ = std::make_unique<JsonApi>(*core_);
  probe_api_ = std::make_unique<ProbeApi>(*core_, tokens_.get(), ProbeApi::Options{});
  if (Status routed = json_api_->Register(*server_); !routed) {
    return routed;
  }
  if (Status routed = probe_api_->Register(*server_); !routed) {
    return routed;
  }
  return OkStatus();
}

KubeOperator::~KubeOperator() { Stop(); }

Status KubeOperator::Start() {
  start_time_ = std::chrono::steady_clock::now();
  if (Status listening = server_->Start(options_.listen); !listening) {
    return Error{"cannot listen on " + options_.listen + ": " + listening.error()};
  }
  started_ = true;
  collector_ = core_->metrics_registry().AddCollector(
      [this](MetricsWriter& writer) { CollectMetrics(writer); });
  core_->Start();
  writer_->Start();
  events_->Start();
  reconcile_thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "mon-reconcile");
    ReconcileThread();
  });
  informer_->Start();
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
              {"listen", server_->base_url()},
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
    std::lock_guard lock(loop_mutex_);
    loop_stopping_ = true;
  }
  loop_wake_.notify_all();
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
  informer_->Stop();
  queue_->ShutDown();
  if (reconcile_thread_.joinable()) {
    reconcile_thread_.join();
  }
  probe_api_->Shutdown();
  core_->Stop();
  events_->Stop();
  core_->metrics_registry().RemoveCollector(collector_);
  server_->Stop();
  probe_api_->Shutdown();  // long-polls parked while the server was stopping
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

std::string KubeOperator::base_url() const { return server_ ? server_->base_url() : ""; }

void KubeOperator::LoopThread() {
  bool loaded = false;
  std::unique_lock lock(loop_mutex_);
  while (!loop_stopping_) {
    lock.unlock();
    // Loaded once the first list is delivered and every key it queued has been reconciled.
    if (!loaded && informer_->HasSynced() && queue_->Len() == 0 && queue_->ProcessingLen() == 0) {
      loaded = true;
      core_->MarkMonitorsLoaded();
      // The first LIST held every Monitor twice (the pages and their parsed items) for a
      // moment; hand that memory back to the system instead of keeping it as free heap.
      malloc_trim(0);
      const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::steady_clock::now() - start_time_);
      Log().Info("monitors synced from the API server",
                 {{"monitors", core_->monitor_count()},
                  {"scheduled", core_->scheduler().totals().scheduled},
                  {"elapsed_ms", static_cast<int64_t>(elapsed.count())}});
    }
    const bool leader = elector_ ? elector_->IsLeader() : true;
    if (leader != leading_.load()) {
      SetLeading(leader);
    }
    lock.lock();
    loop_wake_.wait_for(lock, kLoopPeriod);
  }
}

void KubeOperator::SetLeading(bool leading) {
  if (leading_.exchange(leading) == leading) {
    return;
  }
  if (leading) {
    Log().Info("leading: scheduling checks, writing statuses, Events and probe DaemonSets",
               {{"identity", options_.identity}});
    core_->SetScheduling(true);
    writer_->SetActive(true);
    if (fleet_) {
      fleet_->SetLeader(true);
    }
    RecordInvalidEvents();
  } else {
    // Scheduling stops first: the new leader may already be checking.
    core_->SetScheduling(false);
    writer_->SetActive(false);
    if (fleet_) {
      fleet_->SetLeader(false);
    }
    Log().Info("not leading: no checks scheduled, nothing written to the API server",
               {{"identity", options_.identity}});
  }
}

Json KubeOperator::CachedMonitor(const std::string& key) const {
  std::optional<Json> object = informer_->Get(key);
  if (!object) {
    return nullptr;
  }
  if (!object->contains("apiVersion")) {
    (*object)["apiVersion"] = ApiResource::Monitors().ApiVersion();
  }
  if (!object->contains("kind")) {
    (*object)["kind"] = "Monitor";
  }
  return std::move(*object);
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
    if (Status reconciled = Reconcile(*key); reconciled) {
      queue_->Forget(*key);
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

Status KubeOperator::Reconcile(const std::string& key) {
  const std::optional<Json> object = informer_->Get(key);
  const auto known = uid_by_key_.find(key);
  const std::string uid = object ? JsonStringAt(*object, {"metadata", "uid"}) : std::string();
  if (known != uid_by_key_.end() && known->second != uid) {
    // Deleted, or deleted and created again under the same name.
    RemoveMonitor(known->second, key);
    uid_by_key_.erase(known);
  }
  if (!object) {
    return OkStatus();
  }
  if (uid.empty()) {
    Log().Warn("ignoring a Monitor without metadata.uid", {{"monitor", key}});
    return OkStatus();
  }
  if (Status applied = ApplyMonitor(*object); !applied) {
    return applied;
  }
  uid_by_key_[key] = uid;
  return OkStatus();
}

Status KubeOperator::ApplyMonitor(const Json& object) {
  const std::string uid = JsonStringAt(object, {"metadata", "uid"});
  const std::string namespace_name = JsonStringAt(object, {"metadata", "namespace"});
  const std::string name = JsonStringAt(object, {"metadata", "name"});
  std::vector<ValidationError> errors;
  Result<Monitor> monitor = MonitorFromApiObject(object, &errors);
  std::string reason;
  if (monitor) {
    Status upserted = core_->UpsertMonitor(*monitor);
    if (upserted) {
      {
        std::lock_guard lock(invalid_mutex_);
        invalid_.erase(uid);
      }
      writer_->Track(uid, namespace_name, name);
      return OkStatus();
    }
    reason = upserted.error();
  } else {
    reason = errors.empty() ? monitor.error() : JoinErrors(errors);
  }

  Monitor identity;
  identity.uid = uid;
  identity.namespace_name = namespace_name;
  identity.name = name;
  identity.generation = GenerationOf(object);
  if (Status marked = core_->MarkInvalid(identity, reason); !marked) {
    return Error{"cannot mark the Monitor invalid: " + marked.error()};
  }
  writer_->Track(uid, namespace_name, name);
  {
    std::lock_guard lock(invalid_mutex_);
    InvalidMonitor& invalid = invalid_[uid];
    if (invalid.generation != identity.generation || invalid.reason != reason) {
      invalid = InvalidMonitor{identity.generation, reason, false};
      invalid.key = identity.Key();
    }
  }
  if (leading_) {
    RecordInvalidEvents();
  }
  return OkStatus();
}

void KubeOperator::RemoveMonitor(const std::string& uid, const std::string& key) {
  writer_->Forget(uid);
  if (core_->RemoveMonitor(uid)) {
    Log().Info("Monitor deleted: no longer checked", {{"monitor", key}});
  }
  std::lock_guard lock(invalid_mutex_);
  invalid_.erase(uid);
}

void KubeOperator::RecordInvalidEvents() {
  std::vector<std::pair<std::string, std::string>> pending;  // key, reason
  {
    std::lock_guard lock(invalid_mutex_);
    for (auto& [uid, invalid] : invalid_) {
      if (!invalid.event_sent) {
        invalid.event_sent = true;
        pending.emplace_back(invalid.key, invalid.reason);
      }
    }
  }
  for (const auto& [key, reason] : pending) {
    const Json object = CachedMonitor(key);
    if (object.is_null()) {
      continue;
    }
    events_->Warning(ObjectReference::FromObject(object), "InvalidSpec",
                     "The operator refused this Monitor and does not check it: " + reason);
  }
}

void KubeOperator::OnStateChange(const Monitor& monitor, const StateEvent& event) {
  writer_->StateChanged(event);
  if (!leading_) {
    return;
  }
  const Json object = CachedMonitor(monitor.Key());
  if (object.is_null()) {
    return;
  }
  // A monitor first seen Pending may have been decided by a previous leader: what it wrote tells
  // whether this is news.
  MonitorState before = event.from;
  if (before == MonitorState::kPending) {
    if (auto written = ParseMonitorState(JsonStringAt(object, {"status", "state"}))) {
      before = *written;
    }
  }
  const ObjectReference reference = ObjectReference::FromObject(object);
  if (event.to == MonitorState::kDown && before != MonitorState::kDown) {
    std::string message = "Monitor is Down";
    if (!event.first_error.empty()) {
      message += ": " + event.first_error;
    }
    if (!event.failing_regions.empty()) {
      std::string regions;
      for (const std::string& region : event.failing_regions) {
        regions += (regions.empty() ? "" : ", ") + region;
      }
      message += " (failing in " + regions + ")";
    }
    if (!event.opened_incident_id.empty()) {
      message += "; incident " + event.opened_incident_id + " opened";
    }
    events_->Warning(reference, "MonitorDown", message);
  } else if (before == MonitorState::kDown &&
             (event.to == MonitorState::kUp || event.to == MonitorState::kDegraded)) {
    std::string message = std::string("Monitor is ") + ToString(event.to) + " again";
    if (!event.resolved_incident_id.empty()) {
      message += "; incident " + event.resolved_incident_id + " resolved";
    }
    events_->Normal(reference, "MonitorUp", message);
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

  const Scheduler::Totals totals = core_->scheduler().totals();
  writer.BeginFamily("pharos_monitors",
                     "Monitors the operator knows (valid, invalid and suspended).",
                     MetricType::kGauge);
  writer.Sample({}, static_cast<double>(core_->monitor_count()));
  writer.BeginFamily("pharos_monitors_scheduled",
                     "Monitors the scheduler is checking now (0 on a replica that is not the "
                     "leader).",
                     MetricType::kGauge);
  writer.Sample({}, static_cast<double>(totals.scheduled));

  const EventRecorderStats events = events_->stats();
  writer.BeginFamily("pharos_kube_events_total",
                     "Kubernetes Events about Monitors, by result: created, aggregated (a repeat "
                     "counted on an existing Event), dropped (queue full or spam filter), failed.",
                     MetricType::kCounter, {"result"});
  writer.Sample({"created"}, static_cast<double>(events.created));
  writer.Sample({"aggregated"}, static_cast<double>(events.aggregated));
  writer.Sample({"dropped"}, static_cast<double>(events.dropped_full + events.dropped_spam));
  writer.Sample({"failed"}, static_cast<double>(events.failed));

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
