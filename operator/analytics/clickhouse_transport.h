#pragma once

// ClickHouseTransport: one statement sent to ClickHouse's HTTP interface, the boundary between
// the analytics sink and the network (CurlClickHouseTransport is the real one; unit tests use a
// double). The statement goes in the `query` parameter, the data (rows of an INSERT) in the
// body, gzip-compressed when asked. Statements name their tables with the database
// ("pharos.check_results"), so none is set on the connection (CREATE DATABASE works too).
// Thread-safety: implementations must be safe to call from any thread.

#include <chrono>
#include <string>

#include "common/result.h"

namespace pharos {

struct ClickHouseRequest {
  std::string query;  // e.g. "INSERT INTO pharos.check_results FORMAT JSONEachRow"
  std::string body;   // rows, or the statement itself when `query` is empty
  bool gzip = false;  // compress the body (Content-Encoding: gzip)
  // Longer than the transport's own timeout for a statement known to be long (a migration);
  // 0 = the transport's.
  std::chrono::milliseconds timeout{0};
};

// What the server answered. A transport failure (refused, timed out, TLS) is an Error instead;
// its kind is kUnavailable.
struct ClickHouseResponse {
  int status = 0;          // HTTP status
  std::string body;        // up to the transport's limit (ClickHouse puts its exception text there)
  bool truncated = false;  // the answer was longer than the limit; `body` is its start
  bool ok() const { return status == 200; }
};

class ClickHouseTransport {
 public:
  virtual ~ClickHouseTransport() = default;
  virtual Result<ClickHouseResponse> Send(const ClickHouseRequest& request) = 0;
};

}  // namespace pharos
