#pragma once

// AlertingController: alerting in pharos-operator (docs/alerting.md) — the Kubernetes sources and
// stores around the alerting room's engine:
//   Informer(alertchannels.pharos.dev) ──► AlertingEngine channels; status.conditions Ready (the
//     operator's own validation, secrets refs, templates) and, for the pharos.dev/test annotation,
//     a `test` notification (status.lastTest keeps it from repeating)
//   Informer(maintenancewindows.pharos.dev) ──► MaintenanceSchedule (the core's calendar)
//   Informer(incidents.pharos.dev) ──► IncidentResourceStore (incidents and their deliveries);
//     the pharos.dev/acknowledged-by and pharos.dev/note annotations become acknowledgements and
//     notes
//   OperatorCore transitions ──► AlertingEngine ──► SplitOutbox (incident deliveries in the
//     Incident's status, the others in the replica's SQLite file) ──► DeliveryDispatcher, with
//     secrets from KubeSecretResolver
// Only the leader acts (engine, deliveries, status writes, annotations); every replica keeps its
// caches warm so a new leader continues at once. Informer handlers run on the informers' threads.
// Thread-safety: Create/Start/Stop from the owner thread; the rest from any thread.

#include <atomic>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "common/clock.h"
#include "operator/alerting/alerting_engine.h"
#include "operator/alerting/curl_notification_transport.h"
#include "operator/alerting/delivery_dispatcher.h"
#include "operator/alerting/maintenance_schedule.h"
#include "operator/alerting/split_outbox.h"
#include "operator/control/operator_core.h"
#include "operator/controller/incident_resource_store.h"
#include "operator/controller/kube_secret_resolver.h"
#include "operator/kube/informer.h"
#include "operator/kube/kube_client.h"
#include "operator/kube/status_patcher.h"
#include "operator/storage/sqlite_alert_store.h"

namespace pharos {

class AlertingController {
 public:
  struct Options {
    std::string watch_namespace;  // "" = every namespace
    std::string db_path;          // the replica's SQLite file (deliveries without an incident)
    DeliveryDispatcher::Options delivery;
    AlertingEngine::Options engine;
  };

  // Wires the engine to `core` (its state changes and its maintenance calendar). Every reference
  // must outlive the controller.
  static Result<std::unique_ptr<AlertingController>> Create(KubeClient& client, OperatorCore& core,
                                                            MetricsRegistry& registry,
                                                            const Clock& clock, Options options);
  ~AlertingController();  // Stop()

  void Start();
  void Stop();
  void SetLeading(bool leading);
  // Every informer delivered its first list.
  bool HasSynced() const;

  AlertingEngine& engine() { return *engine_; }
  IncidentResourceStore& incidents() { return incidents_; }
  Outbox& outbox() { return outbox_; }
  MaintenanceSchedule& calendar() { return calendar_; }

 private:
  struct Key {
    explicit Key() = default;
  };

 public:
  AlertingController(Key, KubeClient& client, OperatorCore& core, MetricsRegistry& registry,
                     const Clock& clock, Options options, std::unique_ptr<SqliteAlertStore> local);

 private:
  void OnChannel(const nlohmann::json& object);
  void OnWindow(const nlohmann::json& object);
  void OnIncident(const nlohmann::json& object);
  // The leader's duties for objects already cached (on becoming the leader).
  void ActOnCached();
  void WriteChannelStatus(const nlohmann::json& object, bool ready, const std::string& reason,
                          const std::string& message, const std::string& tested);

  const Clock& clock_;
  const Options options_;
  std::unique_ptr<SqliteAlertStore> local_;
  IncidentResourceStore incidents_;
  SplitOutbox outbox_;
  CurlNotificationTransport transport_;
  KubeSecretResolver secrets_;
  MaintenanceSchedule calendar_;
  std::unique_ptr<DeliveryDispatcher> dispatcher_;
  std::unique_ptr<AlertingEngine> engine_;
  StatusPatcher channel_status_;
  std::unique_ptr<Informer> channel_informer_;
  std::unique_ptr<Informer> window_informer_;
  std::unique_ptr<Informer> incident_informer_;
  std::atomic<bool> leading_{false};
};

}  // namespace pharos
