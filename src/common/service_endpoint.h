#pragma once

// ServiceEndpoint: one ready endpoint of a Kubernetes Service that a Monitor with
// spec.target.service checks (docs/monitor-reference.md, "spec.target.service"): its address,
// the port the Service's port resolves to on it, and its name (the Pod). The operator reads
// them from EndpointSlices and hands them to probes with each work item
// (docs/probe-protocol.md).
// Thread-safety: a value type.

#include <string>

namespace pharos {

struct ServiceEndpoint {
  std::string address;  // an IPv4 or IPv6 literal
  int port = 0;         // 0 for icmp monitors (no port)
  std::string name;     // targetRef name (a Pod), when the EndpointSlice names one

  // "10.1.2.3:8080", "[fd00::7]:8080", "10.1.2.3" (no port).
  std::string HostPort() const {
    const std::string host = address.find(':') != std::string::npos ? "[" + address + "]" : address;
    return port == 0 ? address : host + ":" + std::to_string(port);
  }
  bool operator==(const ServiceEndpoint&) const = default;
  // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy < 18 false positive (llvm-project#53961)
  auto operator<=>(const ServiceEndpoint&) const = default;
};

}  // namespace pharos
