#pragma once

// RegionalScreenshots: screenshots on downtime in the cluster (docs/status-pages.md#screenshots-
// on-downtime), taken in the region whose check failed by the screenshot sidecar of that region's
// probe. When a transition of an HTTP monitor with `alerting.screenshot: true` opens an incident
// (Down) or resolves one (recovery), a request is queued for one region: the first failing region
// of the deciding round for Down; for recovery the region the Down capture was asked of (else the
// monitor's first region). Probes of that region that run a sidecar lease it through the probe
// API (ScreenshotBroker), capture the page and upload the PNG, which is checked (ReadPngHeader,
// max_png_bytes), stored in the ScreenshotDirectory and attached to the incident.
//
// Rules:
// * OnStateChange only queues (one lock, no I/O), so an alert is never delayed; at most
//   `max_waiting` requests wait or are leased, more are skipped.
// * A request no probe leased within `pickup_timeout`, or that its probe did not answer by its
//   lease's expiry (`capture_timeout` + `lease_grace` after the lease), is dropped; it is never
//   handed out twice, so a target that hangs costs one capture timeout, once.
// * Failures (a probe's error, an expiry, a skip) are recorded as a note on the incident's
//   timeline: "Screenshot (down) failed: ...". Notes are written by Flush, not by the callers
//   of OnStateChange, Lease or Complete; call Flush(now) periodically (it also expires).
// * Only the probe a request was leased to may answer it, once.
// Thread-safety: every method may be called from any thread; incident writes happen outside the
// lock.

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "common/monitor.h"
#include "common/mutex.h"
#include "operator/alerting/incident_store.h"
#include "operator/control/monitor_state.h"
#include "operator/control/screenshot_broker.h"
#include "operator/screenshots/screenshot_directory.h"

namespace pharos {

class RegionalScreenshots final : public ScreenshotBroker {
 public:
  struct Options {
    std::chrono::milliseconds pickup_timeout{60'000};
    std::chrono::milliseconds capture_timeout{30'000};
    std::chrono::milliseconds lease_grace{15'000};
    size_t max_waiting = 64;
    size_t max_png_bytes = size_t{4} * 1024 * 1024;
  };
  struct Counters {
    int64_t requested = 0;
    int64_t taken = 0;
    int64_t failed = 0;  // a probe's error, an expiry, a refused upload
    int64_t skipped = 0;
  };

  // Both references must outlive this object.
  RegionalScreenshots(ScreenshotDirectory& files, IncidentStore& incidents, Options options);

  // An OperatorCore state observer: register it after the alerting engine's, so the incident
  // exists. `now`: when it happened.
  void OnStateChange(const Monitor& monitor, const StateEvent& event, Clock::TimePoint now);

  std::vector<ScreenshotRequest> Lease(const std::string& region, const std::string& probe,
                                       size_t max, Clock::TimePoint now) override;
  Result<std::string> Complete(const std::string& region, const std::string& probe,
                               const std::string& id, const Result<std::string>& capture,
                               Clock::TimePoint now) override;

  // Drops the requests past their deadline and writes the pending notes to the incidents.
  void Flush(Clock::TimePoint now);

  Counters counters() const;
  size_t waiting() const;

 private:
  struct Entry {
    ScreenshotRequest request;
    Clock::TimePoint queued_at{};
    std::string probe;  // "" while waiting for a probe
  };
  struct Note {
    std::string incident_id;
    std::string text;
    Clock::TimePoint at{};
  };

  void AddNote(const ScreenshotRequest& request, const std::string& why, Clock::TimePoint at)
      REQUIRES(mu_);

  ScreenshotDirectory& files_;
  IncidentStore& incidents_;
  const Options options_;
  mutable Mutex mu_;
  std::deque<Entry> entries_ GUARDED_BY(mu_);  // oldest first
  // The region each open incident's Down capture was asked of, for its recovery capture.
  std::map<std::string, std::string> incident_regions_ GUARDED_BY(mu_);
  std::vector<Note> notes_ GUARDED_BY(mu_);
  Counters counters_ GUARDED_BY(mu_);
};

}  // namespace pharos
