#pragma once

// SqliteStatement: a handle on one of SqliteDatabase's cached prepared statements, for one use:
// bind, step, read columns. Destroying the handle resets the statement and clears its bindings,
// so a cached statement never keeps a read transaction open. Bind errors are reported by the
// next Step/Run. Parameters and columns are numbered as in SQLite: parameters from 1, columns
// from 0.
// Thread-safety: none; it belongs to its database's owner thread (or lock).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

struct sqlite3_stmt;

namespace pharos {

class SqliteStatement {
 public:
  explicit SqliteStatement(sqlite3_stmt* statement) : statement_(statement) {}
  SqliteStatement(SqliteStatement&& other) noexcept;
  SqliteStatement& operator=(SqliteStatement&&) = delete;
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;
  ~SqliteStatement();

  SqliteStatement& Bind(int index, int64_t value);
  SqliteStatement& Bind(int index, std::string_view value);
  SqliteStatement& Bind(int index, const std::string& value) {
    return Bind(index, std::string_view(value));
  }
  SqliteStatement& Bind(int index, const std::optional<int64_t>& value);  // nullopt = NULL
  SqliteStatement& Bind(int index, const std::optional<std::string>& value);
  SqliteStatement& BindNull(int index);

  // Advances: true when a row is ready, false when the statement is done.
  Result<bool> Step();
  // Steps to the end (statements without rows).
  Status Run();

  int64_t Int64(int column) const;
  std::string Text(int column) const;
  bool IsNull(int column) const;
  std::optional<int64_t> OptionalInt64(int column) const;

 private:
  Status Failure(int code) const;

  sqlite3_stmt* statement_;
  int bind_error_ = 0;  // first failed bind's SQLite code
};

}  // namespace pharos
