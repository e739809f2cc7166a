#include "operator/screenshots/regional_screenshots.h"

#include <algorithm>

#include "common/logging.h"
#include "operator/screenshots/png_header.h"

namespace pharos {
namespace {

constexpr size_t kMaxRememberedIncidents = 4096;

const Logger& Log() {
  static const Logger logger("screenshots");
  return logger;
}

std::string Seconds(std::chrono::milliseconds duration) {
  return std::to_string((duration.count() + 999) / 1000) + " s";
}

}  // namespace

RegionalScreenshots::RegionalScreenshots(ScreenshotDirectory& files, IncidentStore& incidents,
                                         Options options)
    : files_(files), incidents_(incidents), options_(options) {}

void RegionalScreenshots::OnStateChange(const Monitor& monitor, const StateEvent& event,
                                        Clock::TimePoint now) {
  if (monitor.type != MonitorType::kHttp || !monitor.alerting.screenshot || !monitor.http) {
    return;
  }
  ScreenshotRequest request;
  request.url = monitor.http->url;
  request.monitor_key = monitor.Key();
  MutexLock lock(mu_);
  if (!event.opened_incident_id.empty()) {
    request.incident_id = event.opened_incident_id;
    request.moment = "down";
    if (!event.failing_regions.empty()) {
      request.region = event.failing_regions.front();
    } else if (!monitor.regions.empty()) {
      request.region = monitor.regions.front();
    }
    if (!request.region.empty()) {
      if (incident_regions_.size() >= kMaxRememberedIncidents) {
        incident_regions_.erase(incident_regions_.begin());
      }
      incident_regions_[request.incident_id] = request.region;
    }
  } else if (!event.resolved_incident_id.empty()) {
    request.incident_id = event.resolved_incident_id;
    request.moment = "recovery";
    if (auto found = incident_regions_.find(request.incident_id);
        found != incident_regions_.end()) {
      request.region = found->second;
      incident_regions_.erase(found);
    } else if (!monitor.regions.empty()) {
      request.region = monitor.regions.front();
    }
  } else {
    return;
  }
  if (request.region.empty()) {
    ++counters_.skipped;
    AddNote(request, "skipped: no region is known to have checked it", now);
    return;
  }
  if (entries_.size() >= options_.max_waiting) {
    ++counters_.skipped;
    AddNote(request,
            "skipped: " + std::to_string(options_.max_waiting) + " captures were already waiting",
            now);
    return;
  }
  request.id = ScreenshotDirectory::NewId();
  ++counters_.requested;
  Log().Info("screenshot requested", {{"monitor", request.monitor_key},
                                      {"incident", request.incident_id},
                                      {"moment", request.moment},
                                      {"region", request.region}});
  entries_.push_back(Entry{std::move(request), now, ""});
}

std::vector<ScreenshotRequest> RegionalScreenshots::Lease(const std::string& region,
                                                          const std::string& probe, size_t max,
                                                          Clock::TimePoint now) {
  std::vector<ScreenshotRequest> leased;
  MutexLock lock(mu_);
  for (Entry& entry : entries_) {
    if (leased.size() >= max) {
      break;
    }
    if (!entry.probe.empty() || entry.request.region != region ||
        now - entry.queued_at >= options_.pickup_timeout) {
      continue;
    }
    entry.probe = probe;
    entry.request.lease_expires_at = now + options_.capture_timeout + options_.lease_grace;
    leased.push_back(entry.request);
  }
  return leased;
}

Result<std::string> RegionalScreenshots::Complete(const std::string& region,
                                                  const std::string& probe, const std::string& id,
                                                  const Result<std::string>& capture,
                                                  Clock::TimePoint now) {
  ScreenshotRequest request;
  {
    MutexLock lock(mu_);
    const auto found = std::find_if(entries_.begin(), entries_.end(), [&](const Entry& entry) {
      return entry.request.id == id && entry.request.region == region && entry.probe == probe;
    });
    if (found == entries_.end()) {
      return Error{"no screenshot request \"" + id + "\" is leased to probe \"" + probe +
                       "\" of region \"" + region + "\" (it expired or was answered already)",
                   ErrorKind::kInvalidArgument};
    }
    request = found->request;
    entries_.erase(found);
    if (!capture) {
      ++counters_.failed;
      AddNote(request, "failed in region " + region + ": " + capture.error(), now);
      return std::string();
    }
  }
  const auto refuse = [&](const std::string& why, ErrorKind kind) -> Result<std::string> {
    MutexLock lock(mu_);
    ++counters_.failed;
    AddNote(request, "failed: " + why, now);
    return Error{why, kind};
  };
  if (capture->size() > options_.max_png_bytes) {
    return refuse("the image has " + std::to_string(capture->size()) + " bytes; at most " +
                      std::to_string(options_.max_png_bytes) + " are kept",
                  ErrorKind::kInvalidArgument);
  }
  if (Result<PngHeader> header = ReadPngHeader(*capture); !header) {
    return refuse("the probe sent " + header.error(), ErrorKind::kInvalidArgument);
  }
  Result<std::string> saved = files_.Save(*capture);
  if (!saved) {
    Log().Warn("a screenshot could not be stored",
               {{"incident", request.incident_id}, {"error", saved.error()}});
    return refuse(saved.error(), ErrorKind::kFailed);
  }
  const std::string url = ScreenshotDirectory::UrlOf(*saved);
  if (Result<IncidentUpdate> attached = incidents_.AttachScreenshot(request.incident_id, url, now);
      !attached) {
    Log().Warn("a screenshot could not be attached to its incident",
               {{"incident", request.incident_id}, {"error", attached.error()}});
    MutexLock lock(mu_);
    ++counters_.failed;
    return Error{"attaching the screenshot to incident " + request.incident_id + ": " +
                 attached.error()};
  }
  Log().Info("screenshot taken", {{"incident", request.incident_id},
                                  {"moment", request.moment},
                                  {"region", region},
                                  {"probe", probe},
                                  {"url", url},
                                  {"bytes", static_cast<int64_t>(capture->size())}});
  MutexLock lock(mu_);
  ++counters_.taken;
  return url;
}

void RegionalScreenshots::Flush(Clock::TimePoint now) {
  std::vector<Note> notes;
  {
    MutexLock lock(mu_);
    for (auto it = entries_.begin(); it != entries_.end();) {
      const ScreenshotRequest& request = it->request;
      if (it->probe.empty() && now - it->queued_at >= options_.pickup_timeout) {
        ++counters_.failed;
        AddNote(request,
                "failed: no probe of region " + request.region + " took it within " +
                    Seconds(options_.pickup_timeout) +
                    " (do that region's probes run the screenshot sidecar?)",
                now);
      } else if (!it->probe.empty() && now >= request.lease_expires_at) {
        ++counters_.failed;
        AddNote(request,
                "failed: probe " + it->probe + " of region " + request.region +
                    " sent no screenshot within " +
                    Seconds(options_.capture_timeout + options_.lease_grace),
                now);
      } else {
        ++it;
        continue;
      }
      it = entries_.erase(it);
    }
    notes.swap(notes_);
  }
  for (const Note& note : notes) {
    if (Status added = incidents_.AddEntry(
            note.incident_id,
            IncidentEntry{note.at, IncidentEntry::Kind::kNote, note.text, "pharos"});
        !added) {
      Log().Warn("recording a screenshot failure on the incident failed",
                 {{"incident", note.incident_id}, {"error", added.error()}});
    }
  }
}

void RegionalScreenshots::AddNote(const ScreenshotRequest& request, const std::string& why,
                                  Clock::TimePoint at) {
  Log().Warn("screenshot not taken; the incident records why", {{"incident", request.incident_id},
                                                                {"monitor", request.monitor_key},
                                                                {"region", request.region},
                                                                {"why", why}});
  notes_.push_back(Note{request.incident_id, "Screenshot (" + request.moment + ") " + why, at});
}

RegionalScreenshots::Counters RegionalScreenshots::counters() const {
  MutexLock lock(mu_);
  return counters_;
}

size_t RegionalScreenshots::waiting() const {
  MutexLock lock(mu_);
  return entries_.size();
}

}  // namespace pharos
