#pragma once

// IpRange: an IPv4 or IPv6 network in CIDR notation ("10.0.0.0/8", "2001:db8::/32"; a bare
// address is a single host), and whether a client address falls in it. IPv4-mapped IPv6
// addresses ("::ffff:10.1.2.3") match IPv4 ranges.
// Thread-safety: a value type.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace pharos {

class IpRange {
 public:
  // Errors say what is wrong ("prefix length 33 is larger than 32"). Host bits set below the
  // prefix ("10.1.2.3/8") are an error too: they usually mean a mistyped range.
  static Result<IpRange> Parse(std::string_view text);

  // False for text that is not an IP address.
  bool Contains(std::string_view address) const;

  // The range as written canonically ("10.0.0.0/8").
  std::string ToString() const;

  bool operator==(const IpRange&) const = default;

 private:
  bool v6_ = false;
  std::array<uint8_t, 16> network_{};  // IPv4 in the first 4 bytes
  int prefix_ = 0;
};

}  // namespace pharos
