#include "operator/screenshots/downtime_screenshots.h"

#include <pthread.h>

#include "common/logging.h"

namespace pharos {
namespace {

const Logger& Log() {
  static const Logger logger("screenshots");
  return logger;
}

}  // namespace

DowntimeScreenshots::DowntimeScreenshots(ScreenshotCapturer& capturer, ScreenshotDirectory& files,
                                         IncidentStore& incidents, const Clock& clock,
                                         Options options)
    : capturer_(capturer), files_(files), incidents_(incidents), clock_(clock), options_(options) {}

DowntimeScreenshots::~DowntimeScreenshots() { Stop(); }

void DowntimeScreenshots::Start() {
  worker_ = std::jthread([this](const std::stop_token& stop) {
    pthread_setname_np(pthread_self(), "pharos-shot");
    Loop(stop);
  });
}

void DowntimeScreenshots::Stop() {
  if (!worker_.joinable()) return;
  worker_.request_stop();
  cv_.NotifyAll();
  worker_.join();
}

void DowntimeScreenshots::OnStateChange(const Monitor& monitor, const StateEvent& event) {
  if (monitor.type != MonitorType::kHttp || !monitor.alerting.screenshot || !monitor.http) return;
  std::string incident_id;
  std::string moment;
  if (!event.opened_incident_id.empty()) {
    incident_id = event.opened_incident_id;
    moment = "down";
  } else if (!event.resolved_incident_id.empty()) {
    incident_id = event.resolved_incident_id;
    moment = "recovery";
  } else {
    return;
  }
  bool queued = false;
  {
    MutexLock lock(mu_);
    if (queue_.size() < options_.max_queued) {
      queue_.push_back(Job{incident_id, monitor.http->url, moment});
      queued = true;
    } else {
      ++counters_.skipped;
    }
  }
  if (queued) {
    cv_.NotifyAll();
  } else {
    Log().Warn("screenshot skipped: too many captures queued",
               {{"monitor", monitor.Key()}, {"incident", incident_id}});
    Note(incident_id, "Screenshot (" + moment + ") skipped: " +
                          std::to_string(options_.max_queued) + " captures were already queued.");
  }
}

DowntimeScreenshots::Counters DowntimeScreenshots::counters() const {
  MutexLock lock(mu_);
  return counters_;
}

void DowntimeScreenshots::Loop(const std::stop_token& stop) {
  while (true) {
    Job job;
    {
      MutexLock lock(mu_);
      cv_.Wait(mu_, stop, [this]() REQUIRES(mu_) { return !queue_.empty(); });
      if (stop.stop_requested()) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    Take(job);
  }
}

void DowntimeScreenshots::Take(const Job& job) {
  Result<std::string> png = capturer_.Capture(job.url, TargetPolicy());
  Result<std::string> id = png ? files_.Save(*png) : Result<std::string>(Error{png.error()});
  if (!id) {
    {
      MutexLock lock(mu_);
      ++counters_.failed;
    }
    Log().Warn("screenshot failed; the incident records why",
               {{"incident", job.incident_id}, {"url", job.url}, {"error", id.error()}});
    Note(job.incident_id, "Screenshot (" + job.moment + ") failed: " + id.error());
    return;
  }
  const std::string url = ScreenshotDirectory::UrlOf(*id);
  Result<IncidentUpdate> attached = incidents_.AttachScreenshot(job.incident_id, url, clock_.Now());
  if (!attached) {
    Log().Warn("a screenshot could not be attached to its incident",
               {{"incident", job.incident_id}, {"error", attached.error()}});
    return;
  }
  MutexLock lock(mu_);
  ++counters_.taken;
  Log().Info("screenshot taken", {{"incident", job.incident_id},
                                  {"moment", job.moment},
                                  {"url", url},
                                  {"bytes", static_cast<int64_t>(png->size())}});
}

void DowntimeScreenshots::Note(const std::string& incident_id, const std::string& text) {
  if (Status added = incidents_.AddEntry(
          incident_id, IncidentEntry{clock_.Now(), IncidentEntry::Kind::kNote, text, "pharos"});
      !added) {
    Log().Warn("recording a screenshot failure on the incident failed",
               {{"incident", incident_id}, {"error", added.error()}});
  }
}

}  // namespace pharos
