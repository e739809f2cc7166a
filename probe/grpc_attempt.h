#pragma once

// GrpcAttempt: one grpc.health.v1.Health/Check call of a grpc Monitor: an HTTP/2 POST (h2c with
// prior knowledge, or h2 over TLS negotiated by ALPN) run as an HttpAttempt on the engine's
// curl multi, with the request framed and the answer read by GrpcHealthMessage. The serving
// status comes from the response message, the call's status from the grpc-status trailer (or
// header, for a trailers-only answer). A call that fails (grpc-status other than OK: an unknown
// service is NOT_FOUND, a server without the health service UNIMPLEMENTED) is a transport
// error in words; an answer other than SERVING is recorded in Observation::grpc_serving for the
// evaluator. Phases (dns, connect, tls, firstByte, transfer, total) as for HTTP.
// Thread-safety: loop thread only.

#include <memory>
#include <optional>

#include "common/monitor.h"
#include "common/service_endpoint.h"
#include "probe/check_attempt.h"
#include "probe/http_attempt.h"

namespace pharos {

class GrpcAttempt final : public CheckAttempt {
 public:
  static constexpr const char* kPath = "/grpc.health.v1.Health/Check";

  // `monitor` must outlive the attempt. `pinned`: the one address (with its port) to call
  // instead of spec.grpc.address; with `endpoint`, the call names the monitor's Service.
  GrpcAttempt(const AttemptEnvironment& environment, const Monitor& monitor,
              std::optional<SocketAddress> pinned, std::optional<ServiceEndpoint> endpoint,
              Finish finish);

  void Start() override;
  Observation Abort(std::chrono::milliseconds timeout) override;

  // The HTTP/2 request of the call; an error when spec.grpc.address cannot be used.
  static Result<HttpRequestPlan> Plan(const Monitor& monitor,
                                      const std::optional<ServiceEndpoint>& endpoint);
  // What the HTTP exchange says about the call (the attempt's own translation, public for
  // tests).
  static Observation Interpret(Observation http);

 private:
  const AttemptEnvironment& environment_;
  const Monitor& monitor_;
  const std::optional<SocketAddress> pinned_;
  const std::optional<ServiceEndpoint> endpoint_;
  Finish finish_;
  std::unique_ptr<HttpAttempt> http_;
};

}  // namespace pharos
