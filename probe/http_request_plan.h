#pragma once

// HttpRequestPlan: one HTTP exchange a check makes, and where it connects: the request (URL,
// method, headers, body, redirects, TLS options, HTTP version) and, when one address of the
// target is checked on its own (resolve: all, a Service endpoint), the address to connect to
// instead of looking the URL's host up. Built from an http Monitor here; GrpcCall builds the
// plan of a gRPC health call. HttpAttempt runs it.
// Thread-safety: a value type.

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/monitor.h"
#include "common/service_endpoint.h"
#include "probe/ares_channel.h"

namespace pharos {

struct HttpRequestPlan {
  enum class Version {
    kDefault,              // HTTP/1.1 (curl's default for http://, ALPN may pick h2 for https)
    kHttp2PriorKnowledge,  // h2c: HTTP/2 without TLS, no upgrade round trip
    kHttp2OverTls,         // HTTP/2 negotiated by ALPN; the check fails without it
  };

  std::string url;
  HttpMethod method = HttpMethod::kGet;
  std::vector<std::pair<std::string, std::string>> headers;  // sent as given
  std::string body;
  bool follow_redirects = true;
  TlsOptions tls;
  Version version = Version::kDefault;
  // Connect here; the URL's host is not looked up (resolve: all, Service endpoints).
  std::optional<SocketAddress> pinned;
  std::chrono::milliseconds timeout{10'000};  // the whole exchange (lookup included)

  // spec.http of `monitor`, to the URL's host.
  static HttpRequestPlan ForMonitor(const Monitor& monitor);
  // spec.http of `monitor` to one endpoint of its Service: the URL names the Service
  // (scheme://name.namespace.svc:port/path, so Host, SNI and the certificate name are the
  // Service's), the connection goes to the endpoint.
  static HttpRequestPlan ForEndpoint(const Monitor& monitor, const ServiceEndpoint& endpoint);
};

// "name.namespace.svc": the in-cluster name of a Monitor's Service.
std::string ServiceHostName(const Monitor& monitor);

}  // namespace pharos
