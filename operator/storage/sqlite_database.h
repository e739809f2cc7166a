#pragma once

// SqliteDatabase: one SQLite connection set up the way Pharos needs it (WAL journal,
// busy_timeout, foreign keys on, chosen durability), with a cache of prepared statements,
// transactions, and versioned schema migrations kept in code. Several components may keep their
// tables in one file: each has its own version in the `schema_version` table.
// Thread-safety: not thread-safe; the owner serialises use (one lock or one thread).

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "operator/storage/sqlite_statement.h"

struct sqlite3;
struct sqlite3_stmt;

namespace pharos {

class SqliteDatabase {
 public:
  struct Options {
    std::chrono::milliseconds busy_timeout{5'000};
    // FULL: a commit survives a power loss (one fsync per commit; commits are batched).
    // NORMAL (with WAL): a commit survives a crash of the process, not of the OS; the WAL is
    // fsynced at checkpoints only, so a commit costs no fsync.
    bool synchronous_full = false;
    bool read_only = false;
    // Page cache of this connection; 0 keeps SQLite's default (2 MiB). Pages stay cached across
    // read transactions while the file has not changed.
    int64_t cache_kib = 0;
    // WAL pages after which a commit copies them back into the database file; 0 keeps SQLite's
    // default (1000). A page written by many commits in between is copied once.
    int64_t wal_autocheckpoint_pages = 0;
  };

  struct Migration {
    int version = 0;  // 1, 2, 3... in order
    std::string description;
    std::string sql;  // one or more statements
  };

  // Opens (creating when allowed) the database at `path` (":memory:" for a private in-memory
  // one). Fails with a message naming the file when it is not a usable SQLite database.
  static Result<std::unique_ptr<SqliteDatabase>> Open(const std::string& path,
                                                      const Options& options);

 private:
  struct Key {
    explicit Key() = default;
  };

 public:
  // Use Open (the key keeps construction inside this class).
  SqliteDatabase(Key, sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  ~SqliteDatabase();
  SqliteDatabase(const SqliteDatabase&) = delete;
  SqliteDatabase& operator=(const SqliteDatabase&) = delete;

  // Runs SQL without results (one or more statements).
  Status Exec(std::string_view sql);
  // A cached prepared statement, ready to bind.
  Result<SqliteStatement> Prepare(std::string_view sql);
  // Rows changed by the last INSERT/UPDATE/DELETE.
  int64_t Changes() const;

  // Runs `body` in a transaction (BEGIN IMMEDIATE when `write`, so the write lock is taken up
  // front and busy_timeout applies); commits when it succeeds, rolls back otherwise.
  Status InTransaction(bool write, const std::function<Status()>& body);

  // Brings `component`'s tables to the newest version in `migrations`, all in one transaction.
  // A database written by a newer Pharos (a higher version than known) is refused.
  Status Migrate(std::string_view component, const std::vector<Migration>& migrations);
  // The component's current version (0 when it has no tables yet).
  Result<int> SchemaVersion(std::string_view component);

  const std::string& path() const { return path_; }

 private:
  Status Failure(std::string_view what) const;

  struct StatementDeleter {
    void operator()(sqlite3_stmt* statement) const;
  };

  sqlite3* db_;
  std::string path_;
  std::map<std::string, std::unique_ptr<sqlite3_stmt, StatementDeleter>, std::less<>> cache_;
};

}  // namespace pharos
