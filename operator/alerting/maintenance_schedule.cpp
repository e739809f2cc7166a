#include "operator/alerting/maintenance_schedule.h"

#include <algorithm>
#include <tuple>

namespace pharos {
namespace {

// How far ahead the next change of the active set is looked for; the answer is then good for at
// most this long (a recurring window's next start may lie further out).
constexpr std::chrono::hours kLookAhead{1};

}  // namespace

MaintenanceSchedule::MaintenanceSchedule(MonitorLister monitors) : monitors_(std::move(monitors)) {}

void MaintenanceSchedule::Replace(std::vector<MaintenanceWindow> windows) {
  Windows shared;
  shared.reserve(windows.size());
  for (MaintenanceWindow& window : windows) {
    shared.push_back(std::make_shared<const MaintenanceWindow>(std::move(window)));
  }
  MutexLock lock(mu_);
  windows_ = std::move(shared);
  cache_valid_ = false;
  ++version_;
}

void MaintenanceSchedule::Upsert(MaintenanceWindow window) {
  auto shared = std::make_shared<const MaintenanceWindow>(std::move(window));
  MutexLock lock(mu_);
  auto found = std::find_if(windows_.begin(), windows_.end(),
                            [&](const auto& w) { return w->Key() == shared->Key(); });
  if (found != windows_.end()) {
    *found = std::move(shared);
  } else {
    windows_.push_back(std::move(shared));
  }
  cache_valid_ = false;
  ++version_;
}

void MaintenanceSchedule::Remove(const std::string& key) {
  MutexLock lock(mu_);
  std::erase_if(windows_, [&](const auto& w) { return w->Key() == key; });
  cache_valid_ = false;
  ++version_;
}

size_t MaintenanceSchedule::size() const {
  MutexLock lock(mu_);
  return windows_.size();
}

const MaintenanceSchedule::Windows& MaintenanceSchedule::ActiveLocked(TimePoint now) const {
  if (cache_valid_ && now >= cached_from_ && now < cached_until_) {
    return active_;
  }
  Windows previous = std::move(active_);
  active_.clear();
  TimePoint until = now + kLookAhead;
  for (const auto& window : windows_) {
    // Occurrences overlapping [now, now + look-ahead): active ones end the answer at their end,
    // future ones at their start.
    for (const auto& [start, end] : window->Occurrences(now, now + kLookAhead)) {
      if (start <= now && now < end) {
        if (active_.empty() || active_.back() != window) active_.push_back(window);
        until = std::min(until, end);
      } else if (start > now) {
        until = std::min(until, start);
      }
    }
  }
  cached_from_ = now;
  cached_until_ = until;
  cache_valid_ = true;
  if (active_ != previous) ++version_;
  return active_;
}

std::optional<uint64_t> MaintenanceSchedule::AnswersVersion(TimePoint now) const {
  MutexLock lock(mu_);
  ActiveLocked(now);
  return version_;
}

bool MaintenanceSchedule::InMaintenance(const Monitor& monitor, TimePoint now) const {
  MutexLock lock(mu_);
  for (const auto& window : ActiveLocked(now)) {
    if (window->Covers(monitor)) return true;
  }
  return false;
}

std::vector<std::string> MaintenanceSchedule::ActiveWindows(const Monitor& monitor,
                                                            TimePoint now) const {
  std::vector<std::string> keys;
  MutexLock lock(mu_);
  for (const auto& window : ActiveLocked(now)) {
    if (window->Covers(monitor)) keys.push_back(window->Key());
  }
  return keys;
}

std::vector<MaintenancePeriod> MaintenanceSchedule::Periods(TimePoint from, TimePoint to) const {
  Windows windows;
  {
    MutexLock lock(mu_);
    windows = windows_;
  }
  std::vector<std::shared_ptr<const Monitor>> monitors;
  if (monitors_) monitors = monitors_();
  std::vector<MaintenancePeriod> periods;
  for (const auto& window : windows) {
    std::vector<std::string> keys;
    for (const auto& monitor : monitors) {
      if (monitor && window->Covers(*monitor)) keys.push_back(monitor->Key());
    }
    std::sort(keys.begin(), keys.end());
    for (const auto& [start, end] : window->Occurrences(from, to)) {
      MaintenancePeriod period;
      period.namespace_name = window->meta.namespace_name;
      period.name = window->meta.name;
      period.description = window->description;
      period.start = start;
      period.end = end;
      period.monitor_keys = keys;
      periods.push_back(std::move(period));
    }
  }
  std::sort(periods.begin(), periods.end(), [](const auto& a, const auto& b) {
    return std::tie(a.start, a.namespace_name, a.name) <
           std::tie(b.start, b.namespace_name, b.name);
  });
  return periods;
}

}  // namespace pharos
