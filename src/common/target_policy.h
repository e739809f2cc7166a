#pragma once

// TargetPolicy: which addresses checks may connect to. The probe asks it about the address it is
// about to connect to (after every lookup, for every redirect hop), so a Monitor cannot make the
// probe reach cloud metadata or other link-local services, whatever name or redirect it uses.
// Rules: an address on the deny list is blocked; else on the allow list, allowed; else on the
// default list (link-local, cloud metadata: DefaultDenied()), blocked; else allowed. So
// --allow-cidr wins over the defaults and --deny-cidr wins over --allow-cidr. IPv4-mapped IPv6
// addresses (::ffff:a.b.c.d) are judged as the IPv4 address they carry. See docs/security.md.
// Thread-safety: immutable after construction; share it freely between threads.

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace pharos {

// An IPv4 or IPv6 network in CIDR form ("169.254.0.0/16", "fe80::/10"; a bare address is /32 or
// /128).
struct Cidr {
  int family = AF_INET;  // AF_INET or AF_INET6
  std::array<uint8_t, 16> bytes{};
  int prefix = 0;

  static Result<Cidr> Parse(std::string_view text);
  bool Contains(int address_family, const uint8_t* address) const;
  std::string ToString() const;
  bool operator==(const Cidr& other) const = default;
};

class TargetPolicy {
 public:
  // One entry of the default deny list, with why it is there (shown in docs and tests).
  struct DefaultEntry {
    const char* cidr;
    const char* why;
  };
  // The default deny list, as data.
  static const std::vector<DefaultEntry>& DefaultDenied();

  // The defaults alone.
  TargetPolicy();
  // The defaults plus --deny-cidr / --allow-cidr texts; the error names the bad entry.
  static Result<TargetPolicy> Create(const std::vector<std::string>& deny,
                                     const std::vector<std::string>& allow);

  // This policy with `other`'s deny and allow entries added (a cluster-wide policy from the
  // operator on top of the probe's own flags).
  TargetPolicy MergedWith(const TargetPolicy& other) const;

  // nullopt when `address` may be connected to; else the reason, e.g. "target address
  // 169.254.169.254 is blocked by the probe's policy".
  std::optional<std::string> Check(const sockaddr* address) const;
  // The same for an IP literal ("169.254.169.254", "[fe80::1]"); nullopt for host names.
  std::optional<std::string> CheckLiteral(std::string_view host) const;

  const std::vector<Cidr>& deny() const { return deny_; }
  const std::vector<Cidr>& allow() const { return allow_; }

 private:
  std::optional<std::string> Decide(int family, const uint8_t* bytes) const;

  std::vector<Cidr> deny_;
  std::vector<Cidr> allow_;
  std::vector<Cidr> defaults_;
};

// The reason text of a blocked address ("target address X is blocked by the probe's policy").
std::string BlockedTargetReason(std::string_view address);

}  // namespace pharos
