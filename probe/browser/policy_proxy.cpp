#include "probe/browser/policy_proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "common/logging.h"

namespace pharos {
namespace {

using SteadyTime = std::chrono::steady_clock::time_point;

constexpr size_t kMaxRefusalsKept = 100;
constexpr int64_t kRefusalsLogged = 10;
constexpr size_t kRelayChunk = size_t{16} * 1024;

const Logger& Log() {
  static const Logger logger("screenshot-proxy");
  return logger;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

bool IsToken(std::string_view text) {
  if (text.empty()) return false;
  return std::all_of(text.begin(), text.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
}

// "host:port", "[v6]:port", or without the port when `default_port` is given.
Result<std::pair<std::string, uint16_t>> SplitAuthority(std::string_view authority,
                                                        std::optional<uint16_t> default_port) {
  const auto bad = [&](const std::string& why) {
    return Error{"bad host \"" + std::string(authority.substr(0, 256)) + "\": " + why,
                 ErrorKind::kInvalidArgument};
  };
  if (authority.find('@') != std::string_view::npos) return bad("user information is refused");
  std::string_view host = authority;
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("unclosed [");
    host = authority.substr(1, close - 1);
    const std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return bad("junk after ]");
      port_text = rest.substr(1);
    }
  } else if (const size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port_text = authority.substr(colon + 1);
  }
  if (host.empty() || host.size() > 253) return bad("empty or too long");
  for (const char c : host) {
    if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '.' && c != '-' && c != '_' &&
        c != ':') {
      return bad("unexpected character");
    }
  }
  uint16_t port = 0;
  if (port_text.empty()) {
    if (!default_port) return bad("no port");
    port = *default_port;
  } else {
    unsigned value = 0;
    const auto [end, error] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (error != std::errc() || end != port_text.data() + port_text.size() || value == 0 ||
        value > 65535) {
      return bad("bad port");
    }
    port = static_cast<uint16_t>(value);
  }
  return std::make_pair(std::string(host), port);
}

Result<std::vector<sockaddr_storage>> Resolve(const std::string& host, uint16_t port) {
  std::vector<sockaddr_storage> addresses;
  sockaddr_storage literal{};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&literal);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&literal);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    addresses.push_back(literal);
    return addresses;
  }
  if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    addresses.push_back(literal);
    return addresses;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (const int code = getaddrinfo(host.c_str(), service.c_str(), &hints, &found); code != 0) {
    return Error{"cannot resolve " + host + ": " + gai_strerror(code), ErrorKind::kUnavailable};
  }
  for (const addrinfo* entry = found; entry != nullptr; entry = entry->ai_next) {
    if (entry->ai_addrlen > sizeof(sockaddr_storage)) continue;
    sockaddr_storage address{};
    std::memcpy(&address, entry->ai_addr, entry->ai_addrlen);
    addresses.push_back(address);
  }
  freeaddrinfo(found);
  return addresses;
}

socklen_t LengthOf(const sockaddr_storage& address) {
  return address.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
}

// Waits for `events` on `fd` until `deadline`; false when the deadline passed, the proxy is
// stopping (`wake` readable) or the socket failed.
bool WaitFor(int fd, short events, int wake, SteadyTime deadline) {
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd fds[2] = {{fd, events, 0}, {wake, POLLIN, 0}};
    const int ready = poll(fds, 2, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0 || fds[1].revents != 0) return false;
    return (fds[0].revents & events) != 0 || (fds[0].revents & (POLLHUP | POLLERR)) != 0;
  }
}

bool SendAll(int fd, std::string_view data, int wake, SteadyTime deadline) {
  while (!data.empty()) {
    const ssize_t sent = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (sent > 0) {
      data.remove_prefix(static_cast<size_t>(sent));
      continue;
    }
    if (sent < 0 && errno == EINTR) continue;
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
        WaitFor(fd, POLLOUT, wake, deadline)) {
      continue;
    }
    return false;
  }
  return true;
}

std::string Response(int code, std::string_view status, const std::string& body) {
  return "HTTP/1.1 " + std::to_string(code) + " " + std::string(status) +
         "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " +
         std::to_string(body.size() + 1) +
         "\r\nConnection: close\r\nProxy-Connection: close\r\n\r\n" + body + "\n";
}

// A non-blocking connection to exactly `address`, or -1.
int ConnectTo(const sockaddr_storage& address, int wake, SteadyTime deadline) {
  const int fd = socket(address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (connect(fd, reinterpret_cast<const sockaddr*>(&address), LengthOf(address)) == 0) return fd;
  if (errno == EINPROGRESS && WaitFor(fd, POLLOUT, wake, deadline)) {
    int error = 0;
    socklen_t length = sizeof error;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 && error == 0) return fd;
  }
  close(fd);
  return -1;
}

// Copies both ways until the upstream has finished and everything it sent was delivered, either
// side fails, nothing moves for `idle`, or the proxy stops.
void Relay(int client, int upstream, int wake, std::chrono::milliseconds idle) {
  struct Direction {
    int from;
    int to;
    std::string pending;
    bool ended = false;  // `from` sent its last byte
    bool shut = false;   // `to` told so
  };
  Direction up{client, upstream, {}, false, false};
  Direction down{upstream, client, {}, false, false};
  char chunk[kRelayChunk];
  while (!(down.ended && down.pending.empty())) {
    short client_events = 0;
    short upstream_events = 0;
    if (!up.ended && up.pending.empty()) client_events |= POLLIN;
    if (!down.pending.empty()) client_events |= POLLOUT;
    if (!down.ended && down.pending.empty()) upstream_events |= POLLIN;
    if (!up.pending.empty()) upstream_events |= POLLOUT;
    // A socket nothing is wanted of is left out: a hung-up one would wake every poll.
    pollfd fds[3] = {{client_events != 0 ? client : -1, client_events, 0},
                     {upstream_events != 0 ? upstream : -1, upstream_events, 0},
                     {wake, POLLIN, 0}};
    const int ready = poll(fds, 3, static_cast<int>(idle.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0 || fds[2].revents != 0) return;
    for (Direction* direction : {&up, &down}) {
      const pollfd& source = direction == &up ? fds[0] : fds[1];
      const pollfd& sink = direction == &up ? fds[1] : fds[0];
      if ((sink.revents & POLLERR) != 0) return;
      if (!direction->pending.empty() && (sink.revents & (POLLOUT | POLLHUP)) != 0) {
        const ssize_t sent =
            send(direction->to, direction->pending.data(), direction->pending.size(), MSG_NOSIGNAL);
        if (sent < 0 && errno != EAGAIN && errno != EINTR) return;
        if (sent > 0) direction->pending.erase(0, static_cast<size_t>(sent));
      }
      if (direction->pending.empty() && !direction->ended &&
          (source.revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
        const ssize_t got = recv(direction->from, chunk, sizeof chunk, 0);
        if (got > 0) {
          direction->pending.assign(chunk, static_cast<size_t>(got));
        } else if (got == 0) {
          direction->ended = true;
        } else if (errno != EAGAIN && errno != EINTR) {
          return;
        }
      }
      if (direction->ended && direction->pending.empty() && !direction->shut) {
        shutdown(direction->to, SHUT_WR);
        direction->shut = true;
      }
    }
  }
}

}  // namespace

Result<ProxyRequest> ProxyRequest::Parse(std::string_view head) {
  const auto bad = [](const std::string& why) {
    return Error{"bad proxy request: " + why, ErrorKind::kInvalidArgument};
  };
  if (head.size() < 4 || head.substr(head.size() - 4) != "\r\n\r\n") {
    return bad("the head does not end with an empty line");
  }
  std::vector<std::string_view> lines;
  std::string_view rest = head.substr(0, head.size() - 4);
  while (true) {
    const size_t end = rest.find("\r\n");
    lines.push_back(rest.substr(0, end));
    if (end == std::string_view::npos) break;
    rest.remove_prefix(end + 2);
  }
  const std::string_view request_line = lines.front();
  const size_t first_space = request_line.find(' ');
  const size_t last_space = request_line.rfind(' ');
  if (first_space == std::string_view::npos || first_space == last_space) {
    return bad("expected METHOD TARGET HTTP/1.x");
  }
  const std::string_view method = request_line.substr(0, first_space);
  const std::string_view target =
      request_line.substr(first_space + 1, last_space - first_space - 1);
  const std::string_view version = request_line.substr(last_space + 1);
  if (!IsToken(method)) return bad("bad method");
  if (version != "HTTP/1.1" && version != "HTTP/1.0") return bad("unsupported version");
  if (target.empty() || target.find(' ') != std::string_view::npos) return bad("bad target");

  ProxyRequest request;
  if (method == "CONNECT") {
    auto authority = SplitAuthority(target, std::nullopt);
    if (!authority) return bad(authority.error());
    request.tunnel = true;
    std::tie(request.host, request.port) = *authority;
    return request;
  }
  constexpr std::string_view kScheme = "http://";
  if (target.size() <= kScheme.size() ||
      !EqualsIgnoreCase(target.substr(0, kScheme.size()), kScheme)) {
    return bad("expected an absolute http:// URL or CONNECT (https goes through CONNECT)");
  }
  const std::string_view after_scheme = target.substr(kScheme.size());
  const size_t path_start = after_scheme.find_first_of("/?#");
  const std::string_view authority_text = after_scheme.substr(0, path_start);
  auto authority = SplitAuthority(authority_text, uint16_t{80});
  if (!authority) return bad(authority.error());
  std::tie(request.host, request.port) = *authority;
  std::string path(path_start == std::string_view::npos ? "/" : after_scheme.substr(path_start));
  if (const size_t fragment = path.find('#'); fragment != std::string::npos) path.resize(fragment);
  if (path.empty() || path.front() != '/') path.insert(0, "/");

  std::string headers;
  bool has_host = false;
  bool upgrade_insecure = false;
  bool subframe = false;
  for (size_t i = 1; i < lines.size(); ++i) {
    const std::string_view line = lines[i];
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || !IsToken(line.substr(0, colon))) {
      return bad("malformed header line");
    }
    const std::string_view name = line.substr(0, colon);
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
      value.remove_prefix(1);
    }
    if (EqualsIgnoreCase(name, "Proxy-Connection") ||
        EqualsIgnoreCase(name, "Proxy-Authorization") || EqualsIgnoreCase(name, "Connection") ||
        EqualsIgnoreCase(name, "Keep-Alive")) {
      continue;
    }
    if (EqualsIgnoreCase(name, "Host")) has_host = true;
    if (EqualsIgnoreCase(name, "Upgrade-Insecure-Requests") && value.substr(0, 1) == "1") {
      upgrade_insecure = true;
    }
    if (EqualsIgnoreCase(name, "Sec-Fetch-Dest") && !EqualsIgnoreCase(value, "document")) {
      subframe = true;
    }
    headers.append(line).append("\r\n");
  }
  request.navigation = upgrade_insecure && !subframe;
  request.upstream_head = std::string(method) + " " + path + " " + std::string(version) + "\r\n";
  if (!has_host) request.upstream_head += "Host: " + std::string(authority_text) + "\r\n";
  request.upstream_head += headers + "Connection: close\r\n\r\n";
  return request;
}

Result<ProxyRequest> ProxyRequest::ForUrl(std::string_view url) {
  ProxyRequest request;
  std::string_view rest;
  if (url.size() > 8 && EqualsIgnoreCase(url.substr(0, 8), "https://")) {
    request.tunnel = true;
    rest = url.substr(8);
  } else if (url.size() > 7 && EqualsIgnoreCase(url.substr(0, 7), "http://")) {
    rest = url.substr(7);
  } else {
    return Error{"not an http(s) URL", ErrorKind::kInvalidArgument};
  }
  auto authority = SplitAuthority(rest.substr(0, rest.find_first_of("/?#")),
                                  uint16_t{request.tunnel ? uint16_t{443} : uint16_t{80}});
  if (!authority) return Error{authority.error(), ErrorKind::kInvalidArgument};
  std::tie(request.host, request.port) = *authority;
  return request;
}

Result<sockaddr_storage> PolicyProxy::Admit(const TargetPolicy& policy, const std::string& host,
                                            uint16_t port) {
  Result<std::vector<sockaddr_storage>> resolved = Resolve(host, port);
  if (!resolved) return Error{resolved.error(), ErrorKind::kUnavailable};
  return PickAddress(policy, *resolved);
}

Result<sockaddr_storage> PolicyProxy::PickAddress(const TargetPolicy& policy,
                                                  const std::vector<sockaddr_storage>& resolved) {
  std::optional<std::string> first_reason;
  for (const sockaddr_storage& address : resolved) {
    std::optional<std::string> reason = policy.Check(reinterpret_cast<const sockaddr*>(&address));
    if (!reason) return address;
    if (!first_reason) first_reason = std::move(reason);
  }
  return Error{first_reason.value_or("the name has no address"), ErrorKind::kInvalidArgument};
}

PolicyProxy::PolicyProxy(TargetPolicy policy, Options options)
    : policy_(std::move(policy)), options_(options) {}

PolicyProxy::~PolicyProxy() { Stop(); }

Status PolicyProxy::Start() {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    return Error{std::string("screenshot proxy: pipe: ") + strerror(errno)};
  }
  wake_read_ = pipe_fds[0];
  wake_write_ = pipe_fds[1];
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (listen_fd_ < 0 ||
      bind(listen_fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 ||
      listen(listen_fd_, 64) != 0 ||
      getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return Error{std::string("screenshot proxy: cannot listen on 127.0.0.1: ") + strerror(errno)};
  }
  port_ = ntohs(address.sin_port);
  acceptor_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "pharos-proxy");
    AcceptLoop();
  });
  return {};
}

std::string PolicyProxy::url() const { return "http://127.0.0.1:" + std::to_string(port_); }

void PolicyProxy::Stop() {
  if (!acceptor_.joinable()) {
    for (int* fd : {&listen_fd_, &wake_read_, &wake_write_}) {
      if (*fd >= 0) close(*fd);
      *fd = -1;
    }
    return;
  }
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  // Never read: it stays readable and wakes every poll of the proxy's threads.
  const char byte = 0;
  (void)!write(wake_write_, &byte, 1);
  acceptor_.join();
  std::list<std::unique_ptr<Connection>> left;
  {
    MutexLock lock(mu_);
    left.swap(connections_);
  }
  for (const std::unique_ptr<Connection>& connection : left) connection->thread.join();
  for (int* fd : {&listen_fd_, &wake_read_, &wake_write_}) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
  }
}

std::vector<PolicyProxy::Refusal> PolicyProxy::Refusals() const {
  MutexLock lock(mu_);
  return refusals_;
}

int64_t PolicyProxy::refused() const {
  MutexLock lock(mu_);
  return refused_;
}

void PolicyProxy::ReapFinished() {
  for (auto it = connections_.begin(); it != connections_.end();) {
    if ((*it)->done) {
      (*it)->thread.join();
      it = connections_.erase(it);
    } else {
      ++it;
    }
  }
}

void PolicyProxy::AcceptLoop() {
  while (true) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_read_, POLLIN, 0}};
    const int ready = poll(fds, 2, -1);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0 || fds[1].revents != 0) return;
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) continue;
    MutexLock lock(mu_);
    ReapFinished();
    if (stopping_) {
      close(fd);
      return;
    }
    if (connections_.size() >= options_.max_connections) {
      const std::string busy = Response(503, "Service Unavailable",
                                        "the screenshot proxy has too many connections open");
      (void)!send(fd, busy.data(), busy.size(), MSG_NOSIGNAL);
      close(fd);
      continue;
    }
    auto connection = std::make_unique<Connection>();
    connection->fd = fd;
    Connection& ref = *connection;
    connections_.push_back(std::move(connection));
    ref.thread = std::thread([this, &ref] {
      pthread_setname_np(pthread_self(), "pharos-proxy-c");
      Serve(ref);
      close(ref.fd);
      MutexLock done_lock(mu_);
      ref.done = true;
    });
  }
}

void PolicyProxy::Refuse(int fd, const ProxyRequest& request, const std::string& reason) {
  int64_t count = 0;
  {
    MutexLock lock(mu_);
    count = ++refused_;
    if (refusals_.size() < kMaxRefusalsKept) {
      refusals_.push_back(Refusal{request.host, reason, request.navigation});
    }
  }
  // A page can ask for thousands of blocked images: the first few say enough.
  if (count <= kRefusalsLogged) {
    Log().Warn("the screenshot browser was refused a connection by the target policy",
               {{"host", request.host},
                {"port", static_cast<int64_t>(request.port)},
                {"reason", reason},
                {"refused_in_this_capture", count}});
  }
  SendAll(fd, Response(403, "Forbidden", reason), wake_read_,
          std::chrono::steady_clock::now() + options_.head_timeout);
}

void PolicyProxy::Serve(Connection& connection) {
  const int fd = connection.fd;
  const auto head_deadline = std::chrono::steady_clock::now() + options_.head_timeout;
  std::string received;
  size_t head_end = std::string::npos;
  char chunk[4096];
  while (head_end == std::string::npos) {
    if (received.size() > options_.max_head_bytes) {
      SendAll(fd, Response(431, "Request Header Fields Too Large", "request head too large"),
              wake_read_, head_deadline);
      return;
    }
    if (!WaitFor(fd, POLLIN, wake_read_, head_deadline)) return;
    const ssize_t got = recv(fd, chunk, sizeof chunk, 0);
    if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (got <= 0) return;
    received.append(chunk, static_cast<size_t>(got));
    head_end = received.find("\r\n\r\n");
  }
  if (head_end + 4 > options_.max_head_bytes) {
    SendAll(fd, Response(431, "Request Header Fields Too Large", "request head too large"),
            wake_read_, head_deadline);
    return;
  }
  Result<ProxyRequest> request =
      ProxyRequest::Parse(std::string_view(received).substr(0, head_end + 4));
  if (!request) {
    SendAll(fd, Response(400, "Bad Request", request.error()), wake_read_, head_deadline);
    return;
  }
  const std::string early = received.substr(head_end + 4);
  Result<sockaddr_storage> address = Admit(policy_, request->host, request->port);
  if (!address && address.error_kind() == ErrorKind::kInvalidArgument) {
    Refuse(fd, *request, address.error());
    return;
  }
  if (!address) {
    SendAll(fd, Response(502, "Bad Gateway", address.error()), wake_read_, head_deadline);
    return;
  }
  const int upstream =
      ConnectTo(*address, wake_read_, std::chrono::steady_clock::now() + options_.connect_timeout);
  if (upstream < 0) {
    SendAll(fd, Response(502, "Bad Gateway", "cannot connect to " + request->host), wake_read_,
            head_deadline);
    return;
  }
  const auto send_deadline = std::chrono::steady_clock::now() + options_.idle_timeout;
  const bool sent =
      request->tunnel
          ? SendAll(fd, "HTTP/1.1 200 Connection established\r\n\r\n", wake_read_, send_deadline)
          : SendAll(upstream, request->upstream_head, wake_read_, send_deadline);
  if (sent && SendAll(upstream, early, wake_read_, send_deadline)) {
    Relay(fd, upstream, wake_read_, options_.idle_timeout);
  }
  close(upstream);
}

}  // namespace pharos
