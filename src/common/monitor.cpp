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

constexpr std::array<std::pair<MonitorType, const char*>, 3> kMonitorTypes{{
    {MonitorType::kHttp, "http"},
    {MonitorType::kTcp, "tcp"},
    {MonitorType::kDns, "dns"},
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

constexpr std::array<std::pair<AssertionType, const char*>, 7> kAssertionTypes{{
    {AssertionType::kStatusCode, "statusCode"},
    {AssertionType::kHeader, "header"},
    {AssertionType::kBody, "body"},
    {AssertionType::kJsonPath, "jsonPath"},
    {AssertionType::kLatency, "latency"},
    {AssertionType::kCertExpiry, "certExpiry"},
    {AssertionType::kDnsRecord, "dnsRecord"},
}};

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

std::string Monitor::Target() const {
  switch (type) {
    case MonitorType::kHttp:
      return http ? http->url : std::string();
    case MonitorType::kTcp:
      if (!tcp) {
        return {};
      }
      // IPv6 literals need brackets to keep the port readable.
      if (tcp->host.find(':') != std::string::npos) {
        return "[" + tcp->host + "]:" + std::to_string(tcp->port);
      }
      return tcp->host + ":" + std::to_string(tcp->port);
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
  }
  return {};
}

}  // namespace pharos
