#include "common/worker_pool.h"

#include <pthread.h>

#include <algorithm>

#include "common/logging.h"

namespace pharos {

void WorkerPool::Start() {
  std::lock_guard lock(mutex_);
  if (!workers_.empty() || stopping_) {
    return;
  }
  for (int i = 0; i < std::max(1, threads_); ++i) {
    workers_.emplace_back([this] { Run(); });
  }
}

bool WorkerPool::Submit(std::function<void()> task) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) {
      return false;
    }
    tasks_.push_back(std::move(task));
  }
  wake_.notify_one();
  return true;
}

void WorkerPool::Stop() {
  std::deque<std::function<void()>> dropped;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    dropped.swap(tasks_);
  }
  wake_.notify_all();
  for (std::thread& worker : workers_) {
    if (worker.joinable()) {
      worker.join();
    }
  }
  dropped.clear();
}

void WorkerPool::Run() {
  pthread_setname_np(pthread_self(), name_.substr(0, 15).c_str());
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait(lock, [&] { return stopping_ || !tasks_.empty(); });
    if (stopping_) {
      return;
    }
    std::function<void()> task = std::move(tasks_.front());
    tasks_.pop_front();
    lock.unlock();
    try {
      task();
    } catch (const std::exception& error) {
      LogError("a task of a worker thread threw; the thread goes on",
               {{"threads", name_}, {"error", error.what()}});
    } catch (...) {
      LogError("a task of a worker thread threw a non-exception; the thread goes on",
               {{"threads", name_}});
    }
    task = nullptr;  // its captures go before the lock is taken again
    lock.lock();
  }
}

}  // namespace pharos
