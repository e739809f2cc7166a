#include "probe/http_request_plan.h"

namespace pharos {

std::string ServiceHostName(const Monitor& monitor) {
  return monitor.service ? monitor.service->name + "." + monitor.namespace_name + ".svc" : "";
}

HttpRequestPlan HttpRequestPlan::ForMonitor(const Monitor& monitor) {
  HttpRequestPlan plan;
  plan.timeout = monitor.timeout;
  if (!monitor.http) {
    return plan;
  }
  const HttpSpec& spec = *monitor.http;
  plan.url = spec.url;
  plan.method = spec.method;
  plan.headers = spec.headers;
  plan.body = spec.body.str();
  plan.follow_redirects = spec.follow_redirects;
  plan.tls = spec.tls;
  return plan;
}

HttpRequestPlan HttpRequestPlan::ForEndpoint(const Monitor& monitor,
                                             const ServiceEndpoint& endpoint) {
  HttpRequestPlan plan = ForMonitor(monitor);
  if (!monitor.service) {
    return plan;
  }
  const ServiceTarget& target = *monitor.service;
  plan.url = target.scheme + "://" + ServiceHostName(monitor) + ":" +
             std::to_string(endpoint.port) + target.path;
  plan.pinned = ParseIpLiteral(endpoint.address, endpoint.port);
  return plan;
}

}  // namespace pharos
