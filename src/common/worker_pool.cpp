#include "common/worker_pool.h"

#include <pthread.h>

#include <algorithm>

#include "common/logging.h"

namespace pharos {

void WorkerPool::Start() {
  MutexLock lock(mutex_);
  if (!workers_.empty() || stopping_) {
    return;
  }
  for (int i = 0; i < std::max(1, threads_); ++i) {
    workers_.emplace_back([this] { Run(); });
  }
}

bool WorkerPool::Submit(std::function<void()> task) {
  {
    MutexLock lock(mutex_);
    if (stopping_) {
      return false;
    }
    tasks_.push_back(std::move(task));
  }
  wake_.NotifyOne();
  return true;
}

void WorkerPool::Stop() {
  std::deque<std::function<void()>> dropped;
  {
    MutexLock lock(mutex_);
    stopping_ = true;
    dropped.swap(tasks_);
  }
  wake_.NotifyAll();
  for (std::thread& worker : workers_) {
    if (worker.joinable()) {
      worker.join();
    }
  }
  dropped.clear();
}

void WorkerPool::Run() {
  pthread_setname_np(pthread_self(), name_.substr(0, 15).c_str());
  MutexLock lock(mutex_);
  while (true) {
    wake_.Wait(mutex_, [&]() REQUIRES(mutex_) { return stopping_ || !tasks_.empty(); });
    if (stopping_) {
      return;
    }
    std::function<void()> task = std::move(tasks_.front());
    tasks_.pop_front();
    lock.Unlock();
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
    lock.Lock();
  }
}

}  // namespace pharos
