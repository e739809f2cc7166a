#pragma once

// DowntimeScreenshots: screenshots on downtime in `pharos run` (docs/status-pages.md#screenshots-
// on-downtime). When a transition of an HTTP monitor with `alerting.screenshot: true` opens an
// incident (Down) or resolves one (recovery), a capture of the monitor's URL is queued; the
// thread "pharos-shot" takes them one at a time with the ScreenshotCapturer, stores the PNG in
// the ScreenshotDirectory and attaches its URL to the incident (IncidentStore::AttachScreenshot:
// the incident's `screenshots`, its timeline, the status page's incident view). A capture that
// fails or times out is recorded on the incident's timeline as a note. OnStateChange only
// queues, so alerts are never delayed; at most `max_queued` captures wait (more are recorded as
// skipped).
// Thread-safety: OnStateChange may be called from any thread; Start/Stop from the owner.

#include <cstdint>
#include <deque>
#include <stop_token>
#include <string>
#include <thread>

#include "common/clock.h"
#include "common/monitor.h"
#include "common/mutex.h"
#include "operator/alerting/incident_store.h"
#include "operator/control/monitor_state.h"
#include "operator/screenshots/screenshot_directory.h"
#include "probe/browser/screenshot_capturer.h"

namespace pharos {

class DowntimeScreenshots {
 public:
  struct Options {
    size_t max_queued = 16;
  };
  struct Counters {
    int64_t taken = 0;
    int64_t failed = 0;
    int64_t skipped = 0;
  };

  // Every reference must outlive this object.
  DowntimeScreenshots(ScreenshotCapturer& capturer, ScreenshotDirectory& files,
                      IncidentStore& incidents, const Clock& clock, Options options);
  ~DowntimeScreenshots();  // Stop()
  DowntimeScreenshots(const DowntimeScreenshots&) = delete;
  DowntimeScreenshots& operator=(const DowntimeScreenshots&) = delete;

  void Start();
  // Drops what is queued; waits for a capture in progress (bounded by the capturer's timeout).
  void Stop();

  // An OperatorCore state observer: call it after the alerting engine's, so the incident exists.
  void OnStateChange(const Monitor& monitor, const StateEvent& event);

  Counters counters() const;

 private:
  struct Job {
    std::string incident_id;
    std::string url;
    std::string moment;  // "down" or "recovery"
  };

  void Loop(const std::stop_token& stop);
  void Take(const Job& job);
  void Note(const std::string& incident_id, const std::string& text);

  ScreenshotCapturer& capturer_;
  ScreenshotDirectory& files_;
  IncidentStore& incidents_;
  const Clock& clock_;
  const Options options_;
  mutable Mutex mu_;
  CondVar cv_;
  std::deque<Job> queue_ GUARDED_BY(mu_);
  Counters counters_ GUARDED_BY(mu_);
  std::jthread worker_;  // last: stopped first
};

}  // namespace pharos
