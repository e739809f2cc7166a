#pragma once

// ScreenshotServer: the screenshot sidecar of a probe pod (`pharos-probe screenshot-server`,
// docs/probe.md#screenshot-sidecar). It serves, on a loopback address only the probe container
// reaches:
//   POST /capture  {"url": "http(s)://...", "targetPolicy": {"deny": [CIDR...], "allow": [...]}}
//                  → 200 image/png, or 502 {"error": why} when the capture
//                  failed (timed out, too large, the browser failed); 503 while another capture
//                  runs (one at a time: a browser is large); 400 for a body that is not
//                  {"url": http(s) URL of at most 8192 bytes} or a bad targetPolicy
//                  The browser obeys the sidecar's own --deny-cidr/--allow-cidr with the
//                  request's targetPolicy (the probe's policy and the operator's) on top.
//   GET  /healthz  200 {"status": "ok", "busy": bool}
// Captures run on the "pharos-capture" thread with the ScreenshotCapturer (ChromiumCapturer: a
// fresh browser and user-data-dir per capture, bounded time and size), never on the server's
// handler threads.
// Thread-safety: handlers run on the server's threads; Start/Stop from the owner.

#include <optional>
#include <stop_token>
#include <string>
#include <thread>

#include "common/http_server.h"
#include "common/mutex.h"
#include "probe/browser/screenshot_capturer.h"

namespace pharos {

class ScreenshotServer {
 public:
  // `capturer` must outlive the server.
  explicit ScreenshotServer(ScreenshotCapturer& capturer) : capturer_(capturer) {}
  ~ScreenshotServer();  // Stop()
  ScreenshotServer(const ScreenshotServer&) = delete;
  ScreenshotServer& operator=(const ScreenshotServer&) = delete;

  Status Register(HttpServer& server);
  void Start();
  // Waits for a capture in progress (bounded by the capturer's timeout); a waiting one is
  // answered 503.
  void Stop();

 private:
  struct Job {
    std::string url;
    TargetPolicy policy;
    HttpResponder responder;
  };

  void HandleCapture(const HttpRequest& request, HttpResponder responder);
  void Loop(const std::stop_token& stop);

  ScreenshotCapturer& capturer_;
  Mutex mu_;
  CondVar cv_;
  std::optional<Job> job_ GUARDED_BY(mu_);  // waiting for the worker
  bool busy_ GUARDED_BY(mu_) = false;       // a job is waiting or being captured
  bool running_ GUARDED_BY(mu_) = false;    // between Start and Stop
  std::jthread worker_;                     // last: stopped first
};

}  // namespace pharos
