#include "operator/control/summary_refresher.h"

#include <pthread.h>

#include <algorithm>
#include <utility>

#include "common/logging.h"

namespace pharos {
namespace {

const Logger& Log() {
  static const Logger logger("summaries");
  return logger;
}

double Seconds(Clock::TimePoint::duration duration) {
  return std::chrono::duration<double>(duration).count();
}

}  // namespace

SummaryRefresher::SummaryRefresher(const Clock& clock, HistoryReader& reader, Target& target,
                                   MetricsRegistry& registry, Options options)
    : clock_(clock), reader_(reader), target_(target), registry_(registry), options_(options) {
  collector_ = registry_.AddCollector([this](MetricsWriter& writer) { Collect(writer); });
}

SummaryRefresher::~SummaryRefresher() {
  Stop();
  registry_.RemoveCollector(collector_);
}

void SummaryRefresher::Start() {
  MutexLock lifecycle(lifecycle_mu_);
  if (thread_.joinable()) {
    return;
  }
  thread_ = std::jthread([this](const std::stop_token& stop) { Run(stop); });
}

void SummaryRefresher::Stop() {
  MutexLock lifecycle(lifecycle_mu_);
  if (!thread_.joinable()) {
    return;
  }
  thread_.request_stop();  // ends the wait (CondVar with the stop token); a call finishes first
  thread_.join();
  thread_ = std::jthread();
}

void SummaryRefresher::Run(const std::stop_token& stop) {
  pthread_setname_np(pthread_self(), "pharos-summary");
  while (!stop.stop_requested()) {
    const TimePoint next = Step();
    const auto wait = std::max(Clock::TimePoint::duration::zero(), next - clock_.Now());
    MutexLock lock(mu_);
    stop_cv_.WaitFor(mu_, stop, wait, [] { return false; });
  }
}

SummaryRefresher::TimePoint SummaryRefresher::Step() {
  MutexLock step(step_mu_);
  const TimePoint now = clock_.Now();
  if (now < not_before_) {
    return not_before_;
  }
  Target::Due due = target_.TakeDueSummaries(options_.batch, now);
  {
    MutexLock lock(mu_);
    NoteLook(due, now);
  }
  if (due.uids.empty()) {
    return now + options_.idle;
  }
  // One call for the batch, outside every lock: a remote store answers it with a few queries.
  Result<std::vector<MonitorSummary>> summaries = reader_.SummarizeMany(due.uids, now);
  const TimePoint end = clock_.Now();
  if (!summaries || summaries->size() != due.uids.size()) {
    target_.ReleaseSummaries(due.uids);
    MutexLock lock(mu_);
    ++failures_;
    ++streak_;
    const auto steady = clock_.SteadyNow();
    if (streak_ == 1 || !failure_logged_ || steady - *failure_logged_ >= std::chrono::minutes(1)) {
      failure_logged_ = steady;
      Log().Warn(
          "computing uptime and latency failed; the API and Monitor.status keep showing the last "
          "figures computed",
          {{"monitors", static_cast<int64_t>(due.uids.size())},
           {"failed_calls", static_cast<int64_t>(streak_)},
           {"error", summaries ? std::string("a summary is missing") : summaries.error()},
           {"hint",
            "check that the history store answers (with ClickHouse: the server's log and "
            "pharos_history_fallbacks_total); pharos_uptime_oldest_age_seconds shows how old "
            "the figures are"}});
    }
    not_before_ = end + options_.retry;
    return not_before_;
  }
  target_.ApplySummaries(due.uids, *summaries, now);
  {
    MutexLock lock(mu_);
    refreshed_ += due.uids.size();
    last_apply_ = end;
    if (streak_ > 0) {
      Log().Info("computing uptime and latency works again",
                 {{"failed_calls", static_cast<int64_t>(streak_)}});
      streak_ = 0;
    }
  }
  not_before_ = end + options_.pause;
  return not_before_;
}

void SummaryRefresher::NoteLook(const Target::Due& due, TimePoint now) {
  missing_ = due.missing;
  oldest_ = due.oldest;
  if (!sweep_start_ || due.monitors == 0) {
    sweep_start_ = now;  // no monitor: the first sweep starts when there are some
    return;
  }
  if (due.missing > 0 || !due.oldest || *due.oldest < *sweep_start_) {
    return;
  }
  // Every summary was computed after the sweep began: it ended with the last call.
  const TimePoint end = last_apply_ && *last_apply_ >= *sweep_start_ ? *last_apply_ : now;
  last_sweep_ = std::chrono::duration_cast<std::chrono::milliseconds>(end - *sweep_start_);
  sweep_start_ = end;
  const bool slow = *last_sweep_ > options_.max_age;
  if (slow && !sweep_slow_) {
    Log().Warn(
        "refreshing the uptime summaries of every monitor took longer than their refresh "
        "interval: the API's uptime and latency figures are that old",
        {{"sweep_seconds", Seconds(*last_sweep_)},
         {"interval_seconds", Seconds(options_.max_age)},
         {"monitors", static_cast<int64_t>(due.monitors)},
         {"batch", static_cast<int64_t>(options_.batch)},
         {"hint",
          "the history store answers too slowly for this many monitors: with ClickHouse check "
          "its load, raise --clickhouse-summary-batch or lower --clickhouse-summary-pause "
          "(docs/analytics.md)"}});
  } else if (!slow && sweep_slow_) {
    Log().Info("the uptime summaries of every monitor are refreshed within their interval again",
               {{"sweep_seconds", Seconds(*last_sweep_)}});
  }
  sweep_slow_ = slow;
}

std::optional<std::chrono::milliseconds> SummaryRefresher::last_sweep() const {
  MutexLock lock(mu_);
  return last_sweep_;
}

void SummaryRefresher::Collect(MetricsWriter& writer) {
  const TimePoint now = clock_.Now();
  MutexLock lock(mu_);
  writer.BeginFamily("pharos_uptime_sweep_seconds",
                     "Time the last complete sweep took to refresh the uptime/latency summary of "
                     "every monitor.",
                     MetricType::kGauge);
  if (last_sweep_) {
    writer.Sample({}, Seconds(*last_sweep_));
  }
  writer.BeginFamily("pharos_uptime_oldest_age_seconds",
                     "Age of the oldest uptime/latency summary shown (monitors without one are "
                     "counted in pharos_uptime_missing).",
                     MetricType::kGauge);
  writer.Sample({}, oldest_ ? std::max(0.0, Seconds(now - *oldest_)) : 0.0);
  writer.BeginFamily("pharos_uptime_missing",
                     "Monitors whose uptime/latency summary was not computed yet.",
                     MetricType::kGauge);
  writer.Sample({}, static_cast<double>(missing_));
  writer.BeginFamily("pharos_uptime_refreshed_total",
                     "Uptime/latency summaries computed from the history store.",
                     MetricType::kCounter);
  writer.Sample({}, static_cast<double>(refreshed_));
  writer.BeginFamily("pharos_uptime_refresh_failures_total",
                     "Calls to the history store for uptime/latency summaries that failed (the "
                     "monitors keep their last figures).",
                     MetricType::kCounter);
  writer.Sample({}, static_cast<double>(failures_));
}

}  // namespace pharos
