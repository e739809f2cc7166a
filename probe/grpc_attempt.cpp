#include "probe/grpc_attempt.h"

#include <algorithm>

#include "common/name_syntax.h"
#include "probe/error_text.h"
#include "probe/grpc_health_message.h"
#include "probe/http_request_plan.h"

namespace pharos {
namespace {

std::string Lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// The last value of header `name` (trailers follow the headers, so they win).
std::optional<std::string> LastHeader(const Observation& observation, std::string_view name) {
  std::optional<std::string> value;
  for (const auto& [key, text] : observation.headers) {
    if (Lower(key) == name) value = text;
  }
  return value;
}

}  // namespace

GrpcAttempt::GrpcAttempt(const AttemptEnvironment& environment, const Monitor& monitor,
                         std::optional<SocketAddress> pinned,
                         std::optional<ServiceEndpoint> endpoint, Finish finish)
    : environment_(environment),
      monitor_(monitor),
      pinned_(pinned),
      endpoint_(std::move(endpoint)),
      finish_(std::move(finish)) {}

Result<HttpRequestPlan> GrpcAttempt::Plan(const Monitor& monitor,
                                          const std::optional<ServiceEndpoint>& endpoint) {
  if (!monitor.grpc) return Error{"monitor has no grpc section"};
  const GrpcSpec& spec = *monitor.grpc;
  std::string host;
  int port = 0;
  if (endpoint) {
    host = ServiceHostName(monitor);
    port = endpoint->port;
  } else {
    Result<HostPort> address = ParseHostPort(spec.address);
    if (!address.ok()) return Error{"invalid address \"" + spec.address + "\": " + address.error()};
    host = address->host;
    port = address->port;
  }
  if (port <= 0) return Error{"invalid address \"" + spec.address + "\": no port"};
  HttpRequestPlan plan;
  plan.timeout = monitor.timeout;
  const std::string url_host = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  plan.url = std::string(spec.tls ? "https" : "http") + "://" + url_host + ":" +
             std::to_string(port) + kPath;
  plan.method = HttpMethod::kPost;
  plan.follow_redirects = false;
  plan.tls = spec.tls_options;
  plan.version = spec.tls ? HttpRequestPlan::Version::kHttp2OverTls
                          : HttpRequestPlan::Version::kHttp2PriorKnowledge;
  plan.body = GrpcHealthMessage::FramedRequest(spec.service);
  plan.headers = {
      {"Content-Type", "application/grpc"},
      {"TE", "trailers"},
      {"grpc-accept-encoding", "identity"},
      {"grpc-timeout", std::to_string(std::max<int64_t>(1, monitor.timeout.count())) + "m"}};
  if (!spec.authority.empty()) {
    plan.headers.emplace_back("Host", spec.authority.str());  // HTTP/2's :authority
  }
  for (const auto& [name, value] : spec.metadata) {
    plan.headers.emplace_back(name, value);
  }
  if (endpoint) plan.pinned = ParseIpLiteral(endpoint->address, endpoint->port);
  return plan;
}

Observation GrpcAttempt::Interpret(Observation http) {
  Observation observation;
  observation.timings = http.timings;
  observation.tls_established = http.tls_established;
  observation.cert_expiry = http.cert_expiry;
  observation.cert_earliest_expiry = http.cert_earliest_expiry;
  observation.error = std::move(http.error);
  observation.probe_fault = http.probe_fault;
  if (!observation.error.empty()) {
    if (observation.error.find("HTTP/2") == std::string::npos &&
        observation.error.find("http2") != std::string::npos) {
      observation.error += " (is the server speaking gRPC over HTTP/2?)";
    }
    return observation;
  }
  const std::optional<std::string> grpc_status = LastHeader(http, "grpc-status");
  if (!grpc_status) {
    observation.error =
        "not a gRPC answer: HTTP " + std::to_string(http.status_code) + " without a grpc-status";
    return observation;
  }
  int code = -1;
  try {
    code = std::stoi(*grpc_status);
  } catch (const std::exception&) {
    code = -1;
  }
  if (code != 0) {
    const std::string message =
        GrpcHealthMessage::DecodeStatusMessage(LastHeader(http, "grpc-message").value_or(""));
    std::string text = "gRPC status " + GrpcHealthMessage::StatusCodeName(code) + " (" +
                       SanitizeText(*grpc_status, 16) + ")";
    if (!message.empty()) text += ": " + SanitizeText(message);
    if (code == 5) text += " (the health service does not know this service)";
    if (code == 12) text += " (the server does not implement grpc.health.v1.Health)";
    observation.error = std::move(text);
    return observation;
  }
  Result<int> serving = GrpcHealthMessage::ServingStatus(http.body);
  if (!serving.ok()) {
    observation.error = "gRPC health answer: " + serving.error();
    return observation;
  }
  observation.grpc_serving = GrpcHealthMessage::ServingStatusName(*serving);
  return observation;
}

void GrpcAttempt::Start() {
  Result<HttpRequestPlan> plan = Plan(monitor_, endpoint_);
  if (!plan.ok()) {
    Observation observation;
    observation.error = plan.error();
    observation.probe_fault = true;
    finish_(std::move(observation));
    return;
  }
  if (pinned_ && !endpoint_) plan->pinned = pinned_;
  http_ = std::make_unique<HttpAttempt>(
      environment_, std::move(plan).value(),
      [this](Observation observation) { finish_(Interpret(std::move(observation))); });
  http_->Start();
}

Observation GrpcAttempt::Abort(std::chrono::milliseconds timeout) {
  if (!http_) {
    Observation observation;
    observation.error = "the call did not start";
    observation.probe_fault = true;
    return observation;
  }
  // The exchange's timeout words ("timeout after 5s in phase firstByte") pass through.
  return Interpret(http_->Abort(timeout));
}

}  // namespace pharos
