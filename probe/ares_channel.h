#pragma once

// AresChannel: one c-ares channel whose sockets and timeouts are driven by the EventLoop. Every
// DNS check and every host lookup of an HTTP/TCP check gets its own channel, so nothing is
// shared or cached between checks and dropping a channel cancels exactly its own queries.
// Results are delivered through EventLoop::Post, never from inside c-ares, so a callback may
// destroy the channel. Destroying the channel drops undelivered results.
// Thread-safety: loop thread only.

#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "probe/event_loop.h"

struct ares_channeldata;
struct ares_addrinfo;

namespace pharos {

// A resolved socket address.
struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family() const { return storage.ss_family; }
  std::string ToString() const;  // "127.0.0.1", "::1"
  void SetPort(int port);
  int port() const;
};

// IPv4 or IPv6 literal (brackets allowed) → address with `port`; nullopt otherwise.
std::optional<SocketAddress> ParseIpLiteral(std::string_view host, int port);

class AresChannel {
 public:
  struct Options {
    std::string
        servers;  // ares_set_servers_ports_csv form ("127.0.0.1:53,[::1]:53"); empty = system
    std::chrono::milliseconds try_timeout{2000};  // first try; c-ares grows it on later tries
    int tries = 3;
    bool use_search_domains = true;  // false: names are queried exactly as given
    // true: a SERVFAIL/REFUSED answer is the result (ARES_ESERVFAIL, ARES_EREFUSED) instead of
    // a reason to try the next server (which ends as ARES_ECONNREFUSED when there is none).
    bool report_server_failures = false;

    // Options for a check with this timeout: several tries fit in its deadline, which normally
    // ends a silent server first.
    static Options ForCheckTimeout(std::chrono::milliseconds check_timeout);
  };
  using QueryCallback = std::function<void(int status, const std::vector<unsigned char>& answer)>;
  using LookupCallback = std::function<void(int status, std::vector<SocketAddress> addresses)>;

  // Errors here are the probe's (c-ares init failure, unusable server list).
  static Result<std::unique_ptr<AresChannel>> Create(EventLoop& loop, const Options& options);
  // The channel a check looks its target's host name up with: ForCheckTimeout's tries, sent to
  // `servers` (the engine's --resolver; empty = the system's configuration).
  static Result<std::unique_ptr<AresChannel>> ForTargetLookup(
      EventLoop& loop, std::chrono::milliseconds check_timeout, const std::string& servers);
  ~AresChannel();
  AresChannel(const AresChannel&) = delete;
  AresChannel& operator=(const AresChannel&) = delete;

  // One query of `type` (ns_t_*) for `name`, class IN, no search domains. The callback gets the
  // c-ares status and the raw answer packet.
  void Query(const std::string& name, int type, QueryCallback callback);
  // Addresses of `host` (IPv4 and IPv6, sorted by preference), /etc/hosts first.
  void Lookup(const std::string& host, LookupCallback callback);

  // errno of the last socket c-ares could not open (EMFILE...), 0 when none failed.
  int socket_errno() const { return socket_errno_; }

 private:
  struct Pending;
  explicit AresChannel(EventLoop& loop);
  static void OnSocketState(void* data, int fd, int readable, int writable);
  static void OnQueryDone(void* arg, int status, int timeouts, unsigned char* answer, int length);
  static void OnLookupDone(void* arg, int status, int timeouts, ::ares_addrinfo* result);
  void UpdateTimer();
  void Process(int read_fd, int write_fd);

  EventLoop& loop_;
  ares_channeldata* channel_ = nullptr;
  EventLoop::TimerId timer_ = 0;
  int socket_errno_ = 0;
  // Shared with posted deliveries, which check it so nothing is delivered after destruction.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace pharos
