#pragma once

// ScreenshotCapturer: takes a PNG of a URL as a browser shows it (docs/status-pages.md#screenshots
// -on-downtime). ChromiumCapturer is the real one; tests of the orchestration use doubles.
// Thread-safety: implementations may be called from one thread at a time.

#include <string>

#include "common/result.h"
#include "common/target_policy.h"

namespace pharos {

class ScreenshotCapturer {
 public:
  virtual ~ScreenshotCapturer() = default;
  // The PNG bytes. Errors say why (timed out, too large, the browser failed, the target policy
  // refused the page), for the incident. Every connection the browser makes obeys the
  // capturer's own target policy with `added`'s entries on top (the operator's cluster-wide
  // policy; TargetPolicy() adds nothing).
  virtual Result<std::string> Capture(const std::string& url, const TargetPolicy& added) = 0;
};

}  // namespace pharos
