#pragma once

// WorkerPool: a fixed number of named threads running submitted tasks, oldest first. Used by
// HttpServer to run handlers off its I/O threads, so a slow handler never delays accepting,
// reading or timing out connections.
// Thread-safety: thread-safe. Stop must not be called from a task.

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace pharos {

class WorkerPool {
 public:
  // `name`: the threads' name (at most 15 characters are kept).
  WorkerPool(std::string name, int threads) : name_(std::move(name)), threads_(threads) {}
  ~WorkerPool() { Stop(); }
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void Start();
  // False once stopping: the task is dropped.
  bool Submit(std::function<void()> task);
  // Lets running tasks finish, drops the others (destroyed on the calling thread), joins the
  // threads. Idempotent.
  void Stop();

 private:
  void Run();

  const std::string name_;
  const int threads_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> tasks_;  // GUARDED_BY(mutex_)
  bool stopping_ = false;                    // GUARDED_BY(mutex_)
  std::vector<std::thread> workers_;
};

}  // namespace pharos
