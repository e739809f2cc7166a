#include "common/target_policy.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace pharos {
namespace {

constexpr uint8_t kV4MappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

std::string AddressText(int family, const uint8_t* bytes) {
  char text[INET6_ADDRSTRLEN] = "";
  inet_ntop(family, bytes, text, sizeof text);
  return text;
}

bool AnyContains(const std::vector<Cidr>& list, int family, const uint8_t* bytes) {
  for (const Cidr& cidr : list) {
    if (cidr.Contains(family, bytes)) return true;
  }
  return false;
}

Result<std::vector<Cidr>> ParseList(const std::vector<std::string>& texts, const char* flag) {
  std::vector<Cidr> list;
  for (const std::string& text : texts) {
    auto cidr = Cidr::Parse(text);
    if (!cidr.ok()) {
      return Error{std::string(flag) + ": " + cidr.error(), ErrorKind::kInvalidArgument};
    }
    list.push_back(*cidr);
  }
  return list;
}

}  // namespace

Result<Cidr> Cidr::Parse(std::string_view text) {
  const auto invalid = [&](const std::string& why) {
    return Error{"\"" + std::string(text.substr(0, 64)) + "\" is not a CIDR (" + why +
                     "; e.g. 169.254.0.0/16 or fe80::/10)",
                 ErrorKind::kInvalidArgument};
  };
  Cidr cidr;
  std::string_view address = text;
  std::optional<int> prefix;
  if (const size_t slash = text.find('/'); slash != std::string_view::npos) {
    address = text.substr(0, slash);
    const std::string_view digits = text.substr(slash + 1);
    int value = -1;
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (digits.empty() || error != std::errc() || end != digits.data() + digits.size()) {
      return invalid("bad prefix length");
    }
    prefix = value;
  }
  if (address.size() >= 2 && address.front() == '[' && address.back() == ']') {
    address = address.substr(1, address.size() - 2);
  }
  const std::string host(address);
  if (inet_pton(AF_INET, host.c_str(), cidr.bytes.data()) == 1) {
    cidr.family = AF_INET;
  } else if (inet_pton(AF_INET6, host.c_str(), cidr.bytes.data()) == 1) {
    cidr.family = AF_INET6;
  } else {
    return invalid("not an IPv4 or IPv6 address");
  }
  const int bits = cidr.family == AF_INET ? 32 : 128;
  cidr.prefix = prefix.value_or(bits);
  if (cidr.prefix < 0 || cidr.prefix > bits) {
    return invalid("prefix length must be 0 to " + std::to_string(bits));
  }
  // Keep only the network part so that equal networks compare equal.
  for (int i = 0; i < bits / 8; ++i) {
    const int kept = std::clamp(cidr.prefix - 8 * i, 0, 8);
    cidr.bytes[static_cast<size_t>(i)] &= static_cast<uint8_t>(0xff00 >> kept);
  }
  return cidr;
}

bool Cidr::Contains(int address_family, const uint8_t* address) const {
  if (address_family != family) return false;
  const int whole = prefix / 8;
  if (std::memcmp(bytes.data(), address, static_cast<size_t>(whole)) != 0) return false;
  const int rest = prefix % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<uint8_t>(0xff00 >> rest);
  return (address[whole] & mask) == bytes[static_cast<size_t>(whole)];
}

std::string Cidr::ToString() const {
  return AddressText(family, bytes.data()) + "/" + std::to_string(prefix);
}

const std::vector<TargetPolicy::DefaultEntry>& TargetPolicy::DefaultDenied() {
  static const std::vector<DefaultEntry> entries = {
      {"169.254.0.0/16",
       "IPv4 link-local: cloud instance metadata at 169.254.169.254 (AWS, GCP, Azure, OpenStack, "
       "DigitalOcean, Oracle), AWS ECS task credentials at 169.254.170.2, node-local services"},
      {"fe80::/10", "IPv6 link-local"},
      {"fd00:ec2::254/128", "AWS instance metadata over IPv6"},
      {"fd20:ce::254/128", "Google Cloud metadata server over IPv6"},
      {"100.100.100.200/32", "Alibaba Cloud instance metadata"},
      {"192.0.0.192/32", "Oracle Cloud Classic instance metadata"},
      {"168.63.129.16/32", "Azure WireServer (platform agent channel, certificates)"},
      {"64:ff9b::a9fe:0/112", "169.254.0.0/16 reached through the NAT64 well-known prefix"},
  };
  return entries;
}

TargetPolicy::TargetPolicy() {
  for (const DefaultEntry& entry : DefaultDenied()) {
    auto cidr = Cidr::Parse(entry.cidr);
    if (cidr.ok()) defaults_.push_back(*cidr);
  }
}

Result<TargetPolicy> TargetPolicy::Create(const std::vector<std::string>& deny,
                                          const std::vector<std::string>& allow) {
  TargetPolicy policy;
  auto denied = ParseList(deny, "--deny-cidr");
  if (!denied.ok()) return Error{denied.error(), ErrorKind::kInvalidArgument};
  auto allowed = ParseList(allow, "--allow-cidr");
  if (!allowed.ok()) return Error{allowed.error(), ErrorKind::kInvalidArgument};
  policy.deny_ = std::move(denied).value();
  policy.allow_ = std::move(allowed).value();
  return policy;
}

TargetPolicy TargetPolicy::MergedWith(const TargetPolicy& other) const {
  TargetPolicy merged = *this;
  merged.deny_.insert(merged.deny_.end(), other.deny_.begin(), other.deny_.end());
  merged.allow_.insert(merged.allow_.end(), other.allow_.begin(), other.allow_.end());
  return merged;
}

std::optional<std::string> TargetPolicy::Decide(int family, const uint8_t* bytes) const {
  std::string shown = AddressText(family, bytes);
  if (family == AF_INET6 && std::memcmp(bytes, kV4MappedPrefix, sizeof kV4MappedPrefix) == 0) {
    family = AF_INET;  // judged as the IPv4 address it carries
    bytes += sizeof kV4MappedPrefix;
  }
  if (AnyContains(deny_, family, bytes)) return BlockedTargetReason(shown);
  if (AnyContains(allow_, family, bytes)) return std::nullopt;
  if (AnyContains(defaults_, family, bytes)) return BlockedTargetReason(shown);
  return std::nullopt;
}

std::optional<std::string> TargetPolicy::Check(const sockaddr* address) const {
  if (address == nullptr) return std::nullopt;
  if (address->sa_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(address);
    return Decide(AF_INET, reinterpret_cast<const uint8_t*>(&v4->sin_addr));
  }
  if (address->sa_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(address);
    return Decide(AF_INET6, reinterpret_cast<const uint8_t*>(&v6->sin6_addr));
  }
  return std::nullopt;  // not an IP connection (a Unix socket is never a check target)
}

std::optional<std::string> TargetPolicy::CheckLiteral(std::string_view host) const {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.find('/') != std::string_view::npos) return std::nullopt;
  auto cidr = Cidr::Parse(host);
  if (!cidr.ok()) return std::nullopt;
  return Decide(cidr->family, cidr->bytes.data());
}

std::string BlockedTargetReason(std::string_view address) {
  return "target address " + std::string(address) + " is blocked by the probe's policy";
}

}  // namespace pharos
