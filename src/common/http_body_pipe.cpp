#include "common/http_body_pipe.h"

#include <algorithm>
#include <utility>

namespace pharos {

bool HttpBodyPipe::Write(std::string_view piece) {
  MutexLock lock(mutex_);
  while (!failure_ && queued_bytes_ >= capacity_) {
    const uint64_t takes_seen = takes_;
    const bool progressed = room_.WaitFor(mutex_, stall_timeout_, [&]() REQUIRES(mutex_) {
      return failure_ || queued_bytes_ < capacity_ || takes_ != takes_seen;
    });
    if (!progressed) {
      lock.Unlock();
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
    std::function<void()> wake = TakeWake();
    lock.Unlock();
    if (wake) {
      wake();
    }
  }
  return true;
}

void HttpBodyPipe::Finish() {
  MutexLock lock(mutex_);
  if (failure_) {
    return;
  }
  finished_ = true;
  std::function<void()> wake = TakeWake();
  lock.Unlock();
  if (wake) {
    wake();
  }
}

void HttpBodyPipe::Abort(const std::string& why) {
  MutexLock lock(mutex_);
  if (failure_ || (finished_ && queued_bytes_ == 0)) {
    return;
  }
  failure_ = why;
  queued_.clear();
  queued_bytes_ = 0;
  room_.NotifyAll();
  std::function<void()> wake = TakeWake();
  lock.Unlock();
  if (wake) {
    wake();
  }
}

bool HttpBodyPipe::aborted() const {
  MutexLock lock(mutex_);
  return failure_.has_value();
}

HttpBodyPipe::Take HttpBodyPipe::TakeInto(std::string& out, size_t max,
                                          std::function<void()> wake) {
  MutexLock lock(mutex_);
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
  room_.NotifyAll();
  return Take::kData;
}

std::function<void()> HttpBodyPipe::TakeWake() { return std::exchange(wake_, nullptr); }

}  // namespace pharos
