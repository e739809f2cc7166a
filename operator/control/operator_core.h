#pragma once

// OperatorCore: the control plane shared by `pharos run` and the Kubernetes pharos-operator
// (docs/architecture.md). A thin front over the parts that do the work: the Scheduler and
// WorkDispatcher (when and where checks run), ResultAdmission + ResultWriter (results into the
// store), one MonitorRuntime per monitor (its state machine and what is shown of it),
// MonitorSpecIndex (specs by uid and by name), StateSaver and StateResumer (state in the store,
// and resuming it), OperatorMetrics. Callers see it through narrow interfaces: sources of
// Monitors through MonitorSet, probes through WorkLeaser and ResultSink, readers through
// StatusReader; the history lives in the ResultStore its owner passes in (and reads directly).
//
// * Monitors: UpsertMonitor / RemoveMonitor / ReplaceAll (a diff by uid: added, changed —
//   generation or spec —, removed). A removed monitor stops being checked at once, its metric
//   series disappear, its stored state is dropped and its open incident resolved.
// * Ingestion (Ingest): results of known monitors are committed to the store in batches (the
//   writer thread "pharos-store"); only results the store reports new are counted in metrics and
//   shown to the monitor's state machine; transitions and incidents are persisted with the state
//   before observers hear of them and before `done` runs, so a probe is acknowledged only after
//   its results are on disk. Items are acked in the dispatcher after the commit. Duplicates
//   (same item id) are stored once. `error` results (probe failures) never make a monitor Down.
//   Results of unknown monitors are rejected with a reason.
// * Restart: stored states and open incidents are restored when a monitor is first added, and
//   results stored after the state was last saved are replayed, so a restart resumes exactly
//   (never from Pending).
// * Leadership: SetScheduling(false) stops scheduling and refuses ingestion (a non-leader neither
//   schedules nor writes); SetScheduling(true) restores states from the store and schedules.
// * State seeds (SetStateSeeder): where a monitor's state also lives outside the store, a monitor
//   being added, and every monitor when scheduling starts, resumes from the seed when it holds
//   newer evidence than both the store and the state in memory (StateResumer). Seeding notifies
//   no observer.
// * Housekeeping (thread "pharos-core", every `housekeeping_interval`): closes rounds whose
//   deadline passed, saves changed states, follows the set of known regions for monitors that
//   run everywhere. The retention prune runs on the writer thread every
//   ResultWriter::Options::prune_interval.
// * Uptime/latency summaries (what Snapshot, SnapshotAll and /metrics show) are refreshed by a
//   SummaryRefresher (thread "pharos-summary") in calls of `summary_batch`, so that a slow
//   history store never holds up housekeeping, ingestion or readers; readers never wait for the
//   store: a monitor whose summary was not computed yet shows none.
// * Push monitors (type push) are never scheduled nor leased: each has a Heartbeat; its pings
//   (Ping) and, in housekeeping, its missed pings and overrun runs become results of region
//   "push", ingested like a probe's (stored, counted, judged by the state machine). Deadlines
//   are on the core's Clock and resume after a restart from the monitor's last result.
// * Time comes from the Clock. Tests call Tick() after advancing a ManualClock instead of Start().
//
// Thread-safety: every public method may be called from any thread, except that Start and Stop
// are called by the owner, and IngestAndWait/Stop never from an Ingest `done` callback or a state
// observer. Observers and `done` callbacks run on the writer or housekeeping thread without any
// core lock held: keep them short; they may call Snapshot. Lock order: the core's state lock,
// then Scheduler, then WorkDispatcher; MonitorSpec() takes only a leaf lock, so lease callbacks
// (which may run under the Scheduler's lock) may call it.

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/check_result.h"
#include "common/clock.h"
#include "common/flat_index.h"
#include "common/metrics_registry.h"
#include "common/monitor.h"
#include "common/mutex.h"
#include "common/result.h"
#include "operator/control/heartbeat.h"
#include "operator/control/maintenance_calendar.h"
#include "operator/control/monitor_runtime.h"
#include "operator/control/monitor_set.h"
#include "operator/control/monitor_spec_index.h"
#include "operator/control/monitor_state.h"
#include "operator/control/monitor_status.h"
#include "operator/control/operator_metrics.h"
#include "operator/control/push_receiver.h"
#include "operator/control/result_admission.h"
#include "operator/control/result_sink.h"
#include "operator/control/result_store.h"
#include "operator/control/result_writer.h"
#include "operator/control/schedule_clock.h"
#include "operator/control/scheduler.h"
#include "operator/control/state_resumer.h"
#include "operator/control/state_saver.h"
#include "operator/control/state_seed.h"
#include "operator/control/status_reader.h"
#include "operator/control/summary_refresher.h"
#include "operator/control/work_dispatcher.h"
#include "operator/control/work_leaser.h"

namespace pharos {

class OperatorCore final : public MonitorSet,
                           public WorkLeaser,
                           public ResultSink,
                           public PushReceiver,
                           public StatusReader,
                           private SummaryRefresher::Target {
 public:
  struct Options {
    // Regions of monitors that name none (besides regions named by other monitors and regions
    // with a connected probe). {"local"} in standalone mode.
    std::vector<std::string> default_regions = {"local"};
    WorkDispatcher::Options dispatcher;
    ResultWriter::Options writer;
    OperatorMetrics::Options metrics;
    bool scheduling = true;  // false until leader election says otherwise
    // Time a round waits for its regions beyond the check timeout.
    std::chrono::milliseconds round_grace{30'000};
    std::chrono::milliseconds housekeeping_interval{1'000};
    // A state that changed without a transition is saved at most this often, and at most
    // `state_save_batch` such saves happen per housekeeping pass, in one transaction
    // (transitions are saved at once; results stored after the last save are replayed at
    // restore, so nothing depends on these). Every result changes its monitor's state (last
    // check, latency), so this interval is what saving costs: once a minute, one save per
    // one-minute check; every 5 minutes, a restart replays at most 5 minutes of results (well
    // inside `replay_margin`). 1,000 a second keeps up with 300,000 monitors.
    std::chrono::milliseconds state_save_interval{300'000};
    size_t state_save_batch = 1'000;
    // Uptime/latency of a monitor with new results is recomputed at most this often, and that
    // of every monitor at least this often (SummaryRefresher), in calls of at most
    // `summary_batch` monitors with `summary_pause` between two calls. The defaults suit SQLite
    // (what housekeeping did before: 200 a second); with ClickHouse, ControlPlaneHost takes
    // --clickhouse-summary-batch and --clickhouse-summary-pause (2,000, none).
    std::chrono::milliseconds summary_min_interval{5'000};
    std::chrono::milliseconds summary_max_age{60'000};
    size_t summary_batch = 200;
    std::chrono::milliseconds summary_pause{1'000};
    // How far before the saved state results are replayed at restore.
    std::chrono::milliseconds replay_margin{600'000};
  };

  struct ReplaceReport {
    std::vector<std::string> added, changed, removed;  // monitor keys
    std::vector<std::string> errors;                   // monitors refused, with why
  };

  using StateObserver = std::function<void(const Monitor& monitor, const StateEvent& event)>;

  // Opens the core on `store` and loads the stored monitor states (restored as monitors are
  // added); registers its metrics in `registry`. `clock`, `store` and `registry` must outlive
  // the core.
  static Result<std::unique_ptr<OperatorCore>> Create(const Clock& clock, ResultStore& store,
                                                      MetricsRegistry& registry, Options options);
  ~OperatorCore() override;  // Stop()
  OperatorCore(const OperatorCore&) = delete;
  OperatorCore& operator=(const OperatorCore&) = delete;

  // Starts the scheduler ("pharos-sched"), housekeeping ("pharos-core") and summary
  // ("pharos-summary") threads.
  void Start();
  // Stops scheduling, commits every submitted result (one last try when the store fails),
  // stops the writer, saves states.
  // Idempotent. Callers stop their probes first so that in-flight results are ingested.
  void Stop();

  // --- MonitorSet ---

  // Errors (nothing changes): empty uid, a frequency that is not a frequency class, a
  // non-positive timeout.
  Status UpsertMonitor(const Monitor& monitor) override;
  Status MarkInvalid(const Monitor& monitor, std::string reason) override;
  bool RemoveMonitor(const std::string& uid) override;
  // Makes the monitor set exactly `monitors` (also forgets stored states of monitors not in it).
  ReplaceReport ReplaceAll(const std::vector<Monitor>& monitors);

  void SetScheduling(bool enabled);
  bool scheduling() const { return scheduling_.load(); }

  // Called after every state transition has been persisted. Register before Start.
  void OnStateChange(StateObserver observer);

  // The state a monitor had according to another source (Kubernetes: the Monitor's .status);
  // nullopt when it has none. Runs under the core's state lock: it must not call the core.
  using StateSeeder = std::function<std::optional<StateSeed>(const Monitor& monitor)>;
  // Register before monitors are added.
  void SetStateSeeder(StateSeeder seeder);

  // Where maintenance windows come from (may be null: none). Monitors inside a window show state
  // Maintenance (checks go on, results are stored, no incident opens); housekeeping follows
  // windows starting and ending. Set before Start; the calendar must outlive the core.
  void SetMaintenanceCalendar(const MaintenanceCalendar* calendar);

  // --- StatusReader ---

  std::optional<MonitorStatus> Snapshot(const std::string& uid) override;
  std::optional<MonitorStatus> SnapshotByKey(const std::string& namespace_name,
                                             const std::string& name) override;
  // Uptime comes from the summaries as last refreshed.
  std::vector<MonitorStatus> SnapshotAll() override;
  // The text is rendered on each call (not kept: ~0.5 KB per monitor).
  std::shared_ptr<const Monitor> MonitorSpec(const std::string& uid) const override;
  std::shared_ptr<const std::string> MonitorJsonText(const std::string& uid) const override;
  std::optional<uint64_t> MonitorSpecVersion(const std::string& uid) const override;
  // Ready when started and the monitors are loaded.
  bool Ready(std::string* why) const override;

  size_t monitor_count() const;
  // Monitors the scheduler is checking now (0 while not scheduling).
  size_t scheduled_count() const;
  // The monitor source has delivered its first complete set (readiness).
  void MarkMonitorsLoaded() { monitors_loaded_ = true; }

  // --- WorkLeaser ---

  bool accepting_work() const override { return scheduling_ && !stopping_; }
  WaiterId LeaseOrWait(const std::string& region, const std::string& probe, size_t max_items,
                       Millis wait, Millis batch_wait, LeaseCallback done) override;
  bool CancelWait(WaiterId id) override;
  void TouchProbe(const std::string& region, const std::string& probe) override;
  Millis lease_grace() const override { return options_.dispatcher.lease_grace; }
  const Clock& schedule_clock() const override { return schedule_clock_; }

  // --- ResultSink ---

  // Fills namespace/name/type/target of results that lack them.
  void Ingest(std::vector<CheckResult> results, IngestDone done) override;
  Result<IngestReport> IngestAndWait(std::vector<CheckResult> results);

  // --- PushReceiver ---

  void Ping(const std::string& uid, PushPing ping, PingDone done) override;

  // --- Time (tests) ---

  // One scheduler tick, one housekeeping pass and one SummaryRefresher step at clock.Now();
  // returns the scheduler's next event time.
  std::optional<Clock::TimePoint> Tick();
  // Waits until every result submitted before the call has been committed and processed.
  void Flush() { writer_->Flush(); }

  // The parts, for tests that inspect the schedule and the queues. Production code goes through
  // the interfaces above.
  WorkDispatcher& dispatcher_for_testing() { return dispatcher_; }
  Scheduler& scheduler_for_testing() { return scheduler_; }

 private:
  struct Key {
    explicit Key() = default;
  };

 public:
  // Use Create.
  OperatorCore(Key, const Clock& clock, ResultStore& store, MetricsRegistry& registry,
               Options options);

 private:
  using Runtime = MonitorRuntime;
  static_assert(sizeof(Runtime) <= 112, "keep a Runtime within jemalloc's 112-byte class");
  // Slots of the RuntimeIndex: a Runtime, found by its monitor's uid. A Runtime never moves
  // (only its slot does, on insert and erase), so a Runtime& stays valid until it is erased.
  struct RuntimeByUid {
    std::string_view KeyOf(const std::unique_ptr<Runtime>& runtime) const {
      return runtime->monitor->uid;
    }
    static bool IsEmpty(const std::unique_ptr<Runtime>& runtime) { return runtime == nullptr; }
  };
  // An 8-byte slot per monitor (~10 bytes at the index's load) where a std::map node cost 48
  // bytes besides the Runtime. Iteration order is the index's: see RuntimesByUidLocked.
  using RuntimeIndex = FlatIndex<std::unique_ptr<Runtime>, RuntimeByUid>;

  struct Notification {
    std::shared_ptr<const Monitor> monitor;
    StateEvent event;
  };

  void RunHousekeeping(const std::stop_token& stop);
  void Housekeeping();
  // `held[j]`: the lease of results[j]'s item was held by BeginCommit (released here).
  void OnCommitted(const std::vector<CheckResult>& results, const std::vector<bool>& held,
                   const std::vector<size_t>& positions, IngestReport report,
                   const Result<AppendResult>& appended, const IngestDone& done);
  // AbortCommit for every held item: its commit failed or never started.
  void ReleaseHeldLeases(const std::vector<CheckResult>& results, const std::vector<bool>& held);
  void Notify(const std::vector<Notification>& notifications);

  // --- SummaryRefresher::Target ---
  Due TakeDueSummaries(size_t max, TimePoint now) override;
  void ApplySummaries(const std::vector<std::string>& uids,
                      const std::vector<MonitorSummary>& summaries, TimePoint at) override;
  void ReleaseSummaries(const std::vector<std::string>& uids) override;

  StateMachineSettings ConfigLocked(const Monitor& monitor, TimePoint now) REQUIRES(state_mu_);
  // Reconfigures the monitors whose maintenance window started or ended.
  void FollowMaintenanceLocked(TimePoint now, std::vector<Notification>& notifications)
      REQUIRES(state_mu_);
  // Resumes the monitor from the newest of: `stored` (the store's snapshot), the seeder's seed,
  // the state in memory (StateResumer::Choose). A claimed Invalid state of a runtime not marked
  // invalid is then reconfigured (CheckAgainIfFixedLocked). False when neither a stored
  // snapshot nor a seed was applied.
  bool ClaimStateLocked(Runtime& runtime, std::optional<MonitorStateSnapshot> stored, TimePoint now,
                        std::vector<Notification>& notifications) REQUIRES(state_mu_);
  void RestoreLocked(Runtime& runtime, MonitorStateSnapshot snapshot, TimePoint now,
                     std::vector<Notification>& notifications) REQUIRES(state_mu_);
  void SeedLocked(Runtime& runtime, StateSeed seed, TimePoint now,
                  std::vector<Notification>& notifications) REQUIRES(state_mu_);
  // A claimed state that is Invalid although the runtime's spec is valid (the validator refused
  // the spec in force when the state was saved): Reconfigure, as for an invalid monitor fixed.
  void CheckAgainIfFixedLocked(Runtime& runtime, TimePoint now,
                               std::vector<Notification>& notifications) REQUIRES(state_mu_);
  // Applies the runtime's monitor (its settings now) to its machine.
  void ReconfigureLocked(Runtime& runtime, TimePoint now, std::vector<Notification>& notifications)
      REQUIRES(state_mu_);
  void ApplyEventsLocked(Runtime& runtime, std::vector<StateEvent> events,
                         std::vector<Notification>& notifications) REQUIRES(state_mu_);
  // Saves at once, or into the batch begun by saver_.Begin().
  void SaveLocked(Runtime& runtime, const std::vector<StateEvent>& events) REQUIRES(state_mu_);
  // Commits the saver's batch; states it could not save stay dirty (retried later).
  void CommitSavesLocked() REQUIRES(state_mu_);
  void MarkSaveFailedLocked(Runtime& runtime) REQUIRES(state_mu_);
  // Drops a runtime's schedule, spec, series and stored state; the caller erases it.
  void RemoveLocked(Runtime& runtime, TimePoint now) REQUIRES(state_mu_);
  // The runtime of this uid; null when unknown.
  Runtime* FindRuntimeLocked(std::string_view uid) const REQUIRES(state_mu_);
  // Adds the runtime of `spec` (it must not exist yet).
  Runtime& AddRuntimeLocked(std::shared_ptr<const Monitor> spec) REQUIRES(state_mu_);
  // Every runtime, in uid order (the index has none), for passes whose effects are observable
  // in order: reports, notifications, the /metrics page.
  std::vector<Runtime*> RuntimesByUidLocked() const REQUIRES(state_mu_);
  void FollowKnownRegionsLocked(TimePoint now, std::vector<Notification>& notifications)
      REQUIRES(state_mu_);
  void Collect(MetricsWriter& writer);
  // Creates, updates or drops the Heartbeat of `runtime` after its spec was set.
  void FollowHeartbeatLocked(const Runtime& runtime) REQUIRES(state_mu_);
  // The results of verdicts of a push monitor.
  static std::vector<CheckResult> HeartbeatResults(const Monitor& monitor,
                                                   const std::vector<HeartbeatVerdict>& verdicts);

  const Clock& clock_;  // the wall clock: what is recorded (state changes, incidents)
  const Options options_;
  ResultStore& store_;
  MetricsRegistry& registry_;
  OperatorMetrics metrics_;
  // What is decided (due checks, leases, round and push deadlines, intervals): monotonic.
  ScheduleClock schedule_clock_;
  WorkDispatcher dispatcher_;
  Scheduler scheduler_;
  MonitorSpecIndex specs_;
  ResultAdmission admission_;
  std::unique_ptr<ResultWriter> writer_;
  std::unique_ptr<SummaryRefresher> summaries_;

  std::atomic<bool> scheduling_;
  std::atomic<bool> started_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> monitors_loaded_{false};

  mutable Mutex state_mu_;
  RuntimeIndex monitors_ GUARDED_BY(state_mu_);
  std::map<std::string, MonitorStateSnapshot> stored_states_ GUARDED_BY(state_mu_);  // unclaimed
  // The regions monitors without `regions` were last configured with.
  std::vector<std::string> known_regions_ GUARDED_BY(state_mu_);
  StateSeeder seeder_ GUARDED_BY(state_mu_);
  const MaintenanceCalendar* calendar_ GUARDED_BY(state_mu_) = nullptr;
  // calendar_->AnswersVersion at the last walk of FollowMaintenanceLocked.
  std::optional<uint64_t> calendar_version_ GUARDED_BY(state_mu_);
  // Push monitors by uid (few: a map costs less than a pointer in every Runtime).
  std::map<std::string, Heartbeat, std::less<>> heartbeats_ GUARDED_BY(state_mu_);
  StateSaver saver_ GUARDED_BY(state_mu_);
  StateResumer resumer_ GUARDED_BY(state_mu_);

  Mutex observers_mu_;
  std::vector<std::shared_ptr<const StateObserver>> observers_ GUARDED_BY(observers_mu_);

  MetricsRegistry::CollectorId collector_ = 0;
  Mutex lifecycle_mu_;  // Start/Stop
  std::jthread scheduler_thread_;
  std::jthread housekeeping_thread_;
  Mutex wake_mu_;
  CondVar wake_cv_;
};

}  // namespace pharos
