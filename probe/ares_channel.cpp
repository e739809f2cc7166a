#include "probe/ares_channel.h"

#include <ares.h>
#include <arpa/inet.h>
#include <sys/epoll.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace pharos {
namespace {

// c-ares opens its sockets through these, so a failure to open one (EMFILE) is seen and
// reported as the probe's problem instead of as an unreachable server.
ares_socket_t SocketOpen(int family, int type, int protocol, void* data) {
  const int fd = socket(family, type | SOCK_CLOEXEC, protocol);
  if (fd < 0) *static_cast<int*>(data) = errno;
  return fd;
}
int SocketClose(ares_socket_t fd, void*) { return close(fd); }
int SocketConnect(ares_socket_t fd, const struct sockaddr* address, ares_socklen_t length, void*) {
  return connect(fd, address, length);
}
ares_ssize_t SocketReceive(ares_socket_t fd, void* buffer, size_t length, int flags,
                           struct sockaddr* from, ares_socklen_t* from_length, void*) {
  return recvfrom(fd, buffer, length, flags, from, from_length);
}
ares_ssize_t SocketSend(ares_socket_t fd, const struct iovec* vectors, int count, void*) {
  msghdr message{};
  message.msg_iov = const_cast<struct iovec*>(vectors);
  message.msg_iovlen = static_cast<size_t>(count);
  return sendmsg(fd, &message, MSG_NOSIGNAL);
}

const ares_socket_functions kSocketFunctions = {&SocketOpen, &SocketClose, &SocketConnect,
                                                &SocketReceive, &SocketSend};

void InitAresLibrary() {
  static const int status = ares_library_init(ARES_LIB_INIT_ALL);
  (void)status;
}

}  // namespace

std::string SocketAddress::ToString() const {
  char text[INET6_ADDRSTRLEN] = {};
  if (storage.ss_family == AF_INET) {
    const auto* in4 = reinterpret_cast<const sockaddr_in*>(&storage);
    inet_ntop(AF_INET, &in4->sin_addr, text, sizeof(text));
  } else if (storage.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&storage);
    inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
  }
  return text;
}

void SocketAddress::SetPort(int port) {
  const auto network = htons(static_cast<uint16_t>(port));
  if (family() == AF_INET) {
    reinterpret_cast<sockaddr_in*>(&storage)->sin_port = network;
  } else if (family() == AF_INET6) {
    reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port = network;
  }
}

int SocketAddress::port() const {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
  if (family() == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
  }
  return 0;
}

std::optional<SocketAddress> ParseIpLiteral(std::string_view host, int port) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  const std::string text(host);
  SocketAddress address;
  auto* in4 = reinterpret_cast<sockaddr_in*>(&address.storage);
  if (inet_pton(AF_INET, text.c_str(), &in4->sin_addr) == 1) {
    in4->sin_family = AF_INET;
    in4->sin_port = htons(static_cast<uint16_t>(port));
    address.length = sizeof(sockaddr_in);
    return address;
  }
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&address.storage);
  if (inet_pton(AF_INET6, text.c_str(), &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(static_cast<uint16_t>(port));
    address.length = sizeof(sockaddr_in6);
    return address;
  }
  return std::nullopt;
}

struct AresChannel::Pending {
  AresChannel* channel;
  QueryCallback query_callback;
  LookupCallback lookup_callback;
};

AresChannel::AresChannel(EventLoop& loop) : loop_(loop) {}

AresChannel::Options AresChannel::Options::ForCheckTimeout(
    std::chrono::milliseconds check_timeout) {
  Options options;
  options.try_timeout = std::clamp(check_timeout / 4, std::chrono::milliseconds(250),
                                   std::chrono::milliseconds(5000));
  options.tries = 4;
  return options;
}

Result<std::unique_ptr<AresChannel>> AresChannel::ForTargetLookup(
    EventLoop& loop, std::chrono::milliseconds check_timeout, const std::string& servers) {
  Options options = Options::ForCheckTimeout(check_timeout);
  options.servers = servers;
  return Create(loop, options);
}

Result<std::unique_ptr<AresChannel>> AresChannel::Create(EventLoop& loop, const Options& options) {
  InitAresLibrary();
  std::unique_ptr<AresChannel> channel(new AresChannel(loop));
  ares_options init{};
  int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
  init.sock_state_cb = &AresChannel::OnSocketState;
  init.sock_state_cb_data = channel.get();
  init.timeout = static_cast<int>(std::max<int64_t>(1, options.try_timeout.count()));
  init.tries = std::max(1, options.tries);
  if (!options.use_search_domains) init.flags |= ARES_FLAG_NOSEARCH;
  if (options.report_server_failures) init.flags |= ARES_FLAG_NOCHECKRESP;
  if (init.flags != 0) mask |= ARES_OPT_FLAGS;
  ares_channel raw = nullptr;
  const int status = ares_init_options(&raw, &init, mask);
  if (status != ARES_SUCCESS) {
    if (raw != nullptr) ares_destroy(raw);
    return Error{std::string("cannot start the DNS resolver: ") + ares_strerror(status)};
  }
  channel->channel_ = raw;
  ares_set_socket_functions(raw, &kSocketFunctions, &channel->socket_errno_);
  if (!options.servers.empty()) {
    const int set = ares_set_servers_ports_csv(raw, options.servers.c_str());
    if (set != ARES_SUCCESS) {
      return Error{"invalid DNS server \"" + options.servers + "\": " + ares_strerror(set)};
    }
  }
  return channel;
}

AresChannel::~AresChannel() {
  *alive_ = false;
  loop_.CancelTimer(timer_);
  // Fails pending queries with ARES_EDESTRUCTION (ignored) and closes their sockets, which
  // removes their watches through OnSocketState.
  if (channel_ != nullptr) ares_destroy(channel_);
}

void AresChannel::Query(const std::string& name, int type, QueryCallback callback) {
  auto pending = std::make_unique<Pending>(Pending{this, std::move(callback), nullptr});
  ares_query(channel_, name.c_str(), /*dnsclass=IN*/ 1, type, &AresChannel::OnQueryDone,
             pending.release());
  UpdateTimer();
}

void AresChannel::Lookup(const std::string& host, LookupCallback callback) {
  auto pending = std::make_unique<Pending>(Pending{this, nullptr, std::move(callback)});
  ares_addrinfo_hints hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  ares_getaddrinfo(channel_, host.c_str(), nullptr, &hints, &AresChannel::OnLookupDone,
                   pending.release());
  UpdateTimer();
}

void AresChannel::OnQueryDone(void* arg, int status, int, unsigned char* answer, int length) {
  std::unique_ptr<Pending> pending(static_cast<Pending*>(arg));
  if (status == ARES_EDESTRUCTION) return;
  std::vector<unsigned char> copy;
  if (answer != nullptr && length > 0) copy.assign(answer, answer + length);
  AresChannel* self = pending->channel;
  self->loop_.Post([alive = self->alive_, callback = std::move(pending->query_callback), status,
                    copy = std::move(copy)] {
    if (*alive) callback(status, copy);
  });
}

void AresChannel::OnLookupDone(void* arg, int status, int, ::ares_addrinfo* result) {
  std::unique_ptr<Pending> pending(static_cast<Pending*>(arg));
  std::vector<SocketAddress> addresses;
  if (result != nullptr) {
    for (ares_addrinfo_node* node = result->nodes; node != nullptr; node = node->ai_next) {
      if (node->ai_addr == nullptr || node->ai_addrlen <= 0 ||
          static_cast<size_t>(node->ai_addrlen) > sizeof(sockaddr_storage)) {
        continue;
      }
      SocketAddress address;
      std::memcpy(&address.storage, node->ai_addr, static_cast<size_t>(node->ai_addrlen));
      address.length = static_cast<socklen_t>(node->ai_addrlen);
      addresses.push_back(address);
    }
    ares_freeaddrinfo(result);
  }
  if (status == ARES_EDESTRUCTION) return;
  AresChannel* self = pending->channel;
  self->loop_.Post([alive = self->alive_, callback = std::move(pending->lookup_callback), status,
                    addresses = std::move(addresses)]() mutable {
    if (*alive) callback(status, std::move(addresses));
  });
}

void AresChannel::OnSocketState(void* data, int fd, int readable, int writable) {
  auto* self = static_cast<AresChannel*>(data);
  if (!readable && !writable) {
    self->loop_.Unwatch(fd);
    return;
  }
  const uint32_t events = (readable ? EPOLLIN : 0u) | (writable ? EPOLLOUT : 0u);
  // A failed watch leaves the query to its timeout; there is no way to fail it from here.
  (void)self->loop_.Watch(fd, events, [self, fd](uint32_t ready) {
    const bool read = (ready & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0;
    const bool write = (ready & EPOLLOUT) != 0;
    self->Process(read ? fd : ARES_SOCKET_BAD, write ? fd : ARES_SOCKET_BAD);
  });
}

void AresChannel::Process(int read_fd, int write_fd) {
  ares_process_fd(channel_, read_fd, write_fd);
  UpdateTimer();
}

void AresChannel::UpdateTimer() {
  loop_.CancelTimer(timer_);
  timer_ = 0;
  timeval wait{};
  if (ares_timeout(channel_, nullptr, &wait) == nullptr) return;
  const auto delay = std::chrono::seconds(wait.tv_sec) + std::chrono::microseconds(wait.tv_usec);
  timer_ =
      loop_.AddTimer(loop_.Now() + delay, [this] { Process(ARES_SOCKET_BAD, ARES_SOCKET_BAD); });
}

}  // namespace pharos
