#include "common/http_body_pipe.h"

#include <algorithm>
#include <utility>

namespace pharos {

bool HttpBodyPipe::Write(std::string_view piece) {
  std::unique_lock lock(mutex_);
  while (!failure_ && queued_bytes_ >= capacity_) {
    const uint64_t takes_seen = takes_;
    const bool progressed = room_.wait_for(lock, stall_timeout_, [&] {
      return failure_ || queued_bytes_ < capacity_ || takes_ != takes_seen;
    });
    if (!progressed) {
      lock.unlock();
      Abort("the client took nothing for " + std::to_string(stall_timeout_.count()) + " ms");
      return false;
    }
  }
  if (failure_) {
    return false;
  }
  if (!piece.empty()) {
    queued_.emplace_back(piece);
    queued_bytes_ += piece.size();
    WakeConsumer(lock);
  }
  return true;
}

void HttpBodyPipe::Finish() {
  std::unique_lock lock(mutex_);
  if (failure_) {
    return;
  }
  finished_ = true;
  WakeConsumer(lock);
}

void HttpBodyPipe::Abort(const std::string& why) {
  std::unique_lock lock(mutex_);
  if (failure_ || (finished_ && queued_bytes_ == 0)) {
    return;
  }
  failure_ = why;
  queued_.clear();
  queued_bytes_ = 0;
  room_.notify_all();
  WakeConsumer(lock);
}

bool HttpBodyPipe::aborted() const {
  std::lock_guard lock(mutex_);
  return failure_.has_value();
}

HttpBodyPipe::Take HttpBodyPipe::TakeInto(std::string& out, size_t max,
                                          std::function<void()> wake) {
  std::lock_guard lock(mutex_);
  if (failure_) {
    return Take::kFailed;
  }
  if (queued_bytes_ == 0) {
    if (finished_) {
      return Take::kFinished;
    }
    wake_ = std::move(wake);
    return Take::kWait;
  }
  size_t taken = 0;
  while (taken < max && !queued_.empty()) {
    const std::string& front = queued_.front();
    const size_t n = std::min(max - taken, front.size() - front_offset_);
    out.append(front, front_offset_, n);
    taken += n;
    front_offset_ += n;
    if (front_offset_ == front.size()) {
      queued_.pop_front();
      front_offset_ = 0;
    }
  }
  queued_bytes_ -= taken;
  ++takes_;
  room_.notify_all();
  return Take::kData;
}

void HttpBodyPipe::WakeConsumer(std::unique_lock<std::mutex>& lock) {
  std::function<void()> wake = std::exchange(wake_, nullptr);
  lock.unlock();
  if (wake) {
    wake();
  }
}

}  // namespace pharos
