#pragma once

// SidecarCapturer: a ScreenshotCapturer that asks the probe pod's screenshot sidecar
// (`pharos-probe screenshot-server`, ScreenshotServer) over loopback HTTP: POST <base>/capture
// {"url": "...", "targetPolicy": {"deny": [...], "allow": [...]}} → the PNG, or {"error": "..."}
// saying why the capture failed. The sidecar bounds the capture's time and size; this client waits
// at most `timeout` (longer than the sidecar's) and takes at most `max_bytes`. Thread-safety:
// Capture may be called from one thread at a time.

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "common/cancellable_transfer.h"
#include "probe/browser/screenshot_capturer.h"

namespace pharos {

class SidecarCapturer final : public ScreenshotCapturer {
 public:
  struct Options {
    std::string base_url;  // "http://127.0.0.1:9555"
    std::chrono::milliseconds timeout{45'000};
    size_t max_bytes = size_t{4} * 1024 * 1024;
    // The probe's own --deny-cidr/--allow-cidr: sent with each capture (with the cluster-wide
    // policy on top) for the sidecar's browser to obey, on top of the sidecar's own flags.
    TargetPolicy policy;
  };

  explicit SidecarCapturer(Options options);

  Result<std::string> Capture(const std::string& url, const TargetPolicy& added) override;

 private:
  const Options options_;
  std::unique_ptr<CancellableTransfer> transfer_;
};

}  // namespace pharos
