#pragma once

// DiscoveredMonitor: the Monitor that discovery (DiscoveryController, docs/operator.md#discovery)
// wants for one Ingress (networking.k8s.io/v1) or Gateway API HTTPRoute
// (gateway.networking.k8s.io/v1) annotated `pharos.dev/monitor: "true"`. Pure logic: the source
// object in, the Monitor object out.
// Rules:
// * name: "<source name>-ingress" / "<source name>-httproute" in the source's namespace (names
//   too long for that end in a hash of the source's name instead);
// * labels app.kubernetes.io/managed-by=pharos-operator and pharos.dev/discovered-from=ingress |
//   httproute, and one ownerReference (controller) to the source, which is how the Monitor is
//   recognised as discovery's own and how Kubernetes' garbage collector removes it with its source;
// * an http monitor of URL scheme://host/path: the host is the first rule's host (Ingress) or the
//   first hostname (HTTPRoute) that is not a wildcard; the path is `pharos.dev/path`, else the
//   first path of that Ingress rule (pathType Exact or Prefix) or of the HTTPRoute's first match
//   (type Exact or PathPrefix), else "/"; the scheme is `pharos.dev/scheme`, else https when an
//   Ingress tls entry covers the host (or names no hosts), http otherwise (an HTTPRoute does not
//   say whether its Gateway listener is TLS: annotate it);
// * `pharos.dev/frequency` becomes spec.frequency (the CRD validates it);
// `pharos.dev/expect-status`
//   ("200", or a class "2xx") becomes statusCode assertions.
// Thread-safety: stateless; any thread.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/result.h"

namespace pharos {

class DiscoveredMonitor {
 public:
  enum class SourceKind { kIngress, kHttpRoute };

  static constexpr const char* kMonitorAnnotation = "pharos.dev/monitor";
  static constexpr const char* kFrequencyAnnotation = "pharos.dev/frequency";
  static constexpr const char* kPathAnnotation = "pharos.dev/path";
  static constexpr const char* kSchemeAnnotation = "pharos.dev/scheme";
  static constexpr const char* kExpectStatusAnnotation = "pharos.dev/expect-status";
  static constexpr const char* kManagedByLabel = "app.kubernetes.io/managed-by";
  static constexpr const char* kManagedByValue = "pharos-operator";
  static constexpr const char* kDiscoveredFromLabel = "pharos.dev/discovered-from";

  // "ingress" / "httproute": the label value and the prefix of work-queue keys.
  static const char* KindName(SourceKind kind);
  // "Ingress" / "HTTPRoute" and their apiVersion, as in the ownerReference.
  static const char* KindTitle(SourceKind kind);
  static const char* SourceApiVersion(SourceKind kind);

  // Whether the source asks to be monitored (`pharos.dev/monitor: "true"`).
  static bool Wanted(const nlohmann::json& source);
  // The Monitor's name for a source of that name.
  static std::string MonitorName(SourceKind kind, const std::string& source_name);
  // The Monitor wanted for `source` (apiVersion, kind, metadata name/namespace/labels/
  // ownerReferences, spec); nullopt when the source is not annotated. Errors
  // (kInvalidArgument) name the annotation or field at fault: the source cannot be monitored
  // as it is.
  static Result<std::optional<nlohmann::json>> For(SourceKind kind, const nlohmann::json& source);
  // Whether `monitor` was made by discovery for a source of that kind and name.
  static bool OwnedBy(const nlohmann::json& monitor, SourceKind kind,
                      const std::string& source_name);
};

}  // namespace pharos
