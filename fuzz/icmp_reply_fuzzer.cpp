// Fuzz target: the ICMP echo reply reader — whatever packet arrives on the probe's ICMP socket
// (raw IPv4 sockets see every ICMP packet of the host, IP header included). Input: one selector
// byte (bit 0: IPv6, bit 1: IPv4 header present, bit 2: any identifier), then the packet.
// Invariant: the echo request the probe sends is recognised as its own reply once turned into one
// (type 0 / 129), so the parser accepts what it should as well as refusing the rest.

#include <netinet/in.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "probe/icmp_socket.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  const uint8_t selector = data[0];
  const int family = (selector & 1) != 0 ? AF_INET6 : AF_INET;
  const bool ip_header = family == AF_INET && (selector & 2) != 0;
  const std::optional<uint16_t> identifier =
      (selector & 4) != 0 ? std::nullopt : std::optional<uint16_t>(0x1234);
  constexpr uint64_t kToken = 0x0123456789abcdefULL;
  const std::string_view packet(reinterpret_cast<const char*>(data) + 1, size - 1);
  (void)pharos::IcmpSocket::ParseReply(family, packet, ip_header, identifier, kToken, 56);

  std::string echo = pharos::IcmpSocket::EchoRequest(family, 0x1234, 7, kToken, 56);
  echo[0] = static_cast<char>(family == AF_INET ? 0 : 129);  // the reply the target would send
  const std::optional<pharos::IcmpSocket::Reply> own =
      pharos::IcmpSocket::ParseReply(family, echo, false, identifier, kToken, 56);
  if (!own || own->sequence != 7) {
    std::abort();
  }
  return 0;
}
