#pragma once

// Syntax checks for the names that appear in Monitors: Kubernetes object names (DNS-1123),
// DNS domain names, HTTP header names (RFC 7230 tokens) and "host[:port]" endpoints.
// Thread-safety: free functions; no shared state.

#include <string>
#include <string_view>

#include "common/result.h"

namespace pharos {

// 1-63 of [a-z0-9-], starting and ending with a letter or digit ("eu-west", a namespace).
bool IsDns1123Label(std::string_view text);
// At most 253 characters; DNS-1123 labels joined by '.' (metadata.name, AlertChannel names).
bool IsDns1123Subdomain(std::string_view text);
// A name to resolve: labels of 1-63 [A-Za-z0-9_-] (no '-' at either end) joined by '.', at most
// 253 characters, optionally ending in '.'.
bool IsDomainName(std::string_view text);
// RFC 7230 token: 1 or more of letters, digits and !#$%&'*+-.^_`|~.
bool IsHttpToken(std::string_view text);
// An IPv4 or IPv6 literal (no brackets).
bool IsIpAddress(std::string_view text);

struct HostPort {
  std::string host;  // without brackets
  int port = 0;      // 0 = not given
};
// "dns.example.com", "10.0.0.2:5353", "[2001:db8::1]:53", "[::1]". Errors say what is wrong.
Result<HostPort> ParseHostPort(std::string_view text);

}  // namespace pharos
