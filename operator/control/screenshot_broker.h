#pragma once

// ScreenshotBroker: the screenshots on downtime that the operator asks probes to take
// (docs/probe-protocol.md#screenshots). The probe API hands the requests of a region to the
// probes of that region that run a screenshot sidecar, and passes back what they captured (or
// why they could not). The screenshots room implements it (RegionalScreenshots); the API room
// knows only this interface.
// Thread-safety: implementations are safe to call from any thread.

#include <cstddef>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"

namespace pharos {

// One capture asked of a region's probes.
struct ScreenshotRequest {
  std::string id;  // 32 hex digits
  std::string url;
  std::string monitor_key;  // "namespace/name"
  std::string incident_id;
  std::string moment;  // "down" or "recovery"
  std::string region;
  Clock::TimePoint lease_expires_at{};  // set when leased: the probe must answer by then
};

class ScreenshotBroker {
 public:
  virtual ~ScreenshotBroker() = default;

  // Up to `max` requests waiting for `region`, now leased to `probe` (no other probe gets them).
  virtual std::vector<ScreenshotRequest> Lease(const std::string& region, const std::string& probe,
                                               size_t max, Clock::TimePoint now) = 0;
  // The answer to request `id` from `probe` of `region`: the PNG it captured, or why the capture
  // failed (recorded on the incident). Returns the screenshot's URL for a PNG, "" for a failure.
  // Errors: kInvalidArgument (not a PNG, no such request leased to that probe — it expired or was
  // answered already), kFailed (the PNG could not be stored or attached).
  virtual Result<std::string> Complete(const std::string& region, const std::string& probe,
                                       const std::string& id, const Result<std::string>& capture,
                                       Clock::TimePoint now) = 0;
};

}  // namespace pharos
