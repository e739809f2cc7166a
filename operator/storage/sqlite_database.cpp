#include "operator/storage/sqlite_database.h"

#include <fmt/format.h>
#include <sqlite3.h>

#include <memory>

namespace pharos {

void SqliteDatabase::StatementDeleter::operator()(sqlite3_stmt* statement) const {
  sqlite3_finalize(statement);
}

Result<std::unique_ptr<SqliteDatabase>> SqliteDatabase::Open(const std::string& path,
                                                             const Options& options) {
  sqlite3* handle = nullptr;
  const int flags =
      options.read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  const int code = sqlite3_open_v2(path.c_str(), &handle, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  if (code != SQLITE_OK) {
    std::string message = handle != nullptr ? sqlite3_errmsg(handle) : sqlite3_errstr(code);
    sqlite3_close(handle);
    return Error{
        fmt::format("cannot open database {}: {} (check the path and that the "
                    "directory is writable)",
                    path, message)};
  }
  auto db = std::make_unique<SqliteDatabase>(Key{}, handle, path);
  sqlite3_extended_result_codes(handle, 1);
  sqlite3_busy_timeout(handle, static_cast<int>(options.busy_timeout.count()));

  // Touching the schema is what reveals a file that is not a database.
  if (Status status = db->Exec("SELECT count(*) FROM sqlite_schema"); !status) {
    return Error{fmt::format("database {} is not usable: {}", path, status.error())};
  }
  if (!options.read_only) {
    Result<SqliteStatement> wal = db->Prepare("PRAGMA journal_mode=WAL");
    if (!wal) return Error{wal.error()};
    Result<bool> row = wal->Step();
    if (!row) return Error{fmt::format("database {}: cannot enable WAL: {}", path, row.error())};
    const std::string mode = *row ? wal->Text(0) : "";
    if (mode != "wal" && mode != "memory") {
      return Error{
          fmt::format("database {}: journal mode is '{}', WAL is required (is the "
                      "file on a network filesystem?)",
                      path, mode)};
    }
  }
  std::string pragmas = fmt::format("PRAGMA synchronous={}; PRAGMA foreign_keys=ON;",
                                    options.synchronous_full ? "FULL" : "NORMAL");
  if (options.cache_kib > 0) pragmas += fmt::format(" PRAGMA cache_size=-{};", options.cache_kib);
  if (options.wal_autocheckpoint_pages > 0) {
    pragmas += fmt::format(" PRAGMA wal_autocheckpoint={};", options.wal_autocheckpoint_pages);
  }
  if (Status status = db->Exec(pragmas); !status) {
    return Error{fmt::format("database {}: {}", path, status.error())};
  }
  return db;
}

SqliteDatabase::~SqliteDatabase() {
  cache_.clear();  // statements must be finalised before the connection closes
  sqlite3_close(db_);
}

Status SqliteDatabase::Exec(std::string_view sql) {
  char* message = nullptr;
  const std::string text(sql);
  if (sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    std::string error = message != nullptr ? message : sqlite3_errmsg(db_);
    sqlite3_free(message);
    return Error{"SQLite: " + error};
  }
  return OkStatus();
}

Result<SqliteStatement> SqliteDatabase::Prepare(std::string_view sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    sqlite3_stmt* statement = nullptr;
    if (sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                           &statement, nullptr) != SQLITE_OK) {
      return Error{Failure(fmt::format("preparing '{}'", sql.substr(0, 60))).error()};
    }
    it = cache_.emplace(std::string(sql), statement).first;
  }
  return SqliteStatement(it->second.get());
}

int64_t SqliteDatabase::Changes() const { return sqlite3_changes64(db_); }

Status SqliteDatabase::InTransaction(bool write, const std::function<Status()>& body) {
  if (Status begin = Exec(write ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED"); !begin) return begin;
  Status status = body();
  if (status) status = Exec("COMMIT");
  if (!status && sqlite3_get_autocommit(db_) == 0) {
    // The original error is the one worth reporting; a failed rollback only adds to it.
    if (Status rollback = Exec("ROLLBACK"); !rollback) {
      status = Error{status.error() + "; rollback failed too: " + rollback.error()};
    }
  }
  return status;
}

Status SqliteDatabase::Migrate(std::string_view component,
                               const std::vector<Migration>& migrations) {
  for (size_t i = 0; i < migrations.size(); ++i) {
    if (migrations[i].version != static_cast<int>(i) + 1) {
      return Error{
          fmt::format("schema migrations of '{}' must be numbered 1, 2, 3...; entry {} "
                      "has version {}",
                      component, i, migrations[i].version)};
    }
  }
  const int latest = static_cast<int>(migrations.size());
  if (Status status =
          Exec("CREATE TABLE IF NOT EXISTS schema_version ("
               " component TEXT PRIMARY KEY, version INTEGER NOT NULL, updated_at TEXT NOT NULL)");
      !status) {
    return Error{fmt::format("database {}: {}", path_, status.error())};
  }
  return InTransaction(true, [&]() -> Status {
    Result<int> current = SchemaVersion(component);
    if (!current) return Error{current.error()};
    if (*current > latest) {
      return Error{fmt::format(
          "database {} has schema version {} for '{}', but this Pharos knows only up to version "
          "{}: it was written by a newer Pharos. Run that version (or newer), or point Pharos at "
          "another database file",
          path_, *current, component, latest)};
    }
    for (int version = *current + 1; version <= latest; ++version) {
      const Migration& migration = migrations[version - 1];
      if (Status status = Exec(migration.sql); !status) {
        return Error{fmt::format("database {}: migration {} of '{}' ({}) failed: {}", path_,
                                 version, component, migration.description, status.error())};
      }
    }
    if (*current == latest) return OkStatus();
    Result<SqliteStatement> update = Prepare(
        "INSERT INTO schema_version (component, version, updated_at)"
        " VALUES (?1, ?2, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))"
        " ON CONFLICT (component) DO UPDATE SET version = excluded.version,"
        " updated_at = excluded.updated_at");
    if (!update) return Error{update.error()};
    return update->Bind(1, component).Bind(2, int64_t{latest}).Run();
  });
}

Result<int> SqliteDatabase::SchemaVersion(std::string_view component) {
  Result<SqliteStatement> exists =
      Prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'schema_version'");
  if (!exists) return Error{exists.error()};
  Result<bool> has_table = exists->Step();
  if (!has_table) return Error{has_table.error()};
  if (!*has_table) return 0;
  Result<SqliteStatement> query =
      Prepare("SELECT version FROM schema_version WHERE component = ?1");
  if (!query) return Error{query.error()};
  query->Bind(1, component);
  Result<bool> row = query->Step();
  if (!row) return Error{row.error()};
  return *row ? static_cast<int>(query->Int64(0)) : 0;
}

Status SqliteDatabase::Failure(std::string_view what) const {
  return Error{fmt::format("SQLite: {}: {}", what, sqlite3_errmsg(db_))};
}

}  // namespace pharos
