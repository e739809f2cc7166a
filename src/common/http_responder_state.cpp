#include "common/http_responder_state.h"

#include "common/http_connection.h"
#include "common/logging.h"

namespace pharos {
namespace {

bool StatusHasNoBody(int status) { return status < 200 || status == 204 || status == 304; }

void RunGuarded(const std::function<void()>& callback) {
  try {
    callback();
  } catch (const std::exception& error) {
    LogError("an HTTP client-gone callback threw", {{"error", error.what()}});
  } catch (...) {
    LogError("an HTTP client-gone callback threw a non-exception");
  }
}

}  // namespace

HttpResponder::State::~State() {
  if (sent.load()) {
    return;
  }
  bool gone = false;
  {
    MutexLock lock(mutex_);
    gone = gone_;
  }
  bool stopped = false;
  {
    ReaderMutexLock lock(context->gate);
    stopped = context->closed;
  }
  if (!gone && !stopped) {
    LogError("HTTP handler dropped the request without answering; sent 500",
             {{"method", method}, {"path", path}});
  }
  Send(HttpResponse::Error(500, "the server did not answer this request"));
}

bool HttpResponder::State::Send(HttpResponse response) {
  if (sent.exchange(true)) {
    return false;
  }
  {
    MutexLock lock(mutex_);
    on_gone_.clear();
  }
  if (response.status < 100 || response.status > 599) {
    LogError("HTTP handler answered with an invalid status; sent 500",
             {{"path", path}, {"status", response.status}});
    response = HttpResponse::Error(500, "the server produced an invalid response");
  }
  ReaderMutexLock lock(context->gate);
  if (context->closed) {
    return false;
  }
  const std::shared_ptr<HttpConnection> target = connection.lock();
  if (!target) {
    return false;
  }
  std::shared_ptr<HttpBodyPipe> pipe;
  if (response.stream && !head && !StatusHasNoBody(response.status)) {
    pipe = context->streams.NewPipe();
    if (!context->streams.Submit(pipe, std::exchange(response.stream, nullptr))) {
      response = HttpResponse::Error(503, "too many large responses in progress; retry shortly");
      pipe.reset();
    }
  }
  target->PostResponse(std::move(response), std::move(pipe));
  return true;
}

void HttpResponder::State::WatchClient(std::function<void()> callback) {
  {
    MutexLock lock(mutex_);
    if (sent.load()) {
      return;
    }
    if (!gone_) {
      on_gone_.push_back(std::move(callback));
      return;
    }
  }
  RunGuarded(callback);
}

void HttpResponder::State::ClientGone() {
  std::vector<std::function<void()>> callbacks;
  {
    MutexLock lock(mutex_);
    if (gone_) {
      return;
    }
    gone_ = true;
    callbacks.swap(on_gone_);
  }
  for (const auto& callback : callbacks) {
    RunGuarded(callback);
  }
}

}  // namespace pharos
