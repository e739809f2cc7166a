#include "common/metrics_endpoint.h"

#include "common/prometheus_text.h"

namespace pharos {

HttpResponse MetricsEndpointResponse(const MetricsRegistry& registry) {
  HttpResponse response;
  response.content_type = std::string(kPrometheusTextContentType);
  response.stream = [&registry](HttpBodyWriter& body) {
    registry.Stream([&body](std::string_view piece) { return body.Write(piece); });
  };
  return response;
}

}  // namespace pharos
