#include "operator/web/ip_range.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace pharos {
namespace {

struct Address {
  bool v6 = false;
  std::array<uint8_t, 16> bytes{};
};

bool ParseAddress(std::string_view text, Address* out) {
  const std::string copy(text);
  if (inet_pton(AF_INET, copy.c_str(), out->bytes.data()) == 1) {
    out->v6 = false;
    return true;
  }
  if (inet_pton(AF_INET6, copy.c_str(), out->bytes.data()) == 1) {
    static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(out->bytes.data(), kMapped, sizeof kMapped) == 0) {
      std::memmove(out->bytes.data(), out->bytes.data() + 12, 4);
      std::memset(out->bytes.data() + 4, 0, 12);
      out->v6 = false;
    } else {
      out->v6 = true;
    }
    return true;
  }
  return false;
}

bool MatchesPrefix(const std::array<uint8_t, 16>& a, const std::array<uint8_t, 16>& b, int prefix) {
  const int whole = prefix / 8;
  if (std::memcmp(a.data(), b.data(), static_cast<size_t>(whole)) != 0) return false;
  const int rest = prefix % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a[static_cast<size_t>(whole)] & mask) == (b[static_cast<size_t>(whole)] & mask);
}

}  // namespace

Result<IpRange> IpRange::Parse(std::string_view text) {
  const std::string quoted = "\"" + std::string(text) + "\"";
  const size_t slash = text.find('/');
  Address address;
  if (!ParseAddress(text.substr(0, slash), &address)) {
    return Error{quoted + " is not an IP address or CIDR range (e.g. 10.0.0.0/8, 2001:db8::/32)",
                 ErrorKind::kInvalidArgument};
  }
  const int bits = address.v6 ? 128 : 32;
  int prefix = bits;
  if (slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
    if (digits.empty() || error != std::errc() || end != digits.data() + digits.size() ||
        prefix < 0) {
      return Error{quoted + ": the prefix length after '/' must be a number",
                   ErrorKind::kInvalidArgument};
    }
    if (prefix > bits) {
      return Error{quoted + ": prefix length " + std::to_string(prefix) + " is larger than " +
                       std::to_string(bits),
                   ErrorKind::kInvalidArgument};
    }
  }
  IpRange range;
  range.v6_ = address.v6;
  range.prefix_ = prefix;
  for (int bit = 0; bit < bits; ++bit) {
    const bool set = (address.bytes[static_cast<size_t>(bit / 8)] >> (7 - bit % 8)) & 1;
    if (bit >= prefix && set) {
      return Error{quoted + ": address bits are set below the /" + std::to_string(prefix) +
                       " prefix (did you mean " +
                       [&] {
                         IpRange masked = range;
                         masked.network_ = address.bytes;
                         for (int b = prefix; b < bits; ++b) {
                           masked.network_[static_cast<size_t>(b / 8)] &=
                               static_cast<uint8_t>(~(1 << (7 - b % 8)));
                         }
                         return masked.ToString();
                       }() +
                       "?)",
                   ErrorKind::kInvalidArgument};
    }
  }
  range.network_ = address.bytes;
  return range;
}

bool IpRange::Contains(std::string_view text) const {
  Address address;
  if (!ParseAddress(text, &address) || address.v6 != v6_) return false;
  return MatchesPrefix(address.bytes, network_, prefix_);
}

std::string IpRange::ToString() const {
  char buffer[INET6_ADDRSTRLEN] = {};
  inet_ntop(v6_ ? AF_INET6 : AF_INET, network_.data(), buffer, sizeof buffer);
  return std::string(buffer) + "/" + std::to_string(prefix_);
}

}  // namespace pharos
