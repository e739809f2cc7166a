#include "probe/icmp_socket.h"

#include <linux/icmp.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>

#include "probe/error_text.h"

namespace pharos {
namespace {

constexpr uint8_t kEchoRequest4 = 8;
constexpr uint8_t kEchoReply4 = 0;
constexpr uint8_t kEchoRequest6 = 128;
constexpr uint8_t kEchoReply6 = 129;
constexpr size_t kHeaderBytes = 8;
constexpr size_t kTokenBytes = 8;

uint16_t Checksum(std::string_view data) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < data.size(); i += 2) {
    sum += static_cast<uint32_t>(static_cast<uint8_t>(data[i]) << 8 |
                                 static_cast<uint8_t>(data[i + 1]));
  }
  if (data.size() % 2 == 1) sum += static_cast<uint32_t>(static_cast<uint8_t>(data.back()) << 8);
  while ((sum >> 16) != 0) sum = (sum & 0xFFFF) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

uint64_t RandomToken() {
  std::random_device device;
  return (static_cast<uint64_t>(device()) << 32) | device();
}

bool IsPermissionError(int error) { return error == EACCES || error == EPERM; }

}  // namespace

const char* ToString(IcmpSocket::Kind kind) {
  switch (kind) {
    case IcmpSocket::Kind::kAuto:
      return "auto";
    case IcmpSocket::Kind::kDatagram:
      return "datagram";
    case IcmpSocket::Kind::kRaw:
      return "raw";
  }
  return "auto";
}

std::optional<IcmpSocket::Kind> ParseIcmpSocketKind(std::string_view text) {
  for (const IcmpSocket::Kind kind :
       {IcmpSocket::Kind::kAuto, IcmpSocket::Kind::kDatagram, IcmpSocket::Kind::kRaw}) {
    if (text == ToString(kind)) return kind;
  }
  return std::nullopt;
}

std::string IcmpSocket::PingGroupRange() {
  std::ifstream in("/proc/sys/net/ipv4/ping_group_range");
  std::string low, high;
  if (!(in >> low >> high)) return "net.ipv4.ping_group_range could not be read";
  return "net.ipv4.ping_group_range is \"" + low + " " + high + "\"";
}

Result<IcmpSocket> IcmpSocket::Open(int family, Kind kind, bool* resource_error) {
  *resource_error = false;
  const int protocol =
      family == AF_INET6 ? static_cast<int>(IPPROTO_ICMPV6) : static_cast<int>(IPPROTO_ICMP);
  int datagram_error = 0;
  if (kind == Kind::kAuto || kind == Kind::kDatagram) {
    const int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
    if (fd >= 0) return IcmpSocket(fd, family, Kind::kDatagram, 0, RandomToken());
    datagram_error = errno;
    *resource_error = IsProbeResourceError(datagram_error);
    if (kind == Kind::kDatagram || !IsPermissionError(datagram_error)) {
      return Error{
          "cannot open an unprivileged ICMP (datagram) socket: " + DescribeErrno(datagram_error) +
          (IsPermissionError(datagram_error) ? " (" + PingGroupRange() + ": the probe's group " +
                                                   std::to_string(getgid()) + " must be inside it)"
                                             : std::string())};
    }
  }
  const int fd = socket(family, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
  if (fd < 0) {
    const int raw_error = errno;
    *resource_error = IsProbeResourceError(raw_error);
    std::string message = "cannot open a raw ICMP socket: " + DescribeErrno(raw_error);
    if (IsPermissionError(raw_error)) {
      message += " (it needs CAP_NET_RAW)";
      if (kind == Kind::kAuto) {
        message = "cannot open an ICMP socket: unprivileged (datagram) sockets are refused (" +
                  PingGroupRange() + ", the probe's group is " + std::to_string(getgid()) +
                  ") and raw sockets need CAP_NET_RAW; allow one of them (docs/probe.md, "
                  "\"ICMP\")";
      }
    }
    return Error{message};
  }
  // Only echo replies reach the socket; everything else ICMP would be read and dropped.
  if (family == AF_INET6) {
    icmp6_filter filter;
    ICMP6_FILTER_SETBLOCKALL(&filter);
    ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &filter);
    setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof(filter));
  } else {
    icmp_filter filter{};
    filter.data = ~(1U << ICMP_ECHOREPLY);
    setsockopt(fd, SOL_RAW, ICMP_FILTER, &filter, sizeof(filter));
  }
  const uint64_t token = RandomToken();
  return IcmpSocket(fd, family, Kind::kRaw, static_cast<uint16_t>(token >> 48), token);
}

IcmpSocket::IcmpSocket(IcmpSocket&& other) noexcept { *this = std::move(other); }

IcmpSocket& IcmpSocket::operator=(IcmpSocket&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    family_ = other.family_;
    kind_ = other.kind_;
    identifier_ = other.identifier_;
    token_ = other.token_;
    payload_size_ = other.payload_size_;
  }
  return *this;
}

IcmpSocket::~IcmpSocket() {
  if (fd_ >= 0) close(fd_);
}

std::string IcmpSocket::EchoRequest(int family, uint16_t identifier, uint16_t sequence,
                                    uint64_t token, int payload_size) {
  std::string packet(kHeaderBytes + static_cast<size_t>(std::max(payload_size, 0)), '\0');
  packet[0] = static_cast<char>(family == AF_INET6 ? kEchoRequest6 : kEchoRequest4);
  packet[4] = static_cast<char>(identifier >> 8);
  packet[5] = static_cast<char>(identifier & 0xFF);
  packet[6] = static_cast<char>(sequence >> 8);
  packet[7] = static_cast<char>(sequence & 0xFF);
  for (size_t i = kHeaderBytes; i < packet.size(); ++i) {
    const size_t offset = i - kHeaderBytes;
    packet[i] = offset < kTokenBytes ? static_cast<char>(token >> (56 - 8 * offset))
                                     : static_cast<char>(offset & 0xFF);
  }
  if (family != AF_INET6) {
    const uint16_t sum = Checksum(packet);
    packet[2] = static_cast<char>(sum >> 8);
    packet[3] = static_cast<char>(sum & 0xFF);
  }
  return packet;
}

std::optional<IcmpSocket::Reply> IcmpSocket::ParseReply(int family, std::string_view packet,
                                                        bool ip_header,
                                                        std::optional<uint16_t> identifier,
                                                        uint64_t token, int payload_size) {
  if (ip_header) {
    if (packet.empty()) return std::nullopt;
    const size_t header = static_cast<size_t>(static_cast<uint8_t>(packet[0]) & 0x0F) * 4;
    if (header < 20 || packet.size() < header) return std::nullopt;
    packet.remove_prefix(header);
  }
  if (packet.size() < kHeaderBytes) return std::nullopt;
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(packet[i]); };
  if (byte(0) != (family == AF_INET6 ? kEchoReply6 : kEchoReply4) || byte(1) != 0) {
    return std::nullopt;
  }
  const auto id = static_cast<uint16_t>(byte(4) << 8 | byte(5));
  if (identifier && id != *identifier) return std::nullopt;
  // Echoed payload: the token's first bytes must be ours (raw sockets see others' replies).
  const size_t token_bytes =
      std::min<size_t>(kTokenBytes, static_cast<size_t>(std::max(payload_size, 0)));
  if (packet.size() < kHeaderBytes + token_bytes) return std::nullopt;
  for (size_t i = 0; i < token_bytes; ++i) {
    if (byte(kHeaderBytes + i) != static_cast<uint8_t>(token >> (56 - 8 * i))) return std::nullopt;
  }
  return Reply{static_cast<uint16_t>(byte(6) << 8 | byte(7))};
}

Status IcmpSocket::Send(const SocketAddress& to, uint16_t sequence, int payload_size) {
  payload_size_ = payload_size;
  const std::string packet = EchoRequest(family_, identifier_, sequence, token_, payload_size);
  SocketAddress target = to;
  target.SetPort(0);
  if (sendto(fd_, packet.data(), packet.size(), MSG_NOSIGNAL,
             reinterpret_cast<const sockaddr*>(&target.storage), target.length) < 0) {
    return Error{DescribeErrno(errno)};
  }
  return OkStatus();
}

Result<std::optional<IcmpSocket::Reply>> IcmpSocket::Receive(bool* would_block) {
  *would_block = false;
  char buffer[65536 + 60];
  const ssize_t received = recv(fd_, buffer, sizeof(buffer), 0);
  if (received < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
      *would_block = true;
      return std::optional<Reply>();
    }
    return Error{DescribeErrno(errno)};
  }
  // Raw IPv4 sockets get the IP header too; the kernel matched the identifier of datagram ones.
  const bool ip_header = kind_ == Kind::kRaw && family_ == AF_INET;
  return ParseReply(family_, std::string_view(buffer, static_cast<size_t>(received)), ip_header,
                    kind_ == Kind::kRaw ? std::optional<uint16_t>(identifier_) : std::nullopt,
                    token_, payload_size_);
}

}  // namespace pharos
