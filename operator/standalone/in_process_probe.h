#pragma once

// InProcessProbe: the probe of region `local` inside `pharos run`. It leases work straight from
// the WorkLeaser (LeaseOrWait, no HTTP), runs the checks on a CheckEngine (or any Checker),
// and hands the results to the ResultSink — the same ingestion path as the probe API.
// It never leases more than its free capacity. An item whose monitor is gone is skipped (its
// lease lapses); one whose next round was already due before it could start is answered with an
// `error` result saying so (never `down`: the target was not checked).
// Stop(): stops leasing (a parked long-poll is cancelled), waits for running checks and hands
// their results to the core; the owner then stops the core, which commits them.
// It exports the pharos_probe_* series of pharos-probe (ProbeMetrics) in the core's registry:
// "pending results" are those handed to the core and not yet committed; a result the core
// could not store counts as an operator error and as dropped (`unacknowledged`: the item is
// redelivered), a rejected one as dropped (`rejected`). One InProcessProbe per core.
// Thread-safety: Start/Stop from the owner's thread; the lease loop runs on "pharos-local", check
// callbacks on the checker's thread.

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/check_result.h"
#include "common/clock.h"
#include "common/metrics_registry.h"
#include "common/monitor.h"
#include "common/mutex.h"
#include "operator/control/result_sink.h"
#include "operator/control/status_reader.h"
#include "operator/control/work_leaser.h"
#include "probe/check_engine.h"
#include "probe/probe_metrics.h"

namespace pharos {

class InProcessProbe {
 public:
  // Runs checks; `submit` must call its callback exactly once per check, from any thread.
  struct Checker {
    std::function<void(std::shared_ptr<const Monitor>, std::function<void(CheckResult)>)> submit;
    std::function<void()> drain;  // waits until every submitted check has reported
  };

  struct Options {
    std::string region = "local";
    std::string name = "in-process";
    size_t capacity = 256;  // checks at once
    std::chrono::seconds lease_wait{20};
  };

  // A Checker running checks on `engine` (which must outlive it).
  static Checker EngineChecker(CheckEngine& engine);

  // Leases from `work`, reads specs from `specs`, reports to `results`, exports its metrics in
  // `registry`. Every reference must outlive the probe.
  InProcessProbe(WorkLeaser& work, ResultSink& results, const StatusReader& specs,
                 const Clock& clock, MetricsRegistry& registry, Checker checker, Options options);
  ~InProcessProbe();  // Stop()
  InProcessProbe(const InProcessProbe&) = delete;
  InProcessProbe& operator=(const InProcessProbe&) = delete;

  void Start();
  void Stop();

  size_t in_flight() const;

 private:
  void Run(const std::stop_token& stop);
  void RunItems(const std::vector<WorkItem>& items);
  void Finish(CheckResult result);
  void SetInFlightLocked(size_t in_flight) REQUIRES(mu_);

  // Shared with the core's ingestion callbacks, which may run after this probe is gone.
  struct Reporting {
    Reporting(MetricsRegistry& registry, size_t capacity);
    std::atomic<size_t> in_flight{0};   // a copy of in_flight_ for the gauge
    std::atomic<size_t> unanswered{0};  // results handed to the core, not yet committed
    const size_t capacity;
    ProbeMetrics metrics;  // last: its gauges read the fields above
  };

  WorkLeaser& work_;
  ResultSink& results_;
  const StatusReader& specs_;
  const Clock& clock_;
  const Checker checker_;
  const Options options_;
  const std::shared_ptr<Reporting> reporting_;

  mutable Mutex mu_;
  CondVar cv_;
  std::vector<WorkItem> leased_ GUARDED_BY(mu_);  // delivered, not yet started
  bool waiting_ GUARDED_BY(mu_) = false;          // a long-poll is parked
  WorkLeaser::WaiterId waiter_ GUARDED_BY(mu_) = 0;
  size_t in_flight_ GUARDED_BY(mu_) = 0;
  std::jthread thread_;
};

}  // namespace pharos
