#include "probe/engine_flags.h"

#include <algorithm>
#include <cstdlib>

#include "common/target_policy_flags.h"
#include "probe/ares_channel.h"

namespace pharos {
namespace {

bool IsPort(const std::string& text) {
  if (text.empty() || text.size() > 5 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  const int port = std::stoi(text);
  return port >= 1 && port <= 65535;
}

// "127.0.0.1:5353,[::1]:53" → nullopt when every entry is an IP literal with an optional port.
std::optional<std::string> InvalidResolverEntry(const std::string& servers) {
  size_t start = 0;
  while (start <= servers.size()) {
    size_t comma = servers.find(',', start);
    if (comma == std::string::npos) comma = servers.size();
    const std::string entry = servers.substr(start, comma - start);
    start = comma + 1;
    std::string host = entry;
    if (!entry.empty() && entry.front() == '[') {
      const size_t close = entry.find(']');
      if (close == std::string::npos) return entry;
      host = entry.substr(0, close + 1);
      const std::string rest = entry.substr(close + 1);
      if (!rest.empty() && (rest.front() != ':' || !IsPort(rest.substr(1)))) return entry;
    } else if (std::count(entry.begin(), entry.end(), ':') == 1) {
      host = entry.substr(0, entry.find(':'));
      if (!IsPort(entry.substr(entry.find(':') + 1))) return entry;
    }
    if (!ParseIpLiteral(host, 53)) return entry;
  }
  return std::nullopt;
}

}  // namespace

void EngineFlags::Add(CommandLine& flags) {
  flags.AddFlag("resolver", '\0', "SERVERS",
                "DNS servers for the targets' host names, \"IP[:port],...\" (also "
                "$PHAROS_RESOLVER); default the system's resolver configuration");
  flags.AddFlag("icmp-socket", '\0', "KIND",
                "ICMP sockets for icmp checks: auto (datagram where net.ipv4.ping_group_range "
                "allows, else raw), datagram, or raw (needs CAP_NET_RAW)",
                "auto");
  AddTargetPolicyFlags(flags, /*runs_checks=*/true);
}

Status EngineFlags::Read(const CommandLine& flags, CheckEngine::Options* options) {
  std::string resolver;
  if (flags.IsSet("resolver")) {
    resolver = flags.Get("resolver");
  } else if (const char* value = std::getenv("PHAROS_RESOLVER"); value != nullptr) {
    resolver = value;
  }
  if (!resolver.empty()) {
    if (auto bad = InvalidResolverEntry(resolver)) {
      return Error{"--resolver: \"" + *bad +
                   "\" is not an IP address with an optional port (\"127.0.0.1:53\", "
                   "\"[::1]:53\")"};
    }
  }
  options->resolver = resolver;
  const std::string kind = flags.Get("icmp-socket");
  const std::optional<IcmpSocket::Kind> parsed = ParseIcmpSocketKind(kind);
  if (!parsed) {
    return Error{"--icmp-socket must be auto, datagram or raw, not \"" + kind + "\""};
  }
  options->icmp_socket = *parsed;
  Result<TargetPolicy> policy = TargetPolicyFromFlags(flags);
  if (!policy) {
    return Error{policy.error()};
  }
  options->target_policy = *policy;
  options->redact_bodies = flags.IsSet("redact-bodies");
  return OkStatus();
}

}  // namespace pharos
