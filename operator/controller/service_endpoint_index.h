#pragma once

// ServiceEndpointIndex: the ready endpoints of every Service, read from its EndpointSlices
// (discovery.k8s.io/v1, label kubernetes.io/service-name), for Monitors that name a Service
// (spec.target.service; docs/monitor-reference.md). An Informer (the kube room, which knows
// nothing of Monitors) keeps the slices of the watched namespace(s); this class maps them to what
// a probe checks:
// * an endpoint counts when its slice's addressType is IPv4 or IPv6 (FQDN slices are skipped) and
//   its conditions.ready is not false (an absent condition means ready, as kube-proxy reads it);
//   its first address is the one checked (the others are the same endpoint, per the API);
// * the port: a number is used as given; a name is looked up in the endpoint's own slice's ports
//   (slices of one Service may map a name to different numbers; an endpoint whose slice has no
//   TCP port of that name is left out); icmp monitors need none (port 0);
// * endpoints listed by two slices at once (while one replaces the other) count once; at most
//   kMaxEndpoints are handed out, in address order.
// Slices coming, changing and going are followed by the watch, so every lease gets the
// endpoints as they are at that moment (no restart, no reconcile).
// Thread-safety: Start/Stop from the owner thread; ReadyEndpoints and HasSynced from any thread
// (a leaf lock); Apply/Remove from the informer thread (or tests).

#include <atomic>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/mutex.h"
#include "operator/control/service_endpoint_source.h"
#include "operator/kube/informer.h"
#include "operator/kube/kube_client.h"

namespace pharos {

class ServiceEndpointIndex final : public ServiceEndpointSource {
 public:
  // As many as a probe checks in one round (AddressFanOut::kMaxAddresses).
  static constexpr size_t kMaxEndpoints = 256;
  // The label an EndpointSlice names its Service with.
  static constexpr const char* kServiceNameLabel = "kubernetes.io/service-name";

  struct Options {
    std::string watch_namespace;  // "" = every namespace
  };

  // `client` must outlive the index.
  ServiceEndpointIndex(KubeClient& client, const Options& options);
  // Without a watch: the slices come only from Apply/Remove, and the index counts as synced
  // once MarkSynced is called (tests).
  ServiceEndpointIndex();
  ~ServiceEndpointIndex() override;  // Stop()
  ServiceEndpointIndex(const ServiceEndpointIndex&) = delete;
  ServiceEndpointIndex& operator=(const ServiceEndpointIndex&) = delete;

  void Start();
  void Stop();
  // The first LIST of EndpointSlices has been read (before that, endpoints are not known).
  bool HasSynced() const;
  void MarkSynced();

  // A slice added or changed (the informer's handlers); a slice without the service-name label
  // is ignored.
  void Apply(const nlohmann::json& slice);
  void Remove(const nlohmann::json& slice);

  std::optional<std::vector<ServiceEndpoint>> ReadyEndpoints(const Monitor& monitor) const override;

  // Services with at least one slice, and slices kept (metrics, tests).
  size_t service_count() const;
  size_t slice_count() const;

 private:
  // What is kept of one EndpointSlice.
  struct Slice {
    struct Port {
      std::string name;
      int number = 0;
    };
    struct Endpoint {
      std::string address;
      std::string name;  // targetRef name (a Pod)
    };
    std::vector<Port> ports;          // TCP ports only
    std::vector<Endpoint> endpoints;  // ready ones only
  };
  // (namespace, service name)
  using ServiceKey = std::pair<std::string, std::string>;

  static std::optional<Slice> Parse(const nlohmann::json& object);
  void RemoveLocked(const std::string& slice_key) REQUIRES(mu_);

  std::unique_ptr<Informer> informer_;
  std::atomic<bool> synced_{false};
  mutable Mutex mu_;
  // Slices by Service, each by its "namespace/name" key.
  std::map<ServiceKey, std::map<std::string, Slice>> services_ GUARDED_BY(mu_);
  // The Service each kept slice belongs to (its label may change).
  std::map<std::string, ServiceKey> service_of_slice_ GUARDED_BY(mu_);
};

}  // namespace pharos
