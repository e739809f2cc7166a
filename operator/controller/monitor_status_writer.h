#pragma once

// MonitorStatusWriter: keeps Monitor.status in the Kubernetes API in step with what the operator
// knows about each monitor (docs/architecture.md, "One Monitor, from YAML to status"): a state
// change is written at once, ahead of anything else; otherwise a monitor is written at most once
// per `interval`, and only when its status differs from what was last written; every write passes
// the StatusPatcher's global token bucket
// (--status-qps). Writes are JSON merge patches of /status computed from the object as just read
// (StatusPatcher::PatchFromFresh), so a 409 Conflict is retried from fresh state and a
// condition's lastTransitionTime changes only when its status flips.
//
// Writes happen only while the writer is active (this replica leads). When it becomes active it
// does not overwrite a state another leader wrote for the same generation until it has results
// of its own (a result or a transition seen since it became active), so a leader change does not
// flip a Down monitor to Pending and back.
//
// Status document (BuildStatus): observedGeneration, state, target, message, lastCheckTime,
// lastTransitionTime, uptime {last24h,last7d,last30d} (percent, 2 decimals, rounded down),
// latency {p50Ms,p95Ms}, regions[] (with failingEndpoints: the addresses that failed in the
// region's last check), failingEndpoints (those of every region, sorted, each once; absent while
// none fails), incident {id,since} (null when none is open), push {token} (push monitors: their
// ping token; null otherwise) and the Ready condition (True when Up or Degraded; else False with
// reason = the state).
//
// Thread-safety: every public method may be called from any thread. Worker threads
// ("status-writer") do the writes; WriteNext() lets tests drive it without them.

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/mutex.h"
#include "operator/control/monitor_state.h"
#include "operator/control/monitor_status.h"
#include "operator/kube/status_patcher.h"

namespace pharos {

class MonitorStatusWriter {
 public:
  struct Options {
    // --status-interval: the least time between two periodic writes of one monitor.
    std::chrono::milliseconds interval{30'000};
    // A failed write is tried again after this long (or `interval`, whichever is shorter), or
    // after the API server's Retry-After (429, some 5xx) when that is longer. Until then no
    // write of that monitor is sent, not even a state change (the retry writes the latest).
    std::chrono::milliseconds retry_delay{5'000};
    int workers = 2;
  };

  // What BuildStatus needs besides the snapshot.
  struct BuildContext {
    TimePoint now{};
    // No transition of the monitor was seen since this replica became the writer: when the
    // object already shows the same state, its lastTransitionTime is kept (it may have been
    // decided by the previous leader).
    bool keep_transition_time = false;
    // A push monitor's ping token (status.push.token); none for other monitors.
    std::optional<std::string> push_token;
  };

  struct Stats {
    int64_t written = 0;    // patches the API server accepted
    int64_t unchanged = 0;  // due, but the status was already up to date: nothing sent
    int64_t failed = 0;     // patches that failed (after conflict retries)
    size_t tracked = 0;
    size_t urgent = 0;  // state changes waiting to be written
  };

  // The monitor's current status as the operator sees it; nullopt when unknown.
  using SnapshotSource = std::function<std::optional<MonitorStatus>(const std::string& uid)>;
  // A push monitor's ping token; nullopt when it has none (yet).
  using PushTokenSource = std::function<std::optional<std::string>(const std::string& uid)>;

  // `patcher`, `clock` must outlive the writer. Without `push_tokens`, no token is written.
  MonitorStatusWriter(SnapshotSource snapshots, StatusPatcher& patcher, const Clock& clock,
                      Options options, PushTokenSource push_tokens = nullptr);
  ~MonitorStatusWriter();
  MonitorStatusWriter(const MonitorStatusWriter&) = delete;
  MonitorStatusWriter& operator=(const MonitorStatusWriter&) = delete;

  // Starts the worker threads. Call at most once.
  void Start();
  // Stops the workers (a write waiting for the rate limiter is abandoned). Idempotent.
  void Stop();

  // Writes happen only while active. Becoming active makes every tracked monitor due at once
  // (periodic priority, oldest first); becoming inactive drops pending state changes.
  void SetActive(bool active);
  bool active() const;

  // A monitor to keep written (new, or its spec changed): written soon, ahead of periodic
  // writes. `uid` identifies it; namespace/name address the object.
  void Track(const std::string& uid, const std::string& namespace_name, const std::string& name);
  // Its state changed: written at once.
  void StateChanged(const StateEvent& event);
  // The monitor is gone: nothing more is written for it.
  void Forget(const std::string& uid);

  // Does one due write if there is one (never waits for a due time); false when nothing was
  // due. For tests that drive the writer without its threads.
  bool WriteNext();

  Stats stats() const;

  // The status to write for `status`, given the object's current `.status` (null or an object).
  static nlohmann::json BuildStatus(const MonitorStatus& status, const nlohmann::json& current,
                                    const BuildContext& context);
  // `status` without its null members (what the API server keeps of a merge patch), for
  // comparing with the object's current status.
  static nlohmann::json WithoutNulls(const nlohmann::json& status);

 private:
  using SteadyTime = std::chrono::steady_clock::time_point;

  struct Entry {
    std::string namespace_name;
    std::string name;
    SteadyTime due{};           // next periodic check (key in due_)
    bool urgent = false;        // in urgent_
    bool in_flight = false;     // a worker is writing it
    bool again = false;         // changed while in flight: write again right after
    bool urgent_again = false;  // ... ahead of periodic writes
    // What was last written (without nulls) as compact JSON text, which costs a fifth of the
    // parsed form at 10,000 monitors; empty before the first write.
    std::string last_written;
    std::optional<TimePoint> transition_at;  // last transition seen while active
    SteadyTime hold_until{};  // after a failed write: nothing sent before this (its retry)
  };

  void Loop();
  // Picks the next write: an urgent one, else the earliest due.
  std::optional<std::string> PickLocked(SteadyTime now) REQUIRES(mutex_);
  void ScheduleLocked(const std::string& uid, Entry& entry, SteadyTime due) REQUIRES(mutex_);
  void MakeUrgentLocked(const std::string& uid, Entry& entry) REQUIRES(mutex_);
  // Writes one monitor (the caller has marked it in flight) and schedules its next look.
  void Process(const std::string& uid);

  SnapshotSource snapshots_;
  PushTokenSource push_tokens_;
  StatusPatcher& patcher_;
  const Clock& clock_;
  const Options options_;

  mutable Mutex mutex_;
  CondVar changed_;
  std::map<std::string, Entry> entries_ GUARDED_BY(mutex_);  // by uid
  std::set<std::pair<SteadyTime, std::string>> due_ GUARDED_BY(mutex_);
  std::deque<std::string> urgent_ GUARDED_BY(mutex_);
  bool active_ GUARDED_BY(mutex_) = false;
  TimePoint active_since_ GUARDED_BY(mutex_){};
  bool stopping_ GUARDED_BY(mutex_) = false;
  Stats stats_ GUARDED_BY(mutex_);
  std::vector<std::thread> workers_;
};

}  // namespace pharos
