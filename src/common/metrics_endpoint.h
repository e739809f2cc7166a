#pragma once

// The answer to GET /metrics: a registry's exposition, streamed (HttpResponse::stream) in pieces
// of MetricsRegistry::kStreamPieceBytes, so that a scrape holds about one piece and the
// connection's buffer instead of the whole page (hundreds of megabytes with 50,000 monitors).
// The registry must outlive the HTTP server that sends the response (the server's Stop waits for
// a running stream).

#include "common/http_server.h"
#include "common/metrics_registry.h"

namespace pharos {

HttpResponse MetricsEndpointResponse(const MetricsRegistry& registry);

}  // namespace pharos
