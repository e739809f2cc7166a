#pragma once

// SqlitePushTokenStore: the generated ping tokens of `pharos run`'s push monitors
// (docs/monitor-reference.md#specpush), kept in its SQLite file (schema component "push") so a
// job's ping URL stays the same across restarts. One token per monitor uid (for files, derived
// from namespace/name): a monitor renamed gets a new token. Tokens are never logged.
// Thread-safety: every method may be called from any thread (one connection under a lock).

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/mutex.h"
#include "common/result.h"
#include "operator/storage/sqlite_database.h"

namespace pharos {

class SqlitePushTokenStore {
 public:
  static constexpr std::string_view kSchemaComponent = "push";

  // Opens (creating its table in) the database file at `path`.
  static Result<std::unique_ptr<SqlitePushTokenStore>> Open(const std::string& path);

  // The token kept for monitor `uid`; when there is none, `generate()` is stored and returned.
  Result<std::string> TokenFor(const std::string& uid,
                               const std::function<std::string()>& generate);

 private:
  struct Key {
    explicit Key() = default;
  };

 public:
  SqlitePushTokenStore(Key, std::unique_ptr<SqliteDatabase> db) : db_(std::move(db)) {}

 private:
  Mutex mu_;
  std::unique_ptr<SqliteDatabase> db_ GUARDED_BY(mu_);
};

}  // namespace pharos
