#include "operator/kube/cancel_token.h"

#include <utility>

namespace pharos {

void CancelToken::Cancel() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (cancelled_) return;
    cancelled_ = true;
  }
  changed_.notify_all();
  std::lock_guard<std::mutex> lock(wakers_mutex_);
  for (auto& [id, waker] : wakers_) waker();
}

bool CancelToken::IsCancelled() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return cancelled_;
}

bool CancelToken::WaitFor(std::chrono::nanoseconds timeout) const {
  std::unique_lock<std::mutex> lock(mutex_);
  if (timeout <= std::chrono::nanoseconds::zero()) return cancelled_;
  return changed_.wait_for(lock, timeout, [this] { return cancelled_; });
}

CancelToken::WakerId CancelToken::AddWaker(std::function<void()> waker) const {
  std::lock_guard<std::mutex> lock(wakers_mutex_);
  const WakerId id = next_waker_id_++;
  auto& stored = wakers_.emplace(id, std::move(waker)).first->second;
  if (IsCancelled()) stored();
  return id;
}

void CancelToken::RemoveWaker(WakerId id) const {
  std::lock_guard<std::mutex> lock(wakers_mutex_);
  wakers_.erase(id);
}

}  // namespace pharos
