#pragma once

// CurlClickHouseTransport: ClickHouseTransport over libcurl to one server's HTTP interface
// (http:// or https://, Basic authentication). The
// password is kept in memory only, never logged. Each Send is one request on a fresh easy handle
// (batches are seconds apart; connection reuse would save little).
// Thread-safety: Send may be called from any thread.

#include <chrono>
#include <string>
#include <string_view>

#include "operator/analytics/clickhouse_transport.h"

namespace pharos {

class CurlClickHouseTransport final : public ClickHouseTransport {
 public:
  struct Options {
    std::string url = "http://127.0.0.1:8123";  // scheme, host and port (a path is kept)
    std::string user = "default";
    std::string password;
    std::chrono::milliseconds timeout{30'000};
    std::chrono::milliseconds connect_timeout{5'000};
    // Bytes of an answer kept (the sink reads only error texts; history readers read rows).
    size_t max_response_bytes = 4096;
  };

  // Fails (kInvalidArgument) when the URL is not http(s)://HOST[:PORT][/PATH].
  static Result<CurlClickHouseTransport> Create(Options options);

  Result<ClickHouseResponse> Send(const ClickHouseRequest& request) override;

 private:
  explicit CurlClickHouseTransport(Options options) : options_(std::move(options)) {}
  Options options_;
};

// Gzip of `data` (RFC 1952), for request bodies.
Result<std::string> GzipCompress(std::string_view data);

}  // namespace pharos
