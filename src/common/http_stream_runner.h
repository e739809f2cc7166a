#pragma once

// HttpStreamRunner: runs the producers of an HttpServer's streamed responses, one at a time in the
// order submitted, on one thread ("http-stream", started with the first stream). A stream waits
// for its turn only while few do (HttpServer::kMaxWaitingStreams); beyond that it is refused, so
// a stalled client cannot pile work up behind it.
// Thread-safety: thread-safe.

#include <chrono>
#include <deque>
#include <memory>
#include <thread>

#include "common/http_body_pipe.h"
#include "common/http_server.h"
#include "common/mutex.h"

namespace pharos {

class HttpStreamRunner {
 public:
  HttpStreamRunner(size_t pipe_capacity, std::chrono::milliseconds stall_timeout)
      : pipe_capacity_(pipe_capacity), stall_timeout_(stall_timeout) {}
  ~HttpStreamRunner() { Stop(); }
  HttpStreamRunner(const HttpStreamRunner&) = delete;
  HttpStreamRunner& operator=(const HttpStreamRunner&) = delete;

  std::shared_ptr<HttpBodyPipe> NewPipe() const {
    return std::make_shared<HttpBodyPipe>(pipe_capacity_, stall_timeout_);
  }

  // False when stopping or when kMaxWaitingStreams are already waiting.
  bool Submit(std::shared_ptr<HttpBodyPipe> pipe, HttpBodyProducer producer);

  // Aborts every stream, running or waiting, and joins the thread. Idempotent.
  void Stop();

 private:
  struct Job {
    std::shared_ptr<HttpBodyPipe> pipe;
    HttpBodyProducer producer;
  };

  void Run();
  static void Produce(Job& job);

  const size_t pipe_capacity_;
  const std::chrono::milliseconds stall_timeout_;
  Mutex mutex_;
  CondVar wake_;
  std::deque<Job> waiting_ GUARDED_BY(mutex_);
  std::shared_ptr<HttpBodyPipe> running_ GUARDED_BY(mutex_);
  bool stopping_ GUARDED_BY(mutex_) = false;
  std::thread thread_;
};

}  // namespace pharos
