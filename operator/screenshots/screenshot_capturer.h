#pragma once

// ScreenshotCapturer: takes a PNG of a URL as a browser shows it (docs/status-pages.md#screenshots
// -on-downtime). ChromiumCapturer is the real one; tests of the orchestration use doubles.
// Thread-safety: implementations may be called from one thread at a time.

#include <string>

#include "common/result.h"

namespace pharos {

class ScreenshotCapturer {
 public:
  virtual ~ScreenshotCapturer() = default;
  // The PNG bytes. Errors say why (timed out, too large, the browser failed), for the incident.
  virtual Result<std::string> Capture(const std::string& url) = 0;
};

}  // namespace pharos
