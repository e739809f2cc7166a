#pragma once

// ResultWriter: the single writer in front of a ResultStore. The probe API only enqueues
// results here; a dedicated thread ("pharos-store") commits them in batches (as soon as
// `max_batch_results` are waiting, or `max_delay` after the oldest arrived) and runs the
// retention prune every `prune_interval`.
//
// Durability: a submission's `done` callback runs after the batch holding it has been
// committed (or has failed), never before. The probe API acknowledges results to a probe only
// from that callback, so a probe drops a result only once it is committed (it survives a crash
// of the process; with synchronous=FULL, even a power loss); a failed commit is answered with an
// error and the probe retries the same results later (item ids make the retry idempotent). Results
// waiting in the queue when the process dies were never acknowledged, so they are delivered again.
// Backpressure: beyond `max_queued_results` waiting, Submit refuses at once (the probe API
// answers "busy, retry"), so memory stays bounded when the disk is slow.
// A failing store (disk full, I/O error, the file locked by another process): the batch that
// failed and everything submitted after it are held in memory, up to `max_held_results`, and their
// submitters are answered at once with AppendResult::held set (every result counts as new), so
// checks and state decisions go on. The writer retries the held results (oldest first, backing
// off from `retry_min` to `retry_max`) and writes new submissions only once every held result is
// committed. Beyond `max_held_results` a submission fails (kUnavailable): external probes keep
// such results and send them again. Held results are lost only if the process ends while the
// store still fails (Stop tries once more and logs how many). health() tells /readyz and the
// metrics what is going on.
// Observability: `observer` sees every commit (seconds, results), for the
// pharos_store_write_seconds histogram.
// Thread-safety: Submit/AppendAndWait/Flush/Stop may be called from any thread, except that
// AppendAndWait, Flush and Stop must not be called from a `done` callback or the observer (they run
// on the writer thread and would wait for themselves).

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "common/check_result.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "common/result.h"
#include "operator/control/result_store.h"

namespace pharos {

class ResultWriter {
 public:
  struct Options {
    size_t max_batch_results = 500;
    std::chrono::milliseconds max_delay{100};
    size_t max_queued_results = 50'000;
    std::chrono::milliseconds prune_interval{3'600'000};  // 0 = never (first prune at start)
    // 0: no holding; a failed commit fails its submissions (the probes resend).
    size_t max_held_results = 20'000;
    std::chrono::milliseconds retry_min{500};
    std::chrono::milliseconds retry_max{15'000};
  };

  // What /readyz and the metrics say about the store.
  struct Health {
    bool failing = false;  // the last write failed: results are held until a retry succeeds
    std::string error;     // the last failed write's error, while failing
    std::chrono::steady_clock::time_point failing_since{};
    size_t held_results = 0;
    size_t max_held_results = 0;
    uint64_t failed_writes = 0;    // commits that failed, since the start
    uint64_t held_total = 0;       // results ever held in memory
    uint64_t refused_results = 0;  // results refused because the hold was full
  };

  struct CommitReport {
    double seconds = 0;      // time spent in ResultStore::Append
    size_t results = 0;      // results in the batch
    size_t new_results = 0;  // of which newly stored
    size_t submissions = 0;  // Submit calls the batch served
    bool ok = false;
  };

  // Called on the writer thread; keep it short (it delays the next commit).
  using Done = std::function<void(const Result<AppendResult>&)>;
  using Observer = std::function<void(const CommitReport&)>;

  // Starts the writer thread. `store` and `clock` must outlive the writer; `clock` gives the
  // `now` of prunes.
  ResultWriter(ResultStore& store, const Clock& clock, Options options, Observer observer = {});
  ~ResultWriter();  // Stop()
  ResultWriter(const ResultWriter&) = delete;
  ResultWriter& operator=(const ResultWriter&) = delete;

  // Queues `results`; `done` receives their statuses (in the submitted order) once committed.
  // Fails at once, without calling `done`, when the queue is full or the writer is stopped.
  Status Submit(std::vector<CheckResult> results, Done done);
  // Submits and waits for the commit.
  Result<AppendResult> AppendAndWait(std::vector<CheckResult> results);
  // Waits until everything submitted before the call is committed (or failed); no lingering.
  void Flush();
  // Commits what is queued, then stops the thread. Idempotent.
  void Stop();

  size_t queued_results() const;
  Health health() const;
  // True while writes fail and results are held (cheap; for callers that write the same store).
  bool failing() const;

 private:
  struct Submission {
    std::vector<CheckResult> results;
    Done done;
    uint64_t sequence = 0;
    std::chrono::steady_clock::time_point enqueued_at{};
  };

  void Run();
  void Commit(std::vector<Submission>& batch);
  // Holds the batch's results in memory (as far as they fit) and answers its submitters.
  void Hold(std::vector<Submission>& batch);
  // Writes the held results, oldest first, until they are all committed or a write fails.
  void RetryHeld();
  // Starts or continues an outage after a failed write (backing off the next retry).
  void NoteFailure(const std::string& error) REQUIRES(mutex_);
  // Prunes when the interval has passed, releasing mutex_ meanwhile.
  void PruneIfDue() REQUIRES(mutex_);

  ResultStore& store_;
  const Clock& clock_;
  const Options options_;
  const Observer observer_;

  mutable Mutex mutex_;
  CondVar work_cv_;  // writer waits: new work, flush, stop
  CondVar done_cv_;  // Flush waits: batches committed
  std::deque<Submission> queue_ GUARDED_BY(mutex_);
  size_t queued_results_ GUARDED_BY(mutex_) = 0;
  uint64_t next_sequence_ GUARDED_BY(mutex_) = 1;
  uint64_t finished_sequence_ GUARDED_BY(mutex_) = 0;  // every submission ≤ it is done
  uint64_t flush_sequence_ GUARDED_BY(mutex_) = 0;     // commit up to it without lingering
  bool stopping_ GUARDED_BY(mutex_) = false;
  bool running_ GUARDED_BY(mutex_) = true;
  // The store outage: results held, when to retry. Mutated on the writer thread only.
  bool failing_ GUARDED_BY(mutex_) = false;
  std::string failure_ GUARDED_BY(mutex_);
  std::chrono::steady_clock::time_point failing_since_ GUARDED_BY(mutex_){};
  std::chrono::steady_clock::time_point next_retry_ GUARDED_BY(mutex_){};
  std::chrono::milliseconds retry_delay_ GUARDED_BY(mutex_){};
  std::deque<CheckResult> held_ GUARDED_BY(mutex_);
  uint64_t failed_writes_ GUARDED_BY(mutex_) = 0;
  uint64_t held_total_ GUARDED_BY(mutex_) = 0;
  uint64_t refused_results_ GUARDED_BY(mutex_) = 0;
  std::chrono::steady_clock::time_point next_prune_{};  // writer thread only
  std::thread thread_;
};

}  // namespace pharos
