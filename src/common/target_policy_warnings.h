#pragma once

// TargetPolicyWarnings: the warnings `pharos validate` prints for Monitors whose target is an IP
// literal the target policy blocks (spec.http.url, spec.tcp.host, spec.dns.server,
// spec.icmp.host, spec.grpc.address); the operator sends them as Warning Events. Names are
// not looked up here: the probe decides on the address it is about to connect to.
// Thread-safety: a free function.

#include <vector>

#include "common/monitor.h"
#include "common/monitor_loader.h"
#include "common/target_policy.h"

namespace pharos {

std::vector<ValidationError> BlockedTargetWarnings(const std::vector<Monitor>& monitors,
                                                   const TargetPolicy& policy);

// The host of an http(s) URL as written ("169.254.169.254", "[fe80::1]" without brackets,
// "example.com"); empty when there is none.
std::string UrlHost(std::string_view url);

}  // namespace pharos
