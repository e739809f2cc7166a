#include "operator/controller/monitor_status_writer.h"

#include <pthread.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "common/logging.h"
#include "common/rfc3339.h"

namespace pharos {
namespace {

using Json = nlohmann::json;

// Limits of the CRD's status schema.
constexpr size_t kMaxTarget = 2048;
constexpr size_t kMaxMessage = 4096;
constexpr size_t kMaxRegionMessage = 1024;
constexpr size_t kMaxConditionMessage = 32768;
constexpr size_t kMaxRegions = 64;
// status.failingEndpoints and each region's: at most this many, each at most this long.
constexpr size_t kMaxFailingEndpoints = 64;
constexpr size_t kMaxEndpointLabel = 256;

const Logger& Log() {
  static const Logger logger("status-writer");
  return logger;
}

// `text` cut to at most `limit` bytes without splitting a UTF-8 sequence.
std::string Truncate(const std::string& text, size_t limit) {
  if (text.size() <= limit) {
    return text;
  }
  size_t end = limit;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) {
    --end;
  }
  return text.substr(0, end);
}

// Percent with two decimals, rounded down so that 99.999 never shows as "100.00".
Json Percent(const std::optional<double>& value) {
  if (!value) {
    return nullptr;
  }
  const double clamped = std::clamp(*value, 0.0, 100.0);
  const double floored = std::floor(clamped * 100.0 + 1e-6) / 100.0;
  char text[16];
  std::snprintf(text, sizeof(text), "%.2f", floored);
  return text;
}

int64_t Milliseconds(int64_t micros) { return (std::max<int64_t>(micros, 0) + 500) / 1000; }

std::string ReadyMessage(const MonitorStatus& status) {
  switch (status.state) {
    case MonitorState::kUp:
      return "Every check round passes.";
    case MonitorState::kDegraded:
      return "Checks pass, but slower than spec.degradedAfter.";
    case MonitorState::kDown:
      return status.reason.empty() ? "The target fails its checks." : status.reason;
    case MonitorState::kPending:
      return "Waiting for the first check results.";
    case MonitorState::kPaused:
      return "Checks are suspended (spec.suspend is true).";
    case MonitorState::kMaintenance:
      return "In a maintenance window.";
    case MonitorState::kInvalid:
      return status.reason.empty() ? "The spec is invalid." : status.reason;
  }
  return status.reason;
}

const Json* FindReadyCondition(const Json& current) {
  if (!current.is_object()) {
    return nullptr;
  }
  auto conditions = current.find("conditions");
  if (conditions == current.end() || !conditions->is_array()) {
    return nullptr;
  }
  for (const Json& condition : *conditions) {
    if (condition.is_object() && condition.value("type", "") == "Ready") {
      return &condition;
    }
  }
  return nullptr;
}

std::string StringAt(const Json& object, const char* key) {
  if (!object.is_object()) {
    return "";
  }
  auto found = object.find(key);
  return found != object.end() && found->is_string() ? found->get<std::string>() : "";
}

}  // namespace

MonitorStatusWriter::MonitorStatusWriter(SnapshotSource snapshots, StatusPatcher& patcher,
                                         const Clock& clock, Options options,
                                         PushTokenSource push_tokens)
    : snapshots_(std::move(snapshots)),
      push_tokens_(std::move(push_tokens)),
      patcher_(patcher),
      clock_(clock),
      options_(options) {}

MonitorStatusWriter::~MonitorStatusWriter() { Stop(); }

void MonitorStatusWriter::Start() {
  const int count = std::max(1, options_.workers);
  for (int i = 0; i < count; ++i) {
    workers_.emplace_back([this] {
      pthread_setname_np(pthread_self(), "status-writer");
      Loop();
    });
  }
}

void MonitorStatusWriter::Stop() {
  {
    MutexLock lock(mutex_);
    if (stopping_ && workers_.empty()) {
      return;
    }
    stopping_ = true;
  }
  changed_.NotifyAll();
  patcher_.Shutdown();
  for (std::thread& worker : workers_) {
    if (worker.joinable()) {
      worker.join();
    }
  }
  workers_.clear();
}

void MonitorStatusWriter::SetActive(bool active) {
  {
    MutexLock lock(mutex_);
    if (active_ == active) {
      return;
    }
    active_ = active;
    if (active) {
      active_since_ = clock_.Now();
      const SteadyTime now = clock_.SteadyNow();
      for (auto& [uid, entry] : entries_) {
        entry.transition_at.reset();
        entry.last_written.clear();  // another leader may have written since
        ScheduleLocked(uid, entry, now);
      }
    } else {
      for (const std::string& uid : urgent_) {
        auto found = entries_.find(uid);
        if (found != entries_.end()) {
          found->second.urgent = false;
        }
      }
      urgent_.clear();
    }
  }
  changed_.NotifyAll();
}

bool MonitorStatusWriter::active() const {
  MutexLock lock(mutex_);
  return active_;
}

void MonitorStatusWriter::ScheduleLocked(const std::string& uid, Entry& entry, SteadyTime due) {
  due_.erase({entry.due, uid});
  entry.due = due;
  due_.insert({due, uid});
}

void MonitorStatusWriter::MakeUrgentLocked(const std::string& uid, Entry& entry) {
  if (clock_.SteadyNow() < entry.hold_until) {
    return;  // its retry after a failure is scheduled, and writes the latest status
  }
  if (entry.in_flight) {
    entry.again = true;
    entry.urgent_again = true;
    return;
  }
  if (!entry.urgent && active_) {
    entry.urgent = true;
    urgent_.push_back(uid);
  }
}

void MonitorStatusWriter::Track(const std::string& uid, const std::string& namespace_name,
                                const std::string& name) {
  {
    MutexLock lock(mutex_);
    auto [it, added] = entries_.try_emplace(uid);
    Entry& entry = it->second;
    entry.namespace_name = namespace_name;
    entry.name = name;
    if (added) {
      ScheduleLocked(uid, entry, clock_.SteadyNow());
    }
    MakeUrgentLocked(uid, entry);
  }
  changed_.NotifyOne();
}

void MonitorStatusWriter::StateChanged(const StateEvent& event) {
  {
    MutexLock lock(mutex_);
    auto found = entries_.find(event.monitor_uid);
    if (found == entries_.end()) {
      return;
    }
    if (active_) {
      found->second.transition_at = event.at;
    }
    MakeUrgentLocked(found->first, found->second);
  }
  changed_.NotifyOne();
}

void MonitorStatusWriter::Forget(const std::string& uid) {
  MutexLock lock(mutex_);
  auto found = entries_.find(uid);
  if (found == entries_.end()) {
    return;
  }
  due_.erase({found->second.due, uid});
  if (found->second.urgent) {
    urgent_.erase(std::remove(urgent_.begin(), urgent_.end(), uid), urgent_.end());
  }
  entries_.erase(found);
}

MonitorStatusWriter::Stats MonitorStatusWriter::stats() const {
  MutexLock lock(mutex_);
  Stats stats = stats_;
  stats.tracked = entries_.size();
  stats.urgent = urgent_.size();
  return stats;
}

std::optional<std::string> MonitorStatusWriter::PickLocked(SteadyTime now) {
  if (!active_ || stopping_) {
    return std::nullopt;
  }
  while (!urgent_.empty()) {
    std::string uid = std::move(urgent_.front());
    urgent_.pop_front();
    auto found = entries_.find(uid);
    if (found == entries_.end()) {
      continue;
    }
    found->second.urgent = false;
    found->second.in_flight = true;
    return uid;
  }
  for (auto it = due_.begin(); it != due_.end() && it->first <= now; ++it) {
    auto found = entries_.find(it->second);
    if (found == entries_.end() || found->second.in_flight) {
      continue;
    }
    found->second.in_flight = true;
    return it->second;
  }
  return std::nullopt;
}

void MonitorStatusWriter::Loop() {
  MutexLock lock(mutex_);
  while (!stopping_) {
    const SteadyTime now = clock_.SteadyNow();
    std::optional<std::string> uid = PickLocked(now);
    if (uid) {
      lock.Unlock();
      Process(*uid);
      lock.Lock();
      continue;
    }
    if (active_) {
      // Entries already due are in flight (a finishing write notifies); wait for the next one
      // to fall due, or a second at most.
      SteadyTime wake = now + std::chrono::seconds(1);
      for (const auto& [due, ignored] : due_) {
        if (due > now) {
          wake = std::min(wake, due);
          break;
        }
      }
      changed_.WaitFor(mutex_, wake - now);  // in the clock's time, which tests move
    } else {
      changed_.Wait(mutex_);
    }
  }
}

bool MonitorStatusWriter::WriteNext() {
  std::optional<std::string> uid;
  {
    MutexLock lock(mutex_);
    uid = PickLocked(clock_.SteadyNow());
  }
  if (!uid) {
    return false;
  }
  Process(*uid);
  return true;
}

void MonitorStatusWriter::Process(const std::string& uid) {
  std::string namespace_name;
  std::string name;
  std::string last_written_text;
  bool keep_transition_time = false;
  TimePoint active_since{};
  {
    MutexLock lock(mutex_);
    auto found = entries_.find(uid);
    if (found == entries_.end()) {
      return;
    }
    namespace_name = found->second.namespace_name;
    name = found->second.name;
    last_written_text = found->second.last_written;
    keep_transition_time = !found->second.transition_at.has_value();
    active_since = active_since_;
  }

  const Json last_written =
      last_written_text.empty() ? Json(nullptr) : Json::parse(last_written_text, nullptr, false);
  enum class Outcome { kWritten, kUnchanged, kFailed, kGone };
  Outcome outcome = Outcome::kUnchanged;
  std::chrono::seconds retry_after{0};
  Json written;
  const std::optional<MonitorStatus> snapshot = snapshots_(uid);
  if (!snapshot || !snapshot->monitor) {
    outcome = Outcome::kGone;
  } else {
    BuildContext context{clock_.Now(), keep_transition_time, std::nullopt};
    // A token from a Secret stays there (status is readable by more people than Secrets).
    if (push_tokens_ && snapshot->monitor->type == MonitorType::kPush &&
        !(snapshot->monitor->push && snapshot->monitor->push->token_from)) {
      context.push_token = push_tokens_(uid);
    }
    // Results or a transition of this replica's own since it became the writer.
    const bool confirmed = !keep_transition_time || (snapshot->last_check_time &&
                                                     *snapshot->last_check_time >= active_since);
    const bool known_unchanged =
        !last_written.is_null() &&
        WithoutNulls(BuildStatus(*snapshot, last_written, context)) == last_written;
    if (!known_unchanged) {
      bool sent = false;
      bool other_object = false;
      const KubeResponse response = patcher_.PatchFromFresh(
          namespace_name, name, [&](const Json& object) -> std::optional<Json> {
            sent = false;
            if (JsonStringAt(object, {"metadata", "uid"}) != uid) {
              other_object = true;  // deleted and created again under the same name
              return std::nullopt;
            }
            const Json current = object.contains("status") ? object["status"] : Json(nullptr);
            const bool same_generation =
                current.is_object() &&
                current.value("observedGeneration", int64_t{-1}) == snapshot->monitor->generation;
            if (!confirmed && same_generation && !StringAt(current, "state").empty()) {
              // Another leader's state for this generation; ours is not based on new results.
              written = current;
              return std::nullopt;
            }
            Json status = BuildStatus(*snapshot, current, context);
            written = WithoutNulls(status);
            if (current.is_object() && written == current) {
              return std::nullopt;
            }
            {
              MutexLock lock(mutex_);
              if (!active_) {
                return std::nullopt;  // no longer the leader: leave it to the new one
              }
            }
            sent = true;
            return status;
          });
      if (response.IsNotFound() || other_object) {
        outcome = Outcome::kGone;
      } else if (!response.ok()) {
        outcome = Outcome::kFailed;
        retry_after = response.retry_after;
      } else if (sent) {
        outcome = Outcome::kWritten;
      }
    }
  }

  MutexLock lock(mutex_);
  auto found = entries_.find(uid);
  if (found == entries_.end()) {
    return;
  }
  Entry& entry = found->second;
  entry.in_flight = false;
  const SteadyTime now = clock_.SteadyNow();
  switch (outcome) {
    case Outcome::kWritten:
      ++stats_.written;
      entry.last_written = written.dump(-1, ' ', false, Json::error_handler_t::replace);
      break;
    case Outcome::kUnchanged:
      ++stats_.unchanged;
      if (!written.is_null()) {
        entry.last_written = written.dump(-1, ' ', false, Json::error_handler_t::replace);
      }
      break;
    case Outcome::kFailed:
      ++stats_.failed;
      Log().Debug("status not written; trying again later",
                  {{"monitor", entry.namespace_name + "/" + entry.name}});
      break;
    case Outcome::kGone:
      break;
  }
  const bool failed = outcome == Outcome::kFailed;
  const std::chrono::milliseconds delay =
      failed ? std::max<std::chrono::milliseconds>(
                   std::min(options_.retry_delay, options_.interval), retry_after)
             : options_.interval;
  ScheduleLocked(uid, entry, now + delay);
  entry.hold_until = failed ? now + delay : SteadyTime{};
  if (failed) {
    entry.again = false;  // the retry writes whatever changed meanwhile
    entry.urgent_again = false;
  }
  if (entry.again) {
    const bool urgent = entry.urgent_again;
    entry.again = false;
    entry.urgent_again = false;
    if (urgent) {
      MakeUrgentLocked(uid, entry);
    } else {
      ScheduleLocked(uid, entry, now);
    }
  }
  changed_.NotifyAll();
}

Json MonitorStatusWriter::WithoutNulls(const Json& status) {
  if (!status.is_object()) {
    return status;
  }
  Json result = Json::object();
  for (auto it = status.begin(); it != status.end(); ++it) {
    if (it.value().is_null()) {
      continue;
    }
    result[it.key()] = WithoutNulls(it.value());
  }
  return result;
}

Json MonitorStatusWriter::BuildStatus(const MonitorStatus& status, const Json& current,
                                      const BuildContext& context) {
  const Monitor& monitor = *status.monitor;
  const std::string state = ToString(status.state);

  std::string transition = FormatRfc3339(
      status.last_transition_time == TimePoint{} ? context.now : status.last_transition_time);
  if (context.keep_transition_time && StringAt(current, "state") == state &&
      !StringAt(current, "lastTransitionTime").empty()) {
    transition = StringAt(current, "lastTransitionTime");
  }

  const bool ready = status.state == MonitorState::kUp || status.state == MonitorState::kDegraded;
  const std::string ready_status = ready ? "True" : "False";
  std::string ready_since = transition;
  if (const Json* previous = FindReadyCondition(current);
      previous != nullptr && StringAt(*previous, "status") == ready_status &&
      !StringAt(*previous, "lastTransitionTime").empty()) {
    ready_since = StringAt(*previous, "lastTransitionTime");
  }
  Json condition = {{"type", "Ready"},
                    {"status", ready_status},
                    {"observedGeneration", monitor.generation},
                    {"lastTransitionTime", ready_since},
                    {"reason", state},
                    {"message", Truncate(ReadyMessage(status), kMaxConditionMessage)}};

  Json regions = Json::array();
  std::set<std::string> failing_everywhere;  // sorted, each once
  for (const RegionStatus& region : status.regions) {
    if (regions.size() >= kMaxRegions) {
      break;
    }
    Json entry = {{"name", region.name}, {"state", ToString(region.state)}};
    if (region.last_check_time) {
      entry["lastCheckTime"] = FormatRfc3339(*region.last_check_time);
      entry["latencyMs"] = Milliseconds(region.latency_us);
    }
    if (region.status_code > 0 && region.status_code <= 999) {
      entry["statusCode"] = region.status_code;
    }
    if (!region.message.empty()) {
      entry["message"] = Truncate(region.message, kMaxRegionMessage);
    }
    if (!region.failing_addresses.empty()) {
      Json failing = Json::array();
      for (const std::string& address : region.failing_addresses) {
        failing.push_back(Truncate(address, kMaxEndpointLabel));
        failing_everywhere.insert(Truncate(address, kMaxEndpointLabel));
      }
      entry["failingEndpoints"] = std::move(failing);
    }
    regions.push_back(std::move(entry));
  }
  Json failing_endpoints = nullptr;
  if (!failing_everywhere.empty()) {
    failing_endpoints = Json::array();
    for (const std::string& address : failing_everywhere) {
      if (failing_endpoints.size() >= kMaxFailingEndpoints) {
        break;
      }
      failing_endpoints.push_back(address);
    }
  }

  Json uptime = nullptr;
  if (status.uptime_24h || status.uptime_7d || status.uptime_30d) {
    uptime = {{"last24h", Percent(status.uptime_24h)},
              {"last7d", Percent(status.uptime_7d)},
              {"last30d", Percent(status.uptime_30d)}};
  }
  Json latency = nullptr;
  if (status.latency_p50_us || status.latency_p95_us) {
    latency = Json::object();
    latency["p50Ms"] = status.latency_p50_us ? Json(Milliseconds(*status.latency_p50_us)) : Json();
    latency["p95Ms"] = status.latency_p95_us ? Json(Milliseconds(*status.latency_p95_us)) : Json();
  }
  Json incident = nullptr;
  if (status.incident) {
    incident = {{"id", status.incident->id}, {"since", FormatRfc3339(status.incident->since)}};
  }

  return {{"observedGeneration", monitor.generation},
          {"state", state},
          {"target", Truncate(monitor.Target(), kMaxTarget)},
          {"message", Truncate(status.reason, kMaxMessage)},
          {"lastCheckTime",
           status.last_check_time ? Json(FormatRfc3339(*status.last_check_time)) : Json()},
          {"lastTransitionTime", transition},
          {"uptime", std::move(uptime)},
          {"latency", std::move(latency)},
          {"regions", std::move(regions)},
          {"failingEndpoints", std::move(failing_endpoints)},
          {"incident", std::move(incident)},
          {"push", context.push_token ? Json{{"token", *context.push_token}} : Json()},
          {"conditions", Json::array({std::move(condition)})}};
}

}  // namespace pharos
