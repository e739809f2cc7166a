#include "operator/controller/alerting_controller.h"

#include "common/document_node.h"
#include "common/logging.h"
#include "common/rfc3339.h"

namespace pharos {
namespace {

using Json = nlohmann::json;

constexpr const char* kAckAnnotation = "pharos.dev/acknowledged-by";
constexpr const char* kNoteAnnotation = "pharos.dev/note";
constexpr const char* kTestAnnotation = "pharos.dev/test";

const Logger& Log() {
  static const Logger logger("alerting");
  return logger;
}

std::string Annotation(const Json& object, const char* name) {
  return JsonStringAt(object, {"metadata", "annotations", name});
}

std::string JoinErrors(const std::vector<ValidationError>& errors) {
  std::string joined;
  for (const ValidationError& error : errors) {
    joined += (joined.empty() ? "" : "; ") + error.ToString();
  }
  return joined;
}

// The document form of an API object, for the alerting kinds' parsers.
template <typename T, typename Parse>
Result<T> FromObject(const Json& object, Parse parse, std::vector<ValidationError>* errors) {
  Result<DocumentNode> node = DocumentNodeFromJson(object);
  if (!node) return Error{node.error(), ErrorKind::kInvalidArgument};
  return parse(*node, DocumentOrigin::kApiObject, errors);
}

}  // namespace

Result<std::unique_ptr<AlertingController>> AlertingController::Create(KubeClient& client,
                                                                       OperatorCore& core,
                                                                       MetricsRegistry& registry,
                                                                       const Clock& clock,
                                                                       Options options) {
  SqliteAlertStore::Options store_options;
  store_options.path = options.db_path;
  Result<std::unique_ptr<SqliteAlertStore>> local = SqliteAlertStore::Open(store_options);
  if (!local) return Error{local.error()};
  return std::make_unique<AlertingController>(Key{}, client, core, registry, clock,
                                              std::move(options), std::move(local).value());
}

AlertingController::AlertingController(Key, KubeClient& client, OperatorCore& core,
                                       MetricsRegistry& registry, const Clock& clock,
                                       Options options, std::unique_ptr<SqliteAlertStore> local)
    : clock_(clock),
      options_(std::move(options)),
      local_(std::move(local)),
      incidents_(client, clock),
      outbox_(incidents_, *local_),
      secrets_(client, clock),
      calendar_([&core] {
        std::vector<std::shared_ptr<const Monitor>> monitors;
        for (const MonitorStatus& status : core.SnapshotAll()) monitors.push_back(status.monitor);
        return monitors;
      }),
      channel_status_(
          client,
          StatusPatcherOptions{ApiResource::AlertChannels(), "AlertChannel",
                               StatusPatchMode::kMergePatch, "pharos-operator", 5, 10, 5},
          clock) {
  dispatcher_ = std::make_unique<DeliveryDispatcher>(
      outbox_, transport_, secrets_,
      [this](const std::string& key) { return engine_->Channel(key); }, clock, options_.delivery);
  engine_ = std::make_unique<AlertingEngine>(incidents_, outbox_, *dispatcher_, core, &calendar_,
                                             registry, clock, options_.engine);
  engine_->SetActive(false);
  core.SetMaintenanceCalendar(&calendar_);
  core.OnStateChange([this](const Monitor& monitor, const StateEvent& event) {
    engine_->OnStateChange(monitor, event);
  });

  const auto informer = [&](ApiResource resource, const char* thread,
                            const std::function<void(const Json&)>& on_change,
                            std::function<void(const Json&)> on_delete) {
    InformerOptions informer_options;
    informer_options.resource = std::move(resource);
    informer_options.namespace_name = options_.watch_namespace;
    informer_options.thread_name = thread;
    InformerHandlers handlers;
    handlers.on_add = on_change;
    handlers.on_update = [on_change](const Json&, const Json& object) { on_change(object); };
    handlers.on_delete = std::move(on_delete);
    return std::make_unique<Informer>(client, informer_options, std::move(handlers));
  };
  channel_informer_ = informer(
      ApiResource::AlertChannels(), "ach-informer", [this](const Json& o) { OnChannel(o); },
      [this](const Json& o) { engine_->RemoveChannel(ObjectKey(o)); });
  window_informer_ = informer(
      ApiResource::MaintenanceWindows(), "mw-informer", [this](const Json& o) { OnWindow(o); },
      [this](const Json& o) { calendar_.Remove(ObjectKey(o)); });
  incident_informer_ = informer(
      ApiResource::Incidents(), "inc-informer", [this](const Json& o) { OnIncident(o); },
      [this](const Json& o) { incidents_.OnDeleted(o); });
}

AlertingController::~AlertingController() { Stop(); }

void AlertingController::Start() {
  channel_informer_->Start();
  window_informer_->Start();
  incident_informer_->Start();
  engine_->Start();
}

void AlertingController::Stop() {
  if (engine_) engine_->Stop();
  channel_status_.Shutdown();
  for (auto* informer :
       {channel_informer_.get(), window_informer_.get(), incident_informer_.get()}) {
    if (informer != nullptr) informer->Stop();
  }
}

bool AlertingController::HasSynced() const {
  return channel_informer_->HasSynced() && window_informer_->HasSynced() &&
         incident_informer_->HasSynced();
}

void AlertingController::SetLeading(bool leading) {
  if (leading_.exchange(leading) == leading) return;
  engine_->SetActive(leading);
  if (leading) {
    Log().Info(
        "alerting: leading — sending notifications, continuing the deliveries recorded "
        "in Incidents");
    ActOnCached();
  }
}

void AlertingController::ActOnCached() {
  for (const Json& object : channel_informer_->List()) OnChannel(object);
  for (const Json& object : incident_informer_->List()) OnIncident(object);
}

void AlertingController::OnChannel(const Json& object) {
  const std::string key = ObjectKey(object);
  std::vector<ValidationError> errors;
  Result<AlertChannel> channel = FromObject<AlertChannel>(object, ParseAlertChannel, &errors);
  if (!channel) {
    engine_->RemoveChannel(key);
    const std::string reason = errors.empty() ? channel.error() : JoinErrors(errors);
    Log().Warn("AlertChannel refused; nothing is sent through it until it is fixed",
               {{"channel", key}, {"error", reason}});
    if (leading_) WriteChannelStatus(object, false, "InvalidSpec", reason, "");
    return;
  }
  const AlertChannel parsed = *channel;
  engine_->UpsertChannel(std::move(channel).value());
  if (!leading_) return;
  const std::string test = Annotation(object, kTestAnnotation);
  std::string tested;
  if (!test.empty() && JsonStringAt(object, {"status", "lastTest"}) != test) {
    Result<std::string> id =
        engine_->SendTest(key, "Test requested with the " + std::string(kTestAnnotation) +
                                   " annotation (" + test + ").");
    tested = id ? "test notification queued as delivery " + *id : "test failed: " + id.error();
  }
  WriteChannelStatus(object, true, "Valid", "The channel is valid; secrets are read when sending.",
                     tested.empty() ? "" : test + "\n" + tested);
}

void AlertingController::WriteChannelStatus(const Json& object, bool ready,
                                            const std::string& reason, const std::string& message,
                                            const std::string& tested) {
  const int64_t generation = object["metadata"].value("generation", int64_t{0});
  const Json* current = object.contains("status") ? &object["status"] : nullptr;
  const std::string status_word = ready ? "True" : "False";
  if (tested.empty() && current != nullptr &&
      current->value("observedGeneration", int64_t{-1}) == generation) {
    for (const Json& condition : current->value("conditions", Json::array())) {
      if (condition.value("type", "") == "Ready" && condition.value("status", "") == status_word &&
          condition.value("message", "") == message) {
        return;  // already says so
      }
    }
  }
  Json conditions = Json::array();
  conditions.push_back({{"type", "Ready"},
                        {"status", status_word},
                        {"reason", reason},
                        {"message", message.substr(0, 32768)},
                        {"observedGeneration", generation},
                        {"lastTransitionTime", FormatRfc3339(clock_.Now())}});
  Json status = {{"observedGeneration", generation}, {"conditions", conditions}};
  if (!tested.empty()) {
    const size_t newline = tested.find('\n');
    status["lastTest"] = tested.substr(0, newline);
    status["conditions"].push_back({{"type", "Tested"},
                                    {"status", "True"},
                                    {"reason", "TestQueued"},
                                    {"message", tested.substr(newline + 1)},
                                    {"lastTransitionTime", FormatRfc3339(clock_.Now())}});
  } else if (current != nullptr) {
    for (const Json& condition : current->value("conditions", Json::array())) {
      if (condition.value("type", "") == "Tested") status["conditions"].push_back(condition);
    }
  }
  KubeResponse written = channel_status_.Patch(JsonStringAt(object, {"metadata", "namespace"}),
                                               JsonStringAt(object, {"metadata", "name"}), status);
  if (!written.ok() && !written.IsNotFound()) {
    Log().Warn("writing an AlertChannel's status failed",
               {{"channel", ObjectKey(object)}, {"error", written.Describe()}});
  }
}

void AlertingController::OnWindow(const Json& object) {
  std::vector<ValidationError> errors;
  Result<MaintenanceWindow> window =
      FromObject<MaintenanceWindow>(object, ParseMaintenanceWindow, &errors);
  if (!window) {
    calendar_.Remove(ObjectKey(object));
    Log().Warn("MaintenanceWindow refused; it does not apply until it is fixed",
               {{"window", ObjectKey(object)},
                {"error", errors.empty() ? window.error() : JoinErrors(errors)}});
    return;
  }
  Log().Info("maintenance window in force",
             {{"window", ObjectKey(object)}, {"recurring", window->schedule.has_value()}});
  calendar_.Upsert(std::move(window).value());
}

void AlertingController::OnIncident(const Json& object) {
  incidents_.OnObject(object);
  if (!leading_) return;
  const std::string id = JsonStringAt(object, {"spec", "incidentId"});
  if (id.empty()) return;
  const std::string by = Annotation(object, kAckAnnotation);
  const std::string phase = JsonStringAt(object, {"status", "phase"});
  if (!by.empty() && (phase.empty() || phase == "Open")) {
    Result<IncidentUpdate> acked = engine_->Acknowledge(id, by);
    if (!acked) {
      Log().Warn("acknowledging an Incident failed; retried on its next change",
                 {{"incident", ObjectKey(object)}, {"error", acked.error()}});
    }
  }
  const std::string note = Annotation(object, kNoteAnnotation);
  if (!note.empty() && JsonStringAt(object, {"status", "notesSeen"}) != note) {
    const std::string author = by.empty() ? "kubectl" : by;
    Result<IncidentUpdate> noted = incidents_.AddNoteOnce(id, author, note, clock_.Now());
    if (!noted) {
      Log().Warn("copying an Incident's note failed",
                 {{"incident", ObjectKey(object)}, {"error", noted.error()}});
    }
  }
}

}  // namespace pharos
