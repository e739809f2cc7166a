#pragma once

// CurlKubeClient: the KubeClient that talks to a real API server over HTTPS with libcurl. TLS
// trust and client credentials come from a KubeConfig (files or inline PEM, tls-server-name);
// the bearer token is re-read from its file every minute. Requests other than watches pass a
// client-side token bucket (default 20 qps, burst 30) so that a burst of work cannot flood the
// API server. Each request borrows a connection (a curl easy + multi pair, which keeps its
// keep-alive connection between requests) from a small pool; TLS sessions and DNS answers are
// shared by all of them. Every request, watches included, runs on a curl multi loop that a
// stop request can wake, so cancelling is immediate.
// Thread-safety: every method may be called from any thread concurrently.

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/cancellable_transfer.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "common/result.h"
#include "operator/kube/bearer_token_source.h"
#include "operator/kube/kube_client.h"
#include "operator/kube/kube_config.h"
#include "operator/kube/token_bucket.h"

namespace pharos {

struct KubeClientOptions {
  // Client-side rate limit for every request except watches; qps <= 0 disables it.
  double qps = 20;
  int burst = 30;
  std::chrono::seconds request_timeout{30};
  std::chrono::seconds connect_timeout{10};
  std::string user_agent = "pharos-operator";
  // Idle connections kept for reuse.
  size_t max_idle_connections = 8;
};

class CurlKubeClient final : public KubeClient {
 public:
  // Fails when the configuration cannot be used (no server, unreadable token file).
  static Result<std::unique_ptr<CurlKubeClient>> New(KubeConfig config,
                                                     KubeClientOptions options = {});
  // `clock` is used for the rate limiter and token refresh and must outlive the client.
  static Result<std::unique_ptr<CurlKubeClient>> New(KubeConfig config, KubeClientOptions options,
                                                     const Clock& clock);
  ~CurlKubeClient() override;

  KubeResponse Get(const ApiResource& resource, std::string_view namespace_name,
                   std::string_view name) override;
  KubeResponse List(const ApiResource& resource, std::string_view namespace_name,
                    const ListOptions& options) override;
  KubeResponse Create(const ApiResource& resource, std::string_view namespace_name,
                      const nlohmann::json& object) override;
  KubeResponse Update(const ApiResource& resource, std::string_view namespace_name,
                      std::string_view name, const nlohmann::json& object,
                      const UpdateOptions& options) override;
  KubeResponse Patch(const ApiResource& resource, std::string_view namespace_name,
                     std::string_view name, PatchType type, const nlohmann::json& patch,
                     const PatchOptions& options) override;
  KubeResponse Delete(const ApiResource& resource, std::string_view namespace_name,
                      std::string_view name, const DeleteOptions& options) override;
  KubeResponse Watch(const ApiResource& resource, std::string_view namespace_name,
                     const WatchOptions& options, const WatchHandler& handler,
                     std::stop_token stop) override;

  const KubeConfig& config() const { return config_; }

 private:
  using Connection = CancellableTransfer;
  struct Request;
  struct Shared;

  static Result<std::unique_ptr<CurlKubeClient>> Make(KubeConfig config, KubeClientOptions options,
                                                      const Clock* clock);
  // `clock` may be null: the client then uses its own SystemClock.
  CurlKubeClient(KubeConfig config, KubeClientOptions options, const Clock* clock);
  KubeResponse Execute(const Request& request);
  std::unique_ptr<Connection> Borrow();
  void Return(std::unique_ptr<Connection> connection);

  const KubeConfig config_;
  const KubeClientOptions options_;
  std::unique_ptr<Clock> owned_clock_;
  BearerTokenSource token_source_;
  TokenBucket limiter_;
  std::unique_ptr<Shared> shared_;
  // The URL prefix requests go to, and the curl CONNECT_TO entry that sends them to the real
  // host when tls-server-name replaces the host in the URL.
  std::string url_base_;
  std::string connect_to_;
  Mutex pool_mutex_;
  std::vector<std::unique_ptr<Connection>> idle_ GUARDED_BY(pool_mutex_);
};

}  // namespace pharos
