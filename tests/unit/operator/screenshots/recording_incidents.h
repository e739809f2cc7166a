#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "operator/alerting/incident_store.h"

namespace pharos::testing {

// RecordingIncidents: an IncidentStore that records the notes and screenshots written to it,
// for the tests of what screenshots on downtime write to incidents.
// Thread-safety: every method may be called from any thread.
class RecordingIncidents final : public IncidentStore {
 public:
  Result<std::vector<IncidentRecord>> ListIncidents(const IncidentQuery&) override {
    return std::vector<IncidentRecord>();
  }
  Result<std::optional<IncidentRecord>> GetIncident(const std::string&) override {
    return std::optional<IncidentRecord>();
  }
  Status RecordOpened(const Incident&) override { return OkStatus(); }
  Status RecordResolved(const std::string&, TimePoint) override { return OkStatus(); }
  Status AddEntry(const std::string& id, const IncidentEntry& entry) override {
    std::lock_guard lock(mu_);
    notes_[id].push_back(entry.text);
    return OkStatus();
  }
  Result<IncidentUpdate> Acknowledge(const std::string&, const std::string&, TimePoint) override {
    return IncidentUpdate{};
  }
  Result<IncidentUpdate> AddNote(const std::string&, const std::string&, const std::string&,
                                 TimePoint) override {
    return IncidentUpdate{};
  }
  Result<IncidentUpdate> AttachScreenshot(const std::string& id, const std::string& url,
                                          TimePoint) override {
    std::lock_guard lock(mu_);
    screenshots_[id].push_back(url);
    return IncidentUpdate{true, true, std::nullopt};
  }
  std::vector<std::string> screenshots(const std::string& id) const {
    std::lock_guard lock(mu_);
    auto found = screenshots_.find(id);
    return found == screenshots_.end() ? std::vector<std::string>{} : found->second;
  }
  std::vector<std::string> notes(const std::string& id) const {
    std::lock_guard lock(mu_);
    auto found = notes_.find(id);
    return found == notes_.end() ? std::vector<std::string>{} : found->second;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::vector<std::string>> screenshots_;
  std::map<std::string, std::vector<std::string>> notes_;
};

}  // namespace pharos::testing
