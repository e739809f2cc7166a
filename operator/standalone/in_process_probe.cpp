#include "operator/standalone/in_process_probe.h"

#include <pthread.h>

#include <utility>

#include "common/logging.h"

namespace pharos {
namespace {

const Logger& Log() {
  static const Logger logger("local-probe");
  return logger;
}

}  // namespace

InProcessProbe::Checker InProcessProbe::EngineChecker(CheckEngine& engine) {
  return Checker{
      [&engine](std::shared_ptr<const Monitor> monitor, std::function<void(CheckResult)> done) {
        engine.Submit(std::move(monitor), std::move(done));
      },
      [&engine] { engine.Drain(); }};
}

InProcessProbe::Reporting::Reporting(MetricsRegistry& registry, size_t capacity)
    : capacity(capacity), metrics(registry, [this] {
        return ProbeMetrics::Gauges{in_flight.load(), this->capacity, unanswered.load()};
      }) {}

InProcessProbe::InProcessProbe(WorkLeaser& work, ResultSink& results, const StatusReader& specs,
                               const Clock& clock, MetricsRegistry& registry, Checker checker,
                               Options options)
    : work_(work),
      results_(results),
      specs_(specs),
      clock_(clock),
      checker_(std::move(checker)),
      options_(std::move(options)),
      reporting_(std::make_shared<Reporting>(registry, options_.capacity)) {}

InProcessProbe::~InProcessProbe() { Stop(); }

void InProcessProbe::Start() {
  if (thread_.joinable()) {
    return;
  }
  thread_ = std::jthread([this](const std::stop_token& stop) { Run(stop); });
}

void InProcessProbe::Stop() {
  if (!thread_.joinable()) {
    return;
  }
  thread_.request_stop();
  thread_.join();
  WorkLeaser::WaiterId waiter = 0;
  {
    MutexLock lock(mu_);
    if (waiting_) {
      waiter = waiter_;
    }
  }
  if (waiter != 0) {
    work_.CancelWait(waiter);
  }
  checker_.drain();
  MutexLock lock(mu_);
  if (!leased_.empty()) {
    Log().Info("work leased during shutdown was not started; it will be redelivered",
               {{"items", leased_.size()}});
    leased_.clear();
  }
}

size_t InProcessProbe::in_flight() const {
  MutexLock lock(mu_);
  return in_flight_;
}

void InProcessProbe::Run(const std::stop_token& stop) {
  pthread_setname_np(pthread_self(), "pharos-local");
  while (true) {
    MutexLock lock(mu_);
    cv_.Wait(mu_, stop, [&]() REQUIRES(mu_) {
      return !leased_.empty() || (!waiting_ && in_flight_ < options_.capacity);
    });
    if (stop.stop_requested()) {
      return;
    }
    if (!leased_.empty()) {
      std::vector<WorkItem> items = std::move(leased_);
      leased_.clear();
      SetInFlightLocked(in_flight_ + items.size());
      lock.Unlock();
      RunItems(items);
      continue;
    }
    const size_t free = options_.capacity - in_flight_;
    waiting_ = true;
    waiter_ = 0;
    lock.Unlock();
    const WorkLeaser::WaiterId waiter =
        // No batch wait: in process, a lease costs no more than the items it carries.
        work_.LeaseOrWait(options_.region, options_.name, free, options_.lease_wait, Millis(0),
                          [this](std::vector<WorkItem> items) {
                            {
                              MutexLock guard(mu_);
                              for (WorkItem& item : items) {
                                leased_.push_back(std::move(item));
                              }
                              waiting_ = false;
                            }
                            cv_.NotifyAll();
                          });
    lock.Lock();
    if (waiting_) {
      waiter_ = waiter;
    }
  }
}

void InProcessProbe::RunItems(const std::vector<WorkItem>& items) {
  const auto now = clock_.Now();
  // Deadlines are on the schedule time line: a wall-clock step must not skip every item.
  const auto schedule_now = work_.schedule_clock().Now();
  for (const WorkItem& item : items) {
    std::shared_ptr<const Monitor> monitor = specs_.MonitorSpec(item.monitor_uid);
    if (!monitor) {
      MutexLock lock(mu_);
      SetInFlightLocked(in_flight_ - 1);
      continue;  // removed since it was queued: its lease lapses, it is never redelivered
    }
    if (schedule_now >= item.deadline) {
      CheckResult skipped = CheckResult::NotChecked(
          {item.monitor_uid, item.generation, item.region, options_.name, item.id,
           item.scheduled_at},
          now, "not checked: the probe got the item after its next round was due");
      Finish(std::move(skipped));
      continue;
    }
    checker_.submit(std::move(monitor), [this, item](CheckResult result) {
      result.region = item.region;
      result.probe = options_.name;
      result.item_id = item.id;
      result.scheduled_at = item.scheduled_at;
      Finish(std::move(result));
    });
  }
  cv_.NotifyAll();
}

void InProcessProbe::Finish(CheckResult result) {
  reporting_->metrics.CountCheck(result.outcome);
  reporting_->unanswered++;
  std::vector<CheckResult> results;
  results.push_back(std::move(result));
  results_.Ingest(std::move(results), [reporting = reporting_](const Result<IngestReport>& report) {
    if (!report) {
      Log().Warn("a local result was not stored; the check will be redelivered",
                 {{"error", report.error()}});
      reporting->metrics.CountOperatorError();
      reporting->metrics.CountDropped("unacknowledged");
    } else if (!report->outcomes.empty() &&
               report->outcomes.front().kind == IngestOutcome::Kind::kRejected) {
      Log().Debug("a local result was rejected", {{"reason", report->outcomes.front().reason}});
      reporting->metrics.CountDropped("rejected");
    }
    reporting->unanswered--;
  });
  {
    MutexLock lock(mu_);
    SetInFlightLocked(in_flight_ - 1);
  }
  cv_.NotifyAll();
}

void InProcessProbe::SetInFlightLocked(size_t in_flight) {
  in_flight_ = in_flight;
  reporting_->in_flight = in_flight;
}

}  // namespace pharos
