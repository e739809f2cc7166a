#include "operator/kube/curl_kube_client.h"

#include <curl/curl.h>

#include <array>
#include <cstdlib>
#include <mutex>

#include "common/logging.h"
#include "operator/kube/watch_event_parser.h"

namespace pharos {
namespace {

constexpr size_t kMaxErrorBodyBytes = size_t{1024} * 1024;

const char* ReasonForStatus(int code) {
  switch (code) {
    case 400:
      return "BadRequest";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "NotFound";
    case 405:
      return "MethodNotAllowed";
    case 406:
      return "NotAcceptable";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 413:
      return "RequestEntityTooLarge";
    case 415:
      return "UnsupportedMediaType";
    case 422:
      return "Invalid";
    case 429:
      return "TooManyRequests";
    case 500:
      return "InternalError";
    case 503:
      return "ServiceUnavailable";
    case 504:
      return "Timeout";
    default:
      return "";
  }
}

std::string PercentEncode(std::string_view text) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

using Query = std::vector<std::pair<std::string, std::string>>;

std::string EncodeQuery(const Query& query) {
  std::string out;
  for (const auto& [key, value] : query) {
    out += out.empty() ? "?" : "&";
    out += PercentEncode(key) + "=" + PercentEncode(value);
  }
  return out;
}

// Splits "https://host:port/prefix" for tls-server-name: the URL must name the server
// certificate's host while the connection goes to the configured one.
struct ServerUrl {
  std::string scheme;  // "https"
  std::string host;    // as written, IPv6 with brackets
  std::string port;
  std::string prefix;  // "" or "/path"
};

ServerUrl SplitServer(const std::string& server) {
  ServerUrl url;
  const auto scheme_end = server.find("://");
  url.scheme = server.substr(0, scheme_end);
  std::string rest = server.substr(scheme_end + 3);
  const auto slash = rest.find('/');
  if (slash != std::string::npos) {
    url.prefix = rest.substr(slash);
    rest.erase(slash);
  }
  const auto bracket = rest.find(']');
  const auto colon = rest.rfind(':');
  if (colon != std::string::npos && (bracket == std::string::npos || colon > bracket)) {
    url.host = rest.substr(0, colon);
    url.port = rest.substr(colon + 1);
  } else {
    url.host = rest;
    url.port = url.scheme == "https" ? "443" : "80";
  }
  return url;
}

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

// State shared by every connection: TLS sessions and DNS answers.
struct CurlKubeClient::Shared {
  Shared() : share(curl_share_init()) {
    curl_share_setopt(share, CURLSHOPT_LOCKFUNC, &Shared::Lock);
    curl_share_setopt(share, CURLSHOPT_UNLOCKFUNC, &Shared::Unlock);
    curl_share_setopt(share, CURLSHOPT_USERDATA, this);
    curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  }
  ~Shared() { curl_share_cleanup(share); }
  Shared(const Shared&) = delete;
  Shared& operator=(const Shared&) = delete;

  static void Lock(CURL*, curl_lock_data data, curl_lock_access, void* user) {
    static_cast<Shared*>(user)->locks[static_cast<size_t>(data) % kLocks].lock();
  }
  static void Unlock(CURL*, curl_lock_data data, void* user) {
    static_cast<Shared*>(user)->locks[static_cast<size_t>(data) % kLocks].unlock();
  }

  static constexpr size_t kLocks = CURL_LOCK_DATA_LAST;
  CURLSH* share;
  std::array<std::mutex, kLocks> locks;
};

struct CurlKubeClient::Request {
  std::string method = "GET";
  std::string path;
  Query query;
  std::string body;
  std::string content_type;
  std::stop_token stop;
  // Watches: not rate-limited, no overall timeout, body streamed to the handler.
  const WatchHandler* watch_handler = nullptr;
  std::chrono::seconds watch_timeout{0};
};

namespace {

// What the curl callbacks of one transfer write into.
struct Transfer {
  CURL* easy = nullptr;
  std::string body;
  bool body_truncated = false;
  const KubeClient::WatchHandler* watch_handler = nullptr;
  WatchEventParser parser;
  Status parse_status;
  bool handler_stopped = false;
  long status_code = -1;
  std::chrono::seconds retry_after{0};
};

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const size_t bytes = size * count;
  if (transfer->status_code < 0) {
    curl_easy_getinfo(transfer->easy, CURLINFO_RESPONSE_CODE, &transfer->status_code);
  }
  if (transfer->watch_handler != nullptr && transfer->status_code == 200) {
    transfer->parse_status =
        transfer->parser.Feed(std::string_view(data, bytes), *transfer->watch_handler);
    if (!transfer->parse_status.ok()) return 0;  // aborts the transfer
    if (transfer->parser.stopped()) {
      transfer->handler_stopped = true;
      return 0;
    }
    return bytes;
  }
  const bool is_error = transfer->status_code >= 300 || transfer->watch_handler != nullptr;
  if (is_error && transfer->body.size() + bytes > kMaxErrorBodyBytes) {
    transfer->body_truncated = true;
    return bytes;
  }
  transfer->body.append(data, bytes);
  return bytes;
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const size_t bytes = size * count;
  std::string_view line(data, bytes);
  constexpr std::string_view kRetryAfter = "retry-after:";
  if (line.size() > kRetryAfter.size()) {
    bool match = true;
    for (size_t i = 0; i < kRetryAfter.size(); ++i) {
      const char c = line[i];
      match =
          match && (c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c) == kRetryAfter[i];
    }
    if (match) {
      const int seconds = std::atoi(std::string(line.substr(kRetryAfter.size())).c_str());
      if (seconds > 0) transfer->retry_after = std::chrono::seconds(seconds);
    }
  }
  return bytes;
}

}  // namespace

Result<std::unique_ptr<CurlKubeClient>> CurlKubeClient::New(KubeConfig config,
                                                            KubeClientOptions options) {
  return Make(std::move(config), std::move(options), nullptr);
}

Result<std::unique_ptr<CurlKubeClient>> CurlKubeClient::New(KubeConfig config,
                                                            KubeClientOptions options,
                                                            const Clock& clock) {
  return Make(std::move(config), std::move(options), &clock);
}

Result<std::unique_ptr<CurlKubeClient>> CurlKubeClient::Make(KubeConfig config,
                                                             KubeClientOptions options,
                                                             const Clock* clock) {
  if (config.server.empty()) return Error{"Kubernetes client: no API server URL configured"};
  GlobalInit();
  auto client = std::unique_ptr<CurlKubeClient>(
      new CurlKubeClient(std::move(config), std::move(options), clock));
  if (auto token = client->token_source_.Token(); !token.ok()) {
    return Error{"Kubernetes client: " + token.error()};
  }
  return client;
}

CurlKubeClient::CurlKubeClient(KubeConfig config, KubeClientOptions options, const Clock* clock)
    : config_(std::move(config)),
      options_(std::move(options)),
      owned_clock_(clock == nullptr ? std::make_unique<SystemClock>() : nullptr),
      token_source_(config_.token, config_.token_file, clock ? *clock : *owned_clock_),
      limiter_(options_.qps, options_.burst, clock ? *clock : *owned_clock_),
      shared_(std::make_unique<Shared>()) {
  if (config_.tls_server_name.empty()) {
    url_base_ = config_.server;
  } else {
    const ServerUrl server = SplitServer(config_.server);
    url_base_ = server.scheme + "://" + config_.tls_server_name + ":" + server.port + server.prefix;
    connect_to_ =
        config_.tls_server_name + ":" + server.port + ":" + server.host + ":" + server.port;
  }
}

CurlKubeClient::~CurlKubeClient() {
  MutexLock lock(pool_mutex_);
  idle_.clear();  // before shared_, which the handles point at
}

std::unique_ptr<CurlKubeClient::Connection> CurlKubeClient::Borrow() {
  {
    MutexLock lock(pool_mutex_);
    if (!idle_.empty()) {
      auto connection = std::move(idle_.back());
      idle_.pop_back();
      return connection;
    }
  }
  return std::make_unique<Connection>();
}

void CurlKubeClient::Return(std::unique_ptr<Connection> connection) {
  MutexLock lock(pool_mutex_);
  if (idle_.size() < options_.max_idle_connections) idle_.push_back(std::move(connection));
}

KubeResponse CurlKubeClient::Execute(const Request& request) {
  KubeResponse response;
  const bool watch = request.watch_handler != nullptr;
  if (!watch && !limiter_.Acquire(request.stop)) {
    response.cancelled = true;
    response.transport_error = "cancelled while waiting for the client-side rate limiter";
    return response;
  }
  auto token = token_source_.Token();
  if (!token.ok()) {
    response.transport_error = token.error();
    return response;
  }

  auto connection = Borrow();
  CURL* easy = connection->easy();
  curl_easy_reset(easy);
  Transfer transfer;
  transfer.easy = easy;
  transfer.watch_handler = request.watch_handler;

  const std::string url = url_base_ + request.path + EncodeQuery(request.query);
  char error_buffer[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(easy, CURLOPT_SHARE, shared_->share);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "https,http");
  curl_easy_setopt(easy, CURLOPT_USERAGENT, options_.user_agent.c_str());
  curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options_.connect_timeout.count() * 1000));
  const std::chrono::seconds timeout =
      watch ? request.watch_timeout + std::chrono::seconds(60) : options_.request_timeout;
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count() * 1000));
  // A dead peer (a crashed node) must not keep a watch open until its timeout.
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPIDLE, 30L);
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPINTVL, 10L);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &OnBody);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &OnHeader);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, &transfer);

  struct curl_slist* connect_to = nullptr;
  if (!connect_to_.empty()) {
    connect_to = curl_slist_append(connect_to, connect_to_.c_str());
    curl_easy_setopt(easy, CURLOPT_CONNECT_TO, connect_to);
  }
  // TLS.
  if (config_.insecure_skip_tls_verify) {
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  struct curl_blob ca_blob {};
  if (!config_.ca_pem.empty()) {
    ca_blob.data = const_cast<char*>(config_.ca_pem.data());
    ca_blob.len = config_.ca_pem.size();
    ca_blob.flags = CURL_BLOB_NOCOPY;
    curl_easy_setopt(easy, CURLOPT_CAINFO_BLOB, &ca_blob);
  } else if (!config_.ca_file.empty()) {
    curl_easy_setopt(easy, CURLOPT_CAINFO, config_.ca_file.c_str());
  }
  struct curl_blob cert_blob {};
  if (!config_.client_cert_pem.empty()) {
    cert_blob.data = const_cast<char*>(config_.client_cert_pem.data());
    cert_blob.len = config_.client_cert_pem.size();
    cert_blob.flags = CURL_BLOB_NOCOPY;
    curl_easy_setopt(easy, CURLOPT_SSLCERT_BLOB, &cert_blob);
    curl_easy_setopt(easy, CURLOPT_SSLCERTTYPE, "PEM");
  } else if (!config_.client_cert_file.empty()) {
    curl_easy_setopt(easy, CURLOPT_SSLCERT, config_.client_cert_file.c_str());
    curl_easy_setopt(easy, CURLOPT_SSLCERTTYPE, "PEM");
  }
  struct curl_blob key_blob {};
  if (!config_.client_key_pem.empty()) {
    key_blob.data = const_cast<char*>(config_.client_key_pem.data());
    key_blob.len = config_.client_key_pem.size();
    key_blob.flags = CURL_BLOB_NOCOPY;
    curl_easy_setopt(easy, CURLOPT_SSLKEY_BLOB, &key_blob);
    curl_easy_setopt(easy, CURLOPT_SSLKEYTYPE, "PEM");
  } else if (!config_.client_key_file.empty()) {
    curl_easy_setopt(easy, CURLOPT_SSLKEY, config_.client_key_file.c_str());
    curl_easy_setopt(easy, CURLOPT_SSLKEYTYPE, "PEM");
  }

  // Method, headers, body.
  struct curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Accept: application/json");
  if (!token->empty()) {
    headers = curl_slist_append(headers, ("Authorization: Bearer " + *token).c_str());
  }
  if (!request.content_type.empty()) {
    headers = curl_slist_append(headers, ("Content-Type: " + request.content_type).c_str());
  }
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
  if (request.method != "GET") {
    curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  if (!request.body.empty()) {
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body.size()));
  }

  // Run on the connection's multi handle so that `stop` can interrupt the transfer.
  const CancellableTransfer::Outcome outcome = connection->Run(request.stop);
  const CURLcode result = outcome.code;
  const bool finished = !outcome.cancelled && outcome.multi_error.empty();
  response.cancelled = outcome.cancelled;
  if (!outcome.multi_error.empty()) {
    response.transport_error = outcome.multi_error;
  }
  curl_slist_free_all(headers);
  curl_slist_free_all(connect_to);

  long status_code = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status_code);
  Return(std::move(connection));

  response.retry_after = transfer.retry_after;
  if (response.cancelled) {
    response.http_status = static_cast<int>(status_code);
    if (response.http_status == 0) response.transport_error = "cancelled";
    return response;
  }
  if (!response.transport_error.empty()) return response;
  if (finished && result != CURLE_OK && !transfer.handler_stopped) {
    if (!transfer.parse_status.ok()) {
      response.http_status = static_cast<int>(status_code);
      response.transport_error = transfer.parse_status.error();
      return response;
    }
    // A transfer that broke after the headers still has its HTTP status.
    response.http_status = watch ? static_cast<int>(status_code) : 0;
    response.transport_error =
        error_buffer[0] != '\0' ? std::string(error_buffer) : curl_easy_strerror(result);
    response.stream_broken = watch && status_code == 200;
    if (response.http_status == 0 || !watch) return response;
  }
  response.http_status = static_cast<int>(status_code);
  if (watch && response.http_status == 200 && response.transport_error.empty()) {
    const Status finish = transfer.parser.Finish(*request.watch_handler);
    if (!finish.ok()) response.transport_error = finish.error();
    return response;
  }
  if (watch && response.http_status == 200) return response;

  if (!transfer.body.empty()) {
    response.body = nlohmann::json::parse(transfer.body, nullptr, /*allow_exceptions=*/false);
    if (response.body.is_discarded()) response.body = nullptr;
  }
  const bool success = response.http_status >= 200 && response.http_status < 300;
  if (success) {
    if (response.body.is_null() && !transfer.body.empty()) {
      response.transport_error = "the API server's answer is not JSON";
    }
    return response;
  }
  if (!KubeStatus::FromJson(response.body, &response.status)) {
    std::string text = transfer.body.substr(0, 500);
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    response.status.status = "Failure";
    response.status.message = text;
  }
  if (response.status.code == 0) response.status.code = response.http_status;
  if (response.status.reason.empty()) {
    response.status.reason = ReasonForStatus(response.http_status);
  }
  return response;
}

KubeResponse CurlKubeClient::Get(const ApiResource& resource, std::string_view namespace_name,
                                 std::string_view name) {
  Request request;
  request.path = resource.Path(namespace_name, name);
  return Execute(request);
}

KubeResponse CurlKubeClient::List(const ApiResource& resource, std::string_view namespace_name,
                                  const ListOptions& options) {
  Request request;
  request.path = resource.Path(namespace_name);
  if (!options.label_selector.empty()) {
    request.query.emplace_back("labelSelector", options.label_selector);
  }
  if (!options.field_selector.empty()) {
    request.query.emplace_back("fieldSelector", options.field_selector);
  }
  if (options.limit > 0) request.query.emplace_back("limit", std::to_string(options.limit));
  if (!options.continue_token.empty()) {
    request.query.emplace_back("continue", options.continue_token);
  }
  if (!options.resource_version.empty()) {
    request.query.emplace_back("resourceVersion", options.resource_version);
  }
  if (!options.resource_version_match.empty()) {
    request.query.emplace_back("resourceVersionMatch", options.resource_version_match);
  }
  request.stop = options.stop;
  return Execute(request);
}

KubeResponse CurlKubeClient::Create(const ApiResource& resource, std::string_view namespace_name,
                                    const nlohmann::json& object) {
  Request request;
  request.method = "POST";
  request.path = resource.Path(namespace_name);
  request.body = object.dump();
  request.content_type = "application/json";
  return Execute(request);
}

KubeResponse CurlKubeClient::Update(const ApiResource& resource, std::string_view namespace_name,
                                    std::string_view name, const nlohmann::json& object,
                                    const UpdateOptions& options) {
  Request request;
  request.method = "PUT";
  request.path = resource.Path(namespace_name, name, options.subresource);
  if (!options.field_manager.empty()) {
    request.query.emplace_back("fieldManager", options.field_manager);
  }
  request.body = object.dump();
  request.content_type = "application/json";
  return Execute(request);
}

KubeResponse CurlKubeClient::Patch(const ApiResource& resource, std::string_view namespace_name,
                                   std::string_view name, PatchType type,
                                   const nlohmann::json& patch, const PatchOptions& options) {
  Request request;
  request.method = "PATCH";
  request.path = resource.Path(namespace_name, name, options.subresource);
  if (!options.field_manager.empty()) {
    request.query.emplace_back("fieldManager", options.field_manager);
  }
  if (options.force && type == PatchType::kApply) request.query.emplace_back("force", "true");
  request.body = patch.dump();
  switch (type) {
    case PatchType::kMerge:
      request.content_type = "application/merge-patch+json";
      break;
    case PatchType::kJson:
      request.content_type = "application/json-patch+json";
      break;
    case PatchType::kApply:
      request.content_type = "application/apply-patch+yaml";
      break;
  }
  return Execute(request);
}

KubeResponse CurlKubeClient::Delete(const ApiResource& resource, std::string_view namespace_name,
                                    std::string_view name, const DeleteOptions& options) {
  Request request;
  request.method = "DELETE";
  request.path = resource.Path(namespace_name, name);
  nlohmann::json body = nlohmann::json::object();
  if (!options.propagation_policy.empty()) body["propagationPolicy"] = options.propagation_policy;
  if (!options.precondition_resource_version.empty()) {
    body["preconditions"] = {{"resourceVersion", options.precondition_resource_version}};
  }
  if (!body.empty()) {
    body["kind"] = "DeleteOptions";
    body["apiVersion"] = "v1";
    request.body = body.dump();
    request.content_type = "application/json";
  }
  return Execute(request);
}

KubeResponse CurlKubeClient::Watch(const ApiResource& resource, std::string_view namespace_name,
                                   const WatchOptions& options, const WatchHandler& handler,
                                   std::stop_token stop) {
  Request request;
  request.path = resource.Path(namespace_name);
  request.query.emplace_back("watch", "1");
  if (!options.resource_version.empty()) {
    request.query.emplace_back("resourceVersion", options.resource_version);
  }
  if (options.allow_bookmarks) request.query.emplace_back("allowWatchBookmarks", "true");
  if (!options.label_selector.empty()) {
    request.query.emplace_back("labelSelector", options.label_selector);
  }
  if (!options.field_selector.empty()) {
    request.query.emplace_back("fieldSelector", options.field_selector);
  }
  const auto timeout = std::max<std::chrono::seconds>(options.timeout, std::chrono::seconds(1));
  request.query.emplace_back("timeoutSeconds", std::to_string(timeout.count()));
  request.watch_handler = &handler;
  request.watch_timeout = timeout;
  request.stop = std::move(stop);
  return Execute(request);
}

}  // namespace pharos
