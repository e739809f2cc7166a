#include "probe/curl_multi.h"

#include <sys/epoll.h>

namespace pharos {

void EnsureCurlGlobalInit() {
  static const CURLcode status = curl_global_init(CURL_GLOBAL_DEFAULT);
  (void)status;
}

Result<std::unique_ptr<CurlMulti>> CurlMulti::Create(EventLoop& loop) {
  EnsureCurlGlobalInit();
  CURLM* multi = curl_multi_init();
  if (multi == nullptr) return Error{"cannot create a libcurl multi handle"};
  std::unique_ptr<CurlMulti> self(new CurlMulti(loop, multi));
  curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, &CurlMulti::OnSocket);
  curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, self.get());
  curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, &CurlMulti::OnTimer);
  curl_multi_setopt(multi, CURLMOPT_TIMERDATA, self.get());
  // Checks never share connections; keep no idle ones either.
  curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, 1L);
  return self;
}

CurlMulti::~CurlMulti() {
  for (auto& [easy, done] : transfers_) curl_multi_remove_handle(multi_, easy);
  transfers_.clear();
  loop_.CancelTimer(timer_);
  curl_multi_cleanup(multi_);
}

Status CurlMulti::Add(CURL* easy, Done done) {
  const CURLMcode code = curl_multi_add_handle(multi_, easy);
  if (code != CURLM_OK) {
    return Error{std::string("cannot start the HTTP transfer: ") + curl_multi_strerror(code)};
  }
  transfers_.emplace(easy, std::move(done));
  return OkStatus();
}

void CurlMulti::Remove(CURL* easy) {
  if (transfers_.erase(easy) == 0) return;
  curl_multi_remove_handle(multi_, easy);
}

int CurlMulti::OnSocket(CURL* easy, curl_socket_t fd, int what, void* data, void*) {
  auto* self = static_cast<CurlMulti*>(data);
  if (what == CURL_POLL_REMOVE) {
    self->loop_.Unwatch(fd);
    return 0;
  }
  const uint32_t events =
      ((what & CURL_POLL_IN) ? EPOLLIN : 0u) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0u);
  Status watched = self->loop_.Watch(fd, events, [self, fd](uint32_t ready) {
    int bits = 0;
    if (ready & EPOLLIN) bits |= CURL_CSELECT_IN;
    if (ready & EPOLLOUT) bits |= CURL_CSELECT_OUT;
    // Let curl read (and find the EOF or error) itself; CSELECT_ERR alone would discard data
    // that arrived before the hang-up.
    if (ready & (EPOLLERR | EPOLLHUP)) bits |= CURL_CSELECT_IN | CURL_CSELECT_OUT;
    self->Act(fd, bits);
  });
  if (!watched.ok()) {
    // Failing it from inside curl is not allowed; do it right after.
    self->loop_.Post([self, easy, error = watched.error()] { self->Fail(easy, error); });
  }
  return 0;
}

int CurlMulti::OnTimer(CURLM*, long timeout_ms, void* data) {
  auto* self = static_cast<CurlMulti*>(data);
  self->loop_.CancelTimer(self->timer_);
  self->timer_ = 0;
  if (timeout_ms < 0) return 0;
  self->timer_ =
      self->loop_.AddTimer(self->loop_.Now() + std::chrono::milliseconds(timeout_ms), [self] {
        self->timer_ = 0;
        self->Act(CURL_SOCKET_TIMEOUT, 0);
      });
  return 0;
}

void CurlMulti::Act(curl_socket_t fd, int event_bits) {
  int running = 0;
  curl_multi_socket_action(multi_, fd, event_bits, &running);
  CollectFinished();
}

void CurlMulti::CollectFinished() {
  int queued = 0;
  while (CURLMsg* message = curl_multi_info_read(multi_, &queued)) {
    if (message->msg != CURLMSG_DONE) continue;
    CURL* easy = message->easy_handle;
    const CURLcode code = message->data.result;
    auto it = transfers_.find(easy);
    if (it == transfers_.end()) continue;
    Done done = std::move(it->second);
    transfers_.erase(it);
    // Closes the connection now (FORBID_REUSE), not when the attempt is destroyed.
    curl_multi_remove_handle(multi_, easy);
    done(code, std::string());
  }
}

void CurlMulti::Fail(CURL* easy, const std::string& probe_error) {
  auto it = transfers_.find(easy);
  if (it == transfers_.end()) return;
  Done done = std::move(it->second);
  transfers_.erase(it);
  curl_multi_remove_handle(multi_, easy);
  done(CURLE_ABORTED_BY_CALLBACK, probe_error);
}

}  // namespace pharos
