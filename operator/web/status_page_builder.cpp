#include "operator/web/status_page_builder.h"

#include <algorithm>
#include <map>
#include <utility>

namespace pharos {
namespace {

using std::chrono::days;
using std::chrono::hours;

TimePoint Floor(TimePoint time, std::chrono::system_clock::duration period) {
  const auto since_epoch = time.time_since_epoch();
  auto floored = since_epoch - since_epoch % period;
  if (since_epoch % period < std::chrono::system_clock::duration::zero()) floored -= period;
  return TimePoint(floored);
}

bool HasLabels(const Monitor& monitor, const std::map<std::string, std::string>& labels) {
  for (const auto& [key, value] : labels) {
    const auto found = monitor.labels.find(key);
    if (found == monitor.labels.end() || found->second != value) return false;
  }
  return true;
}

// A component resolved to its monitor (or to none).
struct Resolved {
  const StatusPageComponent* spec = nullptr;
  std::optional<MonitorStatus> status;
  std::string display_name;
};

bool Overlaps(TimePoint start, TimePoint end, TimePoint from, TimePoint to) {
  return start < to && end > from;
}

// The day of `time` counted from `first_day` (negative before it).
int64_t DayIndex(TimePoint time, TimePoint first_day) {
  return (Floor(time, std::chrono::days(1)) - first_day) / std::chrono::days(1);
}

}  // namespace

std::string MonitorDisplayName(const Monitor& monitor) {
  const auto annotation = monitor.annotations.find(std::string(kDisplayNameAnnotation));
  if (annotation != monitor.annotations.end() && !annotation->second.empty()) {
    return annotation->second;
  }
  return monitor.name;
}

Result<StatusPageView> StatusPageBuilder::Build(const std::shared_ptr<const StatusPage>& page,
                                                TimePoint now) {
  StatusPageView view;
  view.page = page;
  view.now = now;

  // 1. Components → monitors.
  std::optional<std::vector<MonitorStatus>> everything;
  std::vector<std::pair<std::string, std::vector<Resolved>>> groups;
  for (const StatusPageGroup& group : page->groups) {
    std::vector<Resolved> resolved;
    for (const StatusPageComponent& component : group.components) {
      if (!component.selects()) {
        Resolved one{&component, status_.SnapshotByKey(component.namespace_name, component.monitor),
                     component.display_name};
        if (one.display_name.empty()) {
          one.display_name =
              one.status ? MonitorDisplayName(*one.status->monitor) : component.monitor;
        }
        resolved.push_back(std::move(one));
        continue;
      }
      if (!everything) everything = status_.SnapshotAll();
      for (const MonitorStatus& status : *everything) {
        const Monitor& monitor = *status.monitor;
        if ((!component.namespace_name.empty() &&
             monitor.namespace_name != component.namespace_name) ||
            !HasLabels(monitor, component.match_labels)) {
          continue;
        }
        resolved.push_back(Resolved{&component, status, MonitorDisplayName(monitor)});
      }
    }
    if (page->group_by_namespace) {
      for (Resolved& one : resolved) {
        const std::string& namespace_name = one.status->monitor->namespace_name;
        if (groups.empty() || groups.back().first != namespace_name) {
          groups.emplace_back(namespace_name, std::vector<Resolved>{});
        }
        groups.back().second.push_back(std::move(one));
      }
    } else {
      groups.emplace_back(group.name, std::move(resolved));
    }
  }

  // A page of thousands of components helps no reader: the first kMaxComponents are shown.
  size_t shown = 0;
  for (auto& [name, resolved] : groups) {
    const size_t room = kMaxComponents - std::min(kMaxComponents, shown);
    if (resolved.size() > room) {
      view.components_left_out += resolved.size() - room;
      resolved.resize(room);
    }
    shown += resolved.size();
  }
  std::erase_if(groups, [](const auto& group) { return group.second.empty(); });

  std::vector<std::string> uids;
  for (const auto& [name, resolved] : groups) {
    for (const Resolved& one : resolved) {
      if (one.status) uids.push_back(one.status->monitor->uid);
    }
  }
  std::sort(uids.begin(), uids.end());
  uids.erase(std::unique(uids.begin(), uids.end()), uids.end());

  // The page's monitors by their position in `uids`.
  auto index_of = [&uids](const std::string& uid) {
    return static_cast<size_t>(std::lower_bound(uids.begin(), uids.end(), uid) - uids.begin());
  };

  // 2. Rollups of every monitor at once: the complete days before today, and the last 24 hours
  // (which hold all of today's hours), both kept by the cache between builds. Today's daily
  // bucket is the sum of today's hourly ones, so that only the current hour is read from the
  // store at each build.
  const TimePoint today = Floor(now, days(1));
  const TimePoint first_day = today - days(kDays - 1);
  const TimePoint first_hour = Floor(now, hours(1)) - hours(kHours - 1);
  std::vector<RollupCountsCache::MonitorBuckets> daily;   // by position in uids
  std::vector<RollupCountsCache::MonitorBuckets> hourly;  // by position in uids
  std::vector<std::optional<BucketCounts>> today_of(uids.size());
  if (!uids.empty()) {
    Result<std::vector<RollupCountsCache::MonitorBuckets>> days_before = rollups_.Read(
        BucketCountsQuery{uids, RollupPeriod::kDay, page->regions, first_day, today}, now);
    if (!days_before) {
      return Error{"reading the uptime of the page's monitors: " + days_before.error()};
    }
    daily = std::move(days_before).value();
    Result<std::vector<RollupCountsCache::MonitorBuckets>> hours_read =
        rollups_.Read(BucketCountsQuery{uids, RollupPeriod::kHour, page->regions, first_hour,
                                        first_hour + hours(kHours)},
                      now);
    if (!hours_read) {
      return Error{"reading the uptime of the page's monitors: " + hours_read.error()};
    }
    hourly = std::move(hours_read).value();
    for (size_t i = 0; i < uids.size(); ++i) {
      auto add = [&](const BucketCounts& bucket) {
        if (bucket.bucket_start < today) return;
        if (!today_of[i]) today_of[i] = BucketCounts{bucket.monitor_uid, today};
        BucketCounts& sum = *today_of[i];
        sum.total += bucket.total;
        sum.up += bucket.up;
        sum.degraded += bucket.degraded;
        sum.down += bucket.down;
        sum.errors += bucket.errors;
        sum.latency_sum_us += bucket.latency_sum_us;
      };
      for (const BucketCounts& bucket : *hourly[i].complete) add(bucket);
      for (const BucketCounts& bucket : hourly[i].current) add(bucket);
    }
  }

  // 3. Maintenance periods of the page's monitors.
  const std::vector<MaintenancePeriod> periods =
      calendar_.Periods(first_day, now + days(kUpcomingMaintenanceDays));
  auto covers = [](const MaintenancePeriod& period, const std::string& key) {
    return std::binary_search(period.monitor_keys.begin(), period.monitor_keys.end(), key);
  };

  // 4. Incidents, only of monitors that failed a check in these days or have one open, in one
  // query for all of them.
  std::vector<std::vector<IncidentRecord>> incidents(uids.size());
  const TimePoint window_end = first_day + days(kDays);
  {
    IncidentWindowQuery query;
    query.from = first_day;
    query.to = window_end;
    query.limit_per_monitor = kIncidentsPerMonitor;
    std::vector<bool> asked(uids.size(), false);
    for (const auto& [name, resolved] : groups) {
      for (const Resolved& one : resolved) {
        if (!one.status) continue;
        const size_t at = index_of(one.status->monitor->uid);
        if (asked[at]) continue;
        const std::vector<BucketCounts>& buckets = *daily[at].complete;
        const bool failed = (today_of[at] && today_of[at]->down > 0) ||
                            std::any_of(buckets.begin(), buckets.end(),
                                        [](const BucketCounts& bucket) { return bucket.down > 0; });
        if (!failed && !one.status->incident) continue;
        asked[at] = true;
        query.monitor_uids.push_back(uids[at]);
      }
    }
    if (!query.monitor_uids.empty()) {
      Result<std::vector<IncidentRecord>> records = incidents_.ListIncidentsInWindow(query);
      if (!records) {
        return Error{"reading the incidents of the page's monitors: " + records.error()};
      }
      for (IncidentRecord& record : *records) {
        const size_t at = index_of(record.incident.monitor_uid);
        if (at >= uids.size() || uids[at] != record.incident.monitor_uid || !asked[at]) continue;
        const TimePoint end = record.incident.resolved_at.value_or(now);
        if (Overlaps(record.incident.opened_at,
                     std::max(end, record.incident.opened_at + std::chrono::milliseconds(1)),
                     first_day, window_end)) {
          incidents[at].push_back(std::move(record));
        }
      }
    }
  }

  // 5. Components.
  std::vector<std::optional<MonitorState>> states;
  std::map<std::string, std::string> component_of_uid;  // first component showing the monitor
  for (auto& [group_name, resolved] : groups) {
    GroupView group_view{group_name, {}};
    for (Resolved& one : resolved) {
      ComponentView component;
      component.display_name = one.display_name;
      component.description = one.spec->description;
      if (!one.status) {
        component.namespace_name = one.spec->namespace_name;
        component.monitor_name = one.spec->monitor;
        component.days.resize(kDays);
        for (int i = 0; i < kDays; ++i) component.days[i].day = first_day + days(i);
        component.latency_hours.resize(kHours);
        states.push_back(std::nullopt);
        group_view.components.push_back(std::move(component));
        continue;
      }
      const MonitorStatus& status = *one.status;
      const Monitor& monitor = *status.monitor;
      component.namespace_name = monitor.namespace_name;
      component.monitor_name = monitor.name;
      component.monitor_uid = monitor.uid;
      component.state = status.state;
      component.since = status.last_transition_time;
      for (const RegionStatus& region : status.regions) {
        if (page->regions.empty() || std::find(page->regions.begin(), page->regions.end(),
                                               region.name) != page->regions.end()) {
          component.regions.push_back(region);
        }
      }
      component_of_uid.emplace(monitor.uid, component.display_name);
      const std::string key = monitor.Key();
      const size_t at = index_of(monitor.uid);
      const std::vector<IncidentRecord>& records = incidents[at];

      std::vector<const BucketCounts*> by_day(kDays, nullptr);
      for (const BucketCounts& bucket : *daily[at].complete) {
        const auto index = (bucket.bucket_start - first_day) / days(1);
        if (index >= 0 && index < kDays) by_day[static_cast<size_t>(index)] = &bucket;
      }
      if (today_of[at]) by_day[kDays - 1] = &*today_of[at];
      int64_t passed = 0;
      int64_t failed = 0;
      component.days.resize(kDays);
      for (int i = 0; i < kDays; ++i) {
        DayView& day = component.days[static_cast<size_t>(i)];
        day.day = first_day + days(i);
        if (const BucketCounts* bucket = by_day[static_cast<size_t>(i)]) {
          day.facts.passed = bucket->up + bucket->degraded;
          day.facts.degraded = bucket->degraded;
          day.facts.failed = bucket->down;
          day.uptime = bucket->UptimePercent();
          passed += day.facts.passed;
          failed += day.facts.failed;
        }
      }
      // Each incident counts on every day it was open (an instant one on the day it opened).
      for (const IncidentRecord& record : records) {
        const TimePoint opened = record.incident.opened_at;
        const TimePoint end = std::max(record.incident.resolved_at.value_or(now),
                                       opened + std::chrono::milliseconds(1));
        const int64_t first = std::max<int64_t>(0, DayIndex(opened, first_day));
        const int64_t last =
            std::min<int64_t>(kDays - 1, DayIndex(end - TimePoint::duration(1), first_day));
        for (int64_t i = first; i <= last; ++i) {
          ++component.days[static_cast<size_t>(i)].facts.incidents;
        }
      }
      for (DayView& day : component.days) {
        const TimePoint day_end = day.day + days(1);
        for (const MaintenancePeriod& period : periods) {
          if (Overlaps(period.start, period.end, day.day, day_end) && covers(period, key)) {
            day.facts.maintenance = true;
          }
        }
        day.level = LevelOf(day.facts);
      }
      if (passed + failed > 0) {
        component.uptime =
            100.0 * static_cast<double>(passed) / static_cast<double>(passed + failed);
      }
      component.latency_hours.assign(kHours, std::nullopt);
      auto latency = [&](const BucketCounts& bucket) {
        const auto index = (bucket.bucket_start - first_hour) / hours(1);
        if (index >= 0 && index < kHours) {
          component.latency_hours[static_cast<size_t>(index)] = bucket.MeanLatencyUs();
        }
      };
      for (const BucketCounts& bucket : *hourly[at].complete) latency(bucket);
      for (const BucketCounts& bucket : hourly[at].current) latency(bucket);
      states.push_back(status.state);
      group_view.components.push_back(std::move(component));
    }
    view.groups.push_back(std::move(group_view));
  }

  // 6. Maintenance now and ahead.
  bool maintenance_active = false;
  for (const MaintenancePeriod& period : periods) {
    if (period.end <= now) continue;
    MaintenanceView maintenance{period, {}};
    for (const GroupView& group : view.groups) {
      for (const ComponentView& component : group.components) {
        if (!component.monitor_uid.empty() &&
            covers(period, component.namespace_name + "/" + component.monitor_name) &&
            std::find(maintenance.components.begin(), maintenance.components.end(),
                      component.display_name) == maintenance.components.end()) {
          maintenance.components.push_back(component.display_name);
        }
      }
    }
    if (maintenance.components.empty()) continue;
    if (period.start <= now) {
      maintenance_active = true;
      view.active_maintenance.push_back(std::move(maintenance));
    } else {
      view.upcoming_maintenance.push_back(std::move(maintenance));
    }
  }

  // 7. Incidents, newest first (records are ordered by reference: views are large to move).
  std::vector<IncidentRecord*> ordered;
  for (size_t at = 0; at < uids.size(); ++at) {
    for (IncidentRecord& record : incidents[at]) ordered.push_back(&record);
  }
  std::stable_sort(ordered.begin(), ordered.end(),
                   [](const IncidentRecord* a, const IncidentRecord* b) {
                     return a->incident.opened_at > b->incident.opened_at;
                   });
  for (IncidentRecord* record : ordered) {
    IncidentView incident;
    incident.component = component_of_uid[record->incident.monitor_uid];
    incident.screenshot_urls = record->screenshot_urls;
    if (screenshots_ != nullptr) {
      for (std::string& url : screenshots_->UrlsForIncident(record->incident.id)) {
        if (std::find(incident.screenshot_urls.begin(), incident.screenshot_urls.end(), url) ==
            incident.screenshot_urls.end()) {
          incident.screenshot_urls.push_back(std::move(url));
        }
      }
    }
    const bool resolved = record->phase == IncidentPhase::kResolved;
    incident.record = std::move(*record);
    (resolved ? view.resolved_incidents : view.active_incidents).push_back(std::move(incident));
  }

  view.status = OverallStatus(states, maintenance_active);
  return view;
}

}  // namespace pharos
