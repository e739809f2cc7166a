#include "common/monitor.h"

#include <array>
#include <string_view>

namespace pharos {
namespace {

template <typename Enum, size_t N>
std::optional<Enum> Lookup(const std::array<std::pair<Enum, const char*>, N>& table,
                           std::string_view text) {
  for (const auto& [value, spelling] : table) {
    if (text == spelling) {
      return value;
    }
  }
  return std::nullopt;
}

template <typename Enum, size_t N>
const char* Spell(const std::array<std::pair<Enum, const char*>, N>& table, Enum value) {
  for (const auto& [candidate, spelling] : table) {
    if (candidate == value) {
      return spelling;
    }
  }
  return "unknown";
}

constexpr std::array<std::pair<MonitorType, const char*>, 6> kMonitorTypes{{
    {MonitorType::kHttp, "http"},
    {MonitorType::kTcp, "tcp"},
    {MonitorType::kDns, "dns"},
    {MonitorType::kIcmp, "icmp"},
    {MonitorType::kGrpc, "grpc"},
    {MonitorType::kPush, "push"},
}};

constexpr std::array<std::pair<HttpMethod, const char*>, 7> kHttpMethods{{
    {HttpMethod::kGet, "GET"},
    {HttpMethod::kHead, "HEAD"},
    {HttpMethod::kPost, "POST"},
    {HttpMethod::kPut, "PUT"},
    {HttpMethod::kPatch, "PATCH"},
    {HttpMethod::kDelete, "DELETE"},
    {HttpMethod::kOptions, "OPTIONS"},
}};

constexpr std::array<std::pair<DnsRecordType, const char*>, 6> kDnsRecordTypes{{
    {DnsRecordType::kA, "A"},
    {DnsRecordType::kAAAA, "AAAA"},
    {DnsRecordType::kCNAME, "CNAME"},
    {DnsRecordType::kMX, "MX"},
    {DnsRecordType::kTXT, "TXT"},
    {DnsRecordType::kNS, "NS"},
}};

constexpr std::array<std::pair<AssertionType, const char*>, 8> kAssertionTypes{{
    {AssertionType::kStatusCode, "statusCode"},
    {AssertionType::kHeader, "header"},
    {AssertionType::kBody, "body"},
    {AssertionType::kJsonPath, "jsonPath"},
    {AssertionType::kLatency, "latency"},
    {AssertionType::kCertExpiry, "certExpiry"},
    {AssertionType::kDnsRecord, "dnsRecord"},
    {AssertionType::kPacketLoss, "packetLoss"},
}};

constexpr std::array<std::pair<ResolveMode, const char*>, 2> kResolveModes{{
    {ResolveMode::kOne, "one"},
    {ResolveMode::kAll, "all"},
}};

constexpr std::array<std::pair<IpFamily, const char*>, 3> kIpFamilies{{
    {IpFamily::kAny, "any"},
    {IpFamily::kIpv4, "ipv4"},
    {IpFamily::kIpv6, "ipv6"},
}};

// "host:port", with IPv6 literals in brackets to keep the port readable.
std::string HostPort(const std::string& host, int port) {
  if (host.find(':') != std::string::npos) {
    return "[" + host + "]:" + std::to_string(port);
  }
  return host + ":" + std::to_string(port);
}

constexpr std::array<std::pair<CompareOp, const char*>, 11> kCompareOps{{
    {CompareOp::kEq, "eq"},
    {CompareOp::kNotEq, "not_eq"},
    {CompareOp::kGt, "gt"},
    {CompareOp::kGte, "gte"},
    {CompareOp::kLt, "lt"},
    {CompareOp::kLte, "lte"},
    {CompareOp::kContains, "contains"},
    {CompareOp::kNotContains, "not_contains"},
    {CompareOp::kMatches, "matches"},
    {CompareOp::kEmpty, "empty"},
    {CompareOp::kNotEmpty, "not_empty"},
}};

}  // namespace

const char* ToString(MonitorType type) { return Spell(kMonitorTypes, type); }
const char* ToString(HttpMethod method) { return Spell(kHttpMethods, method); }
const char* ToString(DnsRecordType type) { return Spell(kDnsRecordTypes, type); }
const char* ToString(AssertionType type) { return Spell(kAssertionTypes, type); }
const char* ToString(CompareOp op) { return Spell(kCompareOps, op); }
const char* ToString(ResolveMode mode) { return Spell(kResolveModes, mode); }
const char* ToString(IpFamily family) { return Spell(kIpFamilies, family); }

std::optional<MonitorType> ParseMonitorType(std::string_view text) {
  return Lookup(kMonitorTypes, text);
}
std::optional<HttpMethod> ParseHttpMethod(std::string_view text) {
  return Lookup(kHttpMethods, text);
}
std::optional<DnsRecordType> ParseDnsRecordType(std::string_view text) {
  return Lookup(kDnsRecordTypes, text);
}
std::optional<AssertionType> ParseAssertionType(std::string_view text) {
  return Lookup(kAssertionTypes, text);
}
std::optional<CompareOp> ParseCompareOp(std::string_view text) { return Lookup(kCompareOps, text); }
std::optional<ResolveMode> ParseResolveMode(std::string_view text) {
  return Lookup(kResolveModes, text);
}
std::optional<IpFamily> ParseIpFamily(std::string_view text) { return Lookup(kIpFamilies, text); }

std::string Monitor::Target() const {
  if (service && type != MonitorType::kPush) {
    const std::string port =
        service->port_name.empty() ? std::to_string(service->port) : service->port_name;
    std::string target = "service " + service->name;
    if (type != MonitorType::kIcmp) {
      target += ":" + port;
    }
    if (type == MonitorType::kHttp) {
      target += " " + service->scheme + " " + service->path;
    }
    return target;
  }
  switch (type) {
    case MonitorType::kHttp:
      return http ? http->url : std::string();
    case MonitorType::kTcp:
      return tcp ? HostPort(tcp->host, tcp->port) : std::string();
    case MonitorType::kDns: {
      if (!dns) {
        return {};
      }
      std::string target = dns->name + " " + ToString(dns->record_type);
      if (!dns->server.empty()) {
        target += " @" + dns->server;
      }
      return target;
    }
    case MonitorType::kIcmp:
      return icmp ? icmp->host : std::string();
    case MonitorType::kGrpc:
      if (!grpc) {
        return {};
      }
      return grpc->service.empty() ? grpc->address : grpc->address + " " + grpc->service;
    case MonitorType::kPush:
      return "push";
  }
  return {};
}

bool Monitor::ChecksEveryAddress() const {
  if (service) {
    return type != MonitorType::kPush && type != MonitorType::kDns;
  }
  switch (type) {
    case MonitorType::kHttp:
      return http && http->resolve == ResolveMode::kAll;
    case MonitorType::kTcp:
      return tcp && tcp->resolve == ResolveMode::kAll;
    case MonitorType::kIcmp:
      return icmp && icmp->resolve == ResolveMode::kAll;
    case MonitorType::kGrpc:
      return grpc && grpc->resolve == ResolveMode::kAll;
    case MonitorType::kDns:
    case MonitorType::kPush:
      return false;
  }
  return false;
}

}  // namespace pharos
