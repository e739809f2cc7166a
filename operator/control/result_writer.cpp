#include "operator/control/result_writer.h"

#include <pthread.h>

#include <algorithm>
#include <future>
#include <memory>
#include <utility>

#include "common/logging.h"

namespace pharos {
namespace {

const Logger& Log() {
  static const Logger logger("store");
  return logger;
}

constexpr const char* kStoreFix =
    "free space on the database's filesystem, check the disk (dmesg), or stop the process that "
    "holds a lock on the database file";
constexpr const char* kStoreHint =
    "free space on the database's filesystem, check the disk (dmesg), or stop the process that "
    "holds a lock on the database file; results stay in memory meanwhile and are written when the "
    "store accepts them again";

double SecondsSince(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

}  // namespace

ResultWriter::ResultWriter(ResultStore& store, const Clock& clock, Options options,
                           Observer observer)
    : store_(store),
      clock_(clock),
      options_(options),
      observer_(std::move(observer)),
      thread_([this] { Run(); }) {}

ResultWriter::~ResultWriter() { Stop(); }

Status ResultWriter::Submit(std::vector<CheckResult> results, Done done) {
  {
    MutexLock lock(mutex_);
    if (stopping_) return Error{"result store writer is stopped; results were not accepted"};
    if (!queue_.empty() && queued_results_ + results.size() > options_.max_queued_results) {
      return Error{"result store is busy (" + std::to_string(queued_results_) +
                   " results waiting to be written); retry later"};
    }
    queued_results_ += results.size();
    queue_.push_back(Submission{std::move(results), std::move(done), next_sequence_++,
                                std::chrono::steady_clock::now()});
  }
  work_cv_.NotifyOne();
  return OkStatus();
}

Result<AppendResult> ResultWriter::AppendAndWait(std::vector<CheckResult> results) {
  auto promise = std::make_shared<std::promise<Result<AppendResult>>>();
  std::future<Result<AppendResult>> committed = promise->get_future();
  Status submitted = Submit(std::move(results), [promise](const Result<AppendResult>& result) {
    promise->set_value(result);
  });
  if (!submitted) return Error{submitted.error()};
  return committed.get();
}

void ResultWriter::Flush() {
  MutexLock lock(mutex_);
  const uint64_t target = next_sequence_ - 1;
  flush_sequence_ = std::max(flush_sequence_, target);
  work_cv_.NotifyOne();
  done_cv_.Wait(mutex_,
                [&]() REQUIRES(mutex_) { return finished_sequence_ >= target || !running_; });
}

void ResultWriter::Stop() {
  {
    MutexLock lock(mutex_);
    stopping_ = true;
  }
  work_cv_.NotifyOne();
  if (thread_.joinable()) thread_.join();
}

size_t ResultWriter::queued_results() const {
  MutexLock lock(mutex_);
  return queued_results_;
}

bool ResultWriter::failing() const {
  MutexLock lock(mutex_);
  return failing_;
}

ResultWriter::Health ResultWriter::health() const {
  MutexLock lock(mutex_);
  Health health;
  health.failing = failing_;
  health.error = failing_ ? failure_ : "";
  health.failing_since = failing_since_;
  health.held_results = held_.size();
  health.max_held_results = options_.max_held_results;
  health.failed_writes = failed_writes_;
  health.held_total = held_total_;
  health.refused_results = refused_results_;
  return health;
}

void ResultWriter::Run() {
  pthread_setname_np(pthread_self(), "pharos-store");
  MutexLock lock(mutex_);
  next_prune_ = std::chrono::steady_clock::now();
  while (true) {
    if (failing_) {
      // The store failed: new submissions join the held results without touching the store
      // until the retry is due; on stopping, one last retry.
      if (!queue_.empty()) {
        std::vector<Submission> batch;
        while (!queue_.empty()) {
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
        queued_results_ = 0;
        const uint64_t last = batch.back().sequence;
        lock.Unlock();
        Hold(batch);
        lock.Lock();
        finished_sequence_ = last;
        done_cv_.NotifyAll();
        continue;
      }
      if (stopping_ || std::chrono::steady_clock::now() >= next_retry_) {
        const bool last_try = stopping_;
        lock.Unlock();
        RetryHeld();
        lock.Lock();
        if (last_try) {
          if (failing_) {
            Log().Error(
                "stopping while the result store still fails: results held in memory "
                "were not written and are lost",
                {{"results", held_.size()}, {"error", failure_}, {"hint", kStoreFix}});
          }
          break;
        }
        continue;
      }
      work_cv_.WaitUntil(mutex_, next_retry_,
                         [&]() REQUIRES(mutex_) { return stopping_ || !queue_.empty(); });
      continue;
    }
    PruneIfDue();
    if (queue_.empty()) {
      if (stopping_) break;
      const auto idle = [&]() REQUIRES(mutex_) { return stopping_ || !queue_.empty(); };
      if (options_.prune_interval.count() > 0) {
        work_cv_.WaitUntil(mutex_, next_prune_, idle);
      } else {
        work_cv_.Wait(mutex_, idle);
      }
      continue;
    }
    // Linger so that a batch collects the results of several probes.
    work_cv_.WaitUntil(mutex_, queue_.front().enqueued_at + options_.max_delay,
                       [&]() REQUIRES(mutex_) {
                         return stopping_ || queued_results_ >= options_.max_batch_results ||
                                flush_sequence_ >= queue_.front().sequence;
                       });
    std::vector<Submission> batch;
    size_t results = 0;
    while (!queue_.empty() && (batch.empty() || results + queue_.front().results.size() <=
                                                    options_.max_batch_results)) {
      results += queue_.front().results.size();
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    queued_results_ -= results;
    const uint64_t last = batch.back().sequence;
    lock.Unlock();
    Commit(batch);
    lock.Lock();
    finished_sequence_ = last;
    done_cv_.NotifyAll();
  }
  running_ = false;
  done_cv_.NotifyAll();
}

void ResultWriter::Commit(std::vector<Submission>& batch) {
  std::vector<CheckResult> all;
  for (Submission& submission : batch) {
    for (CheckResult& result : submission.results) all.push_back(std::move(result));
  }
  const auto started = std::chrono::steady_clock::now();
  Result<AppendResult> appended = store_.Append(all);
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;

  CommitReport report;
  report.seconds = took.count();
  report.results = all.size();
  report.submissions = batch.size();
  report.ok = appended.ok();
  if (appended.ok()) {
    report.new_results = appended->Count(AppendStatus::kNew);
  } else if (options_.max_held_results == 0) {
    Log().Error(
        "committing results failed; they were not acknowledged, so probes will send "
        "them again",
        {{"results", all.size()}, {"error", appended.error()}, {"hint", kStoreFix}});
  }
  if (observer_) observer_(report);
  if (!appended.ok() && options_.max_held_results > 0) {
    {
      MutexLock lock(mutex_);
      NoteFailure(appended.error());
    }
    // The results were moved into `all`: give each submission its own back to hold them.
    size_t offset = 0;
    for (Submission& submission : batch) {
      for (CheckResult& result : submission.results) result = std::move(all[offset++]);
    }
    Hold(batch);
    return;
  }

  size_t offset = 0;
  for (Submission& submission : batch) {
    const size_t count = submission.results.size();
    if (!submission.done) {
      offset += count;
      continue;
    }
    if (!appended.ok()) {
      submission.done(Error{appended.error()});
      offset += count;
      continue;
    }
    AppendResult part;
    part.statuses.assign(appended->statuses.begin() + static_cast<std::ptrdiff_t>(offset),
                         appended->statuses.begin() + static_cast<std::ptrdiff_t>(offset + count));
    for (const Rejection& rejection : appended->rejections) {
      if (rejection.index >= offset && rejection.index < offset + count) {
        part.rejections.push_back(Rejection{rejection.index - offset, rejection.reason});
      }
    }
    submission.done(part);
    offset += count;
  }
}

void ResultWriter::Hold(std::vector<Submission>& batch) {
  for (Submission& submission : batch) {
    const size_t count = submission.results.size();
    bool fits = false;
    std::string failure;
    size_t held = 0;
    {
      MutexLock lock(mutex_);
      fits = held_.size() + count <= options_.max_held_results;
      if (fits) {
        for (CheckResult& result : submission.results) held_.push_back(std::move(result));
        held_total_ += count;
      } else {
        refused_results_ += count;
      }
      failure = failure_;
      held = held_.size();
    }
    if (!fits) {
      Log().Warn(
          "the result store fails and the results held in memory reached their limit: "
          "new results are refused (probes keep theirs and send them again)",
          {{"held", held}, {"refused", count}, {"error", failure}, {"hint", kStoreHint}});
    }
    if (!submission.done) continue;
    if (!fits) {
      submission.done(Error{"the result store fails (" + failure + ") and " + std::to_string(held) +
                                " results are already held in memory; retry later",
                            ErrorKind::kUnavailable});
      continue;
    }
    AppendResult part;
    part.statuses.assign(count, AppendStatus::kNew);
    part.held = true;
    submission.done(part);
  }
}

void ResultWriter::RetryHeld() {
  size_t written = 0;
  while (true) {
    std::vector<CheckResult> chunk;
    {
      MutexLock lock(mutex_);
      const size_t count = std::min(held_.size(), options_.max_batch_results);
      chunk.assign(held_.begin(), held_.begin() + static_cast<std::ptrdiff_t>(count));
    }
    const auto started = std::chrono::steady_clock::now();
    Result<AppendResult> appended =
        chunk.empty() ? Result<AppendResult>(AppendResult{}) : store_.Append(chunk);
    if (!chunk.empty() && observer_) {
      CommitReport report;
      report.seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      report.results = chunk.size();
      report.ok = appended.ok();
      if (appended.ok()) report.new_results = appended->Count(AppendStatus::kNew);
      observer_(report);
    }
    MutexLock lock(mutex_);
    if (!appended.ok()) {
      NoteFailure(appended.error());
      Log().Debug("the result store still fails; retrying later",
                  {{"error", appended.error()},
                   {"held", held_.size()},
                   {"retry_in_ms", static_cast<int64_t>(retry_delay_.count())}});
      return;
    }
    held_.erase(held_.begin(), held_.begin() + static_cast<std::ptrdiff_t>(chunk.size()));
    written += chunk.size();
    if (held_.empty()) {
      Log().Info("the result store accepts writes again; the results held in memory are written",
                 {{"written", written},
                  {"outage_seconds", SecondsSince(failing_since_)},
                  {"failed_writes", failed_writes_}});
      failing_ = false;
      failure_.clear();
      return;
    }
  }
}

void ResultWriter::NoteFailure(const std::string& error) {
  ++failed_writes_;
  failure_ = error;
  if (!failing_) {
    failing_ = true;
    failing_since_ = std::chrono::steady_clock::now();
    retry_delay_ = options_.retry_min;
    Log().Error(
        "writing results to the store failed; holding results in memory and retrying",
        {{"error", error}, {"max_held_results", options_.max_held_results}, {"hint", kStoreHint}});
  } else {
    retry_delay_ = std::min(retry_delay_ * 2, options_.retry_max);
  }
  next_retry_ = std::chrono::steady_clock::now() + retry_delay_;
}

// Releases mutex_ while pruning.
void ResultWriter::PruneIfDue() {
  if (options_.prune_interval.count() <= 0) return;
  const auto now = std::chrono::steady_clock::now();
  if (now < next_prune_) return;
  next_prune_ = now + options_.prune_interval;
  mutex_.unlock();
  Result<PruneReport> pruned = store_.Prune(clock_.Now());
  if (!pruned) {
    Log().Warn(
        "retention prune failed; will retry",
        {{"error", pruned.error()},
         {"retry_in_s",
          std::chrono::duration_cast<std::chrono::seconds>(options_.prune_interval).count()}});
  } else if (pruned->results + pruned->hourly_rollups + pruned->daily_rollups + pruned->incidents +
                 pruned->compacted_days >
             0) {
    Log().Info("pruned old history", {{"results", pruned->results},
                                      {"hourly_rollups", pruned->hourly_rollups},
                                      {"daily_rollups", pruned->daily_rollups},
                                      {"incidents", pruned->incidents},
                                      {"compacted_days", pruned->compacted_days}});
  }
  mutex_.lock();
}

}  // namespace pharos
