#pragma once

// IncidentResourceStore: incidents as `Incident` resources (incidents.pharos.dev,
// docs/alerting.md#incidents) — the IncidentStore and the incident half of the Outbox of
// pharos-operator. An incident the core opens becomes an Incident in the Monitor's namespace,
// owned by the Monitor (deleted with it); its status holds the phase, the timeline and the
// delivery record of every notification about it. Because all of that lives in the API server, a
// new leader reads it (the informer feeding OnObject) and continues deliveries where the old one
// stopped, with the same deliveryIds.
// Reads come from the objects the informer delivered and the answers to this store's own writes
// (whichever has the newer resourceVersion), so a write is visible at once. Writes are status
// merge patches with the object's resourceVersion as a precondition, one at a time; a 409 re-reads
// the object and tries again.
// Thread-safety: every method may be called from any thread.

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "common/clock.h"
#include "common/mutex.h"
#include "operator/alerting/incident_store.h"
#include "operator/alerting/outbox.h"
#include "operator/kube/kube_client.h"

namespace pharos {

class IncidentResourceStore final : public IncidentStore, public Outbox {
 public:
  IncidentResourceStore(KubeClient& client, const Clock& clock);

  // The informer's view of an Incident (add/update) and of its deletion.
  void OnObject(const nlohmann::json& object);
  void OnDeleted(const nlohmann::json& object);
  // The resource name of an incident id; "" when unknown.
  std::string NameOf(const std::string& incident_id) const;
  // The incident id of a resource (namespace/name); "" when unknown.
  std::string IdOf(const std::string& key) const;

  // --- IncidentReader ---
  Result<std::vector<IncidentRecord>> ListIncidents(const IncidentQuery& query) override;
  // Reads every Incident once for all the monitors.
  Result<std::vector<IncidentRecord>> ListIncidentsInWindow(
      const IncidentWindowQuery& query) override;
  Result<std::optional<IncidentRecord>> GetIncident(const std::string& id) override;

  // --- IncidentStore ---
  Status RecordOpened(const Incident& incident) override;
  Status RecordResolved(const std::string& id, TimePoint at) override;
  Status AddEntry(const std::string& id, const IncidentEntry& entry) override;
  Result<IncidentUpdate> Acknowledge(const std::string& id, const std::string& author,
                                     TimePoint at) override;
  Result<IncidentUpdate> AddNote(const std::string& id, const std::string& author,
                                 const std::string& text, TimePoint at) override;
  Result<IncidentUpdate> AttachScreenshot(const std::string& id, const std::string& url,
                                          TimePoint at) override;
  // Records a pharos.dev/note annotation as a note once (status.notesSeen).
  Result<IncidentUpdate> AddNoteOnce(const std::string& id, const std::string& author,
                                     const std::string& text, TimePoint at);

  // --- Outbox (deliveries about incidents) ---
  Result<size_t> Add(const std::vector<Delivery>& deliveries) override;
  Result<std::optional<Delivery>> NextPending(const std::string& channel) override;
  Result<std::vector<std::string>> PendingChannels() override;
  Status Update(const Delivery& delivery) override;
  Result<std::vector<Delivery>> ForIncident(const std::string& incident_id) override;
  Result<OutboxStats> Stats() override;

  static IncidentRecord RecordOf(const nlohmann::json& object);

 private:
  // Changes the status of the incident `id`: `change` edits a copy and says whether it changed
  // anything. Returns the record after it, or found = false.
  Result<IncidentUpdate> Mutate(const std::string& id,
                                const std::function<bool(nlohmann::json& status)>& change);
  // Keeps `object` when it is newer than the copy held.
  void KeepLocked(const nlohmann::json& object) REQUIRES(mu_);
  std::vector<nlohmann::json> Objects() const;
  std::optional<nlohmann::json> Find(const std::string& id) const;

  KubeClient& client_;
  const Clock& clock_;
  Mutex write_mu_;  // one write at a time
  mutable Mutex mu_;
  std::map<std::string, nlohmann::json> objects_ GUARDED_BY(mu_);  // by incident id
  std::map<std::string, std::string> ids_by_key_ GUARDED_BY(mu_);  // namespace/name → id
};

}  // namespace pharos
