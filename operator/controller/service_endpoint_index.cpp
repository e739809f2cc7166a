#include "operator/controller/service_endpoint_index.h"

#include <algorithm>
#include <set>

#include "common/logging.h"

namespace pharos {
namespace {

using Json = nlohmann::json;

Logger& Log() {
  static Logger logger("service-endpoints");
  return logger;
}

const Json* Field(const Json& object, const char* name) {
  if (!object.is_object()) {
    return nullptr;
  }
  auto found = object.find(name);
  return found == object.end() ? nullptr : &*found;
}

std::string StringField(const Json& object, const char* name) {
  const Json* field = Field(object, name);
  return field != nullptr && field->is_string() ? field->get<std::string>() : std::string();
}

// Keeps in the informer's cache only what Parse reads (and the metadata the informer needs), so
// a cluster's slices cost little besides the parsed copy.
void TrimSlice(Json& object) {
  if (!object.is_object()) {
    return;
  }
  Json trimmed = Json::object();
  for (const char* field : {"apiVersion", "kind", "addressType", "ports"}) {
    if (const Json* value = Field(object, field)) {
      trimmed[field] = *value;
    }
  }
  if (const Json* metadata = Field(object, "metadata"); metadata != nullptr) {
    Json kept = Json::object();
    for (const char* field : {"name", "namespace", "uid", "resourceVersion"}) {
      if (const Json* value = Field(*metadata, field)) {
        kept[field] = *value;
      }
    }
    if (const Json* labels = Field(*metadata, "labels");
        labels != nullptr && labels->is_object() &&
        labels->contains(ServiceEndpointIndex::kServiceNameLabel)) {
      kept["labels"] = {{ServiceEndpointIndex::kServiceNameLabel,
                         (*labels)[ServiceEndpointIndex::kServiceNameLabel]}};
    }
    trimmed["metadata"] = std::move(kept);
  }
  if (const Json* endpoints = Field(object, "endpoints");
      endpoints != nullptr && endpoints->is_array()) {
    Json kept = Json::array();
    for (const Json& endpoint : *endpoints) {
      Json one = Json::object();
      for (const char* field : {"addresses", "conditions"}) {
        if (const Json* value = Field(endpoint, field)) {
          one[field] = *value;
        }
      }
      if (const Json* target = Field(endpoint, "targetRef"); target != nullptr) {
        one["targetRef"] = {{"name", StringField(*target, "name")}};
      }
      kept.push_back(std::move(one));
    }
    trimmed["endpoints"] = std::move(kept);
  }
  object = std::move(trimmed);
}

}  // namespace

ServiceEndpointIndex::ServiceEndpointIndex() = default;

ServiceEndpointIndex::ServiceEndpointIndex(KubeClient& client, const Options& options) {
  InformerOptions informer_options;
  informer_options.resource = ApiResource::EndpointSlices();
  informer_options.namespace_name = options.watch_namespace;
  informer_options.label_selector = kServiceNameLabel;  // slices that belong to a Service
  informer_options.thread_name = "slice-informer";
  informer_options.transform = TrimSlice;
  InformerHandlers handlers;
  handlers.on_add = [this](const Json& object) { Apply(object); };
  handlers.on_update = [this](const Json&, const Json& object) { Apply(object); };
  handlers.on_delete = [this](const Json& object) { Remove(object); };
  informer_ = std::make_unique<Informer>(client, informer_options, std::move(handlers));
}

ServiceEndpointIndex::~ServiceEndpointIndex() { Stop(); }

void ServiceEndpointIndex::Start() {
  if (informer_) {
    informer_->Start();
  }
}

void ServiceEndpointIndex::Stop() {
  if (informer_) {
    informer_->Stop();
  }
}

bool ServiceEndpointIndex::HasSynced() const {
  return informer_ ? informer_->HasSynced() : synced_.load();
}

void ServiceEndpointIndex::MarkSynced() { synced_ = true; }

std::optional<ServiceEndpointIndex::Slice> ServiceEndpointIndex::Parse(const Json& object) {
  const std::string address_type = StringField(object, "addressType");
  if (address_type != "IPv4" && address_type != "IPv6") {
    return std::nullopt;  // FQDN (or unknown) slices name no address a probe can pin
  }
  Slice slice;
  if (const Json* ports = Field(object, "ports"); ports != nullptr && ports->is_array()) {
    for (const Json& port : *ports) {
      const std::string protocol = StringField(port, "protocol");
      const Json* number = Field(port, "port");
      if ((!protocol.empty() && protocol != "TCP") || number == nullptr ||
          !number->is_number_integer()) {
        continue;
      }
      const int64_t value = number->get<int64_t>();
      if (value < 1 || value > 65535) {
        continue;
      }
      slice.ports.push_back(Slice::Port{StringField(port, "name"), static_cast<int>(value)});
    }
  }
  if (const Json* endpoints = Field(object, "endpoints");
      endpoints != nullptr && endpoints->is_array()) {
    for (const Json& endpoint : *endpoints) {
      const Json* conditions = Field(endpoint, "conditions");
      const Json* ready = conditions != nullptr ? Field(*conditions, "ready") : nullptr;
      if (ready != nullptr && ready->is_boolean() && !ready->get<bool>()) {
        continue;
      }
      const Json* addresses = Field(endpoint, "addresses");
      if (addresses == nullptr || !addresses->is_array() || addresses->empty() ||
          !(*addresses)[0].is_string()) {
        continue;
      }
      std::string name;
      if (const Json* target = Field(endpoint, "targetRef"); target != nullptr) {
        name = StringField(*target, "name");
      }
      slice.endpoints.push_back(Slice::Endpoint{(*addresses)[0].get<std::string>(), name});
    }
  }
  return slice;
}

void ServiceEndpointIndex::Apply(const Json& object) {
  const std::string key = ObjectKey(object);
  const std::string namespace_name = JsonStringAt(object, {"metadata", "namespace"});
  const std::string service = JsonStringAt(object, {"metadata", "labels", kServiceNameLabel});
  std::optional<Slice> slice;
  if (!service.empty() && !namespace_name.empty()) {
    slice = Parse(object);
  }
  MutexLock lock(mu_);
  RemoveLocked(key);
  if (!slice) {
    return;
  }
  ServiceKey service_key{namespace_name, service};
  services_[service_key][key] = std::move(*slice);
  service_of_slice_[key] = std::move(service_key);
}

void ServiceEndpointIndex::Remove(const Json& object) {
  MutexLock lock(mu_);
  RemoveLocked(ObjectKey(object));
}

void ServiceEndpointIndex::RemoveLocked(const std::string& slice_key) {
  auto owner = service_of_slice_.find(slice_key);
  if (owner == service_of_slice_.end()) {
    return;
  }
  auto service = services_.find(owner->second);
  if (service != services_.end()) {
    service->second.erase(slice_key);
    if (service->second.empty()) {
      services_.erase(service);
    }
  }
  service_of_slice_.erase(owner);
}

std::optional<std::vector<ServiceEndpoint>> ServiceEndpointIndex::ReadyEndpoints(
    const Monitor& monitor) const {
  if (!monitor.service || !HasSynced()) {
    return std::nullopt;
  }
  const ServiceTarget& target = *monitor.service;
  const bool needs_port = monitor.type != MonitorType::kIcmp;
  std::set<ServiceEndpoint> found;
  size_t unmatched = 0;
  {
    MutexLock lock(mu_);
    auto service = services_.find(ServiceKey{monitor.namespace_name, target.name});
    if (service == services_.end()) {
      return std::vector<ServiceEndpoint>{};
    }
    for (const auto& [key, slice] : service->second) {
      int port = 0;
      if (needs_port) {
        port = target.port;
        if (!target.port_name.empty()) {
          auto named =
              std::find_if(slice.ports.begin(), slice.ports.end(),
                           [&](const Slice::Port& p) { return p.name == target.port_name; });
          port = named == slice.ports.end() ? 0 : named->number;
        }
        if (port == 0) {
          unmatched += slice.endpoints.size();
          continue;
        }
      }
      for (const Slice::Endpoint& endpoint : slice.endpoints) {
        found.insert(ServiceEndpoint{endpoint.address, port, endpoint.name});
      }
    }
  }
  if (found.empty() && unmatched > 0) {
    Log().Debug("ready endpoints have no port of the monitor's name",
                {{"monitor", monitor.Key()},
                 {"service", target.name},
                 {"port", target.port_name},
                 {"endpoints", static_cast<int64_t>(unmatched)}});
  }
  std::vector<ServiceEndpoint> endpoints;
  endpoints.reserve(std::min(found.size(), kMaxEndpoints));
  for (const ServiceEndpoint& endpoint : found) {
    if (endpoints.size() == kMaxEndpoints) {
      break;
    }
    endpoints.push_back(endpoint);
  }
  return endpoints;
}

size_t ServiceEndpointIndex::service_count() const {
  MutexLock lock(mu_);
  return services_.size();
}

size_t ServiceEndpointIndex::slice_count() const {
  MutexLock lock(mu_);
  return service_of_slice_.size();
}

}  // namespace pharos
