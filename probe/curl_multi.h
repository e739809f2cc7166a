#pragma once

// CurlMulti: one libcurl multi handle driven by the EventLoop through curl's socket API
// (CURLMOPT_SOCKETFUNCTION / CURLMOPT_TIMERFUNCTION + epoll). All HTTP checks of an engine run
// as easy handles in it. Completion callbacks run after curl returned, never inside curl.
// Thread-safety: loop thread only.

#include <curl/curl.h>

#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include "common/result.h"
#include "probe/event_loop.h"

namespace pharos {

class CurlMulti {
 public:
  // `code` is the transfer's result; `probe_error` is non-empty when the engine itself failed the
  // transfer (a socket it could not watch). The easy handle is out of the multi by then.
  using Done = std::function<void(CURLcode code, const std::string& probe_error)>;

  static Result<std::unique_ptr<CurlMulti>> Create(EventLoop& loop);
  ~CurlMulti();  // every easy handle must have been removed (or finished) before
  CurlMulti(const CurlMulti&) = delete;
  CurlMulti& operator=(const CurlMulti&) = delete;

  Status Add(CURL* easy, Done done);
  // Stops a transfer without reporting it; no-op when it is not running.
  void Remove(CURL* easy);

  size_t running() const { return transfers_.size(); }

 private:
  CurlMulti(EventLoop& loop, CURLM* multi) : loop_(loop), multi_(multi) {}
  static int OnSocket(CURL* easy, curl_socket_t fd, int what, void* self, void* socket_data);
  static int OnTimer(CURLM* multi, long timeout_ms, void* self);
  void Act(curl_socket_t fd, int event_bits);
  void CollectFinished();
  void Fail(CURL* easy, const std::string& probe_error);

  EventLoop& loop_;
  CURLM* multi_;
  EventLoop::TimerId timer_ = 0;
  std::unordered_map<CURL*, Done> transfers_;
};

// curl_global_init, once per process (thread-safe).
void EnsureCurlGlobalInit();

}  // namespace pharos
