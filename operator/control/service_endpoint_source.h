#pragma once

// ServiceEndpointSource: where the control plane learns the ready endpoints of the Service a
// Monitor names (spec.target.service), to hand them to probes with each work item
// (docs/probe-protocol.md). pharos-operator implements it from EndpointSlices
// (ServiceEndpointIndex); `pharos run` has none (such monitors need pharos-operator).
// Thread-safety: implementations are safe to call from any thread and take only leaf locks
// (lease replies are built under the dispatcher's locks).

#include <optional>
#include <vector>

#include "common/monitor.h"
#include "common/service_endpoint.h"

namespace pharos {

class ServiceEndpointSource {
 public:
  virtual ~ServiceEndpointSource() = default;

  // The ready endpoints of `monitor`'s Service, with the port its spec.target.service.port
  // resolves to on each; empty when the Service has none; nullopt when they are not known
  // (the monitor names no Service, or the EndpointSlices have not been read yet).
  virtual std::optional<std::vector<ServiceEndpoint>> ReadyEndpoints(
      const Monitor& monitor) const = 0;
};

}  // namespace pharos
