#pragma once

// ProbeAgent: the work loop of pharos-probe (docs/probe.md, docs/probe-protocol.md). It registers
// with the operator, leases work items of its region (never more than its free capacity), runs them
// on its CheckEngine, and reports the results in batches, keeping every result until the operator
// has answered for it.
//
// * Lease loop (thread "pharos-lease"): register once, then long-poll for up to
//   (capacity − in-flight) items while fewer than `max_pending_results` results wait. Leases
//   ask for items without their specs: the probe keeps Monitors by the operator's spec version
//   (MonitorCache, converted once per change) and fetches the specs it lacks in one request per
//   lease; items whose spec could not be fetched are left to lapse (the operator hands them out
//   again), never checked against an older spec. An item whose Monitor is
//   missing or invalid, or whose deadline (when the next round of it is due) passed before it
//   could start, is answered at once with an `error` result saying why — never `down`, since the
//   target was not checked — so that the operator neither redelivers it nor waits for its lease
//   to expire. The probe holds its own limits whatever the operator sends: items beyond those it
//   asked for are not run, a lease of only unreadable items is followed by backoff (and one log
//   line per lease, not per item), and the lease's `targetPolicy` goes to the engine.
// * Report loop (thread "pharos-report"): sends the oldest results every `flush_interval` or as
//   soon as a full batch (the operator's resultBatchMax) waits. Accepted, duplicate and rejected
//   results are forgotten (rejections logged). 413 or 400 halves the batch (a single result the
//   operator refuses is dropped and logged), so a bad result can never block the others.
// * The buffer of unacknowledged results is bounded (`max_pending_results`); when it is full the
//   oldest result is dropped, counted in pharos_probe_results_dropped_total{reason="buffer_full"}
//   and logged.
// * Failures: 5xx and connection errors are retried with jittered exponential backoff (0.5 s to
//   30 s); 401, 403, 404 and TLS verification errors are logged with what to fix and retried every
//   `configuration_retry`. Results wait in the buffer meanwhile and are resent once the operator
//   answers again.
// * Stop(): stops leasing (abandoning a long-poll at once), lets in-flight checks finish, reports
//   their results, all within `drain_timeout`; what is left is logged and counted.
//
// Thread-safety: Start, Stop and the destructor from one controlling thread; AbortDrain and
// status() from any thread. Engine callbacks run on the engine's thread.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "common/backoff.h"
#include "common/check_result.h"
#include "common/clock.h"
#include "common/metrics_registry.h"
#include "common/mutex.h"
#include "probe/check_engine.h"
#include "probe/monitor_cache.h"
#include "probe/operator_client.h"
#include "probe/probe_metrics.h"
#include "probe/result_buffer.h"

namespace pharos {

class ProbeAgent {
 public:
  struct Options {
    size_t capacity = 256;  // checks at once; also the engine's max_concurrency
    size_t max_pending_results = 100'000;
    std::chrono::milliseconds flush_interval{200};
    int lease_wait_seconds = 20;    // asked per long-poll, capped by the operator's maximum
    size_t result_batch_max = 500;  // until the operator's register reply says otherwise
    // Under the operator's 4 MiB body limit.
    size_t result_batch_max_bytes = size_t{3} * 1024 * 1024;
    std::chrono::milliseconds drain_timeout{30'000};
    Backoff::Options backoff = Backoff::ProbeDefaults();
    std::chrono::milliseconds configuration_retry{15'000};
    // Deliveries the operator answers without naming a result before that result is dropped.
    int max_unanswered_deliveries = 3;
    CheckEngine::Options engine;  // max_concurrency is replaced by `capacity`
  };

  struct Status {
    bool running = false;   // the loops run and Stop has not been called
    bool draining = false;  // Stop was called
    bool registered = false;
    std::optional<std::chrono::system_clock::time_point> last_contact;  // last 2xx reply
    std::string last_error;  // of the last failed operator call; empty after a success
    size_t in_flight = 0;
    size_t pending_results = 0;
  };

  struct StopSummary {
    size_t unfinished_checks = 0;   // still running when the drain timeout passed
    size_t unreported_results = 0;  // finished but not acknowledged by the operator
  };

  // The client's probe identity (name, region, version) is the agent's. `client`, `metrics` and
  // `clock` must outlive the agent.
  ProbeAgent(Options options, OperatorClient& client, MetricsRegistry& metrics, const Clock& clock);
  ~ProbeAgent();  // Stop()s
  ProbeAgent(const ProbeAgent&) = delete;
  ProbeAgent& operator=(const ProbeAgent&) = delete;

  // Starts the lease and report threads. Once.
  void Start();
  // Drains as described above and joins the threads; later calls return the first summary.
  StopSummary Stop();
  // Ends a running Stop() now instead of at its drain timeout (a second SIGTERM).
  void AbortDrain();

  Status status() const;

 private:
  // Lease loop and its helpers.
  void LeaseLoop(const std::stop_token& stop);
  bool RegisterOnce(const std::stop_token& stop, Backoff& backoff);
  // Fetches the specs the lease's items name by a version the cache lacks; drops the items
  // whose spec could not be fetched.
  void FetchMissingSpecs(LeaseReply& lease, const std::stop_token& stop);
  void StartItems(const LeaseReply& reply);
  // Answers an item that was not checked with an `error` result saying why.
  void ReportUnchecked(const LeaseItem& item, const Monitor* monitor, const std::string& why);
  void OnCheckDone(const std::string& item_id, std::chrono::system_clock::time_point scheduled_at,
                   CheckResult result);

  // Report loop and its helpers.
  void ReportLoop(const std::stop_token& stop);
  // Sends one batch of the oldest results; true when the next batch should go at once (the
  // operator refused this one as too large or malformed).
  bool SendBatch(const std::stop_token& stop, Backoff& backoff, size_t* batch_limit);
  void HandleAnswered(const std::vector<ResultBuffer::Entry>& batch, const ResultsReply& reply);
  void DropRefused(const ResultBuffer::Entry& entry, const OperatorError& error);

  // Stores a finished result for the report loop.
  void Keep(const CheckResult& result);
  void CountDropped(const std::string& reason, size_t count);
  void NoteContact();
  // Counts and logs a failed call, then waits before the next try (or until `stop`).
  void FailedCall(const std::string& call, const OperatorError& error, Backoff& backoff,
                  const std::stop_token& stop);
  void WaitFor(std::chrono::milliseconds delay, const std::stop_token& stop);

  const Options options_;
  OperatorClient& client_;
  const Clock& clock_;
  const ProbeIdentity probe_;

  MonitorCache monitors_;  // lease thread only
  ResultBuffer results_;

  mutable Mutex mutex_;
  CondVar changed_;  // any change of the state below
  size_t in_flight_ GUARDED_BY(mutex_) = 0;
  bool started_ GUARDED_BY(mutex_) = false;
  bool stop_called_ GUARDED_BY(mutex_) = false;
  bool draining_ GUARDED_BY(mutex_) = false;
  bool abort_drain_ GUARDED_BY(mutex_) = false;
  bool report_done_ GUARDED_BY(mutex_) = false;
  bool registered_ GUARDED_BY(mutex_) = false;
  size_t result_batch_max_ GUARDED_BY(mutex_);
  int lease_wait_max_seconds_ GUARDED_BY(mutex_) = 30;
  std::optional<std::chrono::system_clock::time_point> last_contact_ GUARDED_BY(mutex_);
  std::string last_error_ GUARDED_BY(mutex_);
  StopSummary stop_summary_ GUARDED_BY(mutex_);
  // Rate limit of the buffer-full log line.
  std::chrono::steady_clock::time_point last_drop_log_ GUARDED_BY(mutex_){};
  uint64_t dropped_since_log_ GUARDED_BY(mutex_) = 0;
  // Its gauges read the state above: destroyed (collector removed) before it.
  ProbeMetrics probe_metrics_;

  std::jthread lease_thread_;
  std::jthread report_thread_;
  // Last member: destroyed first, so no engine callback can outlive the state it touches.
  std::unique_ptr<CheckEngine> engine_;
};

}  // namespace pharos
