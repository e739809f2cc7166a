#include "operator/control/scheduler.h"

#include <pthread.h>

#include <algorithm>
#include <set>
#include <utility>

#include "common/stable_hash.h"

namespace pharos {

namespace {

int64_t ToEpochMillis(Clock::TimePoint time) {
  return std::chrono::floor<Millis>(time.time_since_epoch()).count();
}

Clock::TimePoint FromEpochMillis(int64_t ms) {
  return Clock::TimePoint(std::chrono::duration_cast<Clock::TimePoint::duration>(Millis(ms)));
}

// Floor division that is also right for negative numerators.
int64_t FloorDiv(int64_t numerator, int64_t denominator) {
  int64_t quotient = numerator / denominator;
  if ((numerator % denominator != 0) && ((numerator < 0) != (denominator < 0))) {
    --quotient;
  }
  return quotient;
}

// The slot of (phase, period) at or before `now_ms`.
int64_t SlotAtOrBefore(int64_t now_ms, int64_t phase_ms, int64_t period_ms) {
  return phase_ms + FloorDiv(now_ms - phase_ms, period_ms) * period_ms;
}

// The slot of (phase, period) at or after `now_ms`.
int64_t SlotAtOrAfter(int64_t now_ms, int64_t phase_ms, int64_t period_ms) {
  const int64_t slot = SlotAtOrBefore(now_ms, phase_ms, period_ms);
  return slot == now_ms ? slot : slot + period_ms;
}

std::vector<std::string> WithoutDuplicates(const std::vector<std::string>& regions) {
  std::vector<std::string> unique;
  for (const auto& region : regions) {
    if (std::find(unique.begin(), unique.end(), region) == unique.end()) {
      unique.push_back(region);
    }
  }
  return unique;
}

}  // namespace

Scheduler::Scheduler(const Clock& clock, WorkDispatcher& dispatcher, Options options)
    : clock_(clock), dispatcher_(dispatcher), options_(std::move(options)) {
  dispatcher_.SetWakeup([this] { Wake(); });
}

Scheduler::~Scheduler() { dispatcher_.SetWakeup(nullptr); }

Millis Scheduler::PhaseFor(std::string_view uid, Millis frequency) {
  if (frequency.count() <= 0) {
    return Millis(0);
  }
  return Millis(static_cast<int64_t>(StableHash64(uid) % static_cast<uint64_t>(frequency.count())));
}

std::string Scheduler::ItemId(std::string_view uid, std::string_view region,
                              Clock::TimePoint scheduled_at) {
  std::string id;
  id.reserve(uid.size() + region.size() + 16);
  id.append(uid).append("@").append(region).append("@");
  id.append(std::to_string(ToEpochMillis(scheduled_at)));
  return id;
}

Status Scheduler::Upsert(const Monitor& monitor) {
  return Upsert(std::make_shared<const Monitor>(monitor));
}

Status Scheduler::Upsert(std::shared_ptr<const Monitor> monitor) {
  if (!monitor) {
    return Error{"Scheduler::Upsert: no monitor given"};
  }
  if (monitor->uid.empty()) {
    return Error{"monitor " + monitor->Key() +
                 ": metadata.uid is empty; the scheduler needs a stable identity"};
  }
  if (!FrequencyClassIndex(monitor->frequency)) {
    return Error{"monitor " + monitor->Key() + ": spec.frequency " +
                 std::to_string(monitor->frequency.count()) +
                 "ms is not a frequency class (10s 30s 1m 5m 10m 30m 1h)"};
  }
  if (monitor->timeout.count() <= 0) {
    return Error{"monitor " + monitor->Key() + ": spec.timeout must be positive"};
  }
  {
    MutexLock lock(mu_);
    const int64_t now_ms = ToEpochMillis(clock_.Now());
    const uint32_t* found = by_uid_.Find(monitor->uid);
    if (found == nullptr) {
      uint32_t index = 0;
      if (free_entries_.empty()) {
        index = static_cast<uint32_t>(entries_.size());
        entries_.emplace_back();
      } else {
        index = free_entries_.back();
        free_entries_.pop_back();
      }
      Entry& entry = entries_[index];
      entry.monitor = std::move(monitor);
      entry.phase_ms =
          static_cast<int32_t>(PhaseFor(entry.monitor->uid, entry.monitor->frequency).count());
      entry.version++;
      by_uid_.Insert(index + 1);
      CountRegionsLocked(entry.monitor->regions, +1);
      if (entry.Scheduled()) {
        ScheduleLocked(index, now_ms);
      }
    } else {
      const uint32_t index = *found - 1;
      Entry& entry = entries_[index];
      const Monitor& old = *entry.monitor;
      const bool regions_changed =
          old.regions != monitor->regions &&
          WithoutDuplicates(old.regions) != WithoutDuplicates(monitor->regions);
      const bool spec_changed = old.generation != monitor->generation ||
                                old.timeout != monitor->timeout || regions_changed ||
                                old.namespace_name != monitor->namespace_name ||
                                old.name != monitor->name;
      const bool frequency_changed = old.frequency != monitor->frequency;
      const bool was_suspended = old.suspend;
      if (regions_changed) {
        CountRegionsLocked(old.regions, -1);
        CountRegionsLocked(monitor->regions, +1);
      }
      entry.monitor = std::move(monitor);  // same uid: the index slot stays valid
      const Monitor& current = *entry.monitor;
      if (frequency_changed) {
        entry.phase_ms = static_cast<int32_t>(PhaseFor(current.uid, current.frequency).count());
      }
      if (current.suspend) {
        if (!was_suspended) {
          entry.version++;
          dispatcher_.RemoveMonitor(current.uid);
        }
      } else {
        if (was_suspended || frequency_changed) {
          entry.version++;
          ScheduleLocked(index, now_ms);
        }
        if (spec_changed) {
          dispatcher_.UpdateMonitor(current.uid, current.generation, current.timeout,
                                    WithoutDuplicates(current.regions));
        }
      }
    }
  }
  Wake();
  return OkStatus();
}

void Scheduler::Reserve(size_t monitors) {
  MutexLock lock(mu_);
  entries_.reserve(monitors);
}

bool Scheduler::Remove(const std::string& uid) {
  {
    MutexLock lock(mu_);
    const uint32_t* found = by_uid_.Find(uid);
    if (found == nullptr) {
      return false;
    }
    const uint32_t index = *found - 1;
    Entry& entry = entries_[index];
    CountRegionsLocked(entry.monitor->regions, -1);
    dispatcher_.RemoveMonitor(uid);
    by_uid_.Erase(uid);  // before its key's monitor is released
    entry.monitor.reset();
    entry.version++;
    free_entries_.push_back(index);
  }
  Wake();
  return true;
}

std::optional<Clock::TimePoint> Scheduler::Tick() {
  {
    MutexLock lock(mu_);
    const int64_t now_ms = ToEpochMillis(clock_.Now());
    std::vector<WorkItem> batch;
    std::optional<std::vector<std::string>> known;  // computed once, when first needed
    while (!heap_.empty() && heap_.top().due_ms <= now_ms) {
      const HeapNode node = heap_.top();
      heap_.pop();
      if (!IsCurrentLocked(node)) {
        continue;
      }
      Entry& entry = entries_[node.index];
      const std::vector<std::string>& regions = entry.monitor->regions;
      const int64_t period_ms = entry.monitor->frequency.count();
      const int64_t slot_ms = SlotAtOrBefore(now_ms, entry.phase_ms, period_ms);
      missed_slots_ += static_cast<uint64_t>((slot_ms - entry.next_due_ms) / period_ms);
      if (regions.empty() && !known) {
        known = KnownRegionsLocked();
      }
      EmitLocked(entry, slot_ms, regions.empty() ? *known : regions, batch);
      entry.next_due_ms = slot_ms + period_ms;
      heap_.push(HeapNode{entry.next_due_ms, node.index, entry.version});
    }
    if (!batch.empty()) {
      emitted_ += batch.size();
      dispatcher_.Enqueue(std::move(batch));
    }
  }
  dispatcher_.Tick();
  auto next = NextDueTime();
  const auto dispatcher_next = dispatcher_.NextEventTime();
  if (dispatcher_next && (!next || *dispatcher_next < *next)) {
    next = dispatcher_next;
  }
  return next;
}

std::optional<Clock::TimePoint> Scheduler::NextDueTime() const {
  MutexLock lock(mu_);
  DropStaleTopsLocked();
  if (heap_.empty()) {
    return std::nullopt;
  }
  return FromEpochMillis(heap_.top().due_ms);
}

void Scheduler::Run(const std::stop_token& stop) {
  pthread_setname_np(pthread_self(), "pharos-sched");
  while (!stop.stop_requested()) {
    {
      MutexLock lock(wake_mu_);
      wake_requested_ = false;
    }
    const auto next = Tick();
    auto wait = std::chrono::duration_cast<std::chrono::microseconds>(options_.max_idle);
    if (next) {
      const auto until_next = std::chrono::ceil<std::chrono::microseconds>(*next - clock_.Now());
      wait = std::clamp(until_next, std::chrono::microseconds(0), wait);
    }
    MutexLock lock(wake_mu_);
    wake_cv_.WaitFor(wake_mu_, stop, wait, [this]() REQUIRES(wake_mu_) { return wake_requested_; });
  }
}

void Scheduler::Wake() {
  {
    MutexLock lock(wake_mu_);
    wake_requested_ = true;
  }
  wake_cv_.NotifyAll();
}

std::optional<Scheduler::MonitorSchedule> Scheduler::Find(const std::string& uid) const {
  MutexLock lock(mu_);
  const uint32_t* found = by_uid_.Find(uid);
  if (found == nullptr) {
    return std::nullopt;
  }
  const Entry& entry = entries_[*found - 1];
  const Monitor& monitor = *entry.monitor;
  MonitorSchedule schedule{monitor.uid,
                           monitor.Key(),
                           monitor.generation,
                           monitor.frequency,
                           Millis(entry.phase_ms),
                           monitor.timeout,
                           WithoutDuplicates(monitor.regions),
                           monitor.suspend,
                           std::nullopt};
  if (!monitor.suspend) {
    schedule.next_due = FromEpochMillis(entry.next_due_ms);
  }
  return schedule;
}

std::vector<std::string> Scheduler::KnownRegions() const {
  MutexLock lock(mu_);
  return KnownRegionsLocked();
}

Scheduler::Totals Scheduler::totals() const {
  MutexLock lock(mu_);
  Totals totals;
  totals.monitors = by_uid_.size();
  for (const auto& entry : entries_) {
    if (entry.Scheduled()) {
      totals.scheduled++;
      totals.scheduled_per_class[*FrequencyClassIndex(entry.monitor->frequency)]++;
    }
  }
  totals.emitted = emitted_;
  totals.missed_slots = missed_slots_;
  return totals;
}

void Scheduler::ScheduleLocked(uint32_t index, int64_t now_ms) {
  Entry& entry = entries_[index];
  entry.next_due_ms = SlotAtOrAfter(now_ms, entry.phase_ms, entry.monitor->frequency.count());
  heap_.push(HeapNode{entry.next_due_ms, index, entry.version});
}

void Scheduler::CountRegionsLocked(const std::vector<std::string>& regions, int delta) {
  for (auto region = regions.begin(); region != regions.end(); ++region) {
    if (std::find(regions.begin(), region, *region) != region) {
      continue;
    }
    if (delta > 0) {
      named_regions_[*region]++;
    } else {
      auto it = named_regions_.find(*region);
      if (it != named_regions_.end() && --it->second == 0) {
        named_regions_.erase(it);
      }
    }
  }
}

std::vector<std::string> Scheduler::KnownRegionsLocked() const {
  std::set<std::string> known(options_.default_regions.begin(), options_.default_regions.end());
  for (const auto& [region, monitors] : named_regions_) {
    known.insert(region);
  }
  for (auto& region : dispatcher_.ActiveRegions()) {
    known.insert(std::move(region));
  }
  return {known.begin(), known.end()};
}

void Scheduler::EmitLocked(const Entry& entry, int64_t slot_ms,
                           const std::vector<std::string>& regions, std::vector<WorkItem>& batch) {
  const Monitor& monitor = *entry.monitor;
  const Clock::TimePoint scheduled_at = FromEpochMillis(slot_ms);
  std::string key;  // Monitor::Key(), in one allocation
  key.reserve(monitor.namespace_name.size() + 1 + monitor.name.size());
  key.append(monitor.namespace_name).append("/").append(monitor.name);
  for (auto region = regions.begin(); region != regions.end(); ++region) {
    if (std::find(regions.begin(), region, *region) != region) {
      continue;  // named twice
    }
    WorkItem item;
    item.id = ItemId(monitor.uid, *region, scheduled_at);
    item.monitor_uid = monitor.uid;
    item.monitor_key = key;
    item.generation = monitor.generation;
    item.region = *region;
    item.frequency = monitor.frequency;
    item.timeout = monitor.timeout;
    item.scheduled_at = scheduled_at;
    item.deadline = scheduled_at + monitor.frequency;
    item.attempt = 1;
    batch.push_back(std::move(item));
  }
}

void Scheduler::DropStaleTopsLocked() const {
  while (!heap_.empty() && !IsCurrentLocked(heap_.top())) {
    heap_.pop();
  }
}

bool Scheduler::IsCurrentLocked(const HeapNode& node) const {
  const Entry& entry = entries_[node.index];
  return entry.Scheduled() && entry.version == node.version;
}

}  // namespace pharos
