#include "operator/control/work_dispatcher.h"

#include <algorithm>
#include <cstring>
#include <utility>

namespace pharos {

std::optional<size_t> FrequencyClassIndex(Millis frequency) {
  for (size_t i = 0; i < kFrequencyClassCount; ++i) {
    if (kFrequencyClasses[i] == frequency) {
      return i;
    }
  }
  return std::nullopt;
}

const char* ToString(AckResult result) {
  switch (result) {
    case AckResult::kAcked:
      return "acked";
    case AckResult::kAlreadyAcked:
      return "already_acked";
    case AckResult::kUnknown:
      return "unknown";
  }
  return "unknown";
}

namespace {

// The class queue for a frequency that is not a class (only reachable by a caller that skips
// validation): the smallest class at least as long, else the longest.
size_t ClassFor(Millis frequency) {
  if (auto index = FrequencyClassIndex(frequency)) {
    return *index;
  }
  for (size_t i = 0; i < kFrequencyClassCount; ++i) {
    if (kFrequencyClasses[i] >= frequency) {
      return i;
    }
  }
  return kFrequencyClassCount - 1;
}

double SecondsBetween(Clock::TimePoint from, Clock::TimePoint to) {
  return std::max(0.0, std::chrono::duration<double>(to - from).count());
}

// An acked-id record: [forget_at ticks (rep)][id size (uint32_t)][id text].
constexpr size_t kAckIdOffset = sizeof(Clock::TimePoint::rep) + sizeof(uint32_t);

std::unique_ptr<char[]> MakeAckRecord(std::string_view id, Clock::TimePoint forget_at) {
  auto record = std::make_unique_for_overwrite<char[]>(kAckIdOffset + id.size());
  const Clock::TimePoint::rep ticks = forget_at.time_since_epoch().count();
  const auto size = static_cast<uint32_t>(id.size());
  std::memcpy(record.get(), &ticks, sizeof ticks);
  std::memcpy(record.get() + sizeof ticks, &size, sizeof size);
  std::memcpy(record.get() + kAckIdOffset, id.data(), id.size());
  return record;
}

Clock::TimePoint AckForgetAt(const char* record) {
  Clock::TimePoint::rep ticks = 0;
  std::memcpy(&ticks, record, sizeof ticks);
  return Clock::TimePoint(Clock::TimePoint::duration(ticks));
}

std::string_view AckId(const char* record) {
  uint32_t size = 0;
  std::memcpy(&size, record + sizeof(Clock::TimePoint::rep), sizeof size);
  return {record + kAckIdOffset, size};
}

}  // namespace

std::string_view WorkDispatcher::AckById::KeyOf(const char* record) const { return AckId(record); }

WorkDispatcher::WorkDispatcher(const Clock& clock, Options options)
    : clock_(clock), options_(options) {}

void WorkDispatcher::SetLatenessObserver(LatenessObserver observer) {
  MutexLock lock(mu_);
  lateness_observer_ = std::move(observer);
}

void WorkDispatcher::SetFailureHandler(FailureHandler handler) {
  MutexLock lock(mu_);
  failure_handler_ = std::move(handler);
}

void WorkDispatcher::SetWakeup(std::function<void()> wakeup) {
  MutexLock lock(mu_);
  wakeup_ = std::move(wakeup);
}

void WorkDispatcher::Enqueue(std::vector<WorkItem> items) {
  Deferred deferred;
  {
    MutexLock lock(mu_);
    const auto now = clock_.Now();
    const auto before = NextEventTimeLocked();
    std::vector<std::string> touched;
    for (auto& item : items) {
      if (seq_by_id_.contains(item.id)) {
        continue;
      }
      Region& region = RegionLocked(item.region);
      auto& monitor_seqs = seqs_by_monitor_[item.monitor_uid];
      std::vector<uint64_t> coalesced;
      for (uint64_t seq : monitor_seqs) {
        const Entry& old = entries_.at(seq);
        if (old.state == ItemState::kQueued && old.item.region == item.region) {
          coalesced.push_back(seq);
        }
      }
      for (uint64_t seq : coalesced) {
        region.classes[entries_.at(seq).class_index].stats.coalesced++;
        EraseLocked(seq);
      }

      const uint64_t seq = next_seq_++;
      const auto class_index = static_cast<uint8_t>(ClassFor(item.frequency));
      if (std::find(touched.begin(), touched.end(), item.region) == touched.end()) {
        touched.push_back(item.region);
      }
      seqs_by_monitor_[item.monitor_uid].push_back(seq);
      seq_by_id_.emplace(item.id, seq);
      Entry& entry = entries_[seq];
      entry.item = std::move(item);
      entry.class_index = class_index;
      region.used[class_index] = true;
      region.classes[class_index].stats.enqueued++;
      QueueLocked(region, seq, entry, /*front=*/false);
    }
    for (const auto& name : touched) {
      ServeWaitersLocked(regions_.find(name)->second, now, deferred);
    }
    const auto after = NextEventTimeLocked();
    deferred.wake = after && (!before || *after < *before);
    CaptureHooksLocked(deferred);
  }
  RunDeferred(deferred);
}

void WorkDispatcher::UpdateMonitor(const std::string& uid, int64_t generation, Millis timeout,
                                   const std::vector<std::string>& regions) {
  MutexLock lock(mu_);
  auto it = seqs_by_monitor_.find(uid);
  if (it == seqs_by_monitor_.end()) {
    return;
  }
  const std::vector<uint64_t> seqs = it->second;
  for (uint64_t seq : seqs) {
    Entry& entry = entries_.at(seq);
    const bool region_kept = regions.empty() || std::find(regions.begin(), regions.end(),
                                                          entry.item.region) != regions.end();
    if (!region_kept) {
      DropLocked(seq);
      continue;
    }
    entry.item.generation = generation;
    entry.item.timeout = timeout;
  }
}

void WorkDispatcher::RemoveMonitor(const std::string& uid) {
  MutexLock lock(mu_);
  auto it = seqs_by_monitor_.find(uid);
  if (it == seqs_by_monitor_.end()) {
    return;
  }
  const std::vector<uint64_t> seqs = it->second;
  for (uint64_t seq : seqs) {
    DropLocked(seq);
  }
}

std::vector<WorkItem> WorkDispatcher::Lease(const std::string& region_name,
                                            const std::string& probe, size_t max_items) {
  Deferred deferred;
  std::vector<WorkItem> leased;
  {
    MutexLock lock(mu_);
    const auto now = clock_.Now();
    const auto before = NextEventTimeLocked();
    ExpireLeasesLocked(now, deferred);
    Region& region = RegionLocked(region_name);
    SeeProbeLocked(region, probe, now).max_items = max_items;
    leased = LeaseLocked(region, probe, max_items, now, deferred);
    const auto after = NextEventTimeLocked();
    deferred.wake = after && (!before || *after < *before);
    CaptureHooksLocked(deferred);
  }
  RunDeferred(deferred);
  return leased;
}

WorkDispatcher::WaiterId WorkDispatcher::LeaseOrWait(const std::string& region_name,
                                                     const std::string& probe, size_t max_items,
                                                     Clock::TimePoint deadline, Millis batch_wait,
                                                     LeaseCallback done) {
  Deferred deferred;
  WaiterId id = 0;
  {
    MutexLock lock(mu_);
    const auto now = clock_.Now();
    const auto before = NextEventTimeLocked();
    ExpireLeasesLocked(now, deferred);
    Region& region = RegionLocked(region_name);
    SeeProbeLocked(region, probe, now).max_items = max_items;
    if (region.queued > 0 || deadline <= now || max_items == 0) {
      deferred.leases.emplace_back(std::move(done),
                                   LeaseLocked(region, probe, max_items, now, deferred));
    } else {
      id = next_waiter_++;
      region.waiters.push_back(
          Waiter{id, probe, max_items, deadline, batch_wait, std::nullopt, std::move(done)});
    }
    const auto after = NextEventTimeLocked();
    deferred.wake = after && (!before || *after < *before);
    CaptureHooksLocked(deferred);
  }
  RunDeferred(deferred);
  return id;
}

bool WorkDispatcher::CancelWait(WaiterId id) {
  LeaseCallback cancelled;  // destroyed outside the lock: it may own arbitrary state
  MutexLock lock(mu_);
  for (auto& [name, region] : regions_) {
    auto it = std::find_if(region.waiters.begin(), region.waiters.end(),
                           [id](const Waiter& waiter) { return waiter.id == id; });
    if (it != region.waiters.end()) {
      cancelled = std::move(it->done);
      region.waiters.erase(it);
      return true;
    }
  }
  return false;
}

bool WorkDispatcher::BeginCommit(const std::string& item_id) {
  MutexLock lock(mu_);
  auto it = seq_by_id_.find(item_id);
  if (it == seq_by_id_.end()) {
    return false;
  }
  Entry& entry = entries_.at(it->second);
  if (entry.state != ItemState::kLeased) {
    return false;
  }
  entry.commits++;
  return true;
}

void WorkDispatcher::AbortCommit(const std::string& item_id) {
  Deferred deferred;
  {
    MutexLock lock(mu_);
    auto it = seq_by_id_.find(item_id);
    if (it == seq_by_id_.end()) {
      return;
    }
    const uint64_t seq = it->second;
    Entry& entry = entries_.at(seq);
    if (entry.state != ItemState::kLeased || entry.commits == 0 || --entry.commits > 0) {
      return;
    }
    const auto before = NextEventTimeLocked();
    const auto now = clock_.Now();
    entry.lease_serial++;
    entry.last_lease_expiry =
        std::max(entry.last_lease_expiry, now + entry.item.timeout + options_.lease_grace);
    expiries_.push(LeaseExpiry{entry.last_lease_expiry, seq, entry.lease_serial});
    const auto after = NextEventTimeLocked();
    deferred.wake = after && (!before || *after < *before);
    CaptureHooksLocked(deferred);
  }
  RunDeferred(deferred);
}

AckResult WorkDispatcher::Complete(const std::string& item_id) {
  MutexLock lock(mu_);
  const auto now = clock_.Now();
  ForgetAcksLocked(now);
  auto it = seq_by_id_.find(item_id);
  if (it == seq_by_id_.end()) {
    return acked_.Find(std::string_view(item_id)) != nullptr ? AckResult::kAlreadyAcked
                                                             : AckResult::kUnknown;
  }
  const uint64_t seq = it->second;
  const Entry& entry = entries_.at(seq);
  RegionLocked(entry.item.region).classes[entry.class_index].stats.acked++;
  RememberAckLocked(entry.item.id, std::max(now, entry.last_lease_expiry) + options_.ack_margin);
  EraseLocked(seq);
  return AckResult::kAcked;
}

bool WorkDispatcher::WasAcked(const std::string& item_id) const {
  MutexLock lock(mu_);
  const char* const* record = acked_.Find(std::string_view(item_id));
  return record != nullptr && AckForgetAt(*record) > clock_.Now();
}

void WorkDispatcher::TouchProbe(const std::string& region, const std::string& probe) {
  MutexLock lock(mu_);
  SeeProbeLocked(RegionLocked(region), probe, clock_.Now());
}

void WorkDispatcher::Tick() {
  Deferred deferred;
  {
    MutexLock lock(mu_);
    const auto now = clock_.Now();
    ExpireLeasesLocked(now, deferred);
    for (auto& named_region : regions_) {
      Region& region = named_region.second;
      ServeWaitersLocked(region, now, deferred);
      for (auto it = region.waiters.begin(); it != region.waiters.end();) {
        if (it->deadline <= now) {
          SeeProbeLocked(region, it->probe, now);
          deferred.leases.emplace_back(std::move(it->done), std::vector<WorkItem>{});
          it = region.waiters.erase(it);
        } else {
          ++it;
        }
      }
      std::erase_if(region.probes, [&](const auto& named) REQUIRES(mu_) {
        return named.second.in_flight == 0 && !ProbeConnectedLocked(region, named.first, now);
      });
    }
    ForgetAcksLocked(now);
    CaptureHooksLocked(deferred);
  }
  RunDeferred(deferred);
}

std::optional<Clock::TimePoint> WorkDispatcher::NextEventTime() const {
  MutexLock lock(mu_);
  return NextEventTimeLocked();
}

std::vector<ProbeInfo> WorkDispatcher::ConnectedProbes(const std::string& region_name) const {
  MutexLock lock(mu_);
  std::vector<ProbeInfo> probes;
  auto it = regions_.find(region_name);
  if (it == regions_.end()) {
    return probes;
  }
  const auto now = clock_.Now();
  for (const auto& [name, probe] : it->second.probes) {
    if (ProbeConnectedLocked(it->second, name, now)) {
      probes.push_back(
          ProbeInfo{name, region_name, probe.last_seen, probe.max_items, probe.in_flight});
    }
  }
  return probes;
}

std::vector<std::string> WorkDispatcher::ActiveRegions() const {
  MutexLock lock(mu_);
  const auto now = clock_.Now();
  std::vector<std::string> active;
  for (const auto& [name, region] : regions_) {
    for (const auto& named : region.probes) {
      if (ProbeConnectedLocked(region, named.first, now)) {
        active.push_back(name);
        break;
      }
    }
  }
  return active;
}

size_t WorkDispatcher::QueueDepth(const std::string& region_name, Millis frequency) const {
  MutexLock lock(mu_);
  auto it = regions_.find(region_name);
  if (it == regions_.end()) {
    return 0;
  }
  return it->second.classes[ClassFor(frequency)].stats.queued;
}

std::vector<QueueStats> WorkDispatcher::Stats() const {
  MutexLock lock(mu_);
  std::vector<QueueStats> rows;
  for (const auto& [name, region] : regions_) {
    for (size_t i = 0; i < kFrequencyClassCount; ++i) {
      if (!region.used[i]) {
        continue;
      }
      QueueStats row = region.classes[i].stats;
      row.region = name;
      row.frequency = kFrequencyClasses[i];
      rows.push_back(std::move(row));
    }
  }
  return rows;
}

DispatcherTotals WorkDispatcher::Totals() const {
  MutexLock lock(mu_);
  DispatcherTotals totals;
  for (const auto& [name, region] : regions_) {
    for (const auto& queue : region.classes) {
      const QueueStats& stats = queue.stats;
      totals.queued += stats.queued;
      totals.in_flight += stats.in_flight;
      totals.enqueued += stats.enqueued;
      totals.leased += stats.leased;
      totals.acked += stats.acked;
      totals.coalesced += stats.coalesced;
      totals.redelivered += stats.redelivered;
      totals.failed += stats.failed;
    }
  }
  totals.dropped = dropped_;
  totals.remembered_acks = acked_.size();
  return totals;
}

std::optional<WorkItem> WorkDispatcher::Find(const std::string& item_id) const {
  MutexLock lock(mu_);
  auto it = seq_by_id_.find(item_id);
  if (it == seq_by_id_.end()) {
    return std::nullopt;
  }
  return entries_.at(it->second).item;
}

void WorkDispatcher::RunDeferred(Deferred& deferred) {
  for (auto& [done, items] : deferred.leases) {
    done(std::move(items));
  }
  if (deferred.lateness_observer) {
    for (const auto& [frequency, seconds] : deferred.lateness) {
      deferred.lateness_observer(frequency, seconds);
    }
  }
  if (deferred.failure_handler) {
    for (auto& result : deferred.failures) {
      deferred.failure_handler(std::move(result));
    }
  }
  if (deferred.wake && deferred.wakeup) {
    deferred.wakeup();
  }
}

void WorkDispatcher::CaptureHooksLocked(Deferred& deferred) const {
  if (!deferred.lateness.empty()) {
    deferred.lateness_observer = lateness_observer_;
  }
  if (!deferred.failures.empty()) {
    deferred.failure_handler = failure_handler_;
  }
  if (deferred.wake) {
    deferred.wakeup = wakeup_;
  }
}

WorkDispatcher::Region& WorkDispatcher::RegionLocked(const std::string& name) {
  return regions_.try_emplace(name).first->second;
}

std::vector<WorkItem> WorkDispatcher::LeaseLocked(Region& region, const std::string& probe,
                                                  size_t max_items, Clock::TimePoint now,
                                                  Deferred& deferred) {
  std::vector<WorkItem> leased;
  Probe& lessee = SeeProbeLocked(region, probe, now);
  while (leased.size() < max_items && region.queued > 0) {
    size_t class_index = region.next_class;
    while (region.classes[class_index].items.empty()) {
      class_index = (class_index + 1) % kFrequencyClassCount;
    }
    region.next_class = (class_index + 1) % kFrequencyClassCount;
    ClassQueue& queue = region.classes[class_index];
    const uint64_t seq = queue.items.front();
    Entry& entry = entries_.at(seq);
    UnqueueLocked(region, entry);
    entry.state = ItemState::kLeased;
    entry.lease_serial++;
    entry.probe = probe;
    entry.leased_at = now;
    queue.stats.leased++;
    queue.stats.in_flight++;
    lessee.in_flight++;
    entry.last_lease_expiry =
        std::max(entry.last_lease_expiry, now + entry.item.timeout + options_.lease_grace);
    expiries_.push(LeaseExpiry{entry.last_lease_expiry, seq, entry.lease_serial});
    if (entry.item.attempt == 1) {
      deferred.lateness.emplace_back(entry.item.frequency,
                                     SecondsBetween(entry.item.scheduled_at, now));
    }
    leased.push_back(entry.item);
  }
  return leased;
}

void WorkDispatcher::ServeWaitersLocked(Region& region, Clock::TimePoint now, Deferred& deferred) {
  while (!region.waiters.empty() && region.queued > 0) {
    Waiter& first = region.waiters.front();
    if (region.queued < first.max_items && first.batch_wait > Millis(0)) {
      if (!first.serve_at) {
        first.serve_at = std::min(now + first.batch_wait, first.deadline);
      }
      if (now < *first.serve_at) {
        return;  // Tick() serves it at serve_at (NextEventTime), unless enough items come first
      }
    }
    Waiter waiter = std::move(region.waiters.front());
    region.waiters.pop_front();
    deferred.leases.emplace_back(
        std::move(waiter.done), LeaseLocked(region, waiter.probe, waiter.max_items, now, deferred));
  }
}

void WorkDispatcher::QueueLocked(Region& region, uint64_t seq, Entry& entry, bool front) {
  auto& items = region.classes[entry.class_index].items;
  entry.queue_position = front ? items.insert(items.begin(), seq) : items.insert(items.end(), seq);
  entry.state = ItemState::kQueued;
  region.queued++;
  region.classes[entry.class_index].stats.queued++;
}

void WorkDispatcher::UnqueueLocked(Region& region, Entry& entry) {
  region.classes[entry.class_index].items.erase(entry.queue_position);
  region.queued--;
  region.classes[entry.class_index].stats.queued--;
  if (region.queued == 0) {
    // Nothing is left for the parked long-polls (another lease took it): their batch wait starts
    // again with the next item, and a passed serve_at cannot make NextEventTime() stay due.
    for (Waiter& waiter : region.waiters) {
      waiter.serve_at.reset();
    }
  }
}

void WorkDispatcher::ReleaseLeaseLocked(Region& region, const Entry& entry) {
  region.classes[entry.class_index].stats.in_flight--;
  auto probe = region.probes.find(entry.probe);
  if (probe != region.probes.end() && probe->second.in_flight > 0) {
    probe->second.in_flight--;
  }
}

void WorkDispatcher::EraseLocked(uint64_t seq) {
  auto it = entries_.find(seq);
  Entry& entry = it->second;
  Region& region = RegionLocked(entry.item.region);
  if (entry.state == ItemState::kQueued) {
    UnqueueLocked(region, entry);
  } else {
    ReleaseLeaseLocked(region, entry);
  }
  seq_by_id_.erase(entry.item.id);
  auto monitor = seqs_by_monitor_.find(entry.item.monitor_uid);
  auto& seqs = monitor->second;
  seqs.erase(std::find(seqs.begin(), seqs.end(), seq));
  if (seqs.empty()) {
    seqs_by_monitor_.erase(monitor);
  }
  entries_.erase(it);
}

void WorkDispatcher::DropLocked(uint64_t seq) {
  Entry& entry = entries_.at(seq);
  if (entry.state == ItemState::kQueued) {
    dropped_++;
    EraseLocked(seq);
  } else {
    entry.orphaned = true;
  }
}

void WorkDispatcher::ExpireLeasesLocked(Clock::TimePoint now, Deferred& deferred) {
  std::vector<std::string> requeued_regions;
  while (!expiries_.empty() && expiries_.top().at <= now) {
    const LeaseExpiry expiry = expiries_.top();
    expiries_.pop();
    auto it = entries_.find(expiry.seq);
    if (it == entries_.end() || it->second.state != ItemState::kLeased ||
        it->second.lease_serial != expiry.serial) {
      continue;  // acked, dropped or leased again since
    }
    Entry& entry = it->second;
    if (entry.commits > 0) {
      continue;  // its result is being committed; AbortCommit() re-arms the lease
    }
    Region& region = RegionLocked(entry.item.region);
    QueueStats& stats = region.classes[entry.class_index].stats;
    if (entry.orphaned) {
      dropped_++;
      EraseLocked(expiry.seq);
      continue;
    }
    if (entry.item.attempt - 1 >= options_.max_redeliveries) {
      stats.failed++;
      deferred.failures.push_back(FailureResult(entry));
      EraseLocked(expiry.seq);
      continue;
    }
    ReleaseLeaseLocked(region, entry);
    entry.item.attempt++;
    stats.redelivered++;
    QueueLocked(region, expiry.seq, entry, /*front=*/true);
    if (std::find(requeued_regions.begin(), requeued_regions.end(), entry.item.region) ==
        requeued_regions.end()) {
      requeued_regions.push_back(entry.item.region);
    }
  }
  for (const auto& name : requeued_regions) {
    ServeWaitersLocked(RegionLocked(name), now, deferred);
  }
}

void WorkDispatcher::RememberAckLocked(const std::string& item_id, Clock::TimePoint forget_at) {
  const char** found = acked_.Find(std::string_view(item_id));
  if (found != nullptr && AckForgetAt(*found) >= forget_at) {
    return;
  }
  auto record = MakeAckRecord(item_id, forget_at);
  if (found == nullptr) {
    acked_.Insert(record.get());
  } else {
    *found = record.get();  // the same id text: the slot stays; the old record becomes stale
  }
  acked_forget_.push_back(AckForget{forget_at, std::move(record)});
  std::push_heap(acked_forget_.begin(), acked_forget_.end(), std::greater<>{});
}

void WorkDispatcher::ForgetAcksLocked(Clock::TimePoint now) {
  while (!acked_forget_.empty() && acked_forget_.front().at <= now) {
    std::pop_heap(acked_forget_.begin(), acked_forget_.end(), std::greater<>{});
    const AckForget expired = std::move(acked_forget_.back());
    acked_forget_.pop_back();
    const std::string_view id = AckId(expired.record.get());
    if (const char* const* current = acked_.Find(id);
        current != nullptr && *current == expired.record.get()) {
      acked_.Erase(id);  // before `expired` frees the record it points to
    }
  }
}

WorkDispatcher::Probe& WorkDispatcher::SeeProbeLocked(Region& region, const std::string& probe,
                                                      Clock::TimePoint now) {
  Probe& seen = region.probes[probe];
  seen.last_seen = std::max(seen.last_seen, now);
  return seen;
}

bool WorkDispatcher::ProbeConnectedLocked(const Region& region, const std::string& probe,
                                          Clock::TimePoint now) const {
  auto it = region.probes.find(probe);
  if (it != region.probes.end() && now - it->second.last_seen < options_.probe_timeout) {
    return true;
  }
  return std::any_of(region.waiters.begin(), region.waiters.end(),
                     [&](const Waiter& waiter) { return waiter.probe == probe; });
}

std::optional<Clock::TimePoint> WorkDispatcher::NextEventTimeLocked() const {
  std::optional<Clock::TimePoint> next;
  if (!expiries_.empty()) {
    next = expiries_.top().at;
  }
  for (const auto& [name, region] : regions_) {
    for (const auto& waiter : region.waiters) {
      const Clock::TimePoint at = waiter.serve_at.value_or(waiter.deadline);
      if (!next || at < *next) {
        next = at;
      }
    }
  }
  return next;
}

CheckResult WorkDispatcher::FailureResult(const Entry& entry) const {
  const WorkItem& item = entry.item;
  CheckResult result = CheckResult::NotChecked(
      {item.monitor_uid, item.generation, item.region, entry.probe, item.id, item.scheduled_at},
      entry.leased_at, std::string(kNoProbeCompleted));
  const auto slash = item.monitor_key.find('/');
  if (slash == std::string::npos) {
    result.monitor_name = item.monitor_key;
  } else {
    result.monitor_namespace = item.monitor_key.substr(0, slash);
    result.monitor_name = item.monitor_key.substr(slash + 1);
  }
  result.attempts = item.attempt;
  return result;
}

}  // namespace pharos
