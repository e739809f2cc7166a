#pragma once

// SummaryRefresher: keeps the uptime/latency summaries that the JSON API, Monitor.status and
// /metrics show (OperatorCore's MonitorRuntime::summary) fresh, on a thread of its own
// ("pharos-summary"), so that a slow history store (ClickHouse answering in seconds) never holds
// up housekeeping, ingestion or the API, which read the summaries from memory.
//
// Rules (docs/analytics.md, "Uptime summaries"):
// * Each step asks its Target for the summaries that are due, oldest first (missing ones
//   first of all), at most `batch` of them, and computes them with one
//   HistoryReader::SummarizeMany call outside every lock of the Target.
// * Pace: after a call the next one starts `pause` later (0: at once, i.e. as fast as the store
//   answers); when none is due it looks again after `idle`; after a failure after `retry`. So
//   every monitor is refreshed in about the time the store needs for all of them, in calls of
//   `batch`, and never faster than `pause` allows.
// * A failed call keeps every summary as it was (the Target is told to Release them: they are
//   due again); it is logged (once per failure streak, then at most once a minute) and counted.
// * A monitor removed while its call runs is skipped by the Target when the answer comes; one
//   added is missing, hence first in the next call.
// * Sweep: the time until every monitor holds a summary computed after the sweep began; the
//   next sweep begins when one ends. Exposed with the age of the oldest summary.
// Metrics (docs/monitoring.md): pharos_uptime_sweep_seconds, pharos_uptime_oldest_age_seconds,
// pharos_uptime_missing, pharos_uptime_refreshed_total,
// pharos_uptime_refresh_failures_total.
//
// Time comes from the clock the Target's summary times are on (the schedule time line). Tests
// call Step() in virtual time instead of Start().
// Thread-safety: Start/Stop from the owner's thread; Step from one thread at a time (it is
// serialised); the metrics collector from any thread.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/metrics_registry.h"
#include "common/mutex.h"
#include "operator/control/result_store.h"

namespace pharos {

class SummaryRefresher {
 public:
  using TimePoint = Clock::TimePoint;

  struct Options {
    size_t batch = 200;                         // monitors per SummarizeMany call
    std::chrono::milliseconds pause{1'000};     // between two calls
    std::chrono::milliseconds idle{1'000};      // between two looks when none was due
    std::chrono::milliseconds retry{5'000};     // after a failed call
    std::chrono::milliseconds max_age{60'000};  // a sweep longer than this is logged
  };

  // What is refreshed: the owner's summaries, behind the owner's own lock. Called on the
  // refresher's thread (or the Step caller's) without any refresher lock held.
  class Target {
   public:
    struct Due {
      std::vector<std::string> uids;  // monitors to summarise now, oldest summary first
      size_t monitors = 0;            // every monitor
      size_t missing = 0;             // monitors without any summary yet
      // The oldest summary's time among the monitors that have one.
      std::optional<TimePoint> oldest;
    };

    virtual ~Target() = default;
    // At most `max` due summaries at `now`, and the figures above. The uids returned are
    // claimed: a change after this call makes them due again even if Apply follows.
    virtual Due TakeDueSummaries(size_t max, TimePoint now) = 0;
    // The answer for `uids` (same order), computed at `at`; unknown uids are skipped.
    virtual void ApplySummaries(const std::vector<std::string>& uids,
                                const std::vector<MonitorSummary>& summaries, TimePoint at) = 0;
    // The call for `uids` failed: they keep their summaries and are due again.
    virtual void ReleaseSummaries(const std::vector<std::string>& uids) = 0;
  };

  // `clock`, `reader`, `target` and `registry` must outlive the refresher; the metrics are
  // registered at once.
  SummaryRefresher(const Clock& clock, HistoryReader& reader, Target& target,
                   MetricsRegistry& registry, Options options);
  ~SummaryRefresher();  // Stop()
  SummaryRefresher(const SummaryRefresher&) = delete;
  SummaryRefresher& operator=(const SummaryRefresher&) = delete;

  // Starts the thread "pharos-summary". Idempotent.
  void Start();
  // Waits for the call in flight (if any) and stops the thread. Idempotent.
  void Stop();
  // One look at clock.Now() and, if summaries are due and the pace allows, one call. Returns
  // when the next step is due.
  TimePoint Step();

  // Duration of the last complete sweep; nullopt before the first.
  std::optional<std::chrono::milliseconds> last_sweep() const;

 private:
  void Run(const std::stop_token& stop);
  void Collect(MetricsWriter& writer);
  // Records what a look saw, and the sweep it completed.
  void NoteLook(const Target::Due& due, TimePoint now) REQUIRES(mu_);

  const Clock& clock_;
  HistoryReader& reader_;
  Target& target_;
  MetricsRegistry& registry_;
  const Options options_;

  Mutex step_mu_;                                // one Step at a time
  TimePoint not_before_ GUARDED_BY(step_mu_){};  // the pace: no call before this

  mutable Mutex mu_;  // what the metrics and the thread read
  std::optional<TimePoint> sweep_start_ GUARDED_BY(mu_);
  std::optional<TimePoint> last_apply_ GUARDED_BY(mu_);  // end of the last successful call
  std::optional<std::chrono::milliseconds> last_sweep_ GUARDED_BY(mu_);
  bool sweep_slow_ GUARDED_BY(mu_) = false;  // the last sweep took longer than max_age
  size_t missing_ GUARDED_BY(mu_) = 0;
  std::optional<TimePoint> oldest_ GUARDED_BY(mu_);
  uint64_t refreshed_ GUARDED_BY(mu_) = 0;
  uint64_t failures_ GUARDED_BY(mu_) = 0;
  uint64_t streak_ GUARDED_BY(mu_) = 0;  // failed calls since the last success
  std::optional<std::chrono::steady_clock::time_point> failure_logged_ GUARDED_BY(mu_);
  CondVar stop_cv_;  // with mu_: the thread's waits, ended by Stop

  MetricsRegistry::CollectorId collector_ = 0;
  Mutex lifecycle_mu_;
  std::jthread thread_ GUARDED_BY(lifecycle_mu_);
};

}  // namespace pharos
