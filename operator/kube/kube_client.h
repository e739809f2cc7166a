#pragma once

// KubeClient: the calls Pharos makes to the Kubernetes API (get, list, create, update, patch,
// delete, watch), as an interface so that controllers can be unit-tested against doubles;
// CurlKubeClient is the real one. Every call answers a KubeResponse carrying the HTTP status and,
// for failures, the decoded metav1.Status, so callers can tell NotFound, Conflict, Gone,
// TooManyRequests and server errors apart.
// Thread-safety: implementations must allow concurrent calls from any thread.

#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <stop_token>
#include <string>
#include <string_view>

namespace pharos {

// A kind of object on the API server: its group, version and plural resource name.
struct ApiResource {
  std::string group;  // "" for the core group
  std::string version;
  std::string plural;
  bool namespaced = true;

  // "v1", "apps/v1": the apiVersion of objects of this resource.
  std::string ApiVersion() const;
  // "/api/v1/namespaces/NS/configmaps[/NAME[/SUBRESOURCE]]"; an empty namespace (or a
  // cluster-scoped resource) gives the all-namespaces collection "/api/v1/configmaps".
  std::string Path(std::string_view namespace_name, std::string_view name = {},
                   std::string_view subresource = {}) const;

  static ApiResource ConfigMaps() { return {"", "v1", "configmaps", true}; }
  static ApiResource Secrets() { return {"", "v1", "secrets", true}; }
  static ApiResource Namespaces() { return {"", "v1", "namespaces", false}; }
  static ApiResource CoreEvents() { return {"", "v1", "events", true}; }
  static ApiResource Leases() { return {"coordination.k8s.io", "v1", "leases", true}; }
  static ApiResource DaemonSets() { return {"apps", "v1", "daemonsets", true}; }
  static ApiResource EndpointSlices() { return {"discovery.k8s.io", "v1", "endpointslices", true}; }
  static ApiResource Ingresses() { return {"networking.k8s.io", "v1", "ingresses", true}; }
  // Gateway API (a CRD: absent from clusters that have not installed it).
  static ApiResource HttpRoutes() {
    return {"gateway.networking.k8s.io", "v1", "httproutes", true};
  }
  static ApiResource CustomResourceDefinitions() {
    return {"apiextensions.k8s.io", "v1", "customresourcedefinitions", false};
  }
  static ApiResource Monitors() { return {"pharos.dev", "v1alpha1", "monitors", true}; }
  static ApiResource Incidents() { return {"pharos.dev", "v1alpha1", "incidents", true}; }
  static ApiResource AlertChannels() { return {"pharos.dev", "v1alpha1", "alertchannels", true}; }
  static ApiResource MaintenanceWindows() {
    return {"pharos.dev", "v1alpha1", "maintenancewindows", true};
  }
  static ApiResource StatusPages() { return {"pharos.dev", "v1alpha1", "statuspages", true}; }
};

// metav1.Status as sent with failed requests and in watch ERROR events.
struct KubeStatus {
  std::string status;  // "Failure" / "Success"
  std::string reason;  // "NotFound", "Conflict", "AlreadyExists", "Expired", "Gone", ...
  std::string message;
  int code = 0;

  // Decodes a Status object; false when `object` is not one.
  static bool FromJson(const nlohmann::json& object, KubeStatus* status);
};

struct KubeResponse {
  // 0 when no HTTP answer arrived (connection refused, TLS failure, timeout, cancelled).
  int http_status = 0;
  // The decoded JSON body (the object, the list, or the Status of a failure); null when there
  // was none or it was not JSON.
  nlohmann::json body;
  // The Status of a failed request (decoded from the body, or made up from the HTTP status when
  // the body was not a Status).
  KubeStatus status;
  // What went wrong below HTTP (curl's message), or why the body could not be decoded.
  std::string transport_error;
  // The server's Retry-After (429, some 5xx); zero when absent.
  std::chrono::seconds retry_after{0};
  // The call ended because its stop was requested.
  bool cancelled = false;
  // A watch whose stream was established (HTTP 200) and then broke off without its end (the
  // connection closed or reset mid-stream), as opposed to a malformed stream or a refused watch.
  bool stream_broken = false;

  bool ok() const {
    return http_status >= 200 && http_status < 300 && transport_error.empty() && !cancelled;
  }
  bool IsNotFound() const { return http_status == 404; }
  bool IsConflict() const { return http_status == 409 && status.reason != "AlreadyExists"; }
  bool IsAlreadyExists() const { return http_status == 409 && status.reason == "AlreadyExists"; }
  bool IsGone() const { return http_status == 410; }
  bool IsTooManyRequests() const { return http_status == 429; }
  bool IsServerError() const { return http_status >= 500; }
  bool IsTransportError() const { return http_status == 0; }
  // "HTTP 409 Conflict: Operation cannot be fulfilled ..." or "transport: Connection refused".
  std::string Describe() const;
};

struct ListOptions {
  std::string label_selector;
  std::string field_selector;
  int64_t limit = 0;  // page size; 0 = no paging
  std::string continue_token;
  std::string resource_version;        // "" = a consistent (quorum) read
  std::string resource_version_match;  // "", "Exact" or "NotOlderThan"
  // Ends the request early when requested.
  std::stop_token stop;
};

struct WatchOptions {
  std::string label_selector;
  std::string field_selector;
  std::string resource_version;  // watch changes after this version
  bool allow_bookmarks = true;
  std::chrono::seconds timeout{300};  // the server ends the watch after this long
};

enum class PatchType { kMerge, kJson, kApply };

struct PatchOptions {
  std::string subresource;  // e.g. "status"
  // Required for kApply; recorded in managedFields for the others.
  std::string field_manager;
  bool force = false;  // kApply: take over fields owned by other managers
};

struct UpdateOptions {
  std::string subresource;
  std::string field_manager;
};

struct DeleteOptions {
  std::string propagation_policy;  // "", "Foreground", "Background", "Orphan"
  std::string precondition_resource_version;
};

struct WatchEvent {
  enum class Type { kAdded, kModified, kDeleted, kBookmark, kError };
  Type type = Type::kAdded;
  nlohmann::json object;  // the object; for kError the Status
  KubeStatus status;      // decoded for kError

  // The object's metadata.resourceVersion ("" when absent).
  std::string ResourceVersion() const;
  static const char* TypeName(Type type);
};

class KubeClient {
 public:
  // Called for each event of a watch, on the watching thread; return false to end the watch.
  using WatchHandler = std::function<bool(const WatchEvent& event)>;

  virtual ~KubeClient() = default;

  virtual KubeResponse Get(const ApiResource& resource, std::string_view namespace_name,
                           std::string_view name) = 0;
  // One page (or everything when options.limit is 0). An empty namespace lists all namespaces.
  virtual KubeResponse List(const ApiResource& resource, std::string_view namespace_name,
                            const ListOptions& options) = 0;
  virtual KubeResponse Create(const ApiResource& resource, std::string_view namespace_name,
                              const nlohmann::json& object) = 0;
  // PUT: `object` should carry metadata.resourceVersion for optimistic concurrency (a stale one
  // answers 409 Conflict).
  virtual KubeResponse Update(const ApiResource& resource, std::string_view namespace_name,
                              std::string_view name, const nlohmann::json& object,
                              const UpdateOptions& options) = 0;
  virtual KubeResponse Patch(const ApiResource& resource, std::string_view namespace_name,
                             std::string_view name, PatchType type, const nlohmann::json& patch,
                             const PatchOptions& options) = 0;
  virtual KubeResponse Delete(const ApiResource& resource, std::string_view namespace_name,
                              std::string_view name, const DeleteOptions& options) = 0;
  // Streams events to `handler` until the server ends the watch (its timeout), the handler
  // returns false, `stop` is requested, or an error. The answer's http_status is that of the watch
  // request (200 when the stream was established; a failure such as 410 otherwise).
  virtual KubeResponse Watch(const ApiResource& resource, std::string_view namespace_name,
                             const WatchOptions& options, const WatchHandler& handler,
                             std::stop_token stop) = 0;

  // Every page of a list (following metadata.continue with options.limit per page), merged into
  // one answer whose body is {"metadata":{"resourceVersion":RV},"items":[...]}. When a continue
  // token has expired (410) the list starts over once as a consistent read, as client-go does.
  KubeResponse ListAll(const ApiResource& resource, std::string_view namespace_name,
                       ListOptions options);
};

// "namespace/name", or "name" for cluster-scoped objects: the key of an object in caches and
// work queues.
std::string ObjectKey(const nlohmann::json& object);

// The string at `path` inside `object`, e.g. {"metadata", "resourceVersion"}; "" when a step is
// missing or not of the expected type (never throws).
std::string JsonStringAt(const nlohmann::json& object,
                         std::initializer_list<std::string_view> path);

}  // namespace pharos
