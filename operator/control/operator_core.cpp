#include "operator/control/operator_core.h"

#include <pthread.h>

#include <algorithm>
#include <cmath>
#include <future>
#include <tuple>
#include <utility>

#include "common/logging.h"
#include "common/monitor_loader.h"

namespace pharos {
namespace {

const Logger& Log() {
  static const Logger logger("core");
  return logger;
}

// Two specs that declare the same thing (where each came from does not matter).
bool SameSpec(const Monitor& a, const Monitor& b) {
  Monitor left = a;
  Monitor right = b;
  left.source = {};
  right.source = {};
  return left == right;
}

Status CheckMonitor(const Monitor& monitor) {
  if (monitor.uid.empty()) {
    return Error{"monitor " + monitor.Key() + ": metadata.uid is empty"};
  }
  if (!FrequencyClassIndex(monitor.frequency)) {
    return Error{"monitor " + monitor.Key() +
                 ": spec.frequency is not a frequency class (10s 30s 1m 5m 10m 30m 1h)"};
  }
  if (monitor.timeout.count() <= 0) {
    return Error{"monitor " + monitor.Key() + ": spec.timeout must be positive"};
  }
  return OkStatus();
}

// The copy the core keeps (one per monitor, shared with the scheduler and leases), without the
// source location: that is for the loader's error messages, and a path per monitor adds up.
std::shared_ptr<const Monitor> KeptCopy(const Monitor& monitor) {
  auto copy = std::make_shared<Monitor>(monitor);
  copy->source = {};  // frees the copied location
  return copy;
}

}  // namespace

Result<std::unique_ptr<OperatorCore>> OperatorCore::Create(const Clock& clock, ResultStore& store,
                                                           MetricsRegistry& registry,
                                                           Options options) {
  Result<std::vector<MonitorStateSnapshot>> states = store.LoadMonitorStates();
  if (!states) {
    return Error{"loading monitor states: " + states.error()};
  }
  auto core = std::make_unique<OperatorCore>(Key{}, clock, store, registry, std::move(options));
  MutexLock lock(core->state_mu_);
  // Started with a wall clock behind the one the state was saved under (stepped back by less
  // than a day; a stored time further ahead is not believed): the schedule starts after the
  // newest stored round, so item ids and rounds stay ordered across the restart.
  const TimePoint believable = clock.Now() + std::chrono::hours(24);
  const auto not_before = [&](std::optional<TimePoint> time) {
    if (time && *time <= believable) {
      core->schedule_clock_.NotBefore(*time);
    }
  };
  for (MonitorStateSnapshot& state : *states) {
    not_before(state.last_round_at);
    for (const RegionStateSnapshot& region : state.regions) {
      not_before(region.last_scheduled_at);
    }
    for (const OpenRound& round : state.open_rounds) {
      not_before(round.scheduled_at);
    }
    std::string uid = state.monitor_uid;
    core->stored_states_.emplace(std::move(uid), std::move(state));
  }
  return core;
}

OperatorCore::OperatorCore(Key, const Clock& clock, ResultStore& store, MetricsRegistry& registry,
                           Options options)
    : clock_(clock),
      options_(std::move(options)),
      store_(store),
      registry_(registry),
      metrics_(registry_, options_.metrics),
      schedule_clock_(clock),
      dispatcher_(schedule_clock_, options_.dispatcher),
      scheduler_(schedule_clock_, dispatcher_, Scheduler::Options{options_.default_regions}),
      admission_(specs_, dispatcher_),
      writer_(std::make_unique<ResultWriter>(store_, clock, options_.writer,
                                             [this](const ResultWriter::CommitReport& report) {
                                               metrics_.ObserveStoreWrite(report.seconds);
                                             })),
      summaries_(std::make_unique<SummaryRefresher>(
          schedule_clock_, store_, static_cast<SummaryRefresher::Target&>(*this), registry_,
          SummaryRefresher::Options{
              .batch = std::max<size_t>(1, options_.summary_batch),
              .pause = options_.summary_pause,
              .idle = options_.housekeeping_interval,
              .retry = std::max(options_.summary_min_interval, options_.housekeeping_interval),
              .max_age = options_.summary_max_age})),
      scheduling_(options_.scheduling),
      saver_(store_, [this] { return writer_->failing(); }),
      resumer_(store_, options_.replay_margin) {
  metrics_.SetLeader(scheduling_.load());
  dispatcher_.SetLatenessObserver(
      [this](Millis frequency, double seconds) { metrics_.ObserveLateness(frequency, seconds); });
  dispatcher_.SetFailureHandler([this](CheckResult result) {
    Log().Warn("no probe completed a check; recorded as a probe error (not as the target down)",
               {{"item", result.item_id},
                {"region", result.region},
                {"attempts", result.attempts},
                {"hint",
                 "check that a probe of this region is running and can reach the target "
                 "within the monitor's timeout"}});
    std::vector<CheckResult> results;
    results.push_back(std::move(result));
    Ingest(std::move(results), [](const Result<IngestReport>& report) {
      if (!report) {
        Log().Error("storing a probe-error result failed", {{"error", report.error()}});
      }
    });
  });
  // About 1.2 KB of text per monitor: its state, up, uptime and certificate families.
  collector_ = registry_.AddCollector([this](MetricsWriter& writer) { Collect(writer); });
}

OperatorCore::~OperatorCore() {
  Stop();
  registry_.RemoveCollector(collector_);
  dispatcher_.SetFailureHandler(nullptr);
  dispatcher_.SetLatenessObserver(nullptr);
}

void OperatorCore::Start() {
  MutexLock lifecycle(lifecycle_mu_);
  if (started_.exchange(true) || stopping_) {
    return;
  }
  scheduler_thread_ = std::jthread([this](const std::stop_token& stop) { scheduler_.Run(stop); });
  housekeeping_thread_ =
      std::jthread([this](const std::stop_token& stop) { RunHousekeeping(stop); });
  summaries_->Start();
}

void OperatorCore::Stop() {
  MutexLock lifecycle(lifecycle_mu_);
  if (stopping_.exchange(true)) {
    return;
  }
  summaries_->Stop();  // waits for a call in flight, if any
  for (std::jthread* thread : {&scheduler_thread_, &housekeeping_thread_}) {
    if (thread->joinable()) {
      thread->request_stop();
      if (thread == &scheduler_thread_) {
        scheduler_.Wake();
      }
      thread->join();
    }
  }
  // Results first: when the store failed, its last retry decides whether states can be saved.
  writer_->Stop();
  MutexLock lock(state_mu_);
  saver_.Begin();
  size_t unsaved = 0;
  monitors_.ForEach([&](const std::unique_ptr<Runtime>& runtime) {
    state_mu_.AssertHeld();  // ForEach calls back synchronously, under this lock
    if (runtime->state_dirty) {
      SaveLocked(*runtime, {});
    }
  });
  CommitSavesLocked();
  monitors_.ForEach([&](const std::unique_ptr<Runtime>& runtime) {
    state_mu_.AssertHeld();
    unsaved += runtime->state_dirty ? 1 : 0;
  });
  if (unsaved > 0) {
    Log().Error(
        "stopping while the result store fails: monitor states were not saved; the next "
        "start rebuilds them from the stored results",
        {{"monitors", unsaved}, {"events", saver_.unsaved_events()}});
  }
}

void OperatorCore::RunHousekeeping(const std::stop_token& stop) {
  pthread_setname_np(pthread_self(), "pharos-core");
  while (!stop.stop_requested()) {
    Housekeeping();
    MutexLock lock(wake_mu_);
    wake_cv_.WaitFor(wake_mu_, stop, options_.housekeeping_interval, [] { return false; });
  }
}

std::optional<Clock::TimePoint> OperatorCore::Tick() {
  const auto next = scheduler_.Tick();
  Housekeeping();
  summaries_->Step();
  return next;
}

// --- Monitors ---

StateMachineSettings OperatorCore::ConfigLocked(const Monitor& monitor, TimePoint now) {
  std::vector<std::string> all_regions;
  if (monitor.type == MonitorType::kPush) {
    all_regions = {std::string(kPushRegion)};
  } else if (monitor.regions.empty()) {
    all_regions = scheduler_.KnownRegions();
  }
  StateMachineSettings settings =
      StateMachineSettings::FromMonitor(monitor, all_regions, options_.round_grace);
  settings.maintenance = calendar_ != nullptr && calendar_->InMaintenance(monitor, now);
  return settings;
}

void OperatorCore::SetMaintenanceCalendar(const MaintenanceCalendar* calendar) {
  MutexLock lock(state_mu_);
  calendar_ = calendar;
  calendar_version_.reset();
}

void OperatorCore::FollowMaintenanceLocked(TimePoint now,
                                           std::vector<Notification>& notifications) {
  if (calendar_ == nullptr) {
    return;
  }
  // A monitor added or changed since the last walk took its answer then (ConfigLocked), so
  // while the calendar's answers stay the same there is nothing to compare.
  const std::optional<uint64_t> version = calendar_->AnswersVersion(now);
  if (version && calendar_version_ == version) {
    return;
  }
  calendar_version_ = version;
  std::vector<Runtime*> changed;
  monitors_.ForEach([&](const std::unique_ptr<Runtime>& runtime) {
    state_mu_.AssertHeld();  // ForEach calls back synchronously, under this lock
    if (!runtime->invalid &&
        runtime->machine->rules().maintenance != calendar_->InMaintenance(*runtime->monitor, now)) {
      changed.push_back(runtime.get());
    }
  });
  // In uid order: observers hear of them in that order.
  std::sort(changed.begin(), changed.end(),
            [](const Runtime* a, const Runtime* b) { return a->monitor->uid < b->monitor->uid; });
  for (Runtime* runtime : changed) {
    ReconfigureLocked(*runtime, now, notifications);
    Log().Info(
        runtime->machine->rules().maintenance ? "maintenance window started"
                                              : "maintenance window ended",
        {{"monitor", runtime->monitor->Key()}, {"state", ToString(runtime->machine->state())}});
  }
}

Status OperatorCore::UpsertMonitor(const Monitor& monitor) {
  if (Status valid = CheckMonitor(monitor); !valid) {
    return valid;
  }
  std::vector<Notification> notifications;
  {
    MutexLock lock(state_mu_);
    const TimePoint now = clock_.Now();
    std::shared_ptr<const Monitor> spec = KeptCopy(monitor);
    Runtime* found = FindRuntimeLocked(monitor.uid);
    if (found == nullptr) {
      Runtime& runtime = AddRuntimeLocked(spec);
      runtime.machine = std::make_unique<MonitorStateMachine>(ConfigLocked(monitor, now), now);
      runtime.saved_at = schedule_clock_.Now();
      std::optional<MonitorStateSnapshot> snapshot;
      auto stored = stored_states_.find(monitor.uid);
      if (stored != stored_states_.end()) {
        snapshot = std::move(stored->second);
        stored_states_.erase(stored);
      }
      if (!ClaimStateLocked(runtime, std::move(snapshot), now, notifications)) {
        runtime.state_dirty = true;
      }
      Log().Info("monitor added",
                 {{"monitor", monitor.Key()}, {"state", ToString(runtime.machine->state())}});
    } else {
      Runtime& runtime = *found;
      const bool changed = runtime.invalid || !SameSpec(*runtime.monitor, monitor);
      if (monitor.regions != runtime.monitor->regions) {
        // Series of regions the monitor no longer uses would never be updated again.
        if (!monitor.regions.empty()) {
          metrics_.KeepMonitorSeriesRegions(runtime.monitor->namespace_name, runtime.monitor->name,
                                            monitor.regions);
          runtime.KeepCertificateRegions(monitor.regions);
        }
      }
      if (monitor.namespace_name != runtime.monitor->namespace_name ||
          monitor.name != runtime.monitor->name) {
        metrics_.RemoveMonitorSeries(runtime.monitor->namespace_name, runtime.monitor->name);
      }
      runtime.monitor = spec;  // the same uid: its slot in monitors_ stays where it is
      if (changed) {
        runtime.invalid = false;
        ReconfigureLocked(runtime, now, notifications);
        Log().Info("monitor changed", {{"monitor", monitor.Key()},
                                       {"generation", monitor.generation},
                                       {"state", ToString(runtime.machine->state())}});
      }
    }
    // The spec first, then the schedule: an item the scheduler emits at once is leased
    // straight away, and a lease carries the spec of its generation (never none).
    specs_.Set(spec);
    FollowHeartbeatLocked(*FindRuntimeLocked(monitor.uid));
    if (monitor.type == MonitorType::kPush) {
      scheduler_.Remove(monitor.uid);  // pinged, never checked (it may have been another type)
    } else if (scheduling_) {
      if (Status scheduled = scheduler_.Upsert(spec); !scheduled) {
        // CheckMonitor accepted what the scheduler refuses: a bug, not bad input.
        Log().Error("scheduling a monitor failed",
                    {{"monitor", monitor.Key()}, {"error", scheduled.error()}});
      }
    }
  }
  Notify(notifications);
  return OkStatus();
}

Status OperatorCore::MarkInvalid(const Monitor& monitor, std::string reason) {
  if (monitor.uid.empty()) {
    return Error{"monitor " + monitor.Key() + ": metadata.uid is empty"};
  }
  std::vector<Notification> notifications;
  {
    MutexLock lock(state_mu_);
    scheduler_.Remove(monitor.uid);
    const TimePoint now = clock_.Now();
    std::shared_ptr<const Monitor> spec = KeptCopy(monitor);
    Runtime* found = FindRuntimeLocked(monitor.uid);
    const bool added = found == nullptr;
    Runtime& runtime = added ? AddRuntimeLocked(spec) : *found;
    if (!added) {
      runtime.monitor = spec;  // the same uid: its slot in monitors_ stays where it is
    } else {
      runtime.machine = std::make_unique<MonitorStateMachine>(ConfigLocked(monitor, now), now);
      auto stored = stored_states_.find(monitor.uid);
      if (stored != stored_states_.end()) {
        MonitorStateSnapshot snapshot = std::move(stored->second);
        stored_states_.erase(stored);
        RestoreLocked(runtime, std::move(snapshot), now, notifications);
      }
    }
    runtime.invalid = true;
    Log().Warn("monitor is invalid and will not be checked until it is fixed",
               {{"monitor", monitor.Key()}, {"reason", reason}});
    ApplyEventsLocked(runtime,
                      runtime.machine->MarkInvalid(runtime.identity(), std::move(reason), now),
                      notifications);
    runtime.state_dirty = true;
    specs_.Set(spec);
    FollowHeartbeatLocked(runtime);
  }
  Notify(notifications);
  return OkStatus();
}

bool OperatorCore::RemoveMonitor(const std::string& uid) {
  MutexLock lock(state_mu_);
  Runtime* found = FindRuntimeLocked(uid);
  if (found == nullptr) {
    return false;
  }
  RemoveLocked(*found, clock_.Now());
  monitors_.Erase(uid);
  return true;
}

void OperatorCore::RemoveLocked(Runtime& runtime, TimePoint now) {
  const std::string& uid = runtime.monitor->uid;
  scheduler_.Remove(uid);
  heartbeats_.erase(uid);
  specs_.Erase(uid);
  metrics_.RemoveMonitorSeries(runtime.monitor->namespace_name, runtime.monitor->name);
  saver_.Forget(uid);
  if (Status forgotten = store_.ForgetMonitor(uid, now); !forgotten) {
    Log().Error("forgetting the state of a removed monitor failed",
                {{"monitor", runtime.monitor->Key()}, {"error", forgotten.error()}});
  }
  Log().Info("monitor removed", {{"monitor", runtime.monitor->Key()}});
}

OperatorCore::ReplaceReport OperatorCore::ReplaceAll(const std::vector<Monitor>& monitors) {
  ReplaceReport report;
  std::set<std::string_view> wanted;  // views into `monitors`
  for (const Monitor& monitor : monitors) {
    wanted.insert(monitor.uid);
  }
  scheduler_.Reserve(monitors.size());
  {
    MutexLock lock(state_mu_);
    const TimePoint now = clock_.Now();
    // Removed in uid order (that of the report), after the pass over the index.
    std::vector<std::shared_ptr<const Monitor>> unwanted;
    monitors_.ForEach([&](const std::unique_ptr<Runtime>& runtime) {
      if (!wanted.contains(runtime->monitor->uid)) {
        unwanted.push_back(runtime->monitor);
      }
    });
    std::sort(unwanted.begin(), unwanted.end(),
              [](const auto& a, const auto& b) { return a->uid < b->uid; });
    for (const std::shared_ptr<const Monitor>& monitor : unwanted) {
      // `monitor` keeps the key alive while the Runtime holding it is erased.
      report.removed.push_back(monitor->Key());
      RemoveLocked(*FindRuntimeLocked(monitor->uid), now);
      monitors_.Erase(monitor->uid);
    }
    for (auto it = stored_states_.begin(); it != stored_states_.end();) {
      if (wanted.contains(it->first)) {
        ++it;
        continue;
      }
      if (Status forgotten = store_.ForgetMonitor(it->first, now); !forgotten) {
        Log().Error("forgetting the stored state of a monitor that no longer exists failed",
                    {{"monitor", it->second.monitor_key}, {"error", forgotten.error()}});
      }
      it = stored_states_.erase(it);
    }
  }
  for (const Monitor& monitor : monitors) {
    std::shared_ptr<const Monitor> before = MonitorSpec(monitor.uid);
    if (Status upserted = UpsertMonitor(monitor); !upserted) {
      report.errors.push_back(upserted.error());
      continue;
    }
    if (!before) {
      report.added.push_back(monitor.Key());
    } else if (!SameSpec(*before, monitor)) {
      report.changed.push_back(monitor.Key());
    }
  }
  return report;
}

void OperatorCore::SetScheduling(bool enabled) {
  std::vector<Notification> notifications;
  {
    MutexLock lock(state_mu_);
    if (scheduling_.exchange(enabled) == enabled) {
      return;
    }
    metrics_.SetLeader(enabled);
    const TimePoint now = clock_.Now();
    if (!enabled) {
      saver_.Begin();
      monitors_.ForEach([&](const std::unique_ptr<Runtime>& runtime) {
        state_mu_.AssertHeld();  // ForEach calls back synchronously, under this lock
        scheduler_.Remove(runtime->monitor->uid);
        if (runtime->state_dirty) {
          SaveLocked(*runtime, {});
        }
      });
      CommitSavesLocked();
      Log().Info("scheduling stopped (not the leader)", {{"monitors", monitors_.size()}});
    } else {
      Result<std::vector<MonitorStateSnapshot>> stored = store_.LoadMonitorStates();
      std::unordered_map<std::string, MonitorStateSnapshot> stored_by_uid;
      if (!stored) {
        Log().Error("loading monitor states failed; continuing from the states in memory",
                    {{"error", stored.error()}});
      } else {
        for (MonitorStateSnapshot& snapshot : *stored) {
          std::string uid = snapshot.monitor_uid;
          stored_by_uid.emplace(std::move(uid), std::move(snapshot));
        }
      }
      for (Runtime* runtime : RuntimesByUidLocked()) {
        if (runtime->invalid) {
          continue;
        }
        const bool push = runtime->monitor->type == MonitorType::kPush;
        if (!push) {
          if (Status scheduled = scheduler_.Upsert(runtime->monitor); !scheduled) {
            Log().Error("scheduling a monitor failed", {{"error", scheduled.error()}});
          }
        }
        std::optional<MonitorStateSnapshot> snapshot;
        if (auto found = stored_by_uid.find(runtime->monitor->uid); found != stored_by_uid.end()) {
          snapshot = std::move(found->second);
        }
        ClaimStateLocked(*runtime, std::move(snapshot), now, notifications);
        if (push) {
          // The deadline resumes from the newest result the claimed state knows of.
          heartbeats_.erase(runtime->monitor->uid);
          FollowHeartbeatLocked(*runtime);
        }
      }
      Log().Info("scheduling started (leader)", {{"monitors", monitors_.size()}});
    }
  }
  Notify(notifications);
}

void OperatorCore::OnStateChange(StateObserver observer) {
  MutexLock lock(observers_mu_);
  observers_.push_back(std::make_shared<const StateObserver>(std::move(observer)));
}

void OperatorCore::SetStateSeeder(StateSeeder seeder) {
  MutexLock lock(state_mu_);
  seeder_ = std::move(seeder);
}

// --- State ---

bool OperatorCore::ClaimStateLocked(Runtime& runtime, std::optional<MonitorStateSnapshot> stored,
                                    TimePoint now, std::vector<Notification>& notifications) {
  std::optional<StateSeed> seed;
  if (seeder_ && !runtime.invalid) {
    seed = seeder_(*runtime.monitor);
  }
  switch (StateResumer::Choose(runtime.machine->progress(), stored, seed)) {
    case StateResumer::Source::kSeed:
      SeedLocked(runtime, std::move(*seed), now, notifications);
      break;
    case StateResumer::Source::kStore:
      RestoreLocked(runtime, std::move(*stored), now, notifications);
      break;
    case StateResumer::Source::kNone:
      return false;
  }
  CheckAgainIfFixedLocked(runtime, now, notifications);
  return true;
}

void OperatorCore::CheckAgainIfFixedLocked(Runtime& runtime, TimePoint now,
                                           std::vector<Notification>& notifications) {
  if (runtime.invalid || runtime.machine->state() != MonitorState::kInvalid) {
    return;
  }
  // The state was saved while the validator refused an earlier spec; this one it accepted (it
  // was upserted): the same as an invalid monitor fixed while the process runs (UpsertMonitor).
  ReconfigureLocked(runtime, now, notifications);
  Log().Info("monitor was invalid when its state was saved and is valid now: checking it again",
             {{"monitor", runtime.monitor->Key()}, {"state", ToString(runtime.machine->state())}});
}

void OperatorCore::ReconfigureLocked(Runtime& runtime, TimePoint now,
                                     std::vector<Notification>& notifications) {
  const Monitor& monitor = *runtime.monitor;
  ApplyEventsLocked(
      runtime,
      runtime.machine->Reconfigure(MonitorIdentity::Of(monitor), ConfigLocked(monitor, now), now),
      notifications);
  runtime.state_dirty = true;
  runtime.summary_dirty = true;
}

void OperatorCore::SeedLocked(Runtime& runtime, StateSeed seed, TimePoint now,
                              std::vector<Notification>& notifications) {
  const std::string key = runtime.monitor->Key();
  const std::string incident_id = seed.state.open_incident_id;
  Result<StateResumer::Resumed> resumed =
      resumer_.FromSeed(*runtime.machine, runtime.identity(), std::move(seed), now);
  if (!resumed) {
    Log().Error("resuming the state the Monitor's status shows failed; starting from Pending",
                {{"monitor", key}, {"error", resumed.error()}});
    return;
  }
  runtime.incident_since = resumed->incident_since;
  if (!resumed->bookkeeping.empty()) {
    SaveLocked(runtime, resumed->bookkeeping);
  } else {
    // Saved by housekeeping in batches: taking over 10,000 monitors must not mean 10,000
    // synchronous commits under the state lock.
    runtime.state_dirty = true;
  }
  runtime.summary_dirty = true;
  Log().Info(
      "monitor state resumed from the Monitor's status (newer than this replica's store)",
      {{"monitor", key}, {"state", ToString(runtime.machine->state())}, {"incident", incident_id}});
  ApplyEventsLocked(runtime, std::move(resumed->events), notifications);
}

void OperatorCore::RestoreLocked(Runtime& runtime, MonitorStateSnapshot snapshot, TimePoint now,
                                 std::vector<Notification>& notifications) {
  const std::string key = runtime.monitor->Key();
  Result<StateResumer::Resumed> resumed =
      resumer_.FromStore(*runtime.machine, runtime.identity(), std::move(snapshot), now);
  if (!resumed) {
    Log().Error("restoring the stored state failed; starting from Pending",
                {{"monitor", key}, {"error", resumed.error()}});
    return;
  }
  for (const CheckResult& result : resumed->replayed) {
    runtime.RememberCertificate(result);
  }
  if (resumed->incident_since) {
    runtime.incident_since = resumed->incident_since;
  }
  runtime.saved_at = schedule_clock_.Now();
  Log().Info("monitor state restored", {{"monitor", key},
                                        {"state", ToString(runtime.machine->state())},
                                        {"replayed_results", resumed->accepted_replays}});
  if (resumed->accepted_replays > 0) {
    runtime.state_dirty = true;
  }
  ApplyEventsLocked(runtime, std::move(resumed->events), notifications);
}

void OperatorCore::ApplyEventsLocked(Runtime& runtime, std::vector<StateEvent> events,
                                     std::vector<Notification>& notifications) {
  if (events.empty()) {
    return;
  }
  for (const StateEvent& event : events) {
    if (!event.opened_incident_id.empty()) {
      runtime.incident_since = event.at;
      metrics_.CountIncidentOpened();
    }
    Log().Info("monitor state changed",
               {{"monitor", event.monitor_key},
                {"from", ToString(event.from)},
                {"to", ToString(event.to)},
                {"reason", !event.first_error.empty() ? event.first_error : event.reason},
                {"incident_opened", event.opened_incident_id},
                {"incident_resolved", event.resolved_incident_id}});
  }
  if (runtime.machine->progress().open_incident_id.empty()) {
    runtime.incident_since.reset();
  }
  SaveLocked(runtime, events);
  for (StateEvent& event : events) {
    notifications.push_back(Notification{runtime.monitor, std::move(event)});
  }
}

void OperatorCore::SaveLocked(Runtime& runtime, const std::vector<StateEvent>& events) {
  // A state collected into a batch counts as saved; CommitSavesLocked marks it dirty again if
  // the batch cannot be saved.
  if (!saver_.Save(MonitorStateSave{runtime.machine->Snapshot(runtime.identity()), events})) {
    MarkSaveFailedLocked(runtime);
    return;
  }
  runtime.state_dirty = false;
  runtime.saved_at = schedule_clock_.Now();
}

void OperatorCore::CommitSavesLocked() {
  for (const std::string& uid : saver_.Commit()) {
    if (Runtime* found = FindRuntimeLocked(uid); found != nullptr) {
      MarkSaveFailedLocked(*found);
    }
  }
}

void OperatorCore::MarkSaveFailedLocked(Runtime& runtime) {
  // Due again at the next housekeeping pass, not a whole state_save_interval later: the save
  // may carry a transition's events (an incident opened or resolved, notifications to send),
  // which wait in the saver until it succeeds.
  runtime.state_dirty = true;
  runtime.saved_at = TimePoint{};
}

void OperatorCore::Notify(const std::vector<Notification>& notifications) {
  if (notifications.empty()) {
    return;
  }
  std::vector<std::shared_ptr<const StateObserver>> observers;
  {
    MutexLock lock(observers_mu_);
    observers = observers_;
  }
  for (const Notification& notification : notifications) {
    for (const auto& observer : observers) {
      (*observer)(*notification.monitor, notification.event);
    }
  }
}

void OperatorCore::FollowKnownRegionsLocked(TimePoint now,
                                            std::vector<Notification>& notifications) {
  std::vector<std::string> known = scheduler_.KnownRegions();
  if (known == known_regions_) {
    return;
  }
  known_regions_ = std::move(known);
  for (Runtime* runtime : RuntimesByUidLocked()) {
    if (runtime->invalid || !runtime->monitor->regions.empty() ||
        runtime->monitor->type == MonitorType::kPush) {
      continue;
    }
    StateMachineSettings settings =
        StateMachineSettings::FromMonitor(*runtime->monitor, known_regions_, options_.round_grace);
    settings.maintenance = runtime->machine->rules().maintenance;
    ApplyEventsLocked(*runtime,
                      runtime->machine->Reconfigure(runtime->identity(), std::move(settings), now),
                      notifications);
    runtime->state_dirty = true;
  }
}

void OperatorCore::Housekeeping() {
  std::vector<Notification> notifications;
  std::vector<CheckResult> missed;  // missed pings and overrun runs of push monitors
  {
    MutexLock lock(state_mu_);
    const TimePoint now = clock_.Now();
    // Deadlines, push deadlines and intervals are decided on the schedule time line.
    const TimePoint schedule_now = schedule_clock_.Now();
    if (scheduling_) {
      FollowKnownRegionsLocked(now, notifications);
      FollowMaintenanceLocked(now, notifications);
      for (auto& [uid, heartbeat] : heartbeats_) {
        std::vector<HeartbeatVerdict> verdicts = heartbeat.Due(schedule_now);
        const Runtime* runtime = verdicts.empty() ? nullptr : FindRuntimeLocked(uid);
        // A suspended monitor's deadlines pass unrecorded (checks of other types stop too).
        if (runtime != nullptr && !runtime->monitor->suspend) {
          for (CheckResult& result : HeartbeatResults(*runtime->monitor, verdicts)) {
            missed.push_back(std::move(result));
          }
        }
      }
    }
    size_t save_budget = options_.state_save_batch;
    // Monitors whose deadlines passed, applied in uid order (observers hear of them in that
    // order) once the pass is over; sorting every monitor each second would cost more.
    std::vector<std::pair<Runtime*, std::vector<StateEvent>>> ticked;
    saver_.Begin();
    monitors_.ForEach([&](const std::unique_ptr<Runtime>& runtime) {
      state_mu_.AssertHeld();  // ForEach calls back synchronously, under this lock
      std::vector<StateEvent> events =
          runtime->machine->Tick(runtime->identity(), now, schedule_now);
      if (!events.empty()) {
        runtime->summary_dirty = true;
        ticked.emplace_back(runtime.get(), std::move(events));
      } else if (runtime->state_dirty && save_budget > 0 &&
                 schedule_now - runtime->saved_at >= options_.state_save_interval) {
        --save_budget;
        SaveLocked(*runtime, {});
      }
    });
    std::sort(ticked.begin(), ticked.end(), [](const auto& a, const auto& b) {
      return a.first->monitor->uid < b.first->monitor->uid;
    });
    for (auto& [runtime, events] : ticked) {
      ApplyEventsLocked(*runtime, std::move(events), notifications);
    }
    CommitSavesLocked();
  }
  Notify(notifications);
  if (!missed.empty()) {
    // Committed before the next pass (ingested in order with the pings, by the writer thread).
    Ingest(std::move(missed), [](const Result<IngestReport>& report) {
      if (!report) {
        Log().Error("storing a missed-ping result failed; it is given again at the next deadline",
                    {{"error", report.error()}});
      }
    });
  }
}

OperatorCore::Due OperatorCore::TakeDueSummaries(size_t max, TimePoint now) {
  Due due;
  // (summary time, runtime) of the monitors whose summary is due; missing ones first.
  std::vector<std::pair<TimePoint, Runtime*>> stale;
  MutexLock lock(state_mu_);
  due.monitors = monitors_.size();
  monitors_.ForEach([&](const std::unique_ptr<Runtime>& runtime) {
    state_mu_.AssertHeld();  // ForEach calls back synchronously, under this lock
    if (!runtime->has_summary) {
      ++due.missing;
    } else if (!due.oldest || runtime->summary_at < *due.oldest) {
      due.oldest = runtime->summary_at;
    }
    const auto age = now - runtime->summary_at;
    if (!runtime->has_summary || age >= options_.summary_max_age ||
        (runtime->summary_dirty && age >= options_.summary_min_interval)) {
      stale.emplace_back(runtime->has_summary ? runtime->summary_at : TimePoint::min(),
                         runtime.get());
    }
  });
  // Most monitors can be due at once (a result makes a summary due): select the oldest
  // without sorting them all.
  const auto older = [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first < b.first : a.second->monitor->uid < b.second->monitor->uid;
  };
  const size_t batch = std::min(stale.size(), max);
  std::nth_element(stale.begin(), stale.begin() + static_cast<ptrdiff_t>(batch), stale.end(),
                   older);
  std::sort(stale.begin(), stale.begin() + static_cast<ptrdiff_t>(batch), older);
  due.uids.reserve(batch);
  for (size_t i = 0; i < batch; ++i) {
    // Claimed: a result stored while the call runs may be missing from its answer, and makes
    // the summary due again.
    stale[i].second->summary_dirty = false;
    due.uids.push_back(stale[i].second->monitor->uid);
  }
  return due;
}

void OperatorCore::ApplySummaries(const std::vector<std::string>& uids,
                                  const std::vector<MonitorSummary>& summaries, TimePoint at) {
  MutexLock lock(state_mu_);
  for (size_t i = 0; i < uids.size() && i < summaries.size(); ++i) {
    if (Runtime* found = FindRuntimeLocked(uids[i]); found != nullptr) {
      found->summary = SummaryFigures(summaries[i]);
      found->has_summary = true;
      found->summary_at = at;
    }
  }
}

void OperatorCore::ReleaseSummaries(const std::vector<std::string>& uids) {
  MutexLock lock(state_mu_);
  for (const std::string& uid : uids) {
    if (Runtime* found = FindRuntimeLocked(uid); found != nullptr) {
      found->summary_dirty = true;
    }
  }
}

// --- Ingestion ---

void OperatorCore::Ingest(std::vector<CheckResult> results, IngestDone done) {
  if (stopping_) {
    done(Error{"the operator is shutting down; send the results again later"});
    return;
  }
  if (!scheduling_) {
    done(Error{"this operator replica is not the leader; send the results to the leader"});
    return;
  }
  ResultAdmission::Batch batch = admission_.Admit(std::move(results));
  if (batch.admitted.empty()) {
    done(std::move(batch.report));
    return;
  }
  auto storable = std::make_shared<std::vector<CheckResult>>(std::move(batch.admitted));
  std::vector<size_t> positions = std::move(batch.positions);
  IngestReport report = std::move(batch.report);
  // From here the items' leases are held: a commit slower than the lease must not make the
  // dispatcher redeliver checks whose results it already has.
  auto held = std::make_shared<std::vector<bool>>(storable->size(), false);
  for (size_t j = 0; j < storable->size(); ++j) {
    const std::string& item_id = (*storable)[j].item_id;
    (*held)[j] = !item_id.empty() && dispatcher_.BeginCommit(item_id);
  }
  auto shared_done = std::make_shared<IngestDone>(std::move(done));
  Status submitted =
      writer_->Submit(*storable, [this, storable, held, positions = std::move(positions),
                                  report = std::move(report),
                                  shared_done](const Result<AppendResult>& appended) mutable {
        OnCommitted(*storable, *held, positions, std::move(report), appended, *shared_done);
      });
  if (!submitted) {
    ReleaseHeldLeases(*storable, *held);
    (*shared_done)(Error{submitted.error()});
  }
}

void OperatorCore::ReleaseHeldLeases(const std::vector<CheckResult>& results,
                                     const std::vector<bool>& held) {
  for (size_t j = 0; j < results.size(); ++j) {
    if (held[j]) {
      dispatcher_.AbortCommit(results[j].item_id);
    }
  }
}

void OperatorCore::OnCommitted(const std::vector<CheckResult>& results,
                               const std::vector<bool>& held, const std::vector<size_t>& positions,
                               IngestReport report, const Result<AppendResult>& appended,
                               const IngestDone& done) {
  if (!appended) {
    // The probe is told to resend; the leases run again meanwhile, so an item whose result
    // never comes back is redelivered (or reported as an error), never lost.
    ReleaseHeldLeases(results, held);
    done(Error{"storing the results failed: " + appended.error()});
    return;
  }
  std::vector<Notification> notifications;
  {
    MutexLock lock(state_mu_);
    const TimePoint now = clock_.Now();
    std::map<std::string, std::vector<StateEvent>> events_by_uid;
    size_t rejection = 0;
    for (size_t j = 0; j < results.size(); ++j) {
      const CheckResult& result = results[j];
      IngestOutcome& outcome = report.outcomes[positions[j]];
      const AppendStatus status = appended->statuses[j];
      if (status == AppendStatus::kRejected) {
        if (held[j]) {
          dispatcher_.AbortCommit(result.item_id);
        }
        outcome.kind = IngestOutcome::Kind::kRejected;
        while (rejection < appended->rejections.size() &&
               appended->rejections[rejection].index < j) {
          ++rejection;
        }
        outcome.reason = rejection < appended->rejections.size()
                             ? appended->rejections[rejection].reason
                             : "the store refused the result";
        continue;
      }
      if (!result.item_id.empty()) {
        dispatcher_.Complete(result.item_id);
      }
      if (status == AppendStatus::kDuplicate) {
        outcome.kind = IngestOutcome::Kind::kDuplicate;
        continue;
      }
      outcome.kind = IngestOutcome::Kind::kAccepted;
      Runtime* found = FindRuntimeLocked(result.monitor_uid);
      if (found == nullptr) {
        continue;  // removed while the batch was being written: stored, not counted
      }
      Runtime& runtime = *found;
      metrics_.RecordResult(*runtime.monitor, result);
      runtime.RememberCertificate(result);
      runtime.summary_dirty = true;
      if (runtime.monitor->regions.empty() && !runtime.invalid &&
          !runtime.machine->ExpectsRegion(result.region)) {
        // A region that just got its first probe: make it one of the expected regions.
        FollowKnownRegionsLocked(now, notifications);
      }
      ObserveResult observed = runtime.machine->Observe(runtime.identity(), result, now);
      if (observed.accepted) {
        runtime.state_dirty = true;
        runtime.RememberFailingAddresses(result);
      } else {
        Log().Debug("result not used for the monitor state", {{"monitor", runtime.monitor->Key()},
                                                              {"item", result.item_id},
                                                              {"why", observed.ignored_because}});
      }
      auto& events = events_by_uid[result.monitor_uid];
      for (StateEvent& event : observed.events) {
        events.push_back(std::move(event));
      }
    }
    saver_.Begin();
    for (auto& [uid, events] : events_by_uid) {
      Runtime* found = FindRuntimeLocked(uid);
      if (found != nullptr && !events.empty()) {
        ApplyEventsLocked(*found, std::move(events), notifications);
      }
    }
    CommitSavesLocked();
  }
  Notify(notifications);
  done(std::move(report));
}

Result<IngestReport> OperatorCore::IngestAndWait(std::vector<CheckResult> results) {
  auto promise = std::make_shared<std::promise<Result<IngestReport>>>();
  std::future<Result<IngestReport>> future = promise->get_future();
  Ingest(std::move(results),
         [promise](Result<IngestReport> report) { promise->set_value(std::move(report)); });
  return future.get();
}

// --- Push monitors ---

void OperatorCore::FollowHeartbeatLocked(const Runtime& runtime) {
  const Monitor& monitor = *runtime.monitor;
  if (runtime.invalid || monitor.type != MonitorType::kPush || !monitor.push) {
    heartbeats_.erase(monitor.uid);
    return;
  }
  if (auto found = heartbeats_.find(monitor.uid); found != heartbeats_.end()) {
    found->second.Reconfigure(*monitor.push, monitor.degraded_after, monitor.assertions);
    return;
  }
  // Push deadlines are on the schedule time line, as the results' scheduledAt.
  const TimePoint now = schedule_clock_.Now();
  TimePoint last_seen = now;
  for (const RegionStateSnapshot& region : runtime.machine->progress().regions) {
    if (region.region == kPushRegion && region.last_scheduled_at) {
      last_seen = std::min(now, *region.last_scheduled_at);
    }
  }
  heartbeats_.emplace(
      monitor.uid, Heartbeat(*monitor.push, monitor.degraded_after, last_seen, monitor.assertions));
}

std::vector<CheckResult> OperatorCore::HeartbeatResults(
    const Monitor& monitor, const std::vector<HeartbeatVerdict>& verdicts) {
  std::vector<CheckResult> results;
  results.reserve(verdicts.size());
  for (const HeartbeatVerdict& verdict : verdicts) {
    CheckResult result = CheckResult::Of(monitor);
    result.region = std::string(kPushRegion);
    result.probe = "push";
    result.scheduled_at = verdict.at;
    result.started_at = verdict.at;
    result.outcome = verdict.outcome;
    if (verdict.run_time) {
      result.timings.total_us =
          std::chrono::duration_cast<std::chrono::microseconds>(*verdict.run_time).count();
    }
    if (!verdict.message.empty()) {
      FailedAssertion failed;
      failed.type = verdict.rule;
      failed.expected = verdict.expected;
      failed.actual = verdict.actual;
      failed.message = verdict.message;
      result.failed_assertion = std::move(failed);
    }
    results.push_back(std::move(result));
  }
  return results;
}

void OperatorCore::Ping(const std::string& uid, PushPing ping, PingDone done) {
  if (stopping_ || !scheduling_) {
    done(Error{stopping_ ? "the operator is shutting down; ping again later"
                         : "this operator replica is not the leader; ping the Service again",
               ErrorKind::kUnavailable});
    return;
  }
  std::optional<HeartbeatVerdict> verdict;
  std::vector<CheckResult> results;
  {
    MutexLock lock(state_mu_);
    auto found = heartbeats_.find(uid);
    const Runtime* runtime = found == heartbeats_.end() ? nullptr : FindRuntimeLocked(uid);
    if (runtime == nullptr) {
      done(Error{"no push monitor has uid '" + uid + "'", ErrorKind::kInvalidArgument});
      return;
    }
    verdict = found->second.Ping(ping, schedule_clock_.Now());
    if (verdict) {
      results = HeartbeatResults(*runtime->monitor, {*verdict});
    }
  }
  if (results.empty()) {
    done(std::move(verdict));
    return;
  }
  Ingest(std::move(results), [verdict = std::move(verdict),
                              done = std::move(done)](Result<IngestReport> report) mutable {
    if (!report) {
      done(Error{report.error(), report.error_kind()});
    } else if (report->outcomes.empty() ||
               report->outcomes.front().kind == IngestOutcome::Kind::kRejected) {
      done(Error{report->outcomes.empty() ? std::string("the ping was not stored")
                                          : report->outcomes.front().reason,
                 ErrorKind::kFailed});
    } else {
      done(std::move(verdict));
    }
  });
}

// --- Work ---

WorkLeaser::WaiterId OperatorCore::LeaseOrWait(const std::string& region, const std::string& probe,
                                               size_t max_items, Millis wait, Millis batch_wait,
                                               LeaseCallback done) {
  return dispatcher_.LeaseOrWait(region, probe, max_items, schedule_clock_.Now() + wait, batch_wait,
                                 std::move(done));
}

bool OperatorCore::CancelWait(WaiterId id) { return dispatcher_.CancelWait(id); }

void OperatorCore::TouchProbe(const std::string& region, const std::string& probe) {
  dispatcher_.TouchProbe(region, probe);
}

// --- Status ---

std::optional<MonitorStatus> OperatorCore::Snapshot(const std::string& uid) {
  // Never waits for the store: a summary not computed yet is missing, first in the next call.
  MutexLock lock(state_mu_);
  const Runtime* found = FindRuntimeLocked(uid);
  if (found == nullptr) {
    return std::nullopt;
  }
  return found->Status();
}

std::optional<MonitorStatus> OperatorCore::SnapshotByKey(const std::string& namespace_name,
                                                         const std::string& name) {
  std::optional<std::string> uid = specs_.FindUid(namespace_name, name);
  if (!uid) {
    return std::nullopt;
  }
  return Snapshot(*uid);
}

std::vector<MonitorStatus> OperatorCore::SnapshotAll() {
  std::vector<MonitorStatus> statuses;
  {
    MutexLock lock(state_mu_);
    statuses.reserve(monitors_.size());
    monitors_.ForEach(
        [&](const std::unique_ptr<Runtime>& runtime) { statuses.push_back(runtime->Status()); });
  }
  std::sort(statuses.begin(), statuses.end(), [](const MonitorStatus& a, const MonitorStatus& b) {
    return std::tie(a.monitor->namespace_name, a.monitor->name) <
           std::tie(b.monitor->namespace_name, b.monitor->name);
  });
  return statuses;
}

std::shared_ptr<const Monitor> OperatorCore::MonitorSpec(const std::string& uid) const {
  return specs_.Find(uid);
}

std::shared_ptr<const std::string> OperatorCore::MonitorJsonText(const std::string& uid) const {
  // Rendered outside the lock from the immutable spec.
  std::shared_ptr<const Monitor> monitor = MonitorSpec(uid);
  if (!monitor) {
    return nullptr;
  }
  return std::make_shared<const std::string>(MonitorToJson(*monitor).dump());
}

std::optional<uint64_t> OperatorCore::MonitorSpecVersion(const std::string& uid) const {
  return specs_.FindVersion(uid);
}

size_t OperatorCore::monitor_count() const {
  MutexLock lock(state_mu_);
  return monitors_.size();
}

size_t OperatorCore::scheduled_count() const { return scheduler_.totals().scheduled; }

bool OperatorCore::Ready(std::string* why) const {
  std::string problem;
  if (!started_ || stopping_) {
    problem = stopping_ ? "shutting down" : "not started";
  } else if (!monitors_loaded_) {
    problem = "monitors not loaded yet";
  } else if (const ResultWriter::Health store = writer_->health(); store.failing) {
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(
        std::chrono::steady_clock::now() - store.failing_since);
    problem = "the result store fails since " + std::to_string(seconds.count()) + " s (" +
              store.error + "); " + std::to_string(store.held_results) + " of at most " +
              std::to_string(store.max_held_results) +
              " results are held in memory and written when it recovers: free disk space, check "
              "the disk or release the lock on the database";
  }
  if (why != nullptr) {
    *why = problem;
  }
  return problem.empty();
}

OperatorCore::Runtime* OperatorCore::FindRuntimeLocked(std::string_view uid) const {
  const std::unique_ptr<Runtime>* found = monitors_.Find(uid);
  return found == nullptr ? nullptr : found->get();
}

OperatorCore::Runtime& OperatorCore::AddRuntimeLocked(std::shared_ptr<const Monitor> spec) {
  auto runtime = std::make_unique<Runtime>();
  runtime->monitor = std::move(spec);  // the object the slot's key views
  Runtime& added = *runtime;
  monitors_.Insert(std::move(runtime));
  return added;
}

std::vector<OperatorCore::Runtime*> OperatorCore::RuntimesByUidLocked() const {
  // ~12 ms for 50,000 monitors (a /metrics scrape). Pairs with the uid's view would sort ~30%
  // faster but take three times the memory while the page is built.
  std::vector<Runtime*> runtimes;
  runtimes.reserve(monitors_.size());
  monitors_.ForEach(
      [&](const std::unique_ptr<Runtime>& runtime) { runtimes.push_back(runtime.get()); });
  std::sort(runtimes.begin(), runtimes.end(),
            [](const Runtime* a, const Runtime* b) { return a->monitor->uid < b->monitor->uid; });
  return runtimes;
}

// --- Metrics ---

void OperatorCore::Collect(MetricsWriter& writer) {
  std::vector<OperatorMetrics::MonitorView> views;
  {
    MutexLock lock(state_mu_);
    views.reserve(monitors_.size());
    for (const Runtime* runtime : RuntimesByUidLocked()) {
      views.push_back(runtime->MetricsView());
    }
  }
  OperatorMetrics::WriteMonitorFamilies(writer, views);

  OperatorMetrics::DispatcherView dispatcher;
  dispatcher.queues = dispatcher_.Stats();
  dispatcher.totals = dispatcher_.Totals();
  std::set<std::string> regions;
  for (std::string& region : scheduler_.KnownRegions()) {
    regions.insert(std::move(region));
  }
  for (const QueueStats& queue : dispatcher.queues) {
    regions.insert(queue.region);
  }
  for (const std::string& region : regions) {
    dispatcher.probes_per_region.emplace_back(region, dispatcher_.ConnectedProbes(region).size());
  }
  OperatorMetrics::WriteDispatcherFamilies(writer, dispatcher);
  OperatorMetrics::WriteStoreFamilies(writer, writer_->health());
}

}  // namespace pharos
