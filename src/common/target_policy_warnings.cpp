#include "common/target_policy_warnings.h"

#include <algorithm>
#include <optional>

namespace pharos {
namespace {

// The host part of a host[:port] spec ("10.0.0.10", "10.0.0.10:53", "[fd00::1]:53", "fd00::1").
std::string HostOfHostPort(std::string_view server) {
  if (!server.empty() && server.front() == '[') {
    const size_t close = server.find(']');
    return close == std::string_view::npos ? "" : std::string(server.substr(1, close - 1));
  }
  if (std::count(server.begin(), server.end(), ':') > 1) return std::string(server);
  return std::string(server.substr(0, server.find(':')));
}

}  // namespace

std::string UrlHost(std::string_view url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return "";
  std::string_view rest = url.substr(scheme + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (const size_t at = rest.rfind('@'); at != std::string_view::npos) rest = rest.substr(at + 1);
  if (!rest.empty() && rest.front() == '[') {
    const size_t close = rest.find(']');
    return close == std::string_view::npos ? "" : std::string(rest.substr(1, close - 1));
  }
  return std::string(rest.substr(0, rest.find(':')));
}

std::vector<ValidationError> BlockedTargetWarnings(const std::vector<Monitor>& monitors,
                                                   const TargetPolicy& policy) {
  std::vector<ValidationError> warnings;
  for (const Monitor& monitor : monitors) {
    std::string field;
    std::string host;
    if (monitor.http) {
      field = "spec.http.url";
      host = UrlHost(monitor.http->url);
    } else if (monitor.tcp) {
      field = "spec.tcp.host";
      host = monitor.tcp->host;
    } else if (monitor.dns && !monitor.dns->server.empty()) {
      field = "spec.dns.server";
      host = HostOfHostPort(monitor.dns->server);
    } else if (monitor.icmp) {
      field = "spec.icmp.host";
      host = monitor.icmp->host;
    } else if (monitor.grpc) {
      field = "spec.grpc.address";
      host = HostOfHostPort(monitor.grpc->address);
    }
    if (host.empty()) continue;
    if (std::optional<std::string> blocked = policy.CheckLiteral(host)) {
      warnings.push_back(ValidationError{
          *monitor.source, field,
          "Monitor " + monitor.Key() + ": " + *blocked +
              " (link-local and cloud metadata addresses are blocked by default; every check of "
              "it will be an error; see docs/security.md)"});
    }
  }
  return warnings;
}

}  // namespace pharos
