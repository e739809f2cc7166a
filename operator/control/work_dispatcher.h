#pragma once

// WorkDispatcher: the per-region work queues between the Scheduler and the probes
// (docs/architecture.md, "One Monitor, from YAML to status"). Items wait in one queue per (region,
// frequency class); probes lease them with a visibility timeout (the monitor's check timeout +
// grace); a result acks an item exactly once; an expired lease re-queues the item with attempt+1,
// and after `max_redeliveries` the item is reported as an `error` CheckResult ("no probe completed
// the check"), never as `down`. The lease of an item whose result has arrived but is not yet
// committed (BeginCommit) does not expire, so a slow store never turns into redeliveries. An item
// still queued when the next one of its (monitor, region) arrives is coalesced (dropped, counted).
// Leases drain the frequency classes round-robin, so a flood of 10 s items cannot starve 1 h ones.
// Probes are tracked per region by the last time they leased or registered.
//
// Time comes only from the Clock (OperatorCore gives it its ScheduleClock, so lease expiries,
// long-poll deadlines, ack memory and probe liveness follow monotonic time, not wall-clock
// steps); nothing here sleeps or owns a thread. Somebody must call
// Tick() at NextEventTime() (the Scheduler's loop does) for leases to expire and long-polls to
// time out; SetWakeup() tells that somebody when NextEventTime() moved earlier.
//
// Thread-safety: every public method may be called from any thread (one internal mutex).
// Callbacks (lateness observer, failure handler, lease callbacks, wakeup) run on the calling
// thread after the mutex is released, so they may call back into the dispatcher. A
// LeaseOrWait callback may run inside Enqueue(), which the Scheduler calls while holding its own
// lock: such callbacks must not call Scheduler methods.

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/check_result.h"
#include "common/clock.h"
#include "common/flat_index.h"
#include "common/monitor.h"
#include "common/mutex.h"

namespace pharos {

inline constexpr size_t kFrequencyClassCount = std::size(kFrequencyClasses);

// Index of `frequency` in kFrequencyClasses; nullopt when it is not a frequency class.
std::optional<size_t> FrequencyClassIndex(Millis frequency);

// One check of one monitor from one region, due at `scheduled_at`.
struct WorkItem {
  // "<monitor uid>@<region>@<scheduledAt, ms since the epoch>": unique across operator restarts
  // (so results can be stored idempotently by id) and kept across redeliveries. scheduledAt is
  // on the ScheduleClock's time line, which never goes back, even when the wall clock does.
  std::string id;
  std::string monitor_uid;
  std::string monitor_key;  // "namespace/name"
  int64_t generation = 0;   // of the Monitor spec this item is to be checked against
  std::string region;
  Millis frequency{0};
  Millis timeout{0};  // the monitor's whole-check timeout
  Clock::TimePoint scheduled_at{};
  // When the next round of this (monitor, region) is due (scheduled_at + frequency): a probe
  // that gets the item later than this may skip it, its result is superseded.
  Clock::TimePoint deadline{};
  int attempt = 1;  // 1 = first delivery; +1 per redelivery after an expired lease
};

// What Complete() found.
enum class AckResult {
  kAcked,         // the item was live (leased, or re-queued after its lease expired): store it
  kAlreadyAcked,  // acked before (a duplicate delivery of the result): do not store it again
  kUnknown,       // never seen, dropped (monitor removed, coalesced, failed) or acked too long ago
};
const char* ToString(AckResult result);  // "acked" "already_acked" "unknown"

// A probe seen recently in a region.
struct ProbeInfo {
  std::string name;
  std::string region;
  Clock::TimePoint last_seen{};
  size_t max_items = 0;  // batch size it asked for last: its capacity
  size_t in_flight = 0;  // items leased to it and not yet acked or expired
};

// Counters and depth of one (region, frequency class) queue.
struct QueueStats {
  std::string region;
  Millis frequency{0};
  size_t queued = 0;       // waiting to be leased
  size_t in_flight = 0;    // leased, not yet acked or expired
  uint64_t enqueued = 0;   // items the scheduler put in (totals since start)
  uint64_t leased = 0;     // leases handed out, redeliveries included
  uint64_t acked = 0;      // items completed
  uint64_t coalesced = 0;  // queued items dropped because the next one was due
  uint64_t redelivered = 0;
  uint64_t failed = 0;  // reported as error after max_redeliveries
};

struct DispatcherTotals {
  size_t queued = 0;
  size_t in_flight = 0;
  uint64_t enqueued = 0;
  uint64_t leased = 0;
  uint64_t acked = 0;
  uint64_t coalesced = 0;
  uint64_t redelivered = 0;
  uint64_t failed = 0;
  uint64_t dropped = 0;        // queued items of removed/suspended monitors or dropped regions
  size_t remembered_acks = 0;  // acked ids still remembered to recognise duplicate results
};

class WorkDispatcher {
 public:
  struct Options {
    // Visibility timeout of a lease = the item's timeout + lease_grace.
    Millis lease_grace = Millis(10'000);
    // Expired leases re-queued at most this often; the next expiry reports an error.
    int max_redeliveries = 3;
    // A probe not seen (lease, long-poll or register) for this long is gone.
    Millis probe_timeout = Millis(60'000);
    // An acked id is remembered (Complete() answers kAlreadyAcked) until the last lease handed
    // out for it has expired, plus this margin: every probe that held the item may still send
    // its result, and a probe whose answer got lost resends. Memory is bounded by time, not by
    // a count: about (ack rate) x (longest visibility timeout + margin) ids, ~120 bytes each.
    // Later duplicates are still caught by the store (unique item id), not counted twice.
    Millis ack_margin = Millis(30'000);
  };

  using LatenessObserver = std::function<void(Millis frequency, double seconds)>;
  using FailureHandler = std::function<void(CheckResult result)>;
  using LeaseCallback = std::function<void(std::vector<WorkItem> items)>;
  using WaiterId = uint64_t;

  static constexpr std::string_view kNoProbeCompleted = "no probe completed the check";

  WorkDispatcher(const Clock& clock, Options options);
  WorkDispatcher(const WorkDispatcher&) = delete;
  WorkDispatcher& operator=(const WorkDispatcher&) = delete;

  // Hooks; set them before use (a hook set later misses earlier events). nullptr clears.
  // Called with (item frequency, lease time − scheduledAt in seconds) at each first delivery.
  void SetLatenessObserver(LatenessObserver observer);
  // Called with an `error` CheckResult for an item whose lease expired after max_redeliveries
  // (identity, region, probe, item id, scheduledAt, attempts filled; type and target are not
  // known here and are the receiver's to fill).
  void SetFailureHandler(FailureHandler handler);
  // Called when NextEventTime() moved earlier (a new lease, a new long-poll).
  void SetWakeup(std::function<void()> wakeup);

  // --- Producer side (the Scheduler) ---

  // Queues due items. A queued item of the same (monitor, region) is coalesced; an item whose
  // id is already live is ignored. Long-polls of the regions concerned are served before return.
  void Enqueue(std::vector<WorkItem> items);
  // The monitor's spec changed: its live items take `generation` and `timeout` (a leased one
  // from its next delivery on); items in regions not in `regions` (empty = keep every region)
  // are dropped if queued, and if leased may still complete but are never redelivered.
  void UpdateMonitor(const std::string& uid, int64_t generation, Millis timeout,
                     const std::vector<std::string>& regions);
  // The monitor was removed or suspended: its queued items are dropped; leased ones may still
  // complete but are never redelivered.
  void RemoveMonitor(const std::string& uid);

  // --- Consumer side (the probe API) ---

  // Leases up to `max_items` queued items of `region` to `probe` (which is marked seen), taking
  // one item per frequency class in turn. Empty when nothing is queued.
  std::vector<WorkItem> Lease(const std::string& region, const std::string& probe,
                              size_t max_items);
  // Long-poll: leases now if anything is queued, otherwise parks the request until items arrive
  // in `region` or until `deadline` passes (then empty). A request parked with a `batch_wait`
  // is answered once `max_items` are queued, or `batch_wait` after the first item came (never
  // after `deadline`): over HTTP a request costs the operator and the probe far more than an
  // item, and at hundreds of checks a second such a request carries tens of items, not one.
  // `done` is called exactly once — possibly before this returns (then the result is 0) — unless
  // CancelWait() wins. Parked requests are served first-come first-served.
  WaiterId LeaseOrWait(const std::string& region, const std::string& probe, size_t max_items,
                       Clock::TimePoint deadline, Millis batch_wait, LeaseCallback done);
  // Forgets a parked long-poll (its client went away); false when it already completed.
  bool CancelWait(WaiterId id);
  // A result for the item arrived and is being committed: until Complete() or AbortCommit(),
  // its lease no longer expires (no redelivery, no failure), however slow the commit. Each call
  // that returns true must be followed by one of the two. False (nothing held) when the item is
  // not leased: queued again after an expired lease, acked, dropped or unknown.
  bool BeginCommit(const std::string& item_id);
  // The commit begun by BeginCommit() failed (the probe is told to resend): the item's lease
  // runs again for a whole visibility timeout, then expires as usual (redelivered, or reported
  // as an error), so the item is never lost. No-op when the item is no longer live.
  void AbortCommit(const std::string& item_id);
  // Acks an item by id (a result was stored). Idempotent; see AckResult.
  AckResult Complete(const std::string& item_id);
  // True when `item_id` was acked and is still remembered (see Options::ack_margin): a result
  // for it is a duplicate of one already stored.
  bool WasAcked(const std::string& item_id) const;
  // Marks a probe as seen (registration, heartbeat).
  void TouchProbe(const std::string& region, const std::string& probe);

  // --- Time ---

  // Expires leases (re-queue or fail), times out long-polls, forgets old acks and gone probes.
  void Tick();
  // When Tick() has something to do next (earliest lease expiry or long-poll deadline).
  std::optional<Clock::TimePoint> NextEventTime() const;

  // --- Introspection (metrics, status, tests) ---

  std::vector<ProbeInfo> ConnectedProbes(const std::string& region) const;
  // Regions with at least one connected probe, sorted.
  std::vector<std::string> ActiveRegions() const;
  size_t QueueDepth(const std::string& region, Millis frequency) const;
  // One row per (region, frequency class) ever used, sorted by region then frequency.
  std::vector<QueueStats> Stats() const;
  DispatcherTotals Totals() const;
  // The live (queued or leased) item with this id, for inspection.
  std::optional<WorkItem> Find(const std::string& item_id) const;

 private:
  enum class ItemState : uint8_t { kQueued, kLeased };

  struct Entry {
    WorkItem item;
    ItemState state = ItemState::kQueued;
    bool orphaned = false;  // monitor/region gone while leased: finish, never redeliver
    uint8_t class_index = 0;
    uint32_t lease_serial = 0;  // bumped per lease, so stale expiry records are recognised
    uint32_t commits = 0;       // results being committed (BeginCommit): the lease is held
    std::list<uint64_t>::iterator queue_position;  // valid while kQueued
    std::string probe;                             // last lessee
    Clock::TimePoint leased_at{};
    Clock::TimePoint last_lease_expiry{};  // the latest visibility timeout of any of its leases
  };

  struct ClassQueue {
    std::list<uint64_t> items;  // entry sequence numbers, oldest first
    QueueStats stats;
  };

  struct Probe {
    Clock::TimePoint last_seen{};
    size_t max_items = 0;
    size_t in_flight = 0;
  };

  struct Waiter {
    WaiterId id = 0;
    std::string probe;
    size_t max_items = 0;
    Clock::TimePoint deadline{};
    Millis batch_wait{0};
    // Set when the first item it could take arrived: answered then, or once max_items wait.
    std::optional<Clock::TimePoint> serve_at;
    LeaseCallback done;
  };

  struct Region {
    std::array<ClassQueue, kFrequencyClassCount> classes;
    std::array<bool, kFrequencyClassCount> used{};  // a queue that ever held an item
    size_t queued = 0;
    size_t next_class = 0;  // round-robin cursor
    std::deque<Waiter> waiters;
    std::map<std::string, Probe, std::less<>> probes;
  };

  struct LeaseExpiry {
    Clock::TimePoint at;
    uint64_t seq = 0;
    uint32_t serial = 0;
    bool operator>(const LeaseExpiry& other) const { return at > other.at; }
  };

  // Work to do after the mutex is released, with the hooks it needs.
  struct Deferred {
    std::vector<std::pair<LeaseCallback, std::vector<WorkItem>>> leases;
    std::vector<std::pair<Millis, double>> lateness;
    std::vector<CheckResult> failures;
    bool wake = false;
    LatenessObserver lateness_observer;
    FailureHandler failure_handler;
    std::function<void()> wakeup;
  };

  static void RunDeferred(Deferred& deferred);

  void CaptureHooksLocked(Deferred& deferred) const REQUIRES(mu_);
  Region& RegionLocked(const std::string& name) REQUIRES(mu_);
  std::vector<WorkItem> LeaseLocked(Region& region, const std::string& probe, size_t max_items,
                                    Clock::TimePoint now, Deferred& deferred) REQUIRES(mu_);
  void ServeWaitersLocked(Region& region, Clock::TimePoint now, Deferred& deferred) REQUIRES(mu_);
  void QueueLocked(Region& region, uint64_t seq, Entry& entry, bool front) REQUIRES(mu_);
  void UnqueueLocked(Region& region, Entry& entry) REQUIRES(mu_);
  void ReleaseLeaseLocked(Region& region, const Entry& entry) REQUIRES(mu_);
  void EraseLocked(uint64_t seq) REQUIRES(mu_);
  // Queued: erased and counted as dropped. Leased: orphaned.
  void DropLocked(uint64_t seq) REQUIRES(mu_);
  void ExpireLeasesLocked(Clock::TimePoint now, Deferred& deferred) REQUIRES(mu_);
  void RememberAckLocked(const std::string& item_id, Clock::TimePoint forget_at) REQUIRES(mu_);
  void ForgetAcksLocked(Clock::TimePoint now) REQUIRES(mu_);
  Probe& SeeProbeLocked(Region& region, const std::string& probe, Clock::TimePoint now)
      REQUIRES(mu_);
  bool ProbeConnectedLocked(const Region& region, const std::string& probe,
                            Clock::TimePoint now) const REQUIRES(mu_);
  std::optional<Clock::TimePoint> NextEventTimeLocked() const REQUIRES(mu_);
  CheckResult FailureResult(const Entry& entry) const;

  const Clock& clock_;
  const Options options_;

  mutable Mutex mu_;
  uint64_t next_seq_ GUARDED_BY(mu_) = 1;
  WaiterId next_waiter_ GUARDED_BY(mu_) = 1;
  std::unordered_map<uint64_t, Entry> entries_ GUARDED_BY(mu_);
  std::unordered_map<std::string, uint64_t> seq_by_id_ GUARDED_BY(mu_);
  std::unordered_map<std::string, std::vector<uint64_t>> seqs_by_monitor_ GUARDED_BY(mu_);
  std::map<std::string, Region, std::less<>> regions_ GUARDED_BY(mu_);
  std::priority_queue<LeaseExpiry, std::vector<LeaseExpiry>, std::greater<>> expiries_
      GUARDED_BY(mu_);
  // Acked ids remembered to recognise duplicate results. Whole ids, not hashes: a false
  // "duplicate" would lose a result. Each remembered id is one allocation, its record (when to
  // forget it, then the id text), owned by its entry in acked_forget_; acked_ indexes the newest
  // record of each id by its text. An id acked again with a later time gets a new record, and the
  // entry of the old one then only frees it.
  // Slots of acked_: a record, found by its id text.
  struct AckById {
    std::string_view KeyOf(const char* record) const;
    static bool IsEmpty(const char* record) { return record == nullptr; }
  };
  struct AckForget {
    Clock::TimePoint at;
    std::unique_ptr<char[]> record;
    bool operator>(const AckForget& other) const { return at > other.at; }
  };
  FlatIndex<const char*, AckById> acked_ GUARDED_BY(mu_);
  std::vector<AckForget> acked_forget_ GUARDED_BY(mu_);  // a heap, earliest `at` first

  uint64_t dropped_ GUARDED_BY(mu_) = 0;
  LatenessObserver lateness_observer_ GUARDED_BY(mu_);
  FailureHandler failure_handler_ GUARDED_BY(mu_);
  std::function<void()> wakeup_ GUARDED_BY(mu_);
};

}  // namespace pharos
