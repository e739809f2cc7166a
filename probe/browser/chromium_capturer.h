#pragma once

// ChromiumCapturer: a ScreenshotCapturer running headless Chromium as a child process, once per
// capture — `chromium --headless --no-sandbox --disable-gpu --disable-background-networking
// --disable-component-update --disable-sync --no-first-run --user-data-dir=<fresh dir>
// --window-size=W,H --screenshot=<file> URL` in a process group of its own, in a temporary
// directory removed afterwards. Bounded: the whole group is killed (SIGKILL) at `timeout`, and a
// PNG larger than `max_bytes` is refused; nothing survives a capture. The page is captured at the
// window size (a tall window shows most pages whole).
// Every connection the browser makes goes through a PolicyProxy started for the capture
// (--proxy-server, loopback included, QUIC and non-proxied WebRTC off), so the page, its redirects
// and its subresources reach only what the target policy allows the checks to reach. A page the
// policy refuses (its URL, or a navigation to it) fails the capture with the policy's reason.
// Thread-safety: Capture may be called from several threads (each capture is independent).

#include <chrono>
#include <string>

#include "probe/browser/screenshot_capturer.h"

namespace pharos {

class ChromiumCapturer final : public ScreenshotCapturer {
 public:
  struct Options {
    std::string executable = "/usr/bin/chromium";
    std::chrono::milliseconds timeout{30'000};
    size_t max_bytes = size_t{5} * 1024 * 1024;
    int width = 1280;
    int height = 2000;
    std::string temp_dir;  // "" = $TMPDIR or /tmp
    // The process's own --deny-cidr/--allow-cidr (the checks' policy).
    TargetPolicy policy;
  };

  explicit ChromiumCapturer(Options options) : options_(std::move(options)) {}

  Result<std::string> Capture(const std::string& url, const TargetPolicy& added) override;

 private:
  const Options options_;
};

}  // namespace pharos
