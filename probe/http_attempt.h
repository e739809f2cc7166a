#pragma once

// HttpAttempt: one HTTP(S) exchange (an HttpRequestPlan: an http Monitor's request, or a gRPC
// health call). Looks the URL's host up with c-ares (no blocking resolver, DNS time measured
// here) unless the plan pins an address, then runs one curl easy handle in the shared multi
// with a fresh connection to those addresses (CURLOPT_RESOLVE). With tls.serverName set, the
// request is made to https://<serverName>/... (SNI, certificate check and Host header use
// serverName) while the connection goes to the URL's host.
// Keeps the final response's status, headers and trailers (bounded) and the first
// max_body_bytes of its body. Every socket curl opens (each address, each redirect hop) is first
// put to the TargetPolicy with the exact address it will connect to; a refused one makes the
// check an `error` naming the address;
// records the peer chain's expiry even when verification fails or is switched off.
// Thread-safety: loop thread only.

#include <curl/curl.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/monitor.h"
#include "probe/ares_channel.h"
#include "probe/check_attempt.h"
#include "probe/http_request_plan.h"
#include "probe/tls_certificates.h"

namespace pharos {

class HttpAttempt final : public CheckAttempt {
 public:
  HttpAttempt(const AttemptEnvironment& environment, HttpRequestPlan plan, Finish finish);
  ~HttpAttempt() override;

  void Start() override;
  Observation Abort(std::chrono::milliseconds timeout) override;

 private:
  struct CurlTimes {
    int64_t namelookup = 0, connect = 0, appconnect = 0, pretransfer = 0, starttransfer = 0,
            total = 0;
    long redirects = 0;
  };

  std::optional<std::string> PrepareUrl();  // error text when the URL cannot be used
  void OnLookupDone(int status, const std::vector<SocketAddress>& addresses);
  void StartTransfer(const std::vector<SocketAddress>& resolved);  // empty for IP literals
  void OnTransferDone(CURLcode code, const std::string& probe_error);
  CurlTimes ReadCurlTimes() const;
  Timings TimingsFrom(const CurlTimes& times) const;
  std::string PhaseReached(const CurlTimes& times) const;
  // Whether the TCP connection was established; curl sets its connect time for https only once
  // TLS is done too, so a handshake that never finishes would otherwise look like a connect one.
  bool TcpConnected() const;
  void Report(Observation observation);
  void ReportProbeFault(const std::string& message);

  static size_t OnBody(char* data, size_t size, size_t count, void* self);
  static size_t OnHeader(char* data, size_t size, size_t count, void* self);
  static int OnCloseSocket(void* self, curl_socket_t fd);
  static curl_socket_t OnOpenSocket(void* self, curlsocktype purpose,
                                    struct curl_sockaddr* address);
  static CURLcode OnSslContext(CURL* easy, void* ssl_ctx, void* self);

  const AttemptEnvironment& environment_;
  const HttpRequestPlan plan_;
  Finish finish_;
  const std::shared_ptr<const TargetPolicy> policy_;  // the one in force when the attempt began

  // Where to connect and what to ask for.
  std::string url_;           // request URL (host replaced by serverName when set)
  std::string connect_host_;  // the URL's host, brackets removed
  std::string request_host_;  // host in url_ (serverName or the URL's host)
  int port_ = 0;
  bool https_ = false;

  std::unique_ptr<AresChannel> resolver_;
  CURL* easy_ = nullptr;
  curl_slist* header_list_ = nullptr;
  curl_slist* connect_to_ = nullptr;
  curl_slist* resolve_ = nullptr;
  char error_buffer_[CURL_ERROR_SIZE] = {};
  int socket_errno_ = 0;
  int socket_fd_ = -1;  // the connection's socket while curl keeps it open
  // Why the last address curl wanted to connect to was refused; cleared when a later one is
  // allowed (the next address of a name, the next redirect hop).
  std::string blocked_reason_;
  bool tcp_connected_ = false;  // seen connected when curl closed it

  std::chrono::steady_clock::time_point started_;
  int64_t dns_us_ = 0;
  bool resolving_ = false;

  Observation observation_;  // headers and body collected as they arrive
  size_t header_bytes_ = 0;
  CertificateExpiry certificates_;
  std::optional<Observation> reported_;
};

}  // namespace pharos
