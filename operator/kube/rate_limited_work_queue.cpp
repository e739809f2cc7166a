#include "operator/kube/rate_limited_work_queue.h"

#include <algorithm>
#include <cmath>

namespace pharos {

RateLimitedWorkQueue::RateLimitedWorkQueue(const Clock& clock, WorkQueueOptions options)
    : clock_(clock), options_(options), bucket_(options.qps, options.burst, clock) {}

void RateLimitedWorkQueue::AddLocked(const std::string& key) {
  if (shutting_down_) return;
  if (!dirty_.insert(key).second) return;   // already queued (or already re-added)
  if (processing_.count(key) != 0) return;  // Done() will queue it
  queue_.push_back(key);
  changed_.NotifyOne();
}

void RateLimitedWorkQueue::Add(const std::string& key) {
  MutexLock lock(mutex_);
  AddLocked(key);
}

void RateLimitedWorkQueue::AddAfter(const std::string& key, std::chrono::nanoseconds delay) {
  MutexLock lock(mutex_);
  if (shutting_down_) return;
  if (delay <= std::chrono::nanoseconds::zero()) {
    AddLocked(key);
    return;
  }
  const TimePoint due = clock_.SteadyNow() + delay;
  const auto it = waiting_.find(key);
  if (it != waiting_.end()) {
    if (it->second <= due) return;
    waiting_order_.erase({it->second, key});
    it->second = due;
  } else {
    waiting_.emplace(key, due);
  }
  waiting_order_.emplace(due, key);
  // A waiting Get may have to wake earlier now.
  changed_.NotifyAll();
}

void RateLimitedWorkQueue::AddRateLimited(const std::string& key) {
  std::chrono::nanoseconds item_delay;
  {
    MutexLock lock(mutex_);
    if (shutting_down_) return;
    const int failures = failures_[key]++;
    const double scaled =
        std::chrono::duration<double>(options_.base_delay).count() * std::pow(2.0, failures);
    const double capped =
        std::min(scaled, std::chrono::duration<double>(options_.max_delay).count());
    item_delay =
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(capped));
  }
  const std::chrono::nanoseconds bucket_delay = bucket_.Reserve();
  AddAfter(key, std::max(item_delay, bucket_delay));
}

void RateLimitedWorkQueue::Forget(const std::string& key) {
  MutexLock lock(mutex_);
  failures_.erase(key);
}

int RateLimitedWorkQueue::NumRequeues(const std::string& key) const {
  MutexLock lock(mutex_);
  const auto it = failures_.find(key);
  return it == failures_.end() ? 0 : it->second;
}

void RateLimitedWorkQueue::PromoteDueLocked(TimePoint now) {
  while (!waiting_order_.empty() && waiting_order_.begin()->first <= now) {
    const std::string key = waiting_order_.begin()->second;
    waiting_order_.erase(waiting_order_.begin());
    waiting_.erase(key);
    AddLocked(key);
  }
}

std::optional<std::string> RateLimitedWorkQueue::PopLocked() {
  if (queue_.empty()) return std::nullopt;
  std::string key = std::move(queue_.front());
  queue_.pop_front();
  processing_.insert(key);
  dirty_.erase(key);
  return key;
}

std::optional<std::string> RateLimitedWorkQueue::Get() {
  MutexLock lock(mutex_);
  while (true) {
    PromoteDueLocked(clock_.SteadyNow());
    if (auto key = PopLocked()) return key;
    if (shutting_down_) return std::nullopt;
    if (waiting_order_.empty()) {
      changed_.Wait(mutex_);
    } else {
      const auto wait = waiting_order_.begin()->first - clock_.SteadyNow();
      changed_.WaitFor(mutex_, std::max(wait, std::chrono::steady_clock::duration(1)));
    }
  }
}

std::optional<std::string> RateLimitedWorkQueue::TryGet() {
  MutexLock lock(mutex_);
  PromoteDueLocked(clock_.SteadyNow());
  return PopLocked();
}

void RateLimitedWorkQueue::Done(const std::string& key) {
  MutexLock lock(mutex_);
  processing_.erase(key);
  if (dirty_.count(key) != 0) {
    queue_.push_back(key);
    changed_.NotifyOne();
  }
}

void RateLimitedWorkQueue::ShutDown() {
  MutexLock lock(mutex_);
  shutting_down_ = true;
  waiting_.clear();
  waiting_order_.clear();
  changed_.NotifyAll();
}

size_t RateLimitedWorkQueue::Len() const {
  MutexLock lock(mutex_);
  return queue_.size();
}

size_t RateLimitedWorkQueue::WaitingLen() const {
  MutexLock lock(mutex_);
  return waiting_.size();
}

size_t RateLimitedWorkQueue::ProcessingLen() const {
  MutexLock lock(mutex_);
  return processing_.size();
}

std::optional<std::chrono::nanoseconds> RateLimitedWorkQueue::NextReadyIn() const {
  MutexLock lock(mutex_);
  if (waiting_order_.empty()) return std::nullopt;
  return std::max(std::chrono::nanoseconds::zero(),
                  std::chrono::duration_cast<std::chrono::nanoseconds>(
                      waiting_order_.begin()->first - clock_.SteadyNow()));
}

}  // namespace pharos
