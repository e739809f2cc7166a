#pragma once

// FakeClickHouseTransport: a tiny in-memory ClickHouse behind the ClickHouseTransport interface
// for the analytics unit tests. It understands the statements the sink sends (CREATE, the
// schema_version SELECT and INSERT, INSERT ... FORMAT JSONEachRow of check results), keeps every
// inserted row (duplicates too, as a ReplacingMergeTree does before a merge) and can be made
// unreachable, refuse the credentials, lose its table, or refuse inserts.
// Thread-safety: guarded by one mutex (the sink's thread and the test both call it).

#include <zlib.h>

#include <cstdlib>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "operator/analytics/clickhouse_transport.h"

namespace pharos::testing {

class FakeClickHouseTransport final : public ClickHouseTransport {
 public:
  enum class Mode { kUp, kUnreachable, kBadPassword, kOverloaded };

  Result<ClickHouseResponse> Send(const ClickHouseRequest& request) override {
    std::lock_guard<std::mutex> lock(mutex_);
    ++calls_;
    if (mode_ == Mode::kUnreachable) {
      return Error{"Failed to connect to 127.0.0.1 port 9: Connection refused",
                   ErrorKind::kUnavailable};
    }
    if (mode_ == Mode::kBadPassword) {
      return ClickHouseResponse{
          401, "Code: 193, e.displayText() = DB::Exception: Wrong password for user pharos"};
    }
    // Compression is the transport's job: the body arrives plain, `gzip` says it was asked for.
    const std::string& body = request.body;
    if (request.query.empty()) {
      return Statement(body);
    }
    if (request.query.find(".check_results FORMAT JSONEachRow") == std::string::npos) {
      return ClickHouseResponse{400, "Code: 62, e.displayText() = DB::Exception: Syntax error"};
    }
    if (!results_table_) {
      return ClickHouseResponse{
          404,
          "Code: 60, e.displayText() = DB::Exception: Table pharos.check_results doesn't exist."};
    }
    if (mode_ == Mode::kOverloaded) {
      return ClickHouseResponse{500, "Code: 252, e.displayText() = DB::Exception: Too many parts"};
    }
    ++inserts_;
    if (request.gzip) {
      ++gzip_inserts_;
    }
    std::istringstream lines(body);
    std::string line;
    while (std::getline(lines, line)) {
      if (line.empty()) {
        continue;
      }
      rows_.push_back(nlohmann::json::parse(line));
    }
    return ClickHouseResponse{200, ""};
  }

  void set_mode(Mode mode) {
    std::lock_guard<std::mutex> lock(mutex_);
    mode_ = mode;
  }
  void DropTable() {
    std::lock_guard<std::mutex> lock(mutex_);
    results_table_ = false;
  }
  void set_stored_version(int version) {
    std::lock_guard<std::mutex> lock(mutex_);
    version_ = version;
  }
  int stored_version() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return version_;
  }
  // Every statement sent without data (DDL, migrations, rollup refreshes), in order.
  std::vector<std::string> statements() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return statements_;
  }
  int calls() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return calls_;
  }
  int inserts() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return inserts_;
  }
  int gzip_inserts() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return gzip_inserts_;
  }
  std::vector<nlohmann::json> rows() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return rows_;
  }
  // item id → how many rows carry it.
  std::map<std::string, int> ItemCounts() const {
    std::map<std::string, int> counts;
    for (const nlohmann::json& row : rows()) {
      ++counts[row.at("item_id").get<std::string>()];
    }
    return counts;
  }

  // For testing GzipCompress.
  static std::string Gunzip(const std::string& data) {
    z_stream stream{};
    inflateInit2(&stream, 15 + 16);
    std::string out;
    char buffer[65536];
    stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    stream.avail_in = static_cast<uInt>(data.size());
    int rc = Z_OK;
    while (rc == Z_OK) {
      stream.next_out = reinterpret_cast<Bytef*>(buffer);
      stream.avail_out = sizeof(buffer);
      rc = inflate(&stream, Z_NO_FLUSH);
      out.append(buffer, sizeof(buffer) - stream.avail_out);
    }
    inflateEnd(&stream);
    return rc == Z_STREAM_END ? out : "<not gzip>";
  }

 private:
  ClickHouseResponse Statement(const std::string& sql) {
    if (sql.rfind("CREATE TABLE IF NOT EXISTS pharos.check_results", 0) == 0) {
      results_table_ = true;
    }
    if (sql.rfind("SELECT toUInt32(max(version))", 0) == 0) {
      return ClickHouseResponse{200, std::to_string(version_) + "\n"};
    }
    if (sql.rfind("INSERT INTO pharos.schema_version", 0) == 0) {
      const size_t values = sql.find("VALUES (");
      version_ = values == std::string::npos ? 0 : std::atoi(sql.c_str() + values + 8);
    }
    statements_.push_back(sql);
    return ClickHouseResponse{200, ""};
  }

  mutable std::mutex mutex_;
  Mode mode_ = Mode::kUp;
  bool results_table_ = false;
  int version_ = 0;
  int calls_ = 0;
  int inserts_ = 0;
  int gzip_inserts_ = 0;
  std::vector<nlohmann::json> rows_;
  std::vector<std::string> statements_;
};

}  // namespace pharos::testing
