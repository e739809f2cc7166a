#pragma once

// SqliteAlertStore: the alerting room's IncidentStore and Outbox in the SQLite file of
// `pharos run` (and the pharos-operator leader's, for deliveries that belong to no incident).
// Incidents themselves are the core's rows (SqliteResultStore's `incidents` table, written with
// the monitor state that opened or resolved them); this store adds what people do with them —
// acknowledgements, notes, screenshots, a timeline — and the notification outbox, in tables of
// its own (schema component "alerting"). Open it on the same file after the result store (it
// reads the `incidents` table). A commit survives a crash of the process (WAL), so an outbox row
// written is never lost.
// Thread-safety: every method may be called from any thread (one connection under a lock).

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/mutex.h"
#include "operator/alerting/incident_store.h"
#include "operator/alerting/outbox.h"
#include "operator/storage/sqlite_database.h"

namespace pharos {

class SqliteAlertStore final : public IncidentStore, public Outbox {
 public:
  struct Options {
    std::string path;  // the database file (the result store's)
    std::chrono::milliseconds busy_timeout{5'000};
    // Delivered and failed deliveries older than this are pruned.
    std::chrono::hours delivery_retention{24 * 30};
  };

  static constexpr std::string_view kSchemaComponent = "alerting";
  static const std::vector<SqliteDatabase::Migration>& Migrations();

  static Result<std::unique_ptr<SqliteAlertStore>> Open(Options options);

  // --- IncidentReader ---
  Result<std::vector<IncidentRecord>> ListIncidents(const IncidentQuery& query) override;
  Result<std::vector<IncidentRecord>> ListIncidentsInWindow(
      const IncidentWindowQuery& query) override;
  Result<std::optional<IncidentRecord>> GetIncident(const std::string& id) override;

  // --- IncidentStore ---
  Status RecordOpened(const Incident& incident) override;
  Status RecordResolved(const std::string& id, TimePoint at) override;
  Status AddEntry(const std::string& id, const IncidentEntry& entry) override;
  Result<IncidentUpdate> Acknowledge(const std::string& id, const std::string& author,
                                     TimePoint at) override;
  Result<IncidentUpdate> AddNote(const std::string& id, const std::string& author,
                                 const std::string& text, TimePoint at) override;
  Result<IncidentUpdate> AttachScreenshot(const std::string& id, const std::string& url,
                                          TimePoint at) override;

  // --- Outbox ---
  Result<size_t> Add(const std::vector<Delivery>& deliveries) override;
  Result<std::optional<Delivery>> NextPending(const std::string& channel) override;
  Result<std::vector<std::string>> PendingChannels() override;
  Status Update(const Delivery& delivery) override;
  Result<std::vector<Delivery>> ForIncident(const std::string& incident_id) override;
  Result<OutboxStats> Stats() override;

  // Drops delivered/failed deliveries older than the retention, and the timelines of incidents
  // the result store pruned. Returns the rows deleted.
  Result<int64_t> Prune(TimePoint now);

 private:
  struct Key {
    explicit Key() = default;
  };

 public:
  SqliteAlertStore(Key, Options options, std::unique_ptr<SqliteDatabase> db);

 private:
  // In a transaction, for consistency.
  Result<std::vector<IncidentRecord>> QueryLocked(const std::string& where_sql,
                                                  const std::optional<std::string>& id,
                                                  const IncidentQuery& query) REQUIRES(mu_);
  // The records of rows of (id, monitor_uid, monitor_key, opened_at_ms, resolved_at_ms,
  // failing_regions, first_error, ack author), with their timelines and screenshots.
  Result<std::vector<IncidentRecord>> ReadRecordsLocked(SqliteStatement& select) REQUIRES(mu_);
  Status AddEntryLocked(const std::string& id, const IncidentEntry& entry) REQUIRES(mu_);
  Result<IncidentUpdate> Change(const std::string& id,
                                const std::function<Result<bool>(const IncidentRecord&)>& change);
  Result<std::vector<Delivery>> ReadDeliveries(SqliteStatement& select);

  const Options options_;
  Mutex mu_;
  std::unique_ptr<SqliteDatabase> db_ GUARDED_BY(mu_);
};

}  // namespace pharos
