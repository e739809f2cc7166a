#pragma once

// HttpResponder::State: one request's answer, shared by the copies of its HttpResponder, and the
// HttpReplyContext it needs, which may outlive the server (a handler can keep a responder after
// Stop). Internal to HttpServer.
// Thread-safety: Send, WatchClient and ClientGone may be called from any thread.

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/http_server.h"
#include "common/http_stream_runner.h"
#include "common/mutex.h"

namespace pharos {

class HttpConnection;

// What answering needs beyond the connection: whether the server still takes answers, and the
// thread that produces streamed bodies.
struct HttpReplyContext {
  HttpReplyContext(size_t pipe_capacity, std::chrono::milliseconds stall_timeout)
      : streams(pipe_capacity, stall_timeout) {}

  SharedMutex gate;                      // held shared while an answer is handed to a connection
  bool closed GUARDED_BY(gate) = false;  // the server stopped
  HttpStreamRunner streams;
};

struct HttpResponder::State {
  State(std::shared_ptr<HttpReplyContext> context, std::weak_ptr<HttpConnection> connection,
        std::string method, std::string path, bool head)
      : context(std::move(context)),
        connection(std::move(connection)),
        method(std::move(method)),
        path(std::move(path)),
        head(head) {}
  // Answers 500 when nobody did.
  ~State();
  State(const State&) = delete;
  State& operator=(const State&) = delete;

  bool Send(HttpResponse response);
  void WatchClient(std::function<void()> callback);
  // The connection closed or the client went away before the answer: runs the callbacks once.
  void ClientGone();

  const std::shared_ptr<HttpReplyContext> context;
  const std::weak_ptr<HttpConnection> connection;
  const std::string method;
  const std::string path;  // cut for logs
  const bool head;
  std::atomic<bool> sent{false};

 private:
  Mutex mutex_;
  bool gone_ GUARDED_BY(mutex_) = false;
  std::vector<std::function<void()>> on_gone_ GUARDED_BY(mutex_);
};

}  // namespace pharos
