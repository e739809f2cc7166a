#pragma once

// ScreenshotRelay: the probe's side of screenshots on downtime (docs/probe-protocol.md
// #screenshots), started when the probe has a screenshot sidecar (--screenshot-server). On its
// own thread "pharos-shots", apart from the check loops (a capture never delays a check): it
// leases the screenshot requests of its region from the operator every `poll_interval`, one at a
// time has the sidecar capture the page (ScreenshotCapturer: SidecarCapturer), and uploads the
// PNG, or reports why the capture failed. A request it cannot answer (the operator is away) is
// dropped: the operator records it as failed when the lease expires.
// Thread-safety: Start/Stop from the owner; RunOnce from one thread at a time.

#include <chrono>
#include <stop_token>
#include <thread>

#include "common/mutex.h"
#include "probe/browser/screenshot_capturer.h"
#include "probe/operator_client.h"

namespace pharos {

class ScreenshotRelay {
 public:
  struct Options {
    std::chrono::milliseconds poll_interval{2'000};
    // After an error the operator needs a person to fix (a wrong token, no probe API).
    std::chrono::milliseconds configuration_backoff{30'000};
  };

  // Both references must outlive the relay.
  ScreenshotRelay(OperatorClient& client, ScreenshotCapturer& capturer, Options options)
      : client_(client), capturer_(capturer), options_(options) {}
  ~ScreenshotRelay();  // Stop()
  ScreenshotRelay(const ScreenshotRelay&) = delete;
  ScreenshotRelay& operator=(const ScreenshotRelay&) = delete;

  void Start();
  // Abandons a lease or upload in progress; waits for a capture in progress (bounded by the
  // sidecar's timeout).
  void Stop();

  // What one round did.
  enum class Round { kIdle, kHandled, kOperatorError, kConfigurationError };
  // Leases at most one request and answers it.
  Round RunOnce(const std::stop_token& stop);

 private:
  void Loop(const std::stop_token& stop);

  OperatorClient& client_;
  ScreenshotCapturer& capturer_;
  const Options options_;
  Mutex mu_;
  CondVar cv_;           // wakes the pause between rounds on Stop
  std::jthread worker_;  // last: stopped first
};

}  // namespace pharos
