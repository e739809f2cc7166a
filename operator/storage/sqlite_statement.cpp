#include "operator/storage/sqlite_statement.h"

#include <sqlite3.h>

#include <utility>

namespace pharos {

SqliteStatement::SqliteStatement(SqliteStatement&& other) noexcept
    : statement_(std::exchange(other.statement_, nullptr)), bind_error_(other.bind_error_) {}

SqliteStatement::~SqliteStatement() {
  if (statement_ == nullptr) return;
  sqlite3_reset(statement_);
  sqlite3_clear_bindings(statement_);
}

SqliteStatement& SqliteStatement::Bind(int index, int64_t value) {
  const int code = sqlite3_bind_int64(statement_, index, value);
  if (code != SQLITE_OK && bind_error_ == 0) bind_error_ = code;
  return *this;
}

SqliteStatement& SqliteStatement::Bind(int index, std::string_view value) {
  const int code = sqlite3_bind_text64(statement_, index, value.data(), value.size(),
                                       SQLITE_TRANSIENT, SQLITE_UTF8);
  if (code != SQLITE_OK && bind_error_ == 0) bind_error_ = code;
  return *this;
}

SqliteStatement& SqliteStatement::Bind(int index, const std::optional<int64_t>& value) {
  return value ? Bind(index, *value) : BindNull(index);
}

SqliteStatement& SqliteStatement::Bind(int index, const std::optional<std::string>& value) {
  return value ? Bind(index, std::string_view(*value)) : BindNull(index);
}

SqliteStatement& SqliteStatement::BindNull(int index) {
  const int code = sqlite3_bind_null(statement_, index);
  if (code != SQLITE_OK && bind_error_ == 0) bind_error_ = code;
  return *this;
}

Result<bool> SqliteStatement::Step() {
  if (bind_error_ != 0) return Error{Failure(bind_error_).error()};
  const int code = sqlite3_step(statement_);
  if (code == SQLITE_ROW) return true;
  if (code == SQLITE_DONE) return false;
  return Error{Failure(code).error()};
}

Status SqliteStatement::Run() {
  while (true) {
    Result<bool> row = Step();
    if (!row) return Error{row.error()};
    if (!*row) return OkStatus();
  }
}

int64_t SqliteStatement::Int64(int column) const {
  return sqlite3_column_int64(statement_, column);
}

std::string SqliteStatement::Text(int column) const {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(statement_, column));
  if (text == nullptr) return {};
  return std::string(text, static_cast<size_t>(sqlite3_column_bytes(statement_, column)));
}

bool SqliteStatement::IsNull(int column) const {
  return sqlite3_column_type(statement_, column) == SQLITE_NULL;
}

std::optional<int64_t> SqliteStatement::OptionalInt64(int column) const {
  if (IsNull(column)) return std::nullopt;
  return Int64(column);
}

Status SqliteStatement::Failure(int code) const {
  sqlite3* db = sqlite3_db_handle(statement_);
  std::string message = sqlite3_errstr(code);
  if (db != nullptr && sqlite3_extended_errcode(db) == code) message = sqlite3_errmsg(db);
  const char* sql = sqlite3_sql(statement_);
  std::string statement = sql != nullptr ? sql : "";
  if (statement.size() > 60) statement = statement.substr(0, 60) + "...";
  return Error{"SQLite: " + message + " (in: " + statement + ")"};
}

}  // namespace pharos
