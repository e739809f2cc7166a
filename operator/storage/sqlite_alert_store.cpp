#include "operator/storage/sqlite_alert_store.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace pharos {
namespace {

int64_t ToMs(TimePoint time) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

TimePoint FromMs(int64_t ms) { return TimePoint(std::chrono::milliseconds(ms)); }

std::optional<IncidentEntry::Kind> ParseEntryKind(std::string_view text) {
  for (auto kind : {IncidentEntry::Kind::kStateChange, IncidentEntry::Kind::kNote,
                    IncidentEntry::Kind::kAcknowledged, IncidentEntry::Kind::kMaintenanceStart,
                    IncidentEntry::Kind::kMaintenanceEnd, IncidentEntry::Kind::kNotification,
                    IncidentEntry::Kind::kScreenshot}) {
    if (text == ToString(kind)) return kind;
  }
  return std::nullopt;
}

constexpr const char* kDeliveryColumns =
    "id, channel, notification, state, attempts, created_at_ms, next_attempt_ms, "
    "delivered_at_ms, last_error";

}  // namespace

const std::vector<SqliteDatabase::Migration>& SqliteAlertStore::Migrations() {
  static const std::vector<SqliteDatabase::Migration> migrations = {
      {1, "incident acknowledgements, timelines, screenshots; the notification outbox", R"sql(
CREATE TABLE incident_acks (
  incident_id TEXT PRIMARY KEY,
  author TEXT NOT NULL,
  at_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE incident_timeline (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  incident_id TEXT NOT NULL,
  at_ms INTEGER NOT NULL,
  kind TEXT NOT NULL,
  text TEXT NOT NULL,
  author TEXT NOT NULL
);
CREATE INDEX incident_timeline_by_incident ON incident_timeline (incident_id, seq);
CREATE TABLE incident_screenshots (
  incident_id TEXT NOT NULL,
  url TEXT NOT NULL,
  at_ms INTEGER NOT NULL,
  PRIMARY KEY (incident_id, url)
) WITHOUT ROWID;
CREATE TABLE notification_outbox (
  id TEXT PRIMARY KEY,
  channel TEXT NOT NULL,
  incident_id TEXT,
  event TEXT NOT NULL,
  notification TEXT NOT NULL,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  created_at_ms INTEGER NOT NULL,
  next_attempt_ms INTEGER NOT NULL,
  delivered_at_ms INTEGER,
  last_error TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX notification_outbox_pending ON notification_outbox (channel, created_at_ms, id)
  WHERE state = 'Pending';
CREATE INDEX notification_outbox_by_incident ON notification_outbox (incident_id);
)sql"},
  };
  return migrations;
}

Result<std::unique_ptr<SqliteAlertStore>> SqliteAlertStore::Open(Options options) {
  if (options.path.empty()) return Error{"alert store: no database path given"};
  SqliteDatabase::Options db_options;
  db_options.busy_timeout = options.busy_timeout;
  Result<std::unique_ptr<SqliteDatabase>> db = SqliteDatabase::Open(options.path, db_options);
  if (!db) return Error{db.error()};
  if (Status migrated = (*db)->Migrate(kSchemaComponent, Migrations()); !migrated) {
    return Error{migrated.error()};
  }
  return std::make_unique<SqliteAlertStore>(Key{}, std::move(options), std::move(db).value());
}

SqliteAlertStore::SqliteAlertStore(Key, Options options, std::unique_ptr<SqliteDatabase> db)
    : options_(std::move(options)), db_(std::move(db)) {}

// --- incidents ---

Result<std::vector<IncidentRecord>> SqliteAlertStore::QueryLocked(
    const std::string& where_sql, const std::optional<std::string>& id,
    const IncidentQuery& query) {
  std::vector<IncidentRecord> out;
  const std::string sql =
      "SELECT i.id, i.monitor_uid, i.monitor_key, i.opened_at_ms, i.resolved_at_ms, "
      "i.failing_regions, i.first_error, a.author FROM incidents i LEFT JOIN incident_acks a ON "
      "a.incident_id = i.id WHERE " +
      where_sql + " ORDER BY i.resolved_at_ms IS NOT NULL, i.opened_at_ms DESC, i.id LIMIT ?3";
  Result<SqliteStatement> select = db_->Prepare(sql);
  if (!select) return Error{select.error()};
  if (id) {
    select->Bind(1, *id);
  } else {
    select->Bind(1, query.monitor_uid).Bind(2, int64_t{query.include_resolved ? 1 : 0});
  }
  select->Bind(3, int64_t{std::clamp(query.limit, 0, 100'000)});
  return ReadRecordsLocked(*select);
}

Result<std::vector<IncidentRecord>> SqliteAlertStore::ReadRecordsLocked(SqliteStatement& select) {
  std::vector<IncidentRecord> out;
  while (true) {
    Result<bool> row = select.Step();
    if (!row) return Error{row.error()};
    if (!*row) break;
    IncidentRecord record;
    Incident& incident = record.incident;
    incident.id = select.Text(0);
    incident.monitor_uid = select.Text(1);
    incident.monitor_key = select.Text(2);
    incident.opened_at = FromMs(select.Int64(3));
    if (auto resolved = select.OptionalInt64(4)) incident.resolved_at = FromMs(*resolved);
    auto regions = nlohmann::json::parse(select.Text(5), nullptr, false);
    if (regions.is_array()) {
      for (const auto& region : regions) {
        if (region.is_string()) incident.failing_regions.push_back(region.get<std::string>());
      }
    }
    incident.first_error = select.Text(6);
    record.phase = incident.resolved_at ? IncidentPhase::kResolved
                   : select.IsNull(7)   ? IncidentPhase::kOpen
                                        : IncidentPhase::kAcknowledged;
    out.push_back(std::move(record));
  }
  for (IncidentRecord& record : out) {
    Result<SqliteStatement> timeline = db_->Prepare(
        "SELECT at_ms, kind, text, author FROM incident_timeline WHERE incident_id = ?1 ORDER BY "
        "seq");
    if (!timeline) return Error{timeline.error()};
    timeline->Bind(1, record.incident.id);
    while (true) {
      Result<bool> row = timeline->Step();
      if (!row) return Error{row.error()};
      if (!*row) break;
      IncidentEntry entry;
      entry.at = FromMs(timeline->Int64(0));
      entry.kind = ParseEntryKind(timeline->Text(1)).value_or(IncidentEntry::Kind::kNote);
      entry.text = timeline->Text(2);
      entry.author = timeline->Text(3);
      record.timeline.push_back(std::move(entry));
    }
    Result<SqliteStatement> shots = db_->Prepare(
        "SELECT url FROM incident_screenshots WHERE incident_id = ?1 ORDER BY at_ms, url");
    if (!shots) return Error{shots.error()};
    shots->Bind(1, record.incident.id);
    while (true) {
      Result<bool> row = shots->Step();
      if (!row) return Error{row.error()};
      if (!*row) break;
      record.screenshot_urls.push_back(shots->Text(0));
    }
  }
  return out;
}

Result<std::vector<IncidentRecord>> SqliteAlertStore::ListIncidents(const IncidentQuery& query) {
  MutexLock lock(mu_);
  Result<std::vector<IncidentRecord>> out = Error{"not read"};
  Status status = db_->InTransaction(false, [&]() REQUIRES(mu_) -> Status {
    out = QueryLocked("(?1 IS NULL OR i.monitor_uid = ?1) AND (?2 = 1 OR i.resolved_at_ms IS NULL)",
                      std::nullopt, query);
    return out ? OkStatus() : Status(Error{out.error()});
  });
  if (!status) return Error{"reading incidents from " + options_.path + ": " + status.error()};
  return out;
}

Result<std::vector<IncidentRecord>> SqliteAlertStore::ListIncidentsInWindow(
    const IncidentWindowQuery& query) {
  if (query.monitor_uids.empty()) return std::vector<IncidentRecord>();
  const std::string uids = nlohmann::json(query.monitor_uids).dump();
  MutexLock lock(mu_);
  Result<std::vector<IncidentRecord>> out = Error{"not read"};
  Status status = db_->InTransaction(false, [&]() REQUIRES(mu_) -> Status {
    // One statement for every monitor; the window function keeps each monitor's first rows.
    Result<SqliteStatement> select = db_->Prepare(
        "SELECT id, monitor_uid, monitor_key, opened_at_ms, resolved_at_ms, failing_regions, "
        "first_error, author FROM (SELECT i.*, a.author AS author, ROW_NUMBER() OVER (PARTITION "
        "BY i.monitor_uid ORDER BY i.resolved_at_ms IS NOT NULL, i.opened_at_ms DESC, i.id) AS "
        "rank FROM incidents i LEFT JOIN incident_acks a ON a.incident_id = i.id WHERE "
        "i.monitor_uid IN (SELECT value FROM json_each(?1)) AND i.opened_at_ms < ?3 AND "
        "(i.resolved_at_ms IS NULL OR MAX(i.resolved_at_ms, i.opened_at_ms + 1) > ?2)) WHERE "
        "rank <= ?4 ORDER BY monitor_uid, rank");
    if (!select) return Error{select.error()};
    select->Bind(1, std::string_view(uids))
        .Bind(2, ToMs(query.from))
        .Bind(3, ToMs(query.to))
        .Bind(4, int64_t{std::clamp(query.limit_per_monitor, 0, 100'000)});
    out = ReadRecordsLocked(*select);
    return out ? OkStatus() : Status(Error{out.error()});
  });
  if (!status) return Error{"reading incidents from " + options_.path + ": " + status.error()};
  return out;
}

Result<std::optional<IncidentRecord>> SqliteAlertStore::GetIncident(const std::string& id) {
  MutexLock lock(mu_);
  Result<std::vector<IncidentRecord>> found = Error{"not read"};
  Status status = db_->InTransaction(false, [&]() REQUIRES(mu_) -> Status {
    IncidentQuery query;
    query.limit = 1;
    found = QueryLocked("i.id = ?1", id, query);
    return found ? OkStatus() : Status(Error{found.error()});
  });
  if (!status) return Error{"reading incident " + id + ": " + status.error()};
  if (found->empty()) return std::optional<IncidentRecord>();
  return std::optional<IncidentRecord>(std::move(found->front()));
}

Status SqliteAlertStore::RecordOpened(const Incident&) {
  // The core wrote the incident row with the state that opened it.
  return OkStatus();
}

Status SqliteAlertStore::RecordResolved(const std::string&, TimePoint) { return OkStatus(); }

Status SqliteAlertStore::AddEntryLocked(const std::string& id, const IncidentEntry& entry) {
  Result<SqliteStatement> insert = db_->Prepare(
      "INSERT INTO incident_timeline (incident_id, at_ms, kind, text, author) VALUES (?1, ?2, "
      "?3, ?4, ?5)");
  if (!insert) return Error{insert.error()};
  return insert->Bind(1, id)
      .Bind(2, ToMs(entry.at))
      .Bind(3, std::string_view(ToString(entry.kind)))
      .Bind(4, entry.text)
      .Bind(5, entry.author)
      .Run();
}

Status SqliteAlertStore::AddEntry(const std::string& id, const IncidentEntry& entry) {
  MutexLock lock(mu_);
  Status status =
      db_->InTransaction(true, [&]() REQUIRES(mu_) { return AddEntryLocked(id, entry); });
  if (!status) return Error{"recording on incident " + id + ": " + status.error()};
  return OkStatus();
}

Result<IncidentUpdate> SqliteAlertStore::Change(
    const std::string& id, const std::function<Result<bool>(const IncidentRecord&)>& change) {
  MutexLock lock(mu_);
  IncidentUpdate update;
  Status status = db_->InTransaction(true, [&]() REQUIRES(mu_) -> Status {
    IncidentQuery query;
    query.limit = 1;
    Result<std::vector<IncidentRecord>> found = QueryLocked("i.id = ?1", id, query);
    if (!found) return Error{found.error()};
    if (found->empty()) return OkStatus();
    update.found = true;
    Result<bool> changed = change(found->front());
    if (!changed) return Error{changed.error()};
    update.changed = *changed;
    Result<std::vector<IncidentRecord>> after = QueryLocked("i.id = ?1", id, query);
    if (!after) return Error{after.error()};
    if (!after->empty()) update.record = std::move(after->front());
    return OkStatus();
  });
  if (!status) return Error{"updating incident " + id + ": " + status.error()};
  return update;
}

Result<IncidentUpdate> SqliteAlertStore::Acknowledge(const std::string& id,
                                                     const std::string& author, TimePoint at) {
  return Change(id, [&](const IncidentRecord& record) REQUIRES(mu_) -> Result<bool> {
    if (record.phase != IncidentPhase::kOpen) return false;
    Result<SqliteStatement> insert = db_->Prepare(
        "INSERT INTO incident_acks (incident_id, author, at_ms) VALUES (?1, ?2, ?3) ON CONFLICT "
        "DO NOTHING");
    if (!insert) return Error{insert.error()};
    if (Status run = insert->Bind(1, id).Bind(2, author).Bind(3, ToMs(at)).Run(); !run) {
      return Error{run.error()};
    }
    if (Status added = AddEntryLocked(id, {at, IncidentEntry::Kind::kAcknowledged, "", author});
        !added) {
      return Error{added.error()};
    }
    return true;
  });
}

Result<IncidentUpdate> SqliteAlertStore::AddNote(const std::string& id, const std::string& author,
                                                 const std::string& text, TimePoint at) {
  return Change(id, [&](const IncidentRecord&) REQUIRES(mu_) -> Result<bool> {
    if (Status added = AddEntryLocked(id, {at, IncidentEntry::Kind::kNote, text, author}); !added) {
      return Error{added.error()};
    }
    return true;
  });
}

Result<IncidentUpdate> SqliteAlertStore::AttachScreenshot(const std::string& id,
                                                          const std::string& url, TimePoint at) {
  return Change(id, [&](const IncidentRecord& record) REQUIRES(mu_) -> Result<bool> {
    if (std::find(record.screenshot_urls.begin(), record.screenshot_urls.end(), url) !=
        record.screenshot_urls.end()) {
      return false;
    }
    Result<SqliteStatement> insert = db_->Prepare(
        "INSERT INTO incident_screenshots (incident_id, url, at_ms) VALUES (?1, ?2, ?3)");
    if (!insert) return Error{insert.error()};
    if (Status run = insert->Bind(1, id).Bind(2, url).Bind(3, ToMs(at)).Run(); !run) {
      return Error{run.error()};
    }
    if (Status added = AddEntryLocked(id, {at, IncidentEntry::Kind::kScreenshot, url, ""});
        !added) {
      return Error{added.error()};
    }
    return true;
  });
}

// --- outbox ---

Result<size_t> SqliteAlertStore::Add(const std::vector<Delivery>& deliveries) {
  MutexLock lock(mu_);
  size_t added = 0;
  Status status = db_->InTransaction(true, [&]() REQUIRES(mu_) -> Status {
    for (const Delivery& delivery : deliveries) {
      Result<SqliteStatement> insert = db_->Prepare(
          "INSERT INTO notification_outbox (id, channel, incident_id, event, notification, state, "
          "attempts, created_at_ms, next_attempt_ms, delivered_at_ms, last_error) VALUES (?1, ?2, "
          "?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) ON CONFLICT (id) DO NOTHING");
      if (!insert) return Error{insert.error()};
      const auto& incident = delivery.notification.incident;
      insert->Bind(1, delivery.id)
          .Bind(2, delivery.channel)
          .Bind(3, incident ? std::optional<std::string>(incident->id) : std::nullopt)
          .Bind(4, std::string_view(ToString(delivery.notification.event)))
          .Bind(5, delivery.notification.ToStored())
          .Bind(6, std::string_view(ToString(delivery.state)))
          .Bind(7, int64_t{delivery.attempts})
          .Bind(8, ToMs(delivery.created_at))
          .Bind(9, ToMs(delivery.next_attempt_at))
          .Bind(10, delivery.delivered_at ? std::optional<int64_t>(ToMs(*delivery.delivered_at))
                                          : std::nullopt)
          .Bind(11, delivery.last_error);
      if (Status run = insert->Run(); !run) return run;
      added += static_cast<size_t>(db_->Changes());
    }
    return OkStatus();
  });
  if (!status) return Error{"writing the notification outbox: " + status.error()};
  return added;
}

Result<std::vector<Delivery>> SqliteAlertStore::ReadDeliveries(SqliteStatement& select) {
  std::vector<Delivery> out;
  while (true) {
    Result<bool> row = select.Step();
    if (!row) return Error{row.error()};
    if (!*row) return out;
    Delivery delivery;
    delivery.id = select.Text(0);
    delivery.channel = select.Text(1);
    Result<Notification> notification = Notification::FromStored(select.Text(2));
    if (!notification) {
      return Error{"delivery " + delivery.id + ": " + notification.error()};
    }
    delivery.notification = std::move(notification).value();
    delivery.state = ParseDeliveryState(select.Text(3)).value_or(DeliveryState::kFailed);
    delivery.attempts = static_cast<int>(select.Int64(4));
    delivery.created_at = FromMs(select.Int64(5));
    delivery.next_attempt_at = FromMs(select.Int64(6));
    if (auto delivered = select.OptionalInt64(7)) delivery.delivered_at = FromMs(*delivered);
    delivery.last_error = select.Text(8);
    out.push_back(std::move(delivery));
  }
}

Result<std::optional<Delivery>> SqliteAlertStore::NextPending(const std::string& channel) {
  MutexLock lock(mu_);
  Result<SqliteStatement> select =
      db_->Prepare(std::string("SELECT ") + kDeliveryColumns +
                   " FROM notification_outbox WHERE channel = ?1 AND state = 'Pending' ORDER BY "
                   "created_at_ms, id LIMIT 1");
  if (!select) return Error{select.error()};
  select->Bind(1, channel);
  Result<std::vector<Delivery>> found = ReadDeliveries(*select);
  if (!found) return Error{"reading the notification outbox: " + found.error()};
  if (found->empty()) return std::optional<Delivery>();
  return std::optional<Delivery>(std::move(found->front()));
}

Result<std::vector<std::string>> SqliteAlertStore::PendingChannels() {
  MutexLock lock(mu_);
  Result<SqliteStatement> select = db_->Prepare(
      "SELECT DISTINCT channel FROM notification_outbox WHERE state = 'Pending' ORDER BY channel");
  if (!select) return Error{select.error()};
  std::vector<std::string> channels;
  while (true) {
    Result<bool> row = select->Step();
    if (!row) return Error{"reading the notification outbox: " + row.error()};
    if (!*row) return channels;
    channels.push_back(select->Text(0));
  }
}

Status SqliteAlertStore::Update(const Delivery& delivery) {
  MutexLock lock(mu_);
  Result<SqliteStatement> update = db_->Prepare(
      "UPDATE notification_outbox SET state = ?2, attempts = ?3, next_attempt_ms = ?4, "
      "delivered_at_ms = ?5, last_error = ?6 WHERE id = ?1");
  if (!update) return Error{update.error()};
  Status status =
      update->Bind(1, delivery.id)
          .Bind(2, std::string_view(ToString(delivery.state)))
          .Bind(3, int64_t{delivery.attempts})
          .Bind(4, ToMs(delivery.next_attempt_at))
          .Bind(5, delivery.delivered_at ? std::optional<int64_t>(ToMs(*delivery.delivered_at))
                                         : std::nullopt)
          .Bind(6, delivery.last_error)
          .Run();
  if (!status) return Error{"recording delivery " + delivery.id + ": " + status.error()};
  return OkStatus();
}

Result<std::vector<Delivery>> SqliteAlertStore::ForIncident(const std::string& incident_id) {
  MutexLock lock(mu_);
  Result<SqliteStatement> select =
      db_->Prepare(std::string("SELECT ") + kDeliveryColumns +
                   " FROM notification_outbox WHERE incident_id = ?1 ORDER BY created_at_ms, id");
  if (!select) return Error{select.error()};
  select->Bind(1, incident_id);
  Result<std::vector<Delivery>> found = ReadDeliveries(*select);
  if (!found) return Error{"reading the notification outbox: " + found.error()};
  return found;
}

Result<OutboxStats> SqliteAlertStore::Stats() {
  MutexLock lock(mu_);
  Result<SqliteStatement> select = db_->Prepare(
      "SELECT COUNT(*), MIN(created_at_ms) FROM notification_outbox WHERE state = 'Pending'");
  if (!select) return Error{select.error()};
  Result<bool> row = select->Step();
  if (!row || !*row) return Error{"reading the notification outbox"};
  OutboxStats stats;
  stats.pending = select->Int64(0);
  if (auto oldest = select->OptionalInt64(1)) stats.oldest_pending = FromMs(*oldest);
  return stats;
}

Result<int64_t> SqliteAlertStore::Prune(TimePoint now) {
  MutexLock lock(mu_);
  int64_t deleted = 0;
  Status status = db_->InTransaction(true, [&]() REQUIRES(mu_) -> Status {
    Result<SqliteStatement> outbox = db_->Prepare(
        "DELETE FROM notification_outbox WHERE state != 'Pending' AND created_at_ms < ?1");
    if (!outbox) return Error{outbox.error()};
    if (Status run = outbox->Bind(1, ToMs(now - options_.delivery_retention)).Run(); !run) {
      return run;
    }
    deleted += db_->Changes();
    for (const char* table : {"incident_timeline", "incident_acks", "incident_screenshots"}) {
      if (Status run = db_->Exec(std::string("DELETE FROM ") + table +
                                 " WHERE incident_id NOT IN (SELECT id FROM incidents)");
          !run) {
        return run;
      }
      deleted += db_->Changes();
    }
    return OkStatus();
  });
  if (!status) return Error{"pruning the alert store: " + status.error()};
  return deleted;
}

}  // namespace pharos
