#include "operator/control/result_writer.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <future>
#include <memory>
#include <utility>

namespace pharos {

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

void ResultWriter::Run() {
  pthread_setname_np(pthread_self(), "pharos-store");
  MutexLock lock(mutex_);
  next_prune_ = std::chrono::steady_clock::now();
  while (true) {
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
  } else {
    spdlog::error(
        "result store: committing {} results failed: {}; they were not acknowledged, "
        "so probes will send them again (check disk space and permissions)",
        all.size(), appended.error());
  }
  if (observer_) observer_(report);

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

// Releases mutex_ while pruning.
void ResultWriter::PruneIfDue() {
  if (options_.prune_interval.count() <= 0) return;
  const auto now = std::chrono::steady_clock::now();
  if (now < next_prune_) return;
  next_prune_ = now + options_.prune_interval;
  mutex_.unlock();
  Result<PruneReport> pruned = store_.Prune(clock_.Now());
  if (!pruned) {
    spdlog::warn("result store: retention prune failed: {} (will retry in {} s)", pruned.error(),
                 std::chrono::duration_cast<std::chrono::seconds>(options_.prune_interval).count());
  } else if (pruned->results + pruned->hourly_rollups + pruned->daily_rollups + pruned->incidents >
             0) {
    spdlog::info("result store: pruned {} results, {} hourly and {} daily rollups, {} incidents",
                 pruned->results, pruned->hourly_rollups, pruned->daily_rollups, pruned->incidents);
  }
  mutex_.lock();
}

}  // namespace pharos
