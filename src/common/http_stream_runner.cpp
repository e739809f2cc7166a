#include "common/http_stream_runner.h"

#include <pthread.h>

#include <vector>

#include "common/logging.h"

namespace pharos {

bool HttpStreamRunner::Submit(std::shared_ptr<HttpBodyPipe> pipe, HttpBodyProducer producer) {
  std::lock_guard lock(mutex_);
  if (stopping_ || waiting_.size() >= HttpServer::kMaxWaitingStreams) {
    return false;
  }
  waiting_.push_back({std::move(pipe), std::move(producer)});
  if (!thread_.joinable()) {
    thread_ = std::thread([this] { Run(); });
  }
  wake_.notify_one();
  return true;
}

void HttpStreamRunner::Stop() {
  std::vector<std::shared_ptr<HttpBodyPipe>> abandoned;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    for (Job& job : waiting_) {
      abandoned.push_back(std::move(job.pipe));
    }
    waiting_.clear();
    if (running_) {
      abandoned.push_back(running_);
    }
  }
  wake_.notify_all();
  for (const auto& pipe : abandoned) {
    pipe->Abort("the server is stopping");
  }
  if (thread_.joinable()) {
    thread_.join();
  }
}

void HttpStreamRunner::Run() {
  pthread_setname_np(pthread_self(), "http-stream");
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait(lock, [&] { return stopping_ || !waiting_.empty(); });
    if (stopping_) {
      return;
    }
    Job job = std::move(waiting_.front());
    waiting_.pop_front();
    running_ = job.pipe;
    lock.unlock();
    if (!job.pipe->aborted()) {
      Produce(job);
    }
    job = Job{};  // the producer's captures go before the next one starts
    lock.lock();
    running_.reset();
  }
}

void HttpStreamRunner::Produce(Job& job) {
  try {
    job.producer(*job.pipe);
    job.pipe->Finish();
  } catch (const std::exception& error) {
    LogError("a streamed HTTP response failed; its connection is closed mid-body",
             {{"error", error.what()}});
    job.pipe->Abort("the server failed while producing the body");
  }
}

}  // namespace pharos
