#include "operator/storage/sqlite_push_token_store.h"

#include <utility>
#include <vector>

namespace pharos {

Result<std::unique_ptr<SqlitePushTokenStore>> SqlitePushTokenStore::Open(const std::string& path) {
  static const std::vector<SqliteDatabase::Migration> migrations = {
      {1, "ping tokens of push monitors", R"sql(
CREATE TABLE push_tokens (
  monitor_uid TEXT PRIMARY KEY,
  token TEXT NOT NULL
);
)sql"},
  };
  Result<std::unique_ptr<SqliteDatabase>> db = SqliteDatabase::Open(path, {});
  if (!db) return Error{db.error()};
  if (Status migrated = (*db)->Migrate(kSchemaComponent, migrations); !migrated) {
    return Error{migrated.error()};
  }
  return std::make_unique<SqlitePushTokenStore>(Key{}, std::move(db).value());
}

Result<std::string> SqlitePushTokenStore::TokenFor(const std::string& uid,
                                                   const std::function<std::string()>& generate) {
  MutexLock lock(mu_);
  // The lambda runs within this lock; the analysis cannot see that through the call, so it uses
  // the database through a reference taken here.
  SqliteDatabase& db = *db_;
  std::string token;
  Status done = db.InTransaction(/*write=*/true, [&]() -> Status {
    Result<SqliteStatement> select =
        db.Prepare("SELECT token FROM push_tokens WHERE monitor_uid = ?1");
    if (!select) return Error{select.error()};
    select->Bind(1, uid);
    Result<bool> row = select->Step();
    if (!row) return Error{row.error()};
    if (*row) {
      token = select->Text(0);
      return OkStatus();
    }
    token = generate();
    Result<SqliteStatement> insert =
        db.Prepare("INSERT INTO push_tokens (monitor_uid, token) VALUES (?1, ?2)");
    if (!insert) return Error{insert.error()};
    insert->Bind(1, uid).Bind(2, token);
    return insert->Run();
  });
  if (!done) {
    return Error{"keeping the ping token of monitor uid '" + uid + "' in " + db.path() + ": " +
                 done.error()};
  }
  return token;
}

}  // namespace pharos
