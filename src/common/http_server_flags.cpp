#include "common/http_server_flags.h"

#include <cstdint>
#include <string>

#include "common/duration.h"

namespace pharos {

void AddHttpServerFlags(CommandLine& flags, const HttpServerOptions& defaults) {
  flags.AddFlag("http-header-timeout", '\0', "DURATION",
                "a connection must send a request's headers within this (slow or idle clients "
                "are closed)",
                FormatDuration(defaults.header_timeout));
  flags.AddFlag("http-idle-timeout", '\0', "DURATION",
                "a kept-alive connection without a new request is closed after this; keep it "
                "above the upstream keep-alive timeout of a proxy in front",
                FormatDuration(defaults.idle_timeout));
  flags.AddFlag("http-body-timeout", '\0', "DURATION",
                "a request's whole body must arrive within this",
                FormatDuration(defaults.body_timeout));
  flags.AddFlag("http-send-timeout", '\0', "DURATION",
                "a client that takes no bytes of a response for this long is cut off",
                FormatDuration(defaults.stream_stall_timeout));
  flags.AddFlag("http-max-header-bytes", '\0', "N",
                "request line plus headers; larger requests get 431",
                std::to_string(defaults.max_header_bytes));
  flags.AddFlag("http-max-body-bytes", '\0', "N", "request body; larger bodies get 413",
                std::to_string(defaults.max_body_bytes));
  flags.AddFlag("http-max-connections", '\0', "N",
                "open HTTP connections; at the limit the one waiting longest for a request is "
                "closed, or the new one when all are busy",
                std::to_string(defaults.max_connections));
  flags.AddFlag("http-max-connections-per-client", '\0', "N",
                "connections one client IP address may hold; 0 = no limit",
                std::to_string(defaults.max_connections_per_client));
  flags.AddFlag("http-fd-reserve", '\0', "N",
                "file descriptors the HTTP server leaves to checks and the store (the connection "
                "limit is lowered to keep them)",
                std::to_string(defaults.fd_reserve));
}

Result<HttpServerOptions> HttpServerOptionsFromFlags(const CommandLine& flags,
                                                     HttpServerOptions base) {
  using std::chrono::milliseconds;
  const auto durations = {
      std::pair{"http-header-timeout", &base.header_timeout},
      std::pair{"http-idle-timeout", &base.idle_timeout},
      std::pair{"http-body-timeout", &base.body_timeout},
      std::pair{"http-send-timeout", &base.stream_stall_timeout},
  };
  for (const auto& [name, field] : durations) {
    if (!flags.IsSet(name)) {
      continue;
    }
    Result<Millis> value = flags.GetDuration(name, milliseconds(100));
    if (!value.ok()) {
      return Error{value.error(), ErrorKind::kInvalidArgument};
    }
    *field = milliseconds(*value);
  }
  const auto numbers = {
      std::tuple{"http-max-header-bytes", &base.max_header_bytes, size_t{1024},
                 size_t{1024} * 1024},
      std::tuple{"http-max-body-bytes", &base.max_body_bytes, size_t{1024},
                 size_t{1024} * 1024 * 1024},
      std::tuple{"http-max-connections", &base.max_connections, size_t{1}, size_t{10'000'000}},
      std::tuple{"http-max-connections-per-client", &base.max_connections_per_client, size_t{0},
                 size_t{10'000'000}},
      std::tuple{"http-fd-reserve", &base.fd_reserve, size_t{0}, size_t{10'000'000}},
  };
  for (const auto& [name, field, min, max] : numbers) {
    if (!flags.IsSet(name)) {
      continue;
    }
    Result<int64_t> value =
        flags.GetInteger(name, static_cast<int64_t>(min), static_cast<int64_t>(max));
    if (!value.ok()) {
      return Error{value.error(), ErrorKind::kInvalidArgument};
    }
    *field = static_cast<size_t>(*value);
  }
  return base;
}

}  // namespace pharos
