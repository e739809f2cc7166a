#pragma once

// HttpServerFlags: the --http-* flags that set an HttpServer's limits, shared by `pharos run`,
// `pharos-operator` and `pharos-probe` so that they mean the same everywhere (docs/api.md,
// "Connection limits"):
//   --http-header-timeout DURATION      time to receive a request's headers (10s)
//   --http-idle-timeout DURATION        a kept-alive connection without a request (90s)
//   --http-body-timeout DURATION        time to receive a request's whole body (60s)
//   --http-send-timeout DURATION        a client that takes no response bytes (30s)
//   --http-max-header-bytes N           request line + headers; beyond: 431 (16384)
//   --http-max-body-bytes N             request body; beyond: 413 (4194304)
//   --http-max-connections N            open connections (10000)
//   --http-max-connections-per-client N connections of one IP address; 0 = no limit (0)
//   --http-fd-reserve N                 file descriptors kept free for the rest (1024)
// Thread-safety: free functions; used once at start-up.

#include "common/command_line.h"
#include "common/http_server.h"
#include "common/result.h"

namespace pharos {

// Adds the flags, with `defaults`' values shown as defaults.
void AddHttpServerFlags(CommandLine& flags, const HttpServerOptions& defaults = {});

// `base` with the values given on the command line (flags not given keep base's value); errors
// name the flag and the accepted range.
Result<HttpServerOptions> HttpServerOptionsFromFlags(const CommandLine& flags,
                                                     HttpServerOptions base = {});

}  // namespace pharos
