#pragma once

// IcmpSocket: a non-blocking socket that sends ICMP (ICMPv6) echo requests and reads the echo
// replies meant for it. Two kinds, chosen at run time (docs/probe.md, "ICMP"):
// * datagram ("ping") sockets, SOCK_DGRAM + IPPROTO_ICMP/ICMPV6: no privilege needed when the
//   process's group is inside net.ipv4.ping_group_range; the kernel sets the identifier and the
//   checksum and hands this socket only the replies to its own requests;
// * raw sockets, SOCK_RAW: need CAP_NET_RAW; they see every echo reply on the host, so replies
//   are filtered by identifier, sequence and a random token at the start of the payload, and
//   ICMP_FILTER / ICMP6_FILTER keep everything but echo replies out of the socket.
// kAuto tries a datagram socket first and a raw one when the kernel refuses it.
// Thread-safety: one owner thread.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "probe/ares_channel.h"

namespace pharos {

class IcmpSocket {
 public:
  enum class Kind { kAuto, kDatagram, kRaw };

  // An echo reply to one of this socket's requests.
  struct Reply {
    uint16_t sequence = 0;
  };

  // Opens a socket of `family` (AF_INET or AF_INET6). Errors say why neither kind could be
  // opened and what to change; `*resource_error` tells the probe ran out of descriptors.
  static Result<IcmpSocket> Open(int family, Kind kind, bool* resource_error);
  IcmpSocket(IcmpSocket&& other) noexcept;
  IcmpSocket& operator=(IcmpSocket&& other) noexcept;
  IcmpSocket(const IcmpSocket&) = delete;
  IcmpSocket& operator=(const IcmpSocket&) = delete;
  ~IcmpSocket();

  int fd() const { return fd_; }
  Kind kind() const { return kind_; }  // kDatagram or kRaw, never kAuto

  // Sends echo request `sequence` with a `payload_size`-byte payload; errno on failure.
  Status Send(const SocketAddress& to, uint16_t sequence, int payload_size);
  // Reads one packet: a reply of ours, nullopt for anything else; `*would_block` when there
  // was nothing to read. Other errors are returned.
  Result<std::optional<Reply>> Receive(bool* would_block);

  // "net.ipv4.ping_group_range is \"1 0\"": the sysctl as this machine has it, for messages.
  static std::string PingGroupRange();

  // The echo request of `family` (ICMP header then payload: the token, then a repeating
  // pattern). The checksum is filled for IPv4 (the kernel computes ICMPv6's and a datagram
  // socket's own).
  static std::string EchoRequest(int family, uint16_t identifier, uint16_t sequence, uint64_t token,
                                 int payload_size);
  // The reply in `packet` (an IPv4 header first when `ip_header` is set) if it is an echo reply
  // with this identifier (any identifier when `identifier` is nullopt: the kernel matched it)
  // whose payload starts with the token's first bytes.
  static std::optional<Reply> ParseReply(int family, std::string_view packet, bool ip_header,
                                         std::optional<uint16_t> identifier, uint64_t token,
                                         int payload_size);

 private:
  IcmpSocket(int fd, int family, Kind kind, uint16_t identifier, uint64_t token)
      : fd_(fd), family_(family), kind_(kind), identifier_(identifier), token_(token) {}

  int fd_ = -1;
  int family_ = 0;
  Kind kind_ = Kind::kDatagram;
  uint16_t identifier_ = 0;  // raw sockets; the kernel's choice for datagram ones
  uint64_t token_ = 0;
  int payload_size_ = 0;  // of the last request sent (replies carry the same)
};

const char* ToString(IcmpSocket::Kind kind);  // "auto" "datagram" "raw"
std::optional<IcmpSocket::Kind> ParseIcmpSocketKind(std::string_view text);

}  // namespace pharos
