#include "operator/alerting/alerting_engine.h"

#include <pthread.h>

#include <algorithm>

#include "common/histogram_family.h"
#include "common/logging.h"
#include "operator/alerting/message_renderer.h"

namespace pharos {
namespace {

const Logger& Log() {
  static const Logger logger("alerting");
  return logger;
}

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

bool Has(const std::vector<Delivery>& deliveries, NotificationEvent event) {
  return std::any_of(deliveries.begin(), deliveries.end(),
                     [&](const Delivery& d) { return d.notification.event == event; });
}

// The channels the deliveries of `event` went to, and the facts they carried.
std::vector<std::string> ChannelsOf(const std::vector<Delivery>& deliveries,
                                    NotificationEvent event, const Notification** facts) {
  std::vector<std::string> channels;
  for (const Delivery& delivery : deliveries) {
    if (delivery.notification.event != event) continue;
    if (std::find(channels.begin(), channels.end(), delivery.channel) == channels.end()) {
      channels.push_back(delivery.channel);
    }
    if (facts != nullptr && *facts == nullptr) *facts = &delivery.notification;
  }
  return channels;
}

std::string StateText(const StateEvent& event) {
  std::string text = ToString(event.to);
  if (!event.failing_regions.empty()) text += " (failing in " + Join(event.failing_regions);
  if (!event.first_error.empty()) {
    text += event.failing_regions.empty() ? " (" : ": ";
    text += event.first_error;
  }
  if (!event.failing_regions.empty() || !event.first_error.empty()) text += ")";
  return text;
}

}  // namespace

AlertingEngine::AlertingEngine(IncidentStore& incidents, Outbox& outbox,
                               DeliveryDispatcher& dispatcher, StatusReader& monitors,
                               const MaintenanceCalendar* calendar, MetricsRegistry& registry,
                               const Clock& clock, Options options)
    : incidents_(incidents),
      outbox_(outbox),
      dispatcher_(dispatcher),
      monitors_(monitors),
      calendar_(calendar),
      registry_(registry),
      clock_(clock),
      options_(std::move(options)),
      notifications_total_(registry.AddCounter(
          "pharos_notifications_total",
          "Notification delivery attempts, by channel (namespace/name), channel type, event "
          "(down degraded recovered reminder acknowledged test) and outcome (delivered; retry: "
          "will be attempted again; failed: given up, see the incident timeline or the log).",
          {"channel", "type", "event", "outcome"})),
      delivery_seconds_(registry.AddHistogram(
          "pharos_notification_delivery_seconds",
          "Seconds from when a notification was decided to when its receiver confirmed it, by "
          "channel type.",
          {"type"}, {0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600})) {
  dispatcher_.SetObserver([this](const Delivery& delivery, DeliveryOutcome outcome,
                                 const std::string& type) { OnDelivery(delivery, outcome, type); });
  collector_ = registry_.AddCollector([this](MetricsWriter& writer) { CollectMetrics(writer); });
}

AlertingEngine::~AlertingEngine() {
  Stop();
  registry_.RemoveCollector(collector_);
}

// --- channels ---

void AlertingEngine::SetChannels(std::vector<AlertChannel> channels) {
  std::map<std::string, std::shared_ptr<const AlertChannel>> by_key;
  for (AlertChannel& channel : channels) {
    std::string key = channel.Key();
    by_key.emplace(std::move(key), std::make_shared<const AlertChannel>(std::move(channel)));
  }
  MutexLock lock(channels_mu_);
  channels_ = std::move(by_key);
}

void AlertingEngine::UpsertChannel(AlertChannel channel) {
  std::string key = channel.Key();
  auto shared = std::make_shared<const AlertChannel>(std::move(channel));
  {
    MutexLock lock(channels_mu_);
    channels_[key] = std::move(shared);
  }
  dispatcher_.Wake(key);  // deliveries that waited for a fixed configuration
}

void AlertingEngine::RemoveChannel(const std::string& key) {
  MutexLock lock(channels_mu_);
  channels_.erase(key);
}

std::shared_ptr<const AlertChannel> AlertingEngine::Channel(const std::string& key) const {
  MutexLock lock(channels_mu_);
  auto found = channels_.find(key);
  return found == channels_.end() ? nullptr : found->second;
}

AlertingEngine::ChannelSelection AlertingEngine::ChannelsFor(const Monitor& monitor) const {
  ChannelSelection selection;
  MutexLock lock(channels_mu_);
  if (monitor.alerting.channels.empty()) {
    const std::string prefix = monitor.namespace_name + "/";
    for (auto it = channels_.lower_bound(prefix);
         it != channels_.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
      if (it->second->is_default) selection.channels.push_back(it->second);
    }
    return selection;
  }
  for (const std::string& name : monitor.alerting.channels) {
    auto found = channels_.find(monitor.namespace_name + "/" + name);
    if (found == channels_.end()) {
      selection.missing.push_back(name);
    } else {
      selection.channels.push_back(found->second);
    }
  }
  return selection;
}

// --- transitions ---

void AlertingEngine::OnStateChange(const Monitor& monitor, const StateEvent& event) {
  if (!active_) return;
  {
    MutexLock lock(queue_mu_);
    if (queue_.size() >= options_.max_queued_events) {
      ++dropped_;
      Log().Error(
          "too many state changes waiting for the alerting engine; one was dropped (incidents are "
          "caught up from the store, degraded notices are lost)",
          {{"monitor", event.monitor_key}, {"to", ToString(event.to)}});
      return;
    }
    queue_.push_back(Queued{std::make_shared<const Monitor>(monitor), event});
  }
  queue_cv_.NotifyAll();
}

int64_t AlertingEngine::dropped_events() const {
  MutexLock lock(queue_mu_);
  return dropped_;
}

Notification AlertingEngine::FactsOf(const Monitor& monitor, NotificationEvent event,
                                     TimePoint at) const {
  Notification n;
  n.event = event;
  n.monitor_uid = monitor.uid;
  n.monitor_namespace = monitor.namespace_name;
  n.monitor_name = monitor.name;
  n.monitor_type = ToString(monitor.type);
  n.monitor_target = monitor.Target();
  n.occurred_at = at;
  return n;
}

bool AlertingEngine::InMaintenance(const Monitor& monitor, TimePoint at) const {
  return calendar_ != nullptr && calendar_->InMaintenance(monitor, at);
}

std::string AlertingEngine::MaintenanceNames(const Monitor& monitor, TimePoint at) const {
  if (calendar_ == nullptr) return "";
  std::vector<std::string> names;
  for (const MaintenancePeriod& period :
       calendar_->Periods(at, at + std::chrono::milliseconds(1))) {
    if (std::binary_search(period.monitor_keys.begin(), period.monitor_keys.end(), monitor.Key()) ||
        period.monitor_keys.empty()) {
      names.push_back(period.namespace_name + "/" + period.name);
    }
  }
  return Join(names);
}

void AlertingEngine::LinkScreenshots(Notification& n, const IncidentRecord& record) const {
  n.screenshots.clear();
  for (const std::string& path : record.screenshot_urls) {
    n.screenshots.push_back(options_.public_url + path);
  }
}

void AlertingEngine::Entry(const std::string& incident_id, const IncidentEntry& entry) {
  if (Status added = incidents_.AddEntry(incident_id, entry); !added) {
    Log().Warn("writing an incident's timeline failed",
               {{"incident", incident_id}, {"error", added.error()}});
  }
}

size_t AlertingEngine::Enqueue(const Notification& notification,
                               const std::vector<std::shared_ptr<const AlertChannel>>& channels,
                               NotificationEvent filter_event) {
  std::vector<std::string> keys;
  for (const auto& channel : channels) {
    if (!MessageRenderer::Accepts(channel->type, notification.event)) continue;
    if (filter_event == NotificationEvent::kDegraded && !channel->send_degraded) continue;
    keys.push_back(channel->Key());
  }
  return EnqueueTo(notification, keys);
}

size_t AlertingEngine::EnqueueTo(const Notification& notification,
                                 const std::vector<std::string>& channels) {
  std::vector<Delivery> deliveries;
  const TimePoint now = clock_.Now();
  for (const std::string& key : channels) {
    if (std::shared_ptr<const AlertChannel> channel = Channel(key);
        channel && !MessageRenderer::Accepts(channel->type, notification.event)) {
      continue;
    }
    deliveries.push_back(Delivery::Of(notification, key, now));
  }
  if (deliveries.empty()) return 0;
  Result<size_t> added = outbox_.Add(deliveries);
  if (!added) {
    Log().Error(
        "writing notifications to the outbox failed; they are decided again at the next "
        "catch-up",
        {{"monitor", notification.MonitorKey()},
         {"event", ToString(notification.event)},
         {"error", added.error()}});
    return 0;
  }
  for (const Delivery& delivery : deliveries) dispatcher_.Wake(delivery.channel);
  return *added;
}

void AlertingEngine::Process(const Queued& queued) {
  const Monitor& monitor = *queued.monitor;
  const StateEvent& event = queued.event;
  const bool maintenance =
      event.to == MonitorState::kMaintenance || InMaintenance(monitor, event.at);
  if (event.to == MonitorState::kMaintenance || event.from == MonitorState::kMaintenance) {
    IncidentQuery query;
    query.monitor_uid = monitor.uid;
    query.include_resolved = false;
    query.limit = 1;
    Result<std::vector<IncidentRecord>> open = incidents_.ListIncidents(query);
    if (open && !open->empty()) {
      const bool starting = event.to == MonitorState::kMaintenance;
      Entry(open->front().incident.id, {event.at,
                                        starting ? IncidentEntry::Kind::kMaintenanceStart
                                                 : IncidentEntry::Kind::kMaintenanceEnd,
                                        starting ? MaintenanceNames(monitor, event.at) : "", ""});
    }
  }
  if (!event.opened_incident_id.empty()) {
    Incident incident;
    incident.id = event.opened_incident_id;
    incident.monitor_uid = monitor.uid;
    incident.monitor_key = monitor.Key();
    incident.opened_at = event.at;
    incident.failing_regions = event.failing_regions;
    incident.first_error = event.first_error;
    if (Status recorded = incidents_.RecordOpened(incident); !recorded) {
      Log().Error("recording an incident failed",
                  {{"incident", incident.id}, {"error", recorded.error()}});
    }
    Entry(incident.id, {event.at, IncidentEntry::Kind::kStateChange, StateText(event), ""});
    if (!maintenance) {
      Notification n = FactsOf(monitor, NotificationEvent::kDown, event.at);
      n.state = ToString(event.to);
      n.incident = NotificationIncident{incident.id, event.at, std::nullopt};
      n.regions = event.failing_regions;
      n.reason = event.first_error;
      ChannelSelection selection = ChannelsFor(monitor);
      Enqueue(n, selection.channels, NotificationEvent::kDown);
    }
  }
  if (!event.resolved_incident_id.empty()) {
    const std::string& id = event.resolved_incident_id;
    if (Status recorded = incidents_.RecordResolved(id, event.at); !recorded) {
      Log().Error("recording an incident's resolution failed",
                  {{"incident", id}, {"error", recorded.error()}});
    }
    Entry(id, {event.at, IncidentEntry::Kind::kStateChange, StateText(event), ""});
    if (monitor.alerting.send_on_resolved && !maintenance) {
      Result<std::vector<Delivery>> told = outbox_.ForIncident(id);
      const Notification* down = nullptr;
      std::vector<std::string> channels;
      if (told) channels = ChannelsOf(*told, NotificationEvent::kDown, &down);
      Notification n = FactsOf(monitor, NotificationEvent::kRecovered, event.at);
      n.state = ToString(event.to);
      n.incident = NotificationIncident{id, down ? down->incident->started_at : event.at, event.at};
      if (Result<std::optional<IncidentRecord>> record = incidents_.GetIncident(id);
          record && record->has_value()) {
        n.incident->started_at = (*record)->incident.opened_at;
        LinkScreenshots(n, **record);
      }
      EnqueueTo(n, channels);
    }
  }
  // Degraded without an incident, and back.
  if (event.opened_incident_id.empty() && event.resolved_incident_id.empty() && !maintenance) {
    const bool to_degraded =
        event.to == MonitorState::kDegraded &&
        (event.from == MonitorState::kUp || event.from == MonitorState::kPending);
    const bool from_degraded =
        event.from == MonitorState::kDegraded && event.to == MonitorState::kUp;
    if (to_degraded || (from_degraded && monitor.alerting.send_on_resolved)) {
      Notification n = FactsOf(
          monitor, to_degraded ? NotificationEvent::kDegraded : NotificationEvent::kRecovered,
          event.at);
      n.state = ToString(event.to);
      n.regions = event.degraded_regions;
      if (to_degraded && !event.degraded_regions.empty()) {
        n.reason = "slower than " +
                   (monitor.degraded_after ? std::to_string(monitor.degraded_after->count()) + " ms"
                                           : std::string("its degradedAfter")) +
                   " or failing in some regions";
      }
      Enqueue(n, ChannelsFor(monitor).channels, NotificationEvent::kDegraded);
    }
  }
}

// --- people ---

Result<IncidentUpdate> AlertingEngine::Acknowledge(const std::string& incident_id,
                                                   const std::string& author) {
  const TimePoint now = clock_.Now();
  Result<IncidentUpdate> update = incidents_.Acknowledge(incident_id, author, now);
  if (!update || !update->changed || !update->record) return update;
  const Incident& incident = update->record->incident;
  Result<std::vector<Delivery>> told = outbox_.ForIncident(incident_id);
  if (!told) return update;
  const Notification* down = nullptr;
  std::vector<std::string> channels = ChannelsOf(*told, NotificationEvent::kDown, &down);
  if (down == nullptr) return update;
  std::shared_ptr<const Monitor> monitor = monitors_.MonitorSpec(incident.monitor_uid);
  if (monitor && InMaintenance(*monitor, now)) return update;
  Notification n = *down;
  n.event = NotificationEvent::kAcknowledged;
  n.sequence = 0;
  n.acknowledged_by = author;
  n.occurred_at = now;
  n.reason.clear();
  LinkScreenshots(n, *update->record);
  EnqueueTo(n, channels);
  Log().Info("incident acknowledged; reminders stop",
             {{"incident", incident_id}, {"by", author}, {"monitor", incident.monitor_key}});
  return update;
}

Result<IncidentUpdate> AlertingEngine::AddNote(const std::string& incident_id,
                                               const std::string& author, const std::string& text) {
  return incidents_.AddNote(incident_id, author, text, clock_.Now());
}

Result<std::string> AlertingEngine::SendTest(const std::string& channel_key,
                                             const std::string& text) {
  std::shared_ptr<const AlertChannel> channel = Channel(channel_key);
  if (!channel) {
    return Error{"no AlertChannel " + channel_key, ErrorKind::kInvalidArgument};
  }
  const TimePoint now = clock_.Now();
  Notification n;
  n.event = NotificationEvent::kTest;
  n.monitor_uid = "test:" + channel_key;
  n.monitor_namespace = channel->meta.namespace_name;
  n.monitor_name = "pharos-test";
  n.monitor_type = "test";
  n.state = "Up";
  n.reason = text;
  n.occurred_at = now;
  Delivery delivery = Delivery::Of(n, channel_key, now);
  Result<size_t> added = outbox_.Add({delivery});
  if (!added) return Error{added.error()};
  dispatcher_.Wake(channel_key);
  return delivery.id;
}

// --- housekeeping ---

void AlertingEngine::Housekeeping() {
  const TimePoint now = clock_.Now();
  IncidentQuery query;
  query.include_resolved = true;
  query.limit = options_.catch_up_incidents;
  Result<std::vector<IncidentRecord>> records = incidents_.ListIncidents(query);
  if (!records) {
    Log().Warn("reading incidents for reminders and catch-up failed", {{"error", records.error()}});
    return;
  }
  for (const IncidentRecord& record : *records) {
    const Incident& incident = record.incident;
    if (incident.resolved_at && now - *incident.resolved_at > options_.catch_up_window) continue;
    std::shared_ptr<const Monitor> monitor = monitors_.MonitorSpec(incident.monitor_uid);
    Result<std::vector<Delivery>> told = outbox_.ForIncident(incident.id);
    if (!told) continue;
    const Notification* down = nullptr;
    const std::vector<std::string> down_channels =
        ChannelsOf(*told, NotificationEvent::kDown, &down);
    if (!incident.resolved_at) {
      if (!monitor || InMaintenance(*monitor, now)) continue;
      if (down == nullptr) {
        // Opened, but no outage notice decided: the process stopped in between.
        Notification n = FactsOf(*monitor, NotificationEvent::kDown, incident.opened_at);
        n.state = ToString(MonitorState::kDown);
        n.incident = NotificationIncident{incident.id, incident.opened_at, std::nullopt};
        n.regions = incident.failing_regions;
        n.reason = incident.first_error;
        if (Enqueue(n, ChannelsFor(*monitor).channels, NotificationEvent::kDown) > 0) {
          Log().Info("outage notice caught up (decided before a restart or leader change)",
                     {{"incident", incident.id}, {"monitor", incident.monitor_key}});
        }
        continue;
      }
      const auto& remind = monitor->alerting.remind_every;
      if (remind && record.phase == IncidentPhase::kOpen) {
        const auto elapsed = now - incident.opened_at;
        const int64_t n_reminder = elapsed / *remind;
        if (n_reminder >= 1) {
          Notification n = *down;
          n.event = NotificationEvent::kReminder;
          n.sequence = static_cast<int>(n_reminder);
          n.occurred_at = now;
          n.state = ToString(MonitorState::kDown);
          LinkScreenshots(n, record);
          if (EnqueueTo(n, down_channels) > 0) {
            Entry(incident.id, {now, IncidentEntry::Kind::kNotification,
                                "reminder " + std::to_string(n_reminder) + " decided", ""});
          }
        }
      }
      continue;
    }
    // Resolved: told of the outage but not of the recovery.
    if (down != nullptr && !Has(*told, NotificationEvent::kRecovered) &&
        (!monitor || monitor->alerting.send_on_resolved)) {
      Notification n = *down;
      n.event = NotificationEvent::kRecovered;
      n.sequence = 0;
      n.state = monitor ? ToString(MonitorState::kUp) : "Removed";
      n.incident->resolved_at = incident.resolved_at;
      n.occurred_at = *incident.resolved_at;
      n.reason = monitor ? "" : "the monitor was removed";
      LinkScreenshots(n, record);
      if (EnqueueTo(n, down_channels) > 0) {
        Log().Info("recovery notice caught up",
                   {{"incident", incident.id}, {"monitor", incident.monitor_key}});
      }
    }
  }
}

void AlertingEngine::OnDelivery(const Delivery& delivery, DeliveryOutcome outcome,
                                const std::string& type) {
  const std::string event = ToString(delivery.notification.event);
  notifications_total_.WithLabels({delivery.channel, type, event, ToString(outcome)}).Inc();
  if (outcome == DeliveryOutcome::kDelivered && delivery.delivered_at) {
    delivery_seconds_.WithLabels({type}).Observe(
        std::chrono::duration<double>(*delivery.delivered_at - delivery.created_at).count());
  }
  if (outcome != DeliveryOutcome::kRetry && delivery.notification.incident) {
    Entry(delivery.notification.incident->id,
          {clock_.Now(), IncidentEntry::Kind::kNotification,
           outcome == DeliveryOutcome::kDelivered
               ? event + " sent to " + delivery.channel
               : event + " to " + delivery.channel + " failed: " + delivery.last_error,
           ""});
  }
}

void AlertingEngine::CollectMetrics(MetricsWriter& writer) {
  Result<OutboxStats> stats = outbox_.Stats();
  writer.BeginFamily("pharos_notification_queue_depth",
                     "Notifications decided and not yet delivered (pending in the outbox, "
                     "retries included).",
                     MetricType::kGauge);
  writer.Sample({}, stats ? static_cast<double>(stats->pending) : 0);
  writer.BeginFamily("pharos_notification_oldest_pending_seconds",
                     "Age of the oldest notification not yet delivered; 0 when none waits.",
                     MetricType::kGauge);
  double age = 0;
  if (stats && stats->oldest_pending) {
    age =
        std::max(0.0, std::chrono::duration<double>(clock_.Now() - *stats->oldest_pending).count());
  }
  writer.Sample({}, age);
  writer.BeginFamily("pharos_notification_events_dropped_total",
                     "State changes the alerting engine could not queue (its queue was full).",
                     MetricType::kCounter);
  writer.Sample({}, static_cast<double>(dropped_events()));
}

// --- lifecycle ---

void AlertingEngine::Start() {
  MutexLock lock(lifecycle_mu_);
  if (started_) return;
  started_ = true;
  dispatcher_.Start();
  thread_ = std::jthread([this](const std::stop_token& stop) { Run(stop); });
}

void AlertingEngine::Stop() {
  {
    MutexLock lock(lifecycle_mu_);
    if (!started_) return;
    started_ = false;
  }
  if (thread_.joinable()) {
    thread_.request_stop();
    queue_cv_.NotifyAll();
    thread_.join();
  }
  dispatcher_.Stop();
}

void AlertingEngine::SetActive(bool active) {
  active_ = active;
  dispatcher_.SetActive(active);
  if (!active) {
    MutexLock lock(queue_mu_);
    queue_.clear();
  }
  queue_cv_.NotifyAll();
}

void AlertingEngine::Run(const std::stop_token& stop) {
  pthread_setname_np(pthread_self(), "pharos-alerts");
  auto next_housekeeping = std::chrono::steady_clock::now();
  while (!stop.stop_requested()) {
    std::deque<Queued> batch;
    {
      MutexLock lock(queue_mu_);
      queue_cv_.WaitUntil(queue_mu_, stop, next_housekeeping,
                          [&]() REQUIRES(queue_mu_) { return !queue_.empty(); });
      batch.swap(queue_);
      processing_ += static_cast<int64_t>(batch.size());
    }
    {
      MutexLock work(work_mu_);
      for (const Queued& queued : batch) Process(queued);
      if (std::chrono::steady_clock::now() >= next_housekeeping) {
        if (active_) Housekeeping();
        next_housekeeping = std::chrono::steady_clock::now() + options_.housekeeping_interval;
      }
    }
    {
      MutexLock lock(queue_mu_);
      processing_ -= static_cast<int64_t>(batch.size());
    }
    queue_cv_.NotifyAll();
  }
}

void AlertingEngine::Tick() {
  std::deque<Queued> batch;
  {
    MutexLock lock(queue_mu_);
    batch.swap(queue_);
  }
  MutexLock work(work_mu_);
  for (const Queued& queued : batch) Process(queued);
  if (active_) Housekeeping();
}

void AlertingEngine::Drain() {
  MutexLock lock(queue_mu_);
  queue_cv_.Wait(queue_mu_,
                 [&]() REQUIRES(queue_mu_) { return queue_.empty() && processing_ == 0; });
}

}  // namespace pharos
