#pragma once

// PolicyProxy: the forward proxy every connection of the screenshot browser goes through, so a
// page (its redirects, frames, images, scripts, fetches, WebSockets) reaches only what the
// probe's TargetPolicy allows its checks to reach (docs/security.md, "Screenshots"). It listens
// on 127.0.0.1 at an ephemeral port; ChromiumCapturer starts one per capture and starts Chromium
// with --proxy-server pointing at it (loopback included, QUIC off).
// For each request it resolves the host once, asks the policy about every resolved address and
// connects to exactly an allowed one (no second lookup a rebinding name could answer
// differently). It speaks the two forms a browser sends a plain HTTP proxy: CONNECT host:port
// (https, wss: an opaque tunnel) and absolute-form requests (GET http://host/path: forwarded in
// origin-form with Connection: close). A refused request is answered 403 with the policy's
// reason, logged and kept in Refusals(). Bounded: connections at once, request-head size,
// timeouts for the head, the connection and idle tunnels; Stop() closes every tunnel.
// Thread-safety: Start/Stop/Refusals from any thread; the proxy runs on its own threads
// ("pharos-proxy" accepts, one "pharos-proxy-c" per connection).

#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/mutex.h"
#include "common/result.h"
#include "common/target_policy.h"

namespace pharos {

// What a browser asked its proxy: where to connect, and for plain HTTP the request to forward.
struct ProxyRequest {
  bool tunnel = false;  // CONNECT
  std::string host;     // a name or an IP literal (IPv6 without brackets)
  uint16_t port = 0;
  // Absolute-form only: the head to send upstream (origin-form, hop-by-hop headers replaced by
  // Connection: close).
  std::string upstream_head;
  // Absolute-form only: the browser marked it a page load: Upgrade-Insecure-Requests: 1 (sent on
  // page and frame loads, never on subresources) and no Sec-Fetch-Dest other than `document`
  // (a frame says `iframe`; the browser sends Sec-Fetch-* to loopback and https hosts only, so a
  // frame on another plain-http host counts as a page load).
  bool navigation = false;

  // Parses a request head (up to and including the blank line); the error says what is wrong.
  static Result<ProxyRequest> Parse(std::string_view head);
  // The host and port an http:// or https:// URL connects to (a CONNECT for https).
  static Result<ProxyRequest> ForUrl(std::string_view url);
};

class PolicyProxy {
 public:
  struct Options {
    size_t max_connections = 64;                // beyond: answered 503
    size_t max_head_bytes = size_t{16} * 1024;  // a larger request head: 431
    std::chrono::milliseconds head_timeout{10'000};
    std::chrono::milliseconds connect_timeout{10'000};
    std::chrono::milliseconds idle_timeout{30'000};  // a tunnel with no traffic either way
  };

  // One refused request.
  struct Refusal {
    std::string host;
    std::string reason;  // the policy's ("target address X is blocked by the probe's policy")
    bool navigation = false;
  };

  // The address to connect to: the first of `resolved` the policy allows; else the policy's
  // reason about the first (an empty list is refused too).
  static Result<sockaddr_storage> PickAddress(const TargetPolicy& policy,
                                              const std::vector<sockaddr_storage>& resolved);

  // Resolves `host` once and picks with PickAddress. A refusal by the policy is kInvalidArgument
  // (its message the policy's reason); a name that does not resolve, kUnavailable.
  static Result<sockaddr_storage> Admit(const TargetPolicy& policy, const std::string& host,
                                        uint16_t port);

  PolicyProxy(TargetPolicy policy, Options options);
  ~PolicyProxy();  // Stop()
  PolicyProxy(const PolicyProxy&) = delete;
  PolicyProxy& operator=(const PolicyProxy&) = delete;

  // Listens on 127.0.0.1 at a free port and starts accepting.
  Status Start();
  // "http://127.0.0.1:PORT", after Start.
  std::string url() const;
  // Closes the listener and every connection, and waits for their threads.
  void Stop();

  // The requests refused so far, in order (at most 100 kept), and how many in all.
  std::vector<Refusal> Refusals() const;
  int64_t refused() const;

 private:
  struct Connection {
    int fd = -1;
    bool done = false;  // the thread has finished with fd
    std::thread thread;
  };

  void AcceptLoop();
  void Serve(Connection& connection);
  void Refuse(int fd, const ProxyRequest& request, const std::string& reason);
  void ReapFinished() REQUIRES(mu_);

  const TargetPolicy policy_;
  const Options options_;
  int listen_fd_ = -1;
  int wake_read_ = -1;  // readable once Stop begins: every poll of the proxy watches it
  int wake_write_ = -1;
  uint16_t port_ = 0;
  std::thread acceptor_;
  mutable Mutex mu_;
  std::list<std::unique_ptr<Connection>> connections_ GUARDED_BY(mu_);
  std::vector<Refusal> refusals_ GUARDED_BY(mu_);
  int64_t refused_ GUARDED_BY(mu_) = 0;
  bool stopping_ GUARDED_BY(mu_) = false;
};

}  // namespace pharos
