#include "operator/controller/discovery_controller.h"

#include <pthread.h>

#include <cstdio>
#include <utility>

#include "common/logging.h"
#include "common/stable_hash.h"

namespace pharos {
namespace {

using Json = nlohmann::json;
using SourceKind = DiscoveredMonitor::SourceKind;

constexpr std::chrono::milliseconds kSyncWait{200};
constexpr std::array<SourceKind, 2> kAllKinds = {SourceKind::kIngress, SourceKind::kHttpRoute};
// Records in the Monitor which wanted spec it was last brought in line with, so that a change
// of the source (an annotation removed among them) is seen although the API server adds the
// CRD's defaults to what it stores.
constexpr const char* kSpecHashAnnotation = "pharos.dev/discovered-spec";
// The spec fields discovery sets (and the other types' blocks, which must not linger); a
// user's own additions (suspend, alerting, regions...) are kept.
constexpr std::array<const char*, 9> kOwnedSpecFields = {
    "type", "http", "tcp", "dns", "icmp", "grpc", "push", "frequency", "assertions"};

const Logger& Log() {
  static const Logger logger("discovery");
  return logger;
}

size_t IndexOf(SourceKind kind) { return kind == SourceKind::kIngress ? 0 : 1; }

ApiResource ResourceOf(SourceKind kind) {
  return kind == SourceKind::kIngress ? ApiResource::Ingresses() : ApiResource::HttpRoutes();
}

const Json& MemberOrNull(const Json& object, const char* name) {
  static const Json kNull = nullptr;
  if (!object.is_object()) {
    return kNull;
  }
  auto found = object.find(name);
  return found == object.end() ? kNull : *found;
}

// What the controller never reads of a cached source.
void TrimSource(Json& object) {
  Json& metadata = object["metadata"];
  if (!metadata.is_object()) {
    return;
  }
  metadata.erase("managedFields");
  auto annotations = metadata.find("annotations");
  if (annotations != metadata.end() && annotations->is_object()) {
    annotations->erase("kubectl.kubernetes.io/last-applied-configuration");
  }
  object.erase("status");
}

// Whether a source change can change its Monitor.
bool SameInputs(const Json& old_object, const Json& new_object) {
  const Json& old_metadata = MemberOrNull(old_object, "metadata");
  const Json& new_metadata = MemberOrNull(new_object, "metadata");
  return MemberOrNull(old_metadata, "uid") == MemberOrNull(new_metadata, "uid") &&
         MemberOrNull(old_metadata, "annotations") == MemberOrNull(new_metadata, "annotations") &&
         MemberOrNull(old_object, "spec") == MemberOrNull(new_object, "spec");
}

// Every member of `wanted` is in `have` with the same value (objects compared member by member,
// so the defaults the API server adds do not count as a difference).
bool Covers(const Json& have, const Json& wanted) {
  if (!wanted.is_object()) {
    return have == wanted;
  }
  if (!have.is_object()) {
    return false;
  }
  for (auto it = wanted.begin(); it != wanted.end(); ++it) {
    auto found = have.find(it.key());
    if (found == have.end() || !Covers(*found, it.value())) {
      return false;
    }
  }
  return true;
}

std::string SpecHash(const Json& spec) {
  char text[17];
  std::snprintf(text, sizeof(text), "%016llx",
                static_cast<unsigned long long>(StableHash64(spec.dump())));
  return text;
}

std::optional<SourceKind> KindNamed(const std::string& name) {
  for (SourceKind kind : kAllKinds) {
    if (name == DiscoveredMonitor::KindName(kind)) {
      return kind;
    }
  }
  return std::nullopt;
}

}  // namespace

DiscoveryController::DiscoveryController(KubeClient& client, const Clock& clock, Options options)
    : client_(client), options_(std::move(options)), injected_sources_(false), queue_(clock) {
  sources_ = [this](SourceKind kind, const std::string& key) { return InformerSource(kind, key); };
}

DiscoveryController::DiscoveryController(KubeClient& client, const Clock& clock,
                                         SourceLookup sources)
    : client_(client),
      options_(),
      injected_sources_(true),
      sources_(std::move(sources)),
      queue_(clock) {}

DiscoveryController::~DiscoveryController() { Stop(); }

std::string DiscoveryController::Key(SourceKind kind, const std::string& namespace_name,
                                     const std::string& name) {
  return std::string(DiscoveredMonitor::KindName(kind)) + "/" + namespace_name + "/" + name;
}

void DiscoveryController::Start() {
  if (started_.exchange(true) || injected_sources_) {
    return;
  }
  work_thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "discovery");
    WorkThread();
  });
  control_thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "discovery-ctl");
    ControlThread();
  });
}

void DiscoveryController::Stop() {
  if (stopped_.exchange(true) || !started_) {
    return;
  }
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  wake_.NotifyAll();
  if (control_thread_.joinable()) {
    control_thread_.join();
  }
  for (SourceKind kind : kAllKinds) {
    Informer* informer = nullptr;
    {
      MutexLock lock(mu_);
      informer = informers_[IndexOf(kind)].get();
    }
    if (informer != nullptr) {
      informer->Stop();
    }
  }
  queue_.ShutDown();
  if (work_thread_.joinable()) {
    work_thread_.join();
  }
}

void DiscoveryController::SetLeading(bool leading) {
  if (leading_.exchange(leading) == leading || !leading) {
    return;
  }
  {
    MutexLock lock(mu_);
    resync_ = true;
  }
  wake_.NotifyAll();
}

void DiscoveryController::MonitorChanged(const Json& monitor) {
  const std::optional<SourceKind> kind = KindNamed(
      JsonStringAt(monitor, {"metadata", "labels", DiscoveredMonitor::kDiscoveredFromLabel}));
  if (!kind) {
    return;
  }
  const Json& owners = MemberOrNull(MemberOrNull(monitor, "metadata"), "ownerReferences");
  if (!owners.is_array()) {
    return;
  }
  for (const Json& owner : owners) {
    if (JsonStringAt(owner, {"kind"}) == DiscoveredMonitor::KindTitle(*kind)) {
      queue_.Add(Key(*kind, JsonStringAt(monitor, {"metadata", "namespace"}),
                     JsonStringAt(owner, {"name"})));
      return;
    }
  }
}

bool DiscoveryController::Watching(SourceKind kind) const {
  MutexLock lock(mu_);
  return informers_[IndexOf(kind)] != nullptr;
}

DiscoveryController::Stats DiscoveryController::stats() const {
  MutexLock lock(mu_);
  return stats_;
}

void DiscoveryController::Count(int64_t Stats::*field) {
  MutexLock lock(mu_);
  ++(stats_.*field);
}

void DiscoveryController::Enqueue(SourceKind kind, const Json& source) {
  const std::string name = JsonStringAt(source, {"metadata", "name"});
  const std::string namespace_name = JsonStringAt(source, {"metadata", "namespace"});
  if (!name.empty() && !namespace_name.empty()) {
    queue_.Add(Key(kind, namespace_name, name));
  }
}

void DiscoveryController::EnqueueAll() {
  for (SourceKind kind : kAllKinds) {
    Informer* informer = nullptr;
    {
      MutexLock lock(mu_);
      informer = informers_[IndexOf(kind)].get();
    }
    if (informer != nullptr) {
      for (const Json& source : informer->List()) {
        Enqueue(kind, source);
      }
    }
  }
}

Status DiscoveryController::EnqueueManagedMonitors() {
  ListOptions list;
  list.label_selector = DiscoveredMonitor::kDiscoveredFromLabel;
  list.limit = 500;
  KubeResponse listed = client_.ListAll(ApiResource::Monitors(), options_.watch_namespace, list);
  if (!listed.ok()) {
    return Error{"listing the Monitors discovery made: " + listed.Describe()};
  }
  for (const Json& monitor : MemberOrNull(listed.body, "items")) {
    MonitorChanged(monitor);
  }
  return OkStatus();
}

void DiscoveryController::StartInformer(SourceKind kind) {
  InformerOptions options;
  options.resource = ResourceOf(kind);
  options.namespace_name = options_.watch_namespace;
  options.thread_name = kind == SourceKind::kIngress ? "ing-informer" : "route-informer";
  options.transform = TrimSource;
  InformerHandlers handlers;
  handlers.on_add = [this, kind](const Json& object) { Enqueue(kind, object); };
  handlers.on_update = [this, kind](const Json& old_object, const Json& new_object) {
    if (!SameInputs(old_object, new_object)) {
      Enqueue(kind, new_object);
    }
  };
  handlers.on_delete = [this, kind](const Json& object) { Enqueue(kind, object); };
  auto informer = std::make_unique<Informer>(client_, options, std::move(handlers));
  Informer* started = informer.get();
  {
    MutexLock lock(mu_);
    informers_[IndexOf(kind)] = std::move(informer);
  }
  started->Start();
}

void DiscoveryController::CheckAvailability() {
  for (SourceKind kind : kAllKinds) {
    {
      MutexLock lock(mu_);
      if (informers_[IndexOf(kind)] != nullptr) {
        continue;
      }
    }
    ListOptions probe;
    probe.limit = 1;
    const ApiResource resource = ResourceOf(kind);
    KubeResponse answer = client_.List(resource, options_.watch_namespace, probe);
    const std::string what =
        std::string(kind == SourceKind::kIngress ? "Ingresses" : "HTTPRoutes") + " (" +
        resource.plural + "." + resource.group + ")";
    if (answer.ok()) {
      Log().Info(
          "discovering annotated " + what,
          {{"namespace", options_.watch_namespace.empty() ? "(all)" : options_.watch_namespace}});
      StartInformer(kind);
      continue;
    }
    std::string reason;
    if (answer.IsNotFound()) {
      reason = "the API server does not serve " + resource.ApiVersion() + " " + resource.plural +
               (kind == SourceKind::kHttpRoute ? " (the Gateway API CRDs are not installed)" : "");
    } else if (answer.http_status == 403) {
      reason = "the operator may not list them (chart value discovery.enabled adds the RBAC)";
    } else {
      reason = answer.Describe();
    }
    bool changed = false;
    {
      MutexLock lock(mu_);
      changed = unavailable_[IndexOf(kind)] != reason;
      unavailable_[IndexOf(kind)] = reason;
    }
    if (changed) {
      Log().Info("not discovering " + what + "; asked again periodically",
                 {{"reason", reason},
                  {"period_s", static_cast<int64_t>(options_.availability_period.count() / 1000)}});
    }
  }
}

void DiscoveryController::ControlThread() {
  MutexLock lock(mu_);
  bool check = true;
  auto next_check = std::chrono::steady_clock::now();
  while (!stopping_) {
    const bool resync = std::exchange(resync_, false);
    lock.Unlock();
    if (check) {
      CheckAvailability();
      next_check = std::chrono::steady_clock::now() + options_.availability_period;
    }
    if (resync && leading_) {
      EnqueueAll();
      if (Status listed = EnqueueManagedMonitors(); !listed) {
        Log().Warn(
            "Monitors whose Ingress or HTTPRoute went away are not removed until the next "
            "leader change or their source's next event",
            {{"error", listed.error()}});
      }
    }
    lock.Lock();
    if (!stopping_ && !resync_) {
      wake_.WaitUntil(mu_, next_check);
    }
    check = std::chrono::steady_clock::now() >= next_check;
  }
}

void DiscoveryController::WorkThread() {
  while (std::optional<std::string> key = queue_.Get()) {
    if (Status reconciled = Reconcile(*key); reconciled) {
      queue_.Forget(*key);
    } else if (reconciled.error_kind() == ErrorKind::kUnavailable) {
      queue_.AddAfter(*key, kSyncWait);  // the informer's first list is still being delivered
    } else {
      Count(&Stats::failures);
      Log().Warn(
          "reconciling a discovered Monitor failed; retrying with backoff",
          {{"source", *key}, {"error", reconciled.error()}, {"retries", queue_.NumRequeues(*key)}});
      queue_.AddRateLimited(*key);
    }
    queue_.Done(*key);
  }
}

DiscoveryController::SourceState DiscoveryController::StateOf(SourceKind kind) const {
  if (injected_sources_) {
    return SourceState::kSynced;
  }
  MutexLock lock(mu_);
  const Informer* informer = informers_[IndexOf(kind)].get();
  if (informer == nullptr) {
    return SourceState::kUnavailable;
  }
  return informer->HasSynced() ? SourceState::kSynced : SourceState::kSyncing;
}

std::optional<Json> DiscoveryController::InformerSource(SourceKind kind,
                                                        const std::string& key) const {
  const Informer* informer = nullptr;
  {
    MutexLock lock(mu_);
    informer = informers_[IndexOf(kind)].get();
  }
  return informer == nullptr ? std::nullopt : informer->Get(key);
}

Status DiscoveryController::Reconcile(const std::string& key) {
  if (!leading_) {
    return OkStatus();  // everything is queued again on becoming the leader
  }
  const size_t first = key.find('/');
  const size_t second = first == std::string::npos ? first : key.find('/', first + 1);
  const std::optional<SourceKind> kind =
      first == std::string::npos ? std::nullopt : KindNamed(key.substr(0, first));
  if (!kind || second == std::string::npos) {
    return OkStatus();  // not a key this controller makes
  }
  const std::string namespace_name = key.substr(first + 1, second - first - 1);
  const std::string name = key.substr(second + 1);
  switch (StateOf(*kind)) {
    case SourceState::kUnavailable:
      // Not listable (no CRD, no RBAC): nothing is known of these sources, so their Monitors
      // are left alone (Kubernetes' garbage collector follows the ownerReferences).
      return OkStatus();
    case SourceState::kSyncing:
      return Error{
          "waiting for the first list of " + std::string(DiscoveredMonitor::KindTitle(*kind)) + "s",
          ErrorKind::kUnavailable};
    case SourceState::kSynced:
      break;
  }
  std::optional<Json> source = sources_(*kind, namespace_name + "/" + name);
  std::optional<Json> wanted;
  if (source) {
    Result<std::optional<Json>> built = DiscoveredMonitor::For(*kind, *source);
    if (!built) {
      Count(&Stats::failures);
      Log().Error(std::string("an annotated ") + DiscoveredMonitor::KindTitle(*kind) +
                      " cannot be monitored as it is: fix it or its pharos.dev/ annotations "
                      "(its Monitor, if any, is left as it was)",
                  {{"source", namespace_name + "/" + name}, {"error", built.error()}});
      return OkStatus();
    }
    wanted = std::move(built).value();
  }
  return Apply(*kind, namespace_name, name, wanted);
}

Status DiscoveryController::Apply(SourceKind kind, const std::string& namespace_name,
                                  const std::string& source_name,
                                  const std::optional<Json>& wanted) {
  const ApiResource monitors = ApiResource::Monitors();
  const std::string monitor_name = DiscoveredMonitor::MonitorName(kind, source_name);
  const std::string source =
      std::string(DiscoveredMonitor::KindTitle(kind)) + " " + namespace_name + "/" + source_name;
  KubeResponse got = client_.Get(monitors, namespace_name, monitor_name);
  if (got.IsNotFound()) {
    if (!wanted) {
      return OkStatus();
    }
    Json object = *wanted;
    object["metadata"]["annotations"][kSpecHashAnnotation] = SpecHash((*wanted)["spec"]);
    KubeResponse created = client_.Create(monitors, namespace_name, object);
    if (created.ok()) {
      Count(&Stats::created);
      Log().Info(
          "Monitor created for an annotated " + std::string(DiscoveredMonitor::KindTitle(kind)),
          {{"monitor", namespace_name + "/" + monitor_name},
           {"source", source},
           {"url", JsonStringAt(*wanted, {"spec", "http", "url"})}});
      return OkStatus();
    }
    if (created.http_status == 422 || created.http_status == 400) {
      Count(&Stats::failures);
      Log().Error(
          "the API server refused the Monitor made from the source's annotations: fix "
          "them (pharos.dev/frequency, pharos.dev/path...)",
          {{"source", source}, {"error", created.Describe()}});
      return OkStatus();
    }
    return Error{"creating Monitor " + namespace_name + "/" + monitor_name + ": " +
                 created.Describe()};
  }
  if (!got.ok()) {
    return Error{"reading Monitor " + namespace_name + "/" + monitor_name + ": " + got.Describe()};
  }
  Json existing = std::move(got.body);
  if (!DiscoveredMonitor::OwnedBy(existing, kind, source_name)) {
    if (wanted) {
      Count(&Stats::failures);
      Log().Warn(
          "a Monitor of the name discovery would use exists and is not discovery's: the "
          "source is not monitored (rename or delete that Monitor)",
          {{"monitor", namespace_name + "/" + monitor_name}, {"source", source}});
    }
    return OkStatus();
  }
  const std::string resource_version = JsonStringAt(existing, {"metadata", "resourceVersion"});
  if (!wanted) {
    DeleteOptions options;
    options.precondition_resource_version = resource_version;
    KubeResponse deleted = client_.Delete(monitors, namespace_name, monitor_name, options);
    if (deleted.ok() || deleted.IsNotFound()) {
      Count(&Stats::deleted);
      Log().Info("Monitor deleted: its source is gone or no longer annotated",
                 {{"monitor", namespace_name + "/" + monitor_name}, {"source", source}});
      return OkStatus();
    }
    return Error{"deleting Monitor " + namespace_name + "/" + monitor_name + ": " +
                 deleted.Describe()};
  }

  const Json& wanted_spec = (*wanted)["spec"];
  const std::string hash = SpecHash(wanted_spec);
  const Json& metadata = existing["metadata"];
  const bool same =
      JsonStringAt(existing, {"metadata", "annotations", kSpecHashAnnotation}) == hash &&
      Covers(MemberOrNull(existing, "spec"), wanted_spec) &&
      Covers(MemberOrNull(metadata, "labels"), (*wanted)["metadata"]["labels"]) &&
      MemberOrNull(metadata, "ownerReferences") == (*wanted)["metadata"]["ownerReferences"];
  if (same) {
    return OkStatus();
  }
  Json updated = existing;
  Json& spec = updated["spec"];
  if (!spec.is_object()) {
    spec = Json::object();
  }
  for (const char* field : kOwnedSpecFields) {
    spec.erase(field);
  }
  spec.update(wanted_spec);
  updated["metadata"]["labels"].update((*wanted)["metadata"]["labels"]);
  updated["metadata"]["annotations"][kSpecHashAnnotation] = hash;
  updated["metadata"]["ownerReferences"] = (*wanted)["metadata"]["ownerReferences"];
  updated.erase("status");
  KubeResponse written = client_.Update(monitors, namespace_name, monitor_name, updated, {});
  if (written.ok()) {
    Count(&Stats::updated);
    Log().Info("Monitor updated from its source",
               {{"monitor", namespace_name + "/" + monitor_name},
                {"source", source},
                {"url", JsonStringAt(*wanted, {"spec", "http", "url"})}});
    return OkStatus();
  }
  if (written.http_status == 422 || written.http_status == 400) {
    Count(&Stats::failures);
    Log().Error(
        "the API server refused the Monitor made from the source's annotations: fix "
        "them (pharos.dev/frequency, pharos.dev/path...)",
        {{"source", source}, {"error", written.Describe()}});
    return OkStatus();
  }
  return Error{"updating Monitor " + namespace_name + "/" + monitor_name + ": " +
               written.Describe()};
}

}  // namespace pharos
