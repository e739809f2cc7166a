#pragma once

// AlertingEngine: turns the core's persisted state transitions into incidents on record and
// notifications in the outbox (docs/alerting.md). It listens on OperatorCore::OnStateChange —
// the observer only queues (bounded; never blocks the core's threads) — and its own thread
// "pharos-alerts" does the rest:
// * An incident opened (Down): recorded, a `down` notification for each of the monitor's
//   channels (those named in spec.alerting.channels that exist, or the namespace's `default`
//   channels when it names none). Resolved: recorded, `recovered` to the channels told of the
//   outage (alerting.sendOnResolved, default true).
// * Degraded (no incident): `degraded` to the channels with sendDegraded (default true), and
//   `recovered` when the monitor is Up again.
// * Maintenance: entering and leaving are written on the open incident's timeline; while a
//   monitor is in a window nothing is sent for it (its incident stays open, reminders wait).
// * Every housekeeping_interval: reminders (alerting.remindEvery) of open, unacknowledged
//   incidents; catch-up — an open incident with no `down` decided (the process died between the
//   core's commit and the outbox, or a new leader took over) gets it, a resolved one whose
//   outage was told gets its `recovered` — which, with deterministic delivery ids, makes every
//   decision idempotent whoever takes it again.
// * Acknowledge (API, annotation): phase Acknowledged, reminders stop, `acknowledged` sent to the
//   channels told of the outage.
// Deliveries go through the Outbox and the DeliveryDispatcher (one worker per channel).
// Thread-safety: every public method may be called from any thread; Start/Stop by the owner.

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/metrics_registry.h"
#include "common/monitor.h"
#include "common/mutex.h"
#include "operator/alerting/alert_channel.h"
#include "operator/alerting/delivery_dispatcher.h"
#include "operator/alerting/incident_store.h"
#include "operator/alerting/outbox.h"
#include "operator/control/maintenance_calendar.h"
#include "operator/control/monitor_state.h"
#include "operator/control/status_reader.h"

namespace pharos {

class AlertingEngine {
 public:
  struct Options {
    std::chrono::milliseconds housekeeping_interval{10'000};
    size_t max_queued_events = 100'000;
    // Resolved incidents younger than this are caught up (their recovery told).
    std::chrono::milliseconds catch_up_window{24 * 3'600'000};
    int catch_up_incidents = 500;
    // --public-url without its trailing slash: what links in notifications start with. Empty:
    // links are paths on this server.
    std::string public_url;
  };

  // The channels a monitor notifies.
  struct ChannelSelection {
    std::vector<std::shared_ptr<const AlertChannel>> channels;
    std::vector<std::string> missing;  // names in spec.alerting.channels with no AlertChannel
  };

  // Every reference must outlive the engine. `calendar` may be null (no maintenance windows).
  AlertingEngine(IncidentStore& incidents, Outbox& outbox, DeliveryDispatcher& dispatcher,
                 StatusReader& monitors, const MaintenanceCalendar* calendar,
                 MetricsRegistry& registry, const Clock& clock, Options options);
  ~AlertingEngine();  // Stop()
  AlertingEngine(const AlertingEngine&) = delete;
  AlertingEngine& operator=(const AlertingEngine&) = delete;

  // --- channels ---
  void SetChannels(std::vector<AlertChannel> channels);
  void UpsertChannel(AlertChannel channel);
  void RemoveChannel(const std::string& key);
  std::shared_ptr<const AlertChannel> Channel(const std::string& key) const;
  ChannelSelection ChannelsFor(const Monitor& monitor) const;

  // The core's observer: queues the transition (never blocks).
  void OnStateChange(const Monitor& monitor, const StateEvent& event);

  // A person acknowledged / commented an incident. Errors: the store failed.
  Result<IncidentUpdate> Acknowledge(const std::string& incident_id, const std::string& author);
  Result<IncidentUpdate> AddNote(const std::string& incident_id, const std::string& author,
                                 const std::string& text);
  // A `test` notification to one channel; returns its delivery id. kInvalidArgument when the
  // channel does not exist.
  Result<std::string> SendTest(const std::string& channel_key, const std::string& text = "");

  // Starts "pharos-alerts" and the dispatcher.
  void Start();
  void Stop();
  // Not the leader: transitions are dropped (the leader takes them), nothing is sent.
  void SetActive(bool active);
  // Tests: processes the queued transitions and runs one housekeeping pass at clock.Now().
  void Tick();
  // Waits until every transition queued before the call has been processed (tests).
  void Drain();

  int64_t dropped_events() const;

 private:
  struct Queued {
    std::shared_ptr<const Monitor> monitor;
    StateEvent event;
  };

  void Run(const std::stop_token& stop);
  void Process(const Queued& queued);
  void Housekeeping();
  // Adds the deliveries of `notification` to `channels`; wakes their workers. Returns how many
  // were new.
  size_t Enqueue(const Notification& notification,
                 const std::vector<std::shared_ptr<const AlertChannel>>& channels,
                 NotificationEvent filter_event);
  size_t EnqueueTo(const Notification& notification, const std::vector<std::string>& channels);
  Notification FactsOf(const Monitor& monitor, NotificationEvent event, TimePoint at) const;
  bool InMaintenance(const Monitor& monitor, TimePoint at) const;
  std::string MaintenanceNames(const Monitor& monitor, TimePoint at) const;
  void Entry(const std::string& incident_id, const IncidentEntry& entry);
  // Sets n.screenshots from the incident's record, as links under options_.public_url.
  void LinkScreenshots(Notification& n, const IncidentRecord& record) const;
  void OnDelivery(const Delivery& delivery, DeliveryOutcome outcome, const std::string& type);
  void CollectMetrics(MetricsWriter& writer);

  IncidentStore& incidents_;
  Outbox& outbox_;
  DeliveryDispatcher& dispatcher_;
  StatusReader& monitors_;
  const MaintenanceCalendar* const calendar_;
  MetricsRegistry& registry_;
  const Clock& clock_;
  const Options options_;
  CounterFamily& notifications_total_;
  HistogramFamily& delivery_seconds_;
  MetricsRegistry::CollectorId collector_ = 0;

  mutable Mutex channels_mu_;
  std::map<std::string, std::shared_ptr<const AlertChannel>> channels_ GUARDED_BY(channels_mu_);

  mutable Mutex queue_mu_;
  CondVar queue_cv_;
  std::deque<Queued> queue_ GUARDED_BY(queue_mu_);
  int64_t dropped_ GUARDED_BY(queue_mu_) = 0;
  int64_t processing_ GUARDED_BY(queue_mu_) = 0;  // taken off the queue, not done yet
  std::atomic<bool> active_{true};
  Mutex work_mu_;  // serialises Process and Housekeeping (the thread and Tick)
  std::jthread thread_;
  Mutex lifecycle_mu_;
  bool started_ GUARDED_BY(lifecycle_mu_) = false;
};

}  // namespace pharos
