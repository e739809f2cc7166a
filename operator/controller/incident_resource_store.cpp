#include "operator/controller/incident_resource_store.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <set>
#include <tuple>

#include "common/logging.h"
#include "common/rfc3339.h"

namespace pharos {
namespace {

using Json = nlohmann::json;

constexpr size_t kMaxTimeline = 200;
constexpr int kMaxAttempts = 5;

const Logger& Log() {
  static const Logger logger("incidents");
  return logger;
}

std::string Str(const Json& object, std::initializer_list<std::string_view> path) {
  return JsonStringAt(object, path);
}

std::optional<TimePoint> Time(const Json& value) {
  if (!value.is_string()) return std::nullopt;
  Result<TimePoint> parsed = ParseRfc3339(value.get<std::string>());
  return parsed ? std::optional<TimePoint>(*parsed) : std::nullopt;
}

std::optional<TimePoint> TimeAt(const Json& object, const char* key) {
  auto found = object.find(key);
  return found == object.end() ? std::nullopt : Time(*found);
}

int64_t Version(const Json& object) {
  const std::string text = Str(object, {"metadata", "resourceVersion"});
  int64_t value = -1;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

std::vector<std::string> Strings(const Json& value) {
  std::vector<std::string> out;
  if (value.is_array()) {
    for (const Json& item : value) {
      if (item.is_string()) out.push_back(item.get<std::string>());
    }
  }
  return out;
}

std::optional<IncidentEntry::Kind> EntryKind(std::string_view text) {
  for (auto kind : {IncidentEntry::Kind::kStateChange, IncidentEntry::Kind::kNote,
                    IncidentEntry::Kind::kAcknowledged, IncidentEntry::Kind::kMaintenanceStart,
                    IncidentEntry::Kind::kMaintenanceEnd, IncidentEntry::Kind::kNotification,
                    IncidentEntry::Kind::kScreenshot}) {
    if (text == ToString(kind)) return kind;
  }
  return std::nullopt;
}

Json EntryJson(const IncidentEntry& entry) {
  Json json = {{"at", FormatRfc3339(entry.at)}, {"kind", ToString(entry.kind)}};
  if (!entry.text.empty()) json["text"] = entry.text.substr(0, 16384);
  if (!entry.author.empty()) json["author"] = entry.author.substr(0, 256);
  return json;
}

void Append(Json& status, const IncidentEntry& entry) {
  Json& timeline = status["timeline"];
  if (!timeline.is_array()) timeline = Json::array();
  timeline.push_back(EntryJson(entry));
  while (timeline.size() > kMaxTimeline) timeline.erase(timeline.begin());
}

Json DeliveryJson(const Delivery& d) {
  const Notification& n = d.notification;
  Json json = {{"deliveryId", d.id},
               {"channel", d.channel},
               {"event", ToString(n.event)},
               {"sequence", n.sequence},
               {"state", ToString(d.state)},
               {"attempts", d.attempts},
               {"createdAt", FormatRfc3339(d.created_at)},
               {"nextAttemptAt", FormatRfc3339(d.next_attempt_at)},
               {"occurredAt", FormatRfc3339(n.occurred_at)},
               {"monitorState", n.state},
               {"monitorType", n.monitor_type},
               {"monitorTarget", n.monitor_target.substr(0, 4096)}};
  if (!d.last_error.empty()) json["lastError"] = d.last_error.substr(0, 4096);
  if (d.delivered_at) json["deliveredAt"] = FormatRfc3339(*d.delivered_at);
  if (!n.reason.empty()) json["reason"] = n.reason.substr(0, 4096);
  if (!n.regions.empty()) json["regions"] = n.regions;
  if (!n.acknowledged_by.empty()) json["acknowledgedBy"] = n.acknowledged_by;
  return json;
}

Delivery DeliveryOf(const Json& object, const Json& entry) {
  Delivery d;
  d.id = entry.value("deliveryId", "");
  d.channel = entry.value("channel", "");
  d.state = ParseDeliveryState(entry.value("state", "Pending")).value_or(DeliveryState::kPending);
  d.attempts = entry.value("attempts", 0);
  d.last_error = entry.value("lastError", "");
  d.created_at = TimeAt(entry, "createdAt").value_or(TimePoint{});
  d.next_attempt_at = TimeAt(entry, "nextAttemptAt").value_or(d.created_at);
  d.delivered_at = TimeAt(entry, "deliveredAt");
  Notification& n = d.notification;
  n.event = ParseNotificationEvent(entry.value("event", "down")).value_or(NotificationEvent::kDown);
  n.sequence = entry.value("sequence", 0);
  const Json& spec = object.contains("spec") ? object["spec"] : Json::object();
  n.monitor_uid = Str(object, {"spec", "monitor", "uid"});
  n.monitor_namespace = Str(object, {"metadata", "namespace"});
  n.monitor_name = Str(object, {"spec", "monitor", "name"});
  n.monitor_type = entry.value("monitorType", Str(object, {"spec", "monitor", "type"}));
  n.monitor_target = entry.value("monitorTarget", Str(object, {"spec", "monitor", "target"}));
  n.state = entry.value("monitorState", "");
  n.reason = entry.value("reason", "");
  n.regions = Strings(entry.value("regions", Json::array()));
  n.acknowledged_by = entry.value("acknowledgedBy", "");
  n.occurred_at = TimeAt(entry, "occurredAt").value_or(d.created_at);
  NotificationIncident incident;
  incident.id = spec.value("incidentId", "");
  incident.started_at = TimeAt(spec, "startedAt").value_or(TimePoint{});
  if (n.event == NotificationEvent::kRecovered && object.contains("status")) {
    incident.resolved_at = TimeAt(object["status"], "resolvedAt");
  }
  n.incident = std::move(incident);
  return d;
}

// "checkout-api-1796597611613": the monitor's name and the ms of the incident id.
std::string ResourceName(const Incident& incident) {
  const size_t slash = incident.monitor_key.find('/');
  std::string name =
      slash == std::string::npos ? incident.monitor_key : incident.monitor_key.substr(slash + 1);
  const size_t dash = incident.id.rfind('-');
  const std::string ms = dash == std::string::npos ? "0" : incident.id.substr(dash + 1);
  name = name.substr(0, 253 - ms.size() - 1);
  while (!name.empty() && (name.back() == '.' || name.back() == '-')) name.pop_back();
  return name + "-" + ms;
}

}  // namespace

IncidentResourceStore::IncidentResourceStore(KubeClient& client, const Clock& clock)
    : client_(client), clock_(clock) {}

void IncidentResourceStore::KeepLocked(const Json& object) {
  const std::string id = Str(object, {"spec", "incidentId"});
  if (id.empty()) return;
  auto found = objects_.find(id);
  if (found == objects_.end() || Version(object) >= Version(found->second)) {
    objects_[id] = object;
    ids_by_key_[ObjectKey(object)] = id;
  }
}

void IncidentResourceStore::OnObject(const Json& object) {
  MutexLock lock(mu_);
  KeepLocked(object);
}

void IncidentResourceStore::OnDeleted(const Json& object) {
  MutexLock lock(mu_);
  objects_.erase(Str(object, {"spec", "incidentId"}));
  ids_by_key_.erase(ObjectKey(object));
}

std::string IncidentResourceStore::NameOf(const std::string& incident_id) const {
  MutexLock lock(mu_);
  auto found = objects_.find(incident_id);
  return found == objects_.end() ? "" : Str(found->second, {"metadata", "name"});
}

std::string IncidentResourceStore::IdOf(const std::string& key) const {
  MutexLock lock(mu_);
  auto found = ids_by_key_.find(key);
  return found == ids_by_key_.end() ? "" : found->second;
}

std::vector<Json> IncidentResourceStore::Objects() const {
  MutexLock lock(mu_);
  std::vector<Json> out;
  out.reserve(objects_.size());
  for (const auto& [id, object] : objects_) out.push_back(object);
  return out;
}

std::optional<Json> IncidentResourceStore::Find(const std::string& id) const {
  MutexLock lock(mu_);
  auto found = objects_.find(id);
  if (found == objects_.end()) return std::nullopt;
  return found->second;
}

IncidentRecord IncidentResourceStore::RecordOf(const Json& object) {
  IncidentRecord record;
  Incident& incident = record.incident;
  const Json empty = Json::object();
  const Json& spec = object.contains("spec") ? object["spec"] : empty;
  const Json& status = object.contains("status") ? object["status"] : empty;
  incident.id = spec.value("incidentId", "");
  incident.monitor_uid = Str(object, {"spec", "monitor", "uid"});
  incident.monitor_key =
      Str(object, {"metadata", "namespace"}) + "/" + Str(object, {"spec", "monitor", "name"});
  incident.opened_at = TimeAt(spec, "startedAt").value_or(TimePoint{});
  incident.resolved_at = TimeAt(status, "resolvedAt");
  incident.failing_regions = Strings(spec.value("failingRegions", Json::array()));
  incident.first_error = spec.value("firstError", "");
  const std::string phase = status.value("phase", "Open");
  record.phase = incident.resolved_at      ? IncidentPhase::kResolved
                 : phase == "Acknowledged" ? IncidentPhase::kAcknowledged
                                           : IncidentPhase::kOpen;
  if (status.contains("timeline") && status["timeline"].is_array()) {
    for (const Json& item : status["timeline"]) {
      IncidentEntry entry;
      entry.at = TimeAt(item, "at").value_or(TimePoint{});
      entry.kind = EntryKind(item.value("kind", "")).value_or(IncidentEntry::Kind::kNote);
      entry.text = item.value("text", "");
      entry.author = item.value("author", "");
      record.timeline.push_back(std::move(entry));
    }
  }
  record.screenshot_urls = Strings(status.value("screenshots", Json::array()));
  return record;
}

Result<std::vector<IncidentRecord>> IncidentResourceStore::ListIncidents(
    const IncidentQuery& query) {
  std::vector<IncidentRecord> out;
  for (const Json& object : Objects()) {
    IncidentRecord record = RecordOf(object);
    if (query.monitor_uid && record.incident.monitor_uid != *query.monitor_uid) continue;
    if (!query.include_resolved && record.incident.resolved_at) continue;
    out.push_back(std::move(record));
  }
  std::sort(out.begin(), out.end(), [](const IncidentRecord& a, const IncidentRecord& b) {
    const bool a_open = !a.incident.resolved_at, b_open = !b.incident.resolved_at;
    if (a_open != b_open) return a_open;
    if (a.incident.opened_at != b.incident.opened_at) {
      return a.incident.opened_at > b.incident.opened_at;
    }
    return a.incident.id < b.incident.id;
  });
  if (out.size() > static_cast<size_t>(std::max(query.limit, 0))) {
    out.resize(static_cast<size_t>(std::max(query.limit, 0)));
  }
  return out;
}

Result<std::vector<IncidentRecord>> IncidentResourceStore::ListIncidentsInWindow(
    const IncidentWindowQuery& query) {
  std::vector<std::string> uids = query.monitor_uids;
  std::sort(uids.begin(), uids.end());
  std::vector<IncidentRecord> out;
  for (const Json& object : Objects()) {
    if (!std::binary_search(uids.begin(), uids.end(), Str(object, {"spec", "monitor", "uid"}))) {
      continue;
    }
    IncidentRecord record = RecordOf(object);
    if (query.Covers(record.incident.opened_at, record.incident.resolved_at)) {
      out.push_back(std::move(record));
    }
  }
  // Each monitor's open incident first, then its most recently opened, as ListIncidents.
  std::sort(out.begin(), out.end(), [](const IncidentRecord& a, const IncidentRecord& b) {
    if (a.incident.monitor_uid != b.incident.monitor_uid) {
      return a.incident.monitor_uid < b.incident.monitor_uid;
    }
    const bool a_open = !a.incident.resolved_at, b_open = !b.incident.resolved_at;
    if (a_open != b_open) return a_open;
    if (a.incident.opened_at != b.incident.opened_at) {
      return a.incident.opened_at > b.incident.opened_at;
    }
    return a.incident.id < b.incident.id;
  });
  const size_t limit = static_cast<size_t>(std::max(query.limit_per_monitor, 0));
  size_t kept = 0;
  size_t run = 0;
  std::string previous;
  for (size_t i = 0; i < out.size(); ++i) {
    run = (i > 0 && out[i].incident.monitor_uid == previous) ? run + 1 : 0;
    previous = out[i].incident.monitor_uid;
    if (run < limit) {
      if (kept != i) out[kept] = std::move(out[i]);
      ++kept;
    }
  }
  out.resize(kept);
  return out;
}

Result<std::optional<IncidentRecord>> IncidentResourceStore::GetIncident(const std::string& id) {
  std::optional<Json> object = Find(id);
  if (!object) return std::optional<IncidentRecord>();
  return std::optional<IncidentRecord>(RecordOf(*object));
}

Status IncidentResourceStore::RecordOpened(const Incident& incident) {
  if (Find(incident.id)) return OkStatus();
  const size_t slash = incident.monitor_key.find('/');
  const std::string ns = incident.monitor_key.substr(0, slash);
  const std::string monitor =
      slash == std::string::npos ? "" : incident.monitor_key.substr(slash + 1);
  const std::string name = ResourceName(incident);
  Json object = {
      {"apiVersion", ApiResource::Incidents().ApiVersion()},
      {"kind", "Incident"},
      {"metadata",
       {{"name", name},
        {"namespace", ns},
        {"labels", {{"pharos.dev/monitor", monitor.substr(0, 63)}}},
        {"ownerReferences", Json::array({{{"apiVersion", ApiResource::Monitors().ApiVersion()},
                                          {"kind", "Monitor"},
                                          {"name", monitor},
                                          {"uid", incident.monitor_uid},
                                          {"controller", true},
                                          {"blockOwnerDeletion", false}}})}}},
      {"spec",
       {{"incidentId", incident.id},
        {"monitor", {{"name", monitor}, {"uid", incident.monitor_uid}}},
        {"startedAt", FormatRfc3339(incident.opened_at)},
        {"failingRegions", incident.failing_regions},
        {"firstError", incident.first_error.substr(0, 4096)}}}};
  {
    MutexLock write(write_mu_);
    KubeResponse created = client_.Create(ApiResource::Incidents(), ns, object);
    if (created.IsAlreadyExists()) {
      created = client_.Get(ApiResource::Incidents(), ns, name);
    }
    if (!created.ok()) {
      return Error{"creating Incident " + ns + "/" + name + ": " + created.Describe()};
    }
    MutexLock lock(mu_);
    KeepLocked(created.body);
  }
  Result<IncidentUpdate> opened = Mutate(incident.id, [](Json& status) {
    if (status.contains("phase")) return false;
    status["phase"] = "Open";
    return true;
  });
  return opened ? OkStatus() : Status(Error{opened.error()});
}

Result<IncidentUpdate> IncidentResourceStore::Mutate(
    const std::string& id, const std::function<bool(Json& status)>& change) {
  MutexLock write(write_mu_);
  IncidentUpdate update;
  std::optional<Json> object = Find(id);
  for (int attempt = 0; attempt < kMaxAttempts && object; ++attempt) {
    update.found = true;
    Json status = object->contains("status") && (*object)["status"].is_object()
                      ? (*object)["status"]
                      : Json::object();
    if (!change(status)) {
      update.record = RecordOf(*object);
      return update;
    }
    const std::string ns = Str(*object, {"metadata", "namespace"});
    const std::string name = Str(*object, {"metadata", "name"});
    Json patch = {
        {"metadata", {{"resourceVersion", Str(*object, {"metadata", "resourceVersion"})}}},
        {"status", status}};
    PatchOptions options;
    options.subresource = "status";
    options.field_manager = "pharos-operator";
    KubeResponse response =
        client_.Patch(ApiResource::Incidents(), ns, name, PatchType::kMerge, patch, options);
    if (response.ok()) {
      MutexLock lock(mu_);
      KeepLocked(response.body);
      update.changed = true;
      update.record = RecordOf(response.body);
      return update;
    }
    if (response.IsNotFound()) {
      update.found = false;
      return update;
    }
    if (!response.IsConflict()) {
      return Error{
          fmt::format("writing the status of Incident {}/{}: {}", ns, name, response.Describe())};
    }
    KubeResponse fresh = client_.Get(ApiResource::Incidents(), ns, name);
    if (!fresh.ok()) {
      return Error{fmt::format("reading Incident {}/{}: {}", ns, name, fresh.Describe())};
    }
    {
      MutexLock lock(mu_);
      KeepLocked(fresh.body);
    }
    object = fresh.body;
  }
  if (update.found) {
    return Error{"Incident of " + id +
                 " kept changing under the operator's writes; retrying later"};
  }
  return update;
}

Status IncidentResourceStore::RecordResolved(const std::string& id, TimePoint at) {
  Result<IncidentUpdate> update = Mutate(id, [&](Json& status) {
    if (status.contains("resolvedAt")) return false;
    status["phase"] = "Resolved";
    status["resolvedAt"] = FormatRfc3339(at);
    return true;
  });
  return update ? OkStatus() : Status(Error{update.error()});
}

Status IncidentResourceStore::AddEntry(const std::string& id, const IncidentEntry& entry) {
  Result<IncidentUpdate> update = Mutate(id, [&](Json& status) {
    Append(status, entry);
    return true;
  });
  return update ? OkStatus() : Status(Error{update.error()});
}

Result<IncidentUpdate> IncidentResourceStore::Acknowledge(const std::string& id,
                                                          const std::string& author, TimePoint at) {
  return Mutate(id, [&](Json& status) {
    if (status.value("phase", "Open") != "Open" || status.contains("resolvedAt")) return false;
    status["phase"] = "Acknowledged";
    status["acknowledgedBy"] = author.substr(0, 256);
    status["acknowledgedAt"] = FormatRfc3339(at);
    Append(status, {at, IncidentEntry::Kind::kAcknowledged, "", author});
    return true;
  });
}

Result<IncidentUpdate> IncidentResourceStore::AddNote(const std::string& id,
                                                      const std::string& author,
                                                      const std::string& text, TimePoint at) {
  return Mutate(id, [&](Json& status) {
    Append(status, {at, IncidentEntry::Kind::kNote, text, author});
    return true;
  });
}

Result<IncidentUpdate> IncidentResourceStore::AddNoteOnce(const std::string& id,
                                                          const std::string& author,
                                                          const std::string& text, TimePoint at) {
  return Mutate(id, [&](Json& status) {
    if (status.value("notesSeen", "") == text) return false;
    status["notesSeen"] = text.substr(0, 16384);
    Append(status, {at, IncidentEntry::Kind::kNote, text, author});
    return true;
  });
}

Result<IncidentUpdate> IncidentResourceStore::AttachScreenshot(const std::string& id,
                                                               const std::string& url,
                                                               TimePoint at) {
  return Mutate(id, [&](Json& status) {
    Json& shots = status["screenshots"];
    if (!shots.is_array()) shots = Json::array();
    for (const Json& shot : shots) {
      if (shot == url) return false;
    }
    shots.push_back(url);
    Append(status, {at, IncidentEntry::Kind::kScreenshot, url, ""});
    return true;
  });
}

// --- outbox ---

Result<size_t> IncidentResourceStore::Add(const std::vector<Delivery>& deliveries) {
  std::map<std::string, std::vector<const Delivery*>> by_incident;
  for (const Delivery& delivery : deliveries) {
    if (delivery.notification.incident) {
      by_incident[delivery.notification.incident->id].push_back(&delivery);
    }
  }
  size_t added = 0;
  for (const auto& [id, group] : by_incident) {
    size_t count = 0;
    // Named capture: clang 14 cannot capture a structured binding implicitly.
    Result<IncidentUpdate> update = Mutate(id, [&, &group = group](Json& status) {
      Json& list = status["deliveries"];
      if (!list.is_array()) list = Json::array();
      count = 0;
      for (const Delivery* delivery : group) {
        const bool known = std::any_of(list.begin(), list.end(), [&](const Json& entry) {
          return entry.value("deliveryId", "") == delivery->id;
        });
        if (!known) {
          list.push_back(DeliveryJson(*delivery));
          ++count;
        }
      }
      return count > 0;
    });
    if (!update) return Error{update.error()};
    if (!update->found) {
      return Error{"no Incident holds incident " + id + " (yet): its deliveries wait for it"};
    }
    added += count;
  }
  return added;
}

Result<std::optional<Delivery>> IncidentResourceStore::NextPending(const std::string& channel) {
  std::optional<Delivery> best;
  for (const Json& object : Objects()) {
    if (!object.contains("status") || !object["status"].contains("deliveries")) continue;
    for (const Json& entry : object["status"]["deliveries"]) {
      if (entry.value("channel", "") != channel || entry.value("state", "") != "Pending") continue;
      Delivery delivery = DeliveryOf(object, entry);
      if (!best ||
          std::tie(delivery.created_at, delivery.id) < std::tie(best->created_at, best->id)) {
        best = std::move(delivery);
      }
    }
  }
  return best;
}

Result<std::vector<std::string>> IncidentResourceStore::PendingChannels() {
  std::set<std::string> channels;
  for (const Json& object : Objects()) {
    if (!object.contains("status") || !object["status"].contains("deliveries")) continue;
    for (const Json& entry : object["status"]["deliveries"]) {
      if (entry.value("state", "") == "Pending") channels.insert(entry.value("channel", ""));
    }
  }
  return std::vector<std::string>(channels.begin(), channels.end());
}

Status IncidentResourceStore::Update(const Delivery& delivery) {
  if (!delivery.notification.incident) return Error{"delivery " + delivery.id + " has no incident"};
  Result<IncidentUpdate> update = Mutate(delivery.notification.incident->id, [&](Json& status) {
    Json& list = status["deliveries"];
    if (!list.is_array()) return false;
    for (Json& entry : list) {
      if (entry.value("deliveryId", "") == delivery.id) {
        entry = DeliveryJson(delivery);
        return true;
      }
    }
    return false;
  });
  if (!update) return Error{update.error()};
  if (!update->found) {
    // The Incident is gone (its Monitor was deleted): nothing left to record.
    Log().Info("a delivery's Incident no longer exists", {{"delivery", delivery.id}});
  }
  return OkStatus();
}

Result<std::vector<Delivery>> IncidentResourceStore::ForIncident(const std::string& incident_id) {
  std::vector<Delivery> out;
  std::optional<Json> object = Find(incident_id);
  if (!object || !object->contains("status") || !(*object)["status"].contains("deliveries")) {
    return out;
  }
  for (const Json& entry : (*object)["status"]["deliveries"]) {
    out.push_back(DeliveryOf(*object, entry));
  }
  std::sort(out.begin(), out.end(), [](const Delivery& a, const Delivery& b) {
    return std::tie(a.created_at, a.id) < std::tie(b.created_at, b.id);
  });
  return out;
}

Result<OutboxStats> IncidentResourceStore::Stats() {
  OutboxStats stats;
  for (const Json& object : Objects()) {
    if (!object.contains("status") || !object["status"].contains("deliveries")) continue;
    for (const Json& entry : object["status"]["deliveries"]) {
      if (entry.value("state", "") != "Pending") continue;
      ++stats.pending;
      const std::optional<TimePoint> created = TimeAt(entry, "createdAt");
      if (created && (!stats.oldest_pending || *created < *stats.oldest_pending)) {
        stats.oldest_pending = created;
      }
    }
  }
  return stats;
}

}  // namespace pharos
