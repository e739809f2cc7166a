#include "probe/http_attempt.h"

#include <ares.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>

#include "probe/curl_multi.h"
#include "probe/error_text.h"
#include "probe/event_loop.h"

namespace pharos {
namespace {

// Response headers kept per response; more are read and dropped (a hostile server may send an
// endless stream of them).
constexpr size_t kMaxHeaderBytes = size_t{256} * 1024;
// Backstop only: the engine's own deadline normally ends the transfer first.
constexpr std::chrono::milliseconds kCurlTimeoutSlack{2000};

std::string Trim(std::string_view text) {
  const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return std::string(text);
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) {
      return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
    };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool HasHeader(const HttpRequestPlan& plan, std::string_view name) {
  return std::any_of(plan.headers.begin(), plan.headers.end(),
                     [&](const auto& header) { return EqualsIgnoreCase(header.first, name); });
}

bool IsSafeHeaderText(std::string_view text) {
  return text.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

std::string StripBrackets(std::string host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    return host.substr(1, host.size() - 2);
  }
  return host;
}

// A host as curl wants it in RESOLVE and CONNECT_TO entries: IPv6 addresses in brackets.
std::string BracketedHost(const std::string& host) {
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

struct CurlUrl {
  CURLU* handle = curl_url();
  ~CurlUrl() { curl_url_cleanup(handle); }
  std::optional<std::string> Get(CURLUPart part, unsigned flags = 0) const {
    char* value = nullptr;
    if (curl_url_get(handle, part, &value, flags) != CURLUE_OK || value == nullptr) {
      return std::nullopt;
    }
    std::string text(value);
    curl_free(value);
    return text;
  }
};

}  // namespace

HttpAttempt::HttpAttempt(const AttemptEnvironment& environment, HttpRequestPlan plan, Finish finish)
    : environment_(environment),
      plan_(std::move(plan)),
      finish_(std::move(finish)),
      policy_(environment.policy) {}

HttpAttempt::~HttpAttempt() {
  resolver_.reset();
  if (easy_ != nullptr) {
    environment_.curl.Remove(easy_);
    curl_easy_cleanup(easy_);
  }
  curl_slist_free_all(header_list_);
  curl_slist_free_all(connect_to_);
  curl_slist_free_all(resolve_);
}

std::optional<std::string> HttpAttempt::PrepareUrl() {
  if (plan_.url.empty()) return "monitor has no URL";
  const HttpRequestPlan& spec = plan_;
  CurlUrl url;
  if (url.handle == nullptr) return "out of memory parsing the URL";
  const CURLUcode parsed = curl_url_set(url.handle, CURLUPART_URL, spec.url.c_str(), 0);
  if (parsed != CURLUE_OK) {
    return "invalid URL \"" + SanitizeText(spec.url) + "\": " + curl_url_strerror(parsed);
  }
  const auto scheme = url.Get(CURLUPART_SCHEME);
  const auto host = url.Get(CURLUPART_HOST);
  const auto port = url.Get(CURLUPART_PORT, CURLU_DEFAULT_PORT);
  if (!scheme || (*scheme != "http" && *scheme != "https")) {
    return "invalid URL \"" + SanitizeText(spec.url) + "\": scheme must be http or https";
  }
  if (!host || host->empty() || !port) {
    return "invalid URL \"" + SanitizeText(spec.url) + "\": no host";
  }
  https_ = *scheme == "https";
  connect_host_ = StripBrackets(*host);
  request_host_ = connect_host_;
  port_ = std::atoi(port->c_str());
  if (!spec.tls.server_name.empty()) {
    if (curl_url_set(url.handle, CURLUPART_HOST, spec.tls.server_name.c_str(), 0) != CURLUE_OK) {
      return "invalid tls.serverName \"" + SanitizeText(spec.tls.server_name.str()) + "\"";
    }
    request_host_ = spec.tls.server_name;
  }
  const auto full = url.Get(CURLUPART_URL);
  if (!full) return "invalid URL \"" + SanitizeText(spec.url) + "\"";
  url_ = *full;
  return std::nullopt;
}

void HttpAttempt::Start() {
  started_ = environment_.loop.Now();
  if (auto error = PrepareUrl()) {
    ReportProbeFault(*error);
    return;
  }
  if (plan_.pinned) {
    StartTransfer({*plan_.pinned});
    return;
  }
  if (ParseIpLiteral(connect_host_, port_)) {
    StartTransfer({});
    return;
  }
  auto resolver =
      AresChannel::ForTargetLookup(environment_.loop, plan_.timeout, environment_.resolver);
  if (!resolver.ok()) {
    ReportProbeFault(resolver.error());
    return;
  }
  resolver_ = std::move(resolver).value();
  resolving_ = true;
  resolver_->Lookup(connect_host_, [this](int status, const std::vector<SocketAddress>& addresses) {
    OnLookupDone(status, addresses);
  });
}

void HttpAttempt::OnLookupDone(int status, const std::vector<SocketAddress>& addresses) {
  resolving_ = false;
  dns_us_ =
      std::chrono::duration_cast<std::chrono::microseconds>(environment_.loop.Now() - started_)
          .count();
  const int socket_errno = resolver_->socket_errno();
  resolver_.reset();
  if (status != ARES_SUCCESS || addresses.empty()) {
    TransportError error =
        socket_errno != 0 && status != ARES_ENOTFOUND
            ? TransportError{"DNS: cannot open a socket: " + DescribeErrno(socket_errno),
                             IsProbeResourceError(socket_errno)}
            : DescribeHostLookupFailure(status == ARES_SUCCESS ? ARES_ENODATA : status,
                                        connect_host_);
    Observation observation;
    observation.error = std::move(error.message);
    observation.probe_fault = error.probe_fault;
    observation.timings.dns_us = dns_us_;
    observation.timings.total_us = dns_us_;
    Report(std::move(observation));
    return;
  }
  StartTransfer(addresses);
}

void HttpAttempt::StartTransfer(const std::vector<SocketAddress>& resolved) {
  const HttpRequestPlan& spec = plan_;
  easy_ = curl_easy_init();
  if (easy_ == nullptr) {
    ReportProbeFault("cannot create a libcurl handle");
    return;
  }
  const auto remaining = plan_.timeout - std::chrono::duration_cast<std::chrono::milliseconds>(
                                             environment_.loop.Now() - started_);
  curl_easy_setopt(easy_, CURLOPT_URL, url_.c_str());
  curl_easy_setopt(easy_, CURLOPT_PRIVATE, this);
  curl_easy_setopt(easy_, CURLOPT_ERRORBUFFER, error_buffer_);
  curl_easy_setopt(easy_, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy_, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(easy_, CURLOPT_PROXY, "");
  curl_easy_setopt(easy_, CURLOPT_FRESH_CONNECT, 1L);
  curl_easy_setopt(easy_, CURLOPT_FORBID_REUSE, 1L);
  curl_easy_setopt(easy_, CURLOPT_SSL_SESSIONID_CACHE, 0L);
  curl_easy_setopt(easy_, CURLOPT_DNS_CACHE_TIMEOUT, 0L);
  curl_easy_setopt(easy_, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy_, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy_, CURLOPT_FOLLOWLOCATION, spec.follow_redirects ? 1L : 0L);
  switch (spec.version) {
    case HttpRequestPlan::Version::kDefault:
      break;
    case HttpRequestPlan::Version::kHttp2PriorKnowledge:
      curl_easy_setopt(easy_, CURLOPT_HTTP_VERSION,
                       static_cast<long>(CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE));
      break;
    case HttpRequestPlan::Version::kHttp2OverTls:
      curl_easy_setopt(easy_, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
      break;
  }
  curl_easy_setopt(easy_, CURLOPT_MAXREDIRS, static_cast<long>(environment_.max_redirects));
  curl_easy_setopt(easy_, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(std::max(remaining, std::chrono::milliseconds(1)).count() +
                                     kCurlTimeoutSlack.count()));
  curl_easy_setopt(easy_, CURLOPT_WRITEFUNCTION, &HttpAttempt::OnBody);
  curl_easy_setopt(easy_, CURLOPT_WRITEDATA, this);
  curl_easy_setopt(easy_, CURLOPT_HEADERFUNCTION, &HttpAttempt::OnHeader);
  curl_easy_setopt(easy_, CURLOPT_HEADERDATA, this);
  curl_easy_setopt(easy_, CURLOPT_OPENSOCKETFUNCTION, &HttpAttempt::OnOpenSocket);
  curl_easy_setopt(easy_, CURLOPT_OPENSOCKETDATA, this);
  curl_easy_setopt(easy_, CURLOPT_CLOSESOCKETFUNCTION, &HttpAttempt::OnCloseSocket);
  curl_easy_setopt(easy_, CURLOPT_CLOSESOCKETDATA, this);
  if (https_) {
    const bool verify = !spec.tls.insecure_skip_verify;
    curl_easy_setopt(easy_, CURLOPT_SSL_VERIFYPEER, verify ? 1L : 0L);
    curl_easy_setopt(easy_, CURLOPT_SSL_VERIFYHOST, verify ? 2L : 0L);
    if (!environment_.ca_file.empty()) {
      curl_easy_setopt(easy_, CURLOPT_CAINFO, environment_.ca_file.c_str());
    }
    curl_easy_setopt(easy_, CURLOPT_SSL_CTX_FUNCTION, &HttpAttempt::OnSslContext);
    curl_easy_setopt(easy_, CURLOPT_SSL_CTX_DATA, this);
  }

  const std::string port = std::to_string(port_);
  if (!resolved.empty()) {
    // Our lookup's addresses for the URL's host, so curl connects without resolving (and still
    // falls back from one address to the next).
    std::string entry = connect_host_ + ":" + port + ":";
    for (size_t i = 0; i < resolved.size(); ++i) {
      if (i > 0) entry += ",";
      entry += BracketedHost(resolved[i].ToString());
    }
    resolve_ = curl_slist_append(nullptr, entry.c_str());
    curl_easy_setopt(easy_, CURLOPT_RESOLVE, resolve_);
  }
  if (request_host_ != connect_host_) {
    // serverName: the request (SNI, certificate name, Host) names it, the connection goes to the
    // URL's host.
    const std::string entry =
        BracketedHost(request_host_) + ":" + port + ":" + BracketedHost(connect_host_) + ":" + port;
    connect_to_ = curl_slist_append(nullptr, entry.c_str());
    curl_easy_setopt(easy_, CURLOPT_CONNECT_TO, connect_to_);
  }

  switch (spec.method) {
    case HttpMethod::kGet:
      curl_easy_setopt(easy_, CURLOPT_HTTPGET, 1L);
      break;
    case HttpMethod::kHead:
      curl_easy_setopt(easy_, CURLOPT_NOBODY, 1L);
      break;
    case HttpMethod::kPost:
      curl_easy_setopt(easy_, CURLOPT_POST, 1L);
      break;
    default:
      curl_easy_setopt(easy_, CURLOPT_CUSTOMREQUEST, ToString(spec.method));
      break;
  }
  const bool sends_body = spec.method == HttpMethod::kPost || spec.method == HttpMethod::kPut ||
                          spec.method == HttpMethod::kPatch || !spec.body.empty();
  if (sends_body && spec.method != HttpMethod::kHead) {
    curl_easy_setopt(easy_, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(spec.body.size()));
    curl_easy_setopt(easy_, CURLOPT_COPYPOSTFIELDS, spec.body.data());
  }

  for (const auto& [name, value] : spec.headers) {
    if (name.empty() || !IsSafeHeaderText(name) || !IsSafeHeaderText(value)) continue;
    // "Name;" is curl's way to send a header with an empty value.
    std::string line = name;
    line += value.empty() ? ";" : ": ";
    line += value;
    header_list_ = curl_slist_append(header_list_, line.c_str());
  }
  if (sends_body && !HasHeader(spec, "Content-Type")) {
    // Without this curl would claim a form (application/x-www-form-urlencoded).
    header_list_ = curl_slist_append(
        header_list_, spec.body.empty() ? "Content-Type:" : "Content-Type: application/json");
  }
  if (!HasHeader(spec, "Expect")) {
    // No "Expect: 100-continue" round trip inflating the timings of bigger bodies.
    header_list_ = curl_slist_append(header_list_, "Expect:");
  }
  curl_easy_setopt(easy_, CURLOPT_HTTPHEADER, header_list_);
  if (!HasHeader(spec, "User-Agent")) {
    curl_easy_setopt(easy_, CURLOPT_USERAGENT, environment_.user_agent.c_str());
  }

  Status added = environment_.curl.Add(
      easy_,
      [this](CURLcode code, const std::string& probe_error) { OnTransferDone(code, probe_error); });
  if (!added.ok()) ReportProbeFault(added.error());
}

HttpAttempt::CurlTimes HttpAttempt::ReadCurlTimes() const {
  CurlTimes times;
  if (easy_ == nullptr) return times;
  curl_off_t value = 0;
  const auto read = [&](CURLINFO info) {
    value = 0;
    curl_easy_getinfo(easy_, info, &value);
    return static_cast<int64_t>(value);
  };
  times.namelookup = read(CURLINFO_NAMELOOKUP_TIME_T);
  times.connect = read(CURLINFO_CONNECT_TIME_T);
  times.appconnect = read(CURLINFO_APPCONNECT_TIME_T);
  times.pretransfer = read(CURLINFO_PRETRANSFER_TIME_T);
  times.starttransfer = read(CURLINFO_STARTTRANSFER_TIME_T);
  times.total = read(CURLINFO_TOTAL_TIME_T);
  long redirects = 0;
  curl_easy_getinfo(easy_, CURLINFO_REDIRECT_COUNT, &redirects);
  times.redirects = redirects;
  return times;
}

Timings HttpAttempt::TimingsFrom(const CurlTimes& times) const {
  const auto positive = [](int64_t value) { return std::max<int64_t>(0, value); };
  Timings timings;
  // Without redirects curl only found our lookup's answer in its cache: the lookup was ours.
  timings.dns_us = dns_us_ + (times.redirects > 0 ? positive(times.namelookup) : 0);
  if (times.connect > 0) timings.connect_us = positive(times.connect - times.namelookup);
  if (times.appconnect > 0 && times.connect > 0) {
    timings.tls_us = positive(times.appconnect - times.connect);
  }
  if (times.starttransfer > 0) {
    const int64_t request_sent = std::max({times.pretransfer, times.appconnect, times.connect});
    timings.first_byte_us = positive(times.starttransfer - request_sent);
    if (times.total > 0) timings.transfer_us = positive(times.total - times.starttransfer);
  }
  timings.total_us = dns_us_ + positive(times.total);
  return timings;
}

std::string HttpAttempt::PhaseReached(const CurlTimes& times) const {
  if (resolving_ || easy_ == nullptr) return kPhaseDns;
  if (times.connect == 0 && !TcpConnected()) return kPhaseConnect;
  if (https_ && times.appconnect == 0) return kPhaseTls;
  if (times.starttransfer == 0) return kPhaseFirstByte;
  return kPhaseTransfer;
}

void HttpAttempt::OnTransferDone(CURLcode code, const std::string& probe_error) {
  Observation observation = std::move(observation_);
  const CurlTimes times = ReadCurlTimes();
  observation.timings = TimingsFrom(times);
  long status = 0;
  curl_easy_getinfo(easy_, CURLINFO_RESPONSE_CODE, &status);
  observation.status_code = static_cast<int>(status);
  observation.tls_established = https_ && times.appconnect > 0;
  observation.cert_expiry = certificates_.leaf;
  observation.cert_earliest_expiry = certificates_.earliest;
  if (!probe_error.empty()) {
    observation.error = probe_error;
    observation.probe_fault = true;
  } else if (code != CURLE_OK && !blocked_reason_.empty()) {
    // The probe refused to connect: not the target's fault, so never Down.
    observation.error = blocked_reason_;
    observation.probe_fault = true;
  } else if (code != CURLE_OK) {
    CurlFailure failure;
    failure.code = code;
    curl_easy_getinfo(easy_, CURLINFO_OS_ERRNO, &failure.os_errno);
    curl_easy_getinfo(easy_, CURLINFO_SSL_VERIFYRESULT, &failure.verify_result);
    failure.socket_errno = socket_errno_;
    failure.detail = error_buffer_;
    failure.max_redirects = environment_.max_redirects;
    failure.timeout = plan_.timeout;
    failure.phase = PhaseReached(times);
    failure.host = request_host_;
    char* effective = nullptr;
    curl_easy_getinfo(easy_, CURLINFO_EFFECTIVE_URL, &effective);
    if (effective != nullptr) {
      CurlUrl url;
      if (curl_url_set(url.handle, CURLUPART_URL, effective, 0) == CURLUE_OK) {
        if (auto host = url.Get(CURLUPART_HOST)) failure.host = StripBrackets(*host);
      }
    }
    TransportError error = DescribeCurlFailure(failure);
    observation.error = std::move(error.message);
    observation.probe_fault = error.probe_fault;
  }
  Report(std::move(observation));
}

Observation HttpAttempt::Abort(std::chrono::milliseconds timeout) {
  if (reported_) return *reported_;
  const CurlTimes times = ReadCurlTimes();
  Observation observation = std::move(observation_);
  observation.timings = TimingsFrom(times);
  observation.timings.total_us =
      std::chrono::duration_cast<std::chrono::microseconds>(environment_.loop.Now() - started_)
          .count();
  if (resolving_) observation.timings.dns_us = observation.timings.total_us;
  observation.error = DescribeTimeout(timeout, PhaseReached(times));
  if (easy_ != nullptr) {
    long status = 0;
    curl_easy_getinfo(easy_, CURLINFO_RESPONSE_CODE, &status);
    observation.status_code = static_cast<int>(status);
    environment_.curl.Remove(easy_);
  }
  observation.cert_expiry = certificates_.leaf;
  observation.cert_earliest_expiry = certificates_.earliest;
  resolver_.reset();
  reported_ = observation;
  return observation;
}

void HttpAttempt::Report(Observation observation) {
  if (reported_) return;
  reported_ = observation;
  finish_(std::move(observation));
}

void HttpAttempt::ReportProbeFault(const std::string& message) {
  Observation observation;
  observation.error = message;
  observation.probe_fault = true;
  Report(std::move(observation));
}

size_t HttpAttempt::OnBody(char* data, size_t size, size_t count, void* self_pointer) {
  auto* self = static_cast<HttpAttempt*>(self_pointer);
  const size_t length = size * count;
  std::string& body = self->observation_.body;
  const size_t room =
      self->environment_.max_body_bytes - std::min(body.size(), self->environment_.max_body_bytes);
  if (length > room) self->observation_.body_truncated = true;
  body.append(data, std::min(length, room));
  // Always everything: the rest of a big body is read and dropped, not an error.
  return length;
}

size_t HttpAttempt::OnHeader(char* data, size_t size, size_t count, void* self_pointer) {
  auto* self = static_cast<HttpAttempt*>(self_pointer);
  const size_t length = size * count;
  const std::string_view line(data, length);
  auto& headers = self->observation_.headers;
  if (line.substr(0, 5) == "HTTP/") {
    // A new response (after a redirect or a 1xx): only the final one's headers count.
    headers.clear();
    self->header_bytes_ = 0;
    return length;
  }
  if (self->header_bytes_ + length > kMaxHeaderBytes) return length;
  self->header_bytes_ += length;
  if (!line.empty() && (line.front() == ' ' || line.front() == '\t')) {
    if (!headers.empty()) headers.back().second += " " + Trim(line);  // obsolete line folding
    return length;
  }
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return length;
  headers.emplace_back(Trim(line.substr(0, colon)), Trim(line.substr(colon + 1)));
  return length;
}

bool HttpAttempt::TcpConnected() const {
  if (tcp_connected_) return true;
  if (socket_fd_ < 0) return false;
  sockaddr_storage peer{};
  socklen_t length = sizeof peer;
  return getpeername(socket_fd_, reinterpret_cast<sockaddr*>(&peer), &length) == 0;
}

int HttpAttempt::OnCloseSocket(void* self_pointer, curl_socket_t fd) {
  auto* self = static_cast<HttpAttempt*>(self_pointer);
  if (fd == self->socket_fd_) {
    self->tcp_connected_ = self->TcpConnected();
    self->socket_fd_ = -1;
  }
  return close(fd);
}

curl_socket_t HttpAttempt::OnOpenSocket(void* self_pointer, curlsocktype,
                                        struct curl_sockaddr* address) {
  auto* self = static_cast<HttpAttempt*>(self_pointer);
  // Decided on the address curl is about to connect to, so no lookup or redirect can sneak
  // another one in.
  if (auto blocked = self->policy_->Check(&address->addr)) {
    self->blocked_reason_ = std::move(*blocked);
    return CURL_SOCKET_BAD;
  }
  self->blocked_reason_.clear();
  const int fd = socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
  if (fd < 0) {
    self->socket_errno_ = errno;
    return CURL_SOCKET_BAD;
  }
  self->socket_fd_ = fd;
  return fd;
}

CURLcode HttpAttempt::OnSslContext(CURL*, void* ssl_ctx, void* self_pointer) {
  auto* self = static_cast<HttpAttempt*>(self_pointer);
  CaptureChainExpiry(static_cast<SSL_CTX*>(ssl_ctx), &self->certificates_);
  return CURLE_OK;
}

}  // namespace pharos
