#include "probe/engine_flags.h"

#include <algorithm>
#include <cstdlib>
#include <sstream>

#include "probe/ares_channel.h"

namespace pharos {
namespace {

// "127.0.0.1:5353,[::1]:53" → nullopt when every entry is an IP literal with an optional port.
std::optional<std::string> InvalidResolverEntry(const std::string& servers) {
  std::stringstream in(servers);
  std::string entry;
  while (std::getline(in, entry, ',')) {
    std::string host = entry;
    if (!entry.empty() && entry.front() == '[') {
      const size_t close = entry.find(']');
      if (close == std::string::npos) return entry;
      host = entry.substr(0, close + 1);
      const std::string rest = entry.substr(close + 1);
      if (!rest.empty() && (rest.front() != ':' || rest.size() == 1)) return entry;
    } else if (std::count(entry.begin(), entry.end(), ':') == 1) {
      host = entry.substr(0, entry.find(':'));
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
  return OkStatus();
}

}  // namespace pharos
