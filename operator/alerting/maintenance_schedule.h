#pragma once

// MaintenanceSchedule: the MaintenanceCalendar of a set of MaintenanceWindows (from files in
// `pharos run`, from MaintenanceWindow resources in Kubernetes), replaced whole whenever the
// windows change. The core asks InMaintenance for every monitor each housekeeping pass, so the
// schedule keeps the windows active at the last time asked and until when that answer holds
// (the next start or end of an occurrence): between two changes a call costs one look at the
// active windows, whatever the number of windows or how their cron expressions read.
// Thread-safety: every method may be called from any thread.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "common/monitor.h"
#include "common/mutex.h"
#include "operator/alerting/maintenance_window.h"
#include "operator/control/maintenance_calendar.h"

namespace pharos {

class MaintenanceSchedule final : public MaintenanceCalendar {
 public:
  // The monitors known now (Periods lists those each window covers); may be empty.
  using MonitorLister = std::function<std::vector<std::shared_ptr<const Monitor>>()>;

  explicit MaintenanceSchedule(MonitorLister monitors = {});

  // Replaces every window.
  void Replace(std::vector<MaintenanceWindow> windows);
  // Adds or replaces the window of the same namespace/name; removes one.
  void Upsert(MaintenanceWindow window);
  void Remove(const std::string& key);

  bool InMaintenance(const Monitor& monitor, TimePoint now) const override;
  std::vector<MaintenancePeriod> Periods(TimePoint from, TimePoint to) const override;
  std::optional<uint64_t> AnswersVersion(TimePoint now) const override;

  // The windows active at `now` that cover `monitor` (keys), for timelines.
  std::vector<std::string> ActiveWindows(const Monitor& monitor, TimePoint now) const;
  size_t size() const;

 private:
  using Windows = std::vector<std::shared_ptr<const MaintenanceWindow>>;
  // The windows active at `now`.
  const Windows& ActiveLocked(TimePoint now) const REQUIRES(mu_);

  const MonitorLister monitors_;
  mutable Mutex mu_;
  Windows windows_ GUARDED_BY(mu_);
  // The answer of ActiveLocked for [cached_from_, cached_until_).
  mutable Windows active_ GUARDED_BY(mu_);
  mutable TimePoint cached_from_ GUARDED_BY(mu_){};
  mutable TimePoint cached_until_ GUARDED_BY(mu_){};
  mutable bool cache_valid_ GUARDED_BY(mu_) = false;
  // Moves on every change of the windows and of the active set (AnswersVersion).
  mutable uint64_t version_ GUARDED_BY(mu_) = 0;
};

}  // namespace pharos
