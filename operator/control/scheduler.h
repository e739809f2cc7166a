#pragma once

// Scheduler: decides when each Monitor is due and emits one WorkItem per (monitor, region) into
// the WorkDispatcher at that time (docs/architecture.md, "One Monitor, from YAML to status").
//
// Each monitor has a stable phase inside its period, StableHash64(uid) mod period, so monitors of
// one frequency spread evenly over it and keep their phase across restarts. Due times are
// absolute slots on the epoch grid (phase + k × period), never "last run + period": a late tick
// does not shift later slots and nothing drifts. When ticks were stalled for more than a period
// only the latest slot is emitted; the skipped ones are counted (Totals().missed_slots).
// Upsert/Remove take effect at once: a changed monitor keeps its phase unless its frequency
// changed, queued items take the new generation, a suspended or removed monitor's queued items are
// dropped. A monitor with no regions goes to every known region: Options::default_regions,
// regions named by any monitor, and regions with a connected probe.
//
// Per monitor it keeps one 32-byte entry (the shared Monitor, its phase and next due time), one
// 16-byte heap node and one index entry keyed by a view of the uid inside that Monitor; every
// event is O(log n) in the number of monitors.
//
// Time comes only from the Clock: OperatorCore gives it a ScheduleClock (UTC at start plus
// monotonic time), so slots, scheduledAt and item ids move with monotonic time: a wall-clock
// step back neither stalls the schedule nor repeats an id, a step forward fires no burst.
// Tick() does whatever is due now and returns when it should run next; Run() is that loop on a
// thread of the caller's ("pharos-sched"). Tests call Tick() after advancing a ManualClock.
//
// Thread-safety: every public method may be called from any thread. The Scheduler calls the
// dispatcher while holding its own mutex (lock order: Scheduler, then WorkDispatcher), so
// WorkDispatcher::LeaseOrWait callbacks served by Tick() run inside it and must not call the
// Scheduler. It takes over the dispatcher's wakeup hook (SetWakeup) for its lifetime.

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/flat_index.h"
#include "common/monitor.h"
#include "common/mutex.h"
#include "common/result.h"
#include "operator/control/work_dispatcher.h"

namespace pharos {

class Scheduler {
 public:
  struct Options {
    // Regions every monitor without `regions` is checked from, besides those named by other
    // monitors and those with a connected probe ({"local"} for the standalone mode).
    std::vector<std::string> default_regions;
    // Longest Run() sleeps without looking at the clock (guards against a Clock whose time
    // steps, such as a bare wall clock).
    Millis max_idle = Millis(1'000);
  };

  // The schedule of one monitor, for inspection.
  struct MonitorSchedule {
    std::string uid;
    std::string key;
    int64_t generation = 0;
    Millis frequency{0};
    Millis phase{0};  // offset of its slots from the epoch grid, in [0, frequency)
    Millis timeout{0};
    std::vector<std::string> regions;  // as given; empty = every known region
    bool suspended = false;
    std::optional<Clock::TimePoint> next_due;  // none while suspended
  };

  struct Totals {
    size_t monitors = 0;                                             // known, suspended included
    size_t scheduled = 0;                                            // not suspended
    std::array<size_t, kFrequencyClassCount> scheduled_per_class{};  // by kFrequencyClasses
    uint64_t emitted = 0;       // work items handed to the dispatcher
    uint64_t missed_slots = 0;  // slots skipped because ticks were late by a period or more
  };

  Scheduler(const Clock& clock, WorkDispatcher& dispatcher, Options options);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // The phase of a monitor of this identity and frequency: the same in every process and build.
  static Millis PhaseFor(std::string_view uid, Millis frequency);
  // "<uid>@<region>@<scheduledAt ms since the epoch>".
  static std::string ItemId(std::string_view uid, std::string_view region,
                            Clock::TimePoint scheduled_at);

  // Adds a monitor or applies its new spec (identity: monitor.uid). Errors (nothing changes):
  // no monitor, empty uid, a frequency that is not a frequency class, a timeout that is not
  // positive. The scheduler keeps `monitor` (shared, never modified) instead of copies of its
  // fields.
  Status Upsert(std::shared_ptr<const Monitor> monitor);
  // The same with a copy of `monitor`.
  Status Upsert(const Monitor& monitor);
  // Makes room for `monitors` monitors in all, so that loading a large set does not leave the
  // entry table up to twice the size it needs.
  void Reserve(size_t monitors);
  // Removes a monitor and drops its queued items; false when the uid is not known.
  bool Remove(const std::string& uid);

  // Emits every item due at clock.Now(), then lets the dispatcher expire leases and long-polls.
  // Returns when the next call has something to do (none: nothing scheduled or pending).
  std::optional<Clock::TimePoint> Tick();
  // Earliest due time of any monitor.
  std::optional<Clock::TimePoint> NextDueTime() const;
  // Calls Tick() whenever there is something to do until `stop` is requested. Names the calling
  // thread "pharos-sched".
  void Run(const std::stop_token& stop);
  // Makes Run() look at the schedule again now.
  void Wake();

  std::optional<MonitorSchedule> Find(const std::string& uid) const;
  // The regions a monitor without `regions` goes to right now, sorted.
  std::vector<std::string> KnownRegions() const;
  // O(monitors): meant for metrics scrapes, not hot paths.
  Totals totals() const;

 private:
  // Identity, spec and regions are read from `monitor`; only the schedule is kept here.
  struct Entry {
    std::shared_ptr<const Monitor> monitor;  // null while the entry is free
    int64_t next_due_ms = 0;                 // ms since the epoch; valid while scheduled
    int32_t phase_ms = 0;  // PhaseFor(uid, frequency); a frequency class fits in 32 bits
    uint32_t version = 0;  // bumped when the heap node of this entry becomes stale
    bool Scheduled() const { return monitor && !monitor->suspend; }
  };

  // Slots are positions in entries_ plus one (0: empty), found by their monitor's uid.
  struct EntryByUid {
    const std::vector<Entry>* entries;
    std::string_view KeyOf(uint32_t slot) const { return (*entries)[slot - 1].monitor->uid; }
    static bool IsEmpty(uint32_t slot) { return slot == 0; }
  };

  struct HeapNode {
    int64_t due_ms = 0;
    uint32_t index = 0;
    uint32_t version = 0;
    bool operator>(const HeapNode& other) const { return due_ms > other.due_ms; }
  };

  void ScheduleLocked(uint32_t index, int64_t now_ms) REQUIRES(mu_);
  // Regions named more than once count once.
  void CountRegionsLocked(const std::vector<std::string>& regions, int delta) REQUIRES(mu_);
  std::vector<std::string> KnownRegionsLocked() const REQUIRES(mu_);
  void EmitLocked(const Entry& entry, int64_t slot_ms, const std::vector<std::string>& known,
                  std::vector<WorkItem>& batch) REQUIRES(mu_);
  void DropStaleTopsLocked() const REQUIRES(mu_);
  bool IsCurrentLocked(const HeapNode& node) const REQUIRES(mu_);

  const Clock& clock_;
  WorkDispatcher& dispatcher_;
  const Options options_;

  mutable Mutex mu_;
  std::vector<Entry> entries_ GUARDED_BY(mu_);
  std::vector<uint32_t> free_entries_ GUARDED_BY(mu_);
  // uid → entry index; each key views the uid of that entry's monitor (re-keyed when the
  // monitor is replaced, erased before it is released).
  FlatIndex<uint32_t, EntryByUid> by_uid_ GUARDED_BY(mu_){EntryByUid{&entries_}};
  std::map<std::string, size_t> named_regions_ GUARDED_BY(mu_);  // region → monitors
  mutable std::priority_queue<HeapNode, std::vector<HeapNode>, std::greater<>> heap_
      GUARDED_BY(mu_);
  uint64_t emitted_ GUARDED_BY(mu_) = 0;
  uint64_t missed_slots_ GUARDED_BY(mu_) = 0;

  Mutex wake_mu_;
  CondVar wake_cv_;
  bool wake_requested_ GUARDED_BY(wake_mu_) = false;
};

}  // namespace pharos
