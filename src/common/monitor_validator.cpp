#include "common/monitor_validator.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <set>

#include "common/duration.h"
#include "common/json_path.h"
#include "common/name_syntax.h"
#include "common/regex.h"

namespace pharos {
namespace {

// Quoted for a message; long text is cut (the location says where the whole of it is).
std::string Quote(std::string_view text) {
  constexpr size_t kShown = 80;
  if (text.size() > kShown) {
    return "\"" + std::string(text.substr(0, kShown - 3)) + "...\"";
  }
  return "\"" + std::string(text) + "\"";
}

std::string Lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

bool IsNumericOp(CompareOp op) {
  return op == CompareOp::kEq || op == CompareOp::kNotEq || op == CompareOp::kGt ||
         op == CompareOp::kGte || op == CompareOp::kLt || op == CompareOp::kLte;
}

// Characters (Unicode code points) of UTF-8 text: what the CRD's maxLength counts.
size_t CharacterCount(std::string_view text) {
  return static_cast<size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

// A number as the CRD's rule for gt/gte/lt/lte values reads it:
// ^[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?$
bool IsDecimalNumber(std::string_view text) {
  size_t pos = 0;
  const auto digits = [&] {
    const size_t start = pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') ++pos;
    return pos - start;
  };
  if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) ++pos;
  const size_t whole = digits();
  size_t fraction = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    fraction = digits();
  }
  if (whole == 0 && fraction == 0) return false;
  if (pos < text.size() && (text[pos] == 'e' || text[pos] == 'E')) {
    ++pos;
    if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) ++pos;
    if (digits() == 0) return false;
  }
  return pos == text.size();
}

bool TakesValue(CompareOp op) { return op != CompareOp::kEmpty && op != CompareOp::kNotEmpty; }

constexpr const char* kNumericOps = "eq, not_eq, gt, gte, lt, lte";
constexpr const char* kLabelRule =
    "use at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit";
constexpr const char* kSubdomainRule =
    "use at most 253 lowercase letters, digits, '-' and '.', starting and ending with a letter or "
    "digit";

// What libcurl's URL parser makes of `url`; an error in plain words otherwise.
struct UrlParts {
  std::string scheme;
  std::string host;
};
Result<UrlParts> ParseUrl(const std::string& url) {
  const size_t separator = url.find("://");
  if (separator == std::string::npos) {
    return Error{"must be an absolute URL such as https://example.com/health"};
  }
  for (const char c : url) {
    if (static_cast<unsigned char>(c) <= ' ' || c == '\x7f') {
      return Error{"must not contain spaces or control characters (percent-encode them)"};
    }
  }
  // libcurl would read "http:///path" as host "path"; that is a typo, not a host.
  if (separator + 3 == url.size() || url[separator + 3] == '/') {
    return Error{"must have a host, e.g. https://example.com/health"};
  }
  std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> handle(curl_url(), &curl_url_cleanup);
  if (!handle) {
    return Error{"cannot parse URL: out of memory"};
  }
  const CURLUcode code =
      curl_url_set(handle.get(), CURLUPART_URL, url.c_str(), CURLU_NON_SUPPORT_SCHEME);
  if (code != CURLUE_OK) {
    if (code == CURLUE_NO_HOST) {
      return Error{"must have a host, e.g. https://example.com/health"};
    }
    return Error{"is not a valid URL: " + std::string(curl_url_strerror(code))};
  }
  UrlParts parts;
  const std::pair<CURLUPart, std::string*> wanted[] = {{CURLUPART_SCHEME, &parts.scheme},
                                                       {CURLUPART_HOST, &parts.host}};
  for (const auto& [part, out] : wanted) {
    char* text = nullptr;
    if (curl_url_get(handle.get(), part, &text, 0) == CURLUE_OK && text != nullptr) {
      *out = text;
    }
    curl_free(text);
  }
  return parts;
}

}  // namespace

void MonitorValidator::Report(const std::string& path, const std::string& message) {
  errors_.push_back(ValidationError{fields_.At(path), path, message});
}

void MonitorValidator::ReportAtKey(const std::string& path, const std::string& message) {
  errors_.push_back(ValidationError{fields_.KeyAt(path), path, message});
}

void MonitorValidator::Validate() {
  ValidateMetadata();
  ValidateTiming();
  ValidateRegions();
  ValidateBlocks();
  ValidateAssertions();
  ValidateAlerting();
}

void MonitorValidator::ValidateMetadata() {
  if (fields_.Present("metadata.name") && Usable("metadata.name") &&
      !IsDns1123Subdomain(monitor_.name)) {
    Report("metadata.name",
           Quote(monitor_.name) + " is not a valid name: " + std::string(kSubdomainRule));
  }
  if (Usable("metadata.namespace") && !IsDns1123Label(monitor_.namespace_name)) {
    Report("metadata.namespace",
           Quote(monitor_.namespace_name) + " is not a valid namespace: " + kLabelRule);
  }
}

void MonitorValidator::ValidateTiming() {
  const bool timeout_ok = Usable("spec.timeout");
  if (timeout_ok && monitor_.timeout <= Millis(0)) {
    Report("spec.timeout", "must be greater than 0");
  } else if (timeout_ok && Usable("spec.frequency") && monitor_.timeout > monitor_.frequency) {
    Report("spec.timeout", "must not exceed frequency (" + FormatDuration(monitor_.timeout) +
                               " > " + FormatDuration(monitor_.frequency) + ")");
  }
  if (monitor_.degraded_after && Usable("spec.degradedAfter")) {
    if (*monitor_.degraded_after <= Millis(0)) {
      Report("spec.degradedAfter", "must be greater than 0");
    } else if (timeout_ok && *monitor_.degraded_after >= monitor_.timeout) {
      Report("spec.degradedAfter", "must be less than timeout (" +
                                       FormatDuration(*monitor_.degraded_after) +
                                       " >= " + FormatDuration(monitor_.timeout) + ")");
    }
  }
  if (Usable("spec.retries") && (monitor_.retries < 0 || monitor_.retries > kMaxRetries)) {
    Report("spec.retries", "must be between 0 and " + std::to_string(kMaxRetries) + " (got " +
                               std::to_string(monitor_.retries) + ")");
  }
}

void MonitorValidator::ValidateRegions() {
  if (monitor_.regions.size() > kMaxRegions) {
    Report("spec.regions", "at most " + std::to_string(kMaxRegions) + " regions (got " +
                               std::to_string(monitor_.regions.size()) + ")");
  }
  std::set<std::string> seen;
  for (size_t i = 0; i < monitor_.regions.size(); ++i) {
    const std::string& region = monitor_.regions[i];
    const std::string path = FieldLocations::Item("spec.regions", i);
    if (!Usable(path)) {
      continue;
    }
    if (!IsDns1123Label(region)) {
      Report(path, Quote(region) + " is not a valid region name: " + kLabelRule);
    } else if (!seen.insert(region).second) {
      Report(path, "duplicate region " + Quote(region));
    }
  }
}

void MonitorValidator::ValidateBlocks() {
  if (!Usable("spec.type")) {
    return;
  }
  const std::pair<MonitorType, bool> blocks[] = {{MonitorType::kHttp, monitor_.http.has_value()},
                                                 {MonitorType::kTcp, monitor_.tcp.has_value()},
                                                 {MonitorType::kDns, monitor_.dns.has_value()},
                                                 {MonitorType::kIcmp, monitor_.icmp.has_value()},
                                                 {MonitorType::kGrpc, monitor_.grpc.has_value()},
                                                 {MonitorType::kPush, monitor_.push.has_value()}};
  const std::string type = ToString(monitor_.type);
  for (const auto& [block_type, present] : blocks) {
    const std::string path = std::string("spec.") + ToString(block_type);
    if (block_type == monitor_.type && !present) {
      Report(path, "required for type " + type);
    } else if (block_type != monitor_.type && present && fields_.Present(path)) {
      std::string message = "not allowed for type " + type;
      message += " (only spec." + type + ")";
      ReportAtKey(path, message);
    }
  }
  if (monitor_.service && Usable("spec.target.service")) {
    if (monitor_.type == MonitorType::kDns || monitor_.type == MonitorType::kPush) {
      ReportAtKey("spec.target",
                  "a Service target is for http, tcp, grpc and icmp monitors (not " + type + ")");
    } else {
      ValidateService(*monitor_.service);
    }
  }
  switch (monitor_.type) {
    case MonitorType::kHttp:
      if (monitor_.http) ValidateHttp(*monitor_.http);
      break;
    case MonitorType::kTcp:
      if (monitor_.tcp) ValidateTcp(*monitor_.tcp);
      break;
    case MonitorType::kDns:
      if (monitor_.dns) ValidateDns(*monitor_.dns);
      break;
    case MonitorType::kIcmp:
      if (monitor_.icmp) ValidateIcmp(*monitor_.icmp);
      break;
    case MonitorType::kGrpc:
      if (monitor_.grpc) ValidateGrpc(*monitor_.grpc);
      break;
    case MonitorType::kPush:
      if (monitor_.push) ValidatePush(*monitor_.push);
      break;
  }
}

void MonitorValidator::ValidateNoTargetFields(const std::vector<std::string>& fields) {
  if (!monitor_.service) {
    return;
  }
  for (const std::string& path : fields) {
    if (!fields_.Present(path)) {
      continue;
    }
    if (path.ends_with(".resolve")) {
      ReportAtKey(path, "a Service target checks every ready endpoint; leave resolve out");
    } else {
      ReportAtKey(path, "not used with spec.target.service (the Service's endpoints are checked)");
    }
  }
}

void MonitorValidator::ValidateHost(const std::string& host, const std::string& path) {
  if (!fields_.Present(path) || !Usable(path)) {
    return;
  }
  if (host.empty()) {
    Report(path, "must not be empty");
  } else if (host.front() == '[') {
    Report(path, "write IPv6 addresses without brackets");
  } else if (!IsIpAddress(host) && !IsDomainName(host)) {
    Report(path, Quote(host) + " is not a valid host name or IP address");
  }
}

void MonitorValidator::ValidateService(const ServiceTarget& service) {
  const std::string base = "spec.target.service";
  if (fields_.Present(base + ".name") && Usable(base + ".name") && !IsDns1123Label(service.name)) {
    Report(base + ".name", Quote(service.name) + " is not a valid Service name: " + kLabelRule);
  }
  const std::string port_path = base + ".port";
  const bool needs_port = monitor_.type != MonitorType::kIcmp;
  if (!fields_.Present(port_path)) {
    if (needs_port) {
      Report(port_path, "required: the Service's port number or name (e.g. 8080 or http)");
    }
  } else if (!needs_port) {
    ReportAtKey(port_path, "icmp monitors ping each endpoint address; leave port out");
  } else if (Usable(port_path)) {
    if (!service.port_name.empty()) {
      // IANA_SVC_NAME, as Kubernetes checks port names: at most 15 of a-z, 0-9 and '-', with a
      // letter, no '-' at either end or twice in a row.
      const std::string& name = service.port_name;
      const bool syntax =
          name.size() <= 15 && IsDns1123Label(name) && name.find("--") == std::string::npos &&
          std::any_of(name.begin(), name.end(), [](char c) { return c >= 'a' && c <= 'z'; });
      if (!syntax) {
        Report(port_path, Quote(name) +
                              " is not a port number or port name (at most 15 lowercase letters, "
                              "digits and '-', with at least one letter)");
      }
    } else if (service.port < 1 || service.port > 65535) {
      Report(port_path, "must be between 1 and 65535 (got " + std::to_string(service.port) + ")");
    }
  }
  const bool http = monitor_.type == MonitorType::kHttp;
  const std::string path_path = base + ".path";
  if (fields_.Present(path_path) && Usable(path_path)) {
    if (!http) {
      ReportAtKey(path_path, "only http monitors request a path");
    } else if (service.path.empty() || service.path.front() != '/') {
      Report(path_path, "must start with / (e.g. /healthz)");
    } else if (CharacterCount(service.path) > kMaxServicePathLength) {
      Report(path_path, "longer than " + std::to_string(kMaxServicePathLength) + " characters");
    } else if (std::any_of(service.path.begin(), service.path.end(), [](char c) {
                 return static_cast<unsigned char>(c) <= ' ' || c == '\x7f';
               })) {
      Report(path_path, "must not contain spaces or control characters (percent-encode them)");
    }
  }
  const std::string scheme_path = base + ".scheme";
  if (fields_.Present(scheme_path) && Usable(scheme_path)) {
    if (!http) {
      ReportAtKey(scheme_path, "only http monitors have a scheme");
    } else if (service.scheme != "http" && service.scheme != "https") {
      Report(scheme_path, "must be http or https (got " + Quote(service.scheme) + ")");
    }
  }
}

void MonitorValidator::ValidateHttp(const HttpSpec& http) {
  ValidateNoTargetFields({"spec.http.url", "spec.http.resolve"});
  if (fields_.Present("spec.http.url") && Usable("spec.http.url") && !monitor_.service) {
    if (CharacterCount(http.url) > kMaxUrlLength) {
      Report("spec.http.url", "longer than " + std::to_string(kMaxUrlLength) + " characters");
    } else if (Result<UrlParts> url = ParseUrl(http.url); !url.ok()) {
      Report("spec.http.url", url.error());
    } else if (url->scheme != "http" && url->scheme != "https") {
      Report("spec.http.url", "scheme must be http or https");
    } else if (url->host.empty()) {
      Report("spec.http.url", "must have a host, e.g. https://example.com/health");
    }
  }
  if (http.headers.size() > kMaxHeaders) {
    Report("spec.http.headers", "at most " + std::to_string(kMaxHeaders) + " headers (got " +
                                    std::to_string(http.headers.size()) + ")");
  }
  std::set<std::string> seen;
  for (const auto& [name, value] : http.headers) {
    const std::string path = FieldLocations::Child("spec.http.headers", name);
    if (!IsHttpToken(name) || name.size() > kMaxHeaderNameLength) {
      ReportAtKey(path, Quote(name) +
                            " is not a valid header name: use at most 256 letters, digits and "
                            "!#$%&'*+-.^_`|~");
    } else if (!seen.insert(Lower(name)).second) {
      ReportAtKey(path, "duplicate header " + Quote(name) + " (header names are case-insensitive)");
    }
    if (value.find_first_of(std::string("\r\n\0", 3)) != std::string::npos) {
      Report(path, "header values must not contain CR, LF or NUL characters");
    } else if (const size_t length = CharacterCount(value); length > kMaxHeaderValueLength) {
      Report(path, "header value longer than " + std::to_string(kMaxHeaderValueLength) +
                       " characters (" + std::to_string(length) + ")");
    }
  }
  if (const size_t length = CharacterCount(http.body.str()); length > kMaxBodyLength) {
    Report("spec.http.body", "longer than " + std::to_string(kMaxBodyLength) + " characters (" +
                                 std::to_string(length) + ")");
  }
  ValidateServerName(http.tls, "spec.http.tls.serverName");
}

void MonitorValidator::ValidateTcp(const TcpSpec& tcp) {
  ValidateNoTargetFields({"spec.tcp.host", "spec.tcp.port", "spec.tcp.resolve"});
  if (fields_.Present("spec.tcp.host") && Usable("spec.tcp.host") && !tcp.host.empty() &&
      tcp.host.front() == '[') {
    Report("spec.tcp.host", "write IPv6 addresses without brackets (port goes in spec.tcp.port)");
  } else {
    ValidateHost(tcp.host, "spec.tcp.host");
  }
  if (fields_.Present("spec.tcp.port") && Usable("spec.tcp.port") &&
      (tcp.port < 1 || tcp.port > 65535)) {
    Report("spec.tcp.port", "must be between 1 and 65535 (got " + std::to_string(tcp.port) + ")");
  }
  ValidateServerName(tcp.tls_options, "spec.tcp.tlsOptions.serverName");
  ValidateConversation(tcp);
}

void MonitorValidator::ValidateConversation(const TcpSpec& tcp) {
  const std::string base = "spec.tcp.conversation";
  if (tcp.conversation.size() > kMaxConversationSteps) {
    Report(base, "at most " + std::to_string(kMaxConversationSteps) + " steps (got " +
                     std::to_string(tcp.conversation.size()) + ")");
  }
  bool started_tls = false;
  for (size_t i = 0; i < tcp.conversation.size(); ++i) {
    const TcpStep& step = tcp.conversation[i];
    const std::string path = FieldLocations::Item(base, i);
    if (!Usable(path)) {
      continue;
    }
    switch (step.kind) {
      case TcpStep::Kind::kSend:
        if (step.text.empty()) {
          Report(path + ".send", "must not be empty");
        } else if (CharacterCount(step.text) > kMaxSendLength) {
          Report(path + ".send", "longer than " + std::to_string(kMaxSendLength) + " characters");
        }
        break;
      case TcpStep::Kind::kExpect:
      case TcpStep::Kind::kExpectRegex: {
        const std::string key =
            path + (step.kind == TcpStep::Kind::kExpect ? ".expect" : ".expectRegex");
        if (step.text.empty()) {
          Report(key, "must not be empty");
        } else if (CharacterCount(step.text) > kMaxExpectLength) {
          Report(key, "longer than " + std::to_string(kMaxExpectLength) + " characters");
        } else if (step.kind == TcpStep::Kind::kExpectRegex) {
          if (Result<Regex> regex = Regex::Compile(step.text); !regex.ok()) {
            Report(key, "invalid regular expression: " + regex.error());
          }
        }
        if (step.timeout && Usable(path + ".timeout")) {
          if (*step.timeout <= Millis(0)) {
            Report(path + ".timeout", "must be greater than 0");
          } else if (Usable("spec.timeout") && *step.timeout > monitor_.timeout) {
            Report(path + ".timeout", "must not exceed spec.timeout (" +
                                          FormatDuration(*step.timeout) + " > " +
                                          FormatDuration(monitor_.timeout) + ")");
          }
        }
        break;
      }
      case TcpStep::Kind::kStartTls:
        if (tcp.tls) {
          Report(path + ".startTls",
                 "the connection is already TLS (spec.tcp.tls: true); STARTTLS upgrades a "
                 "plaintext one");
        } else if (started_tls) {
          Report(path + ".startTls", "TLS is already started by an earlier step");
        }
        started_tls = true;
        break;
    }
  }
}

void MonitorValidator::ValidateDns(const DnsSpec& dns) {
  if (fields_.Present("spec.dns.name") && Usable("spec.dns.name") && !IsDomainName(dns.name)) {
    Report("spec.dns.name", Quote(dns.name) + " is not a valid domain name");
  }
  if (!dns.server.empty() && Usable("spec.dns.server")) {
    if (Result<HostPort> server = ParseHostPort(dns.server); !server.ok()) {
      Report("spec.dns.server", server.error());
    }
  }
}

void MonitorValidator::ValidateIcmp(const IcmpSpec& icmp) {
  ValidateNoTargetFields({"spec.icmp.host", "spec.icmp.resolve"});
  ValidateHost(icmp.host, "spec.icmp.host");
  if (Usable("spec.icmp.count") && (icmp.count < 1 || icmp.count > kMaxIcmpCount)) {
    Report("spec.icmp.count", "must be between 1 and " + std::to_string(kMaxIcmpCount) + " (got " +
                                  std::to_string(icmp.count) + ")");
  }
  const bool interval_ok = Usable("spec.icmp.interval");
  if (interval_ok && (icmp.interval < kMinIcmpInterval || icmp.interval > kMaxIcmpInterval)) {
    Report("spec.icmp.interval", "must be between " + FormatDuration(kMinIcmpInterval) + " and " +
                                     FormatDuration(kMaxIcmpInterval) + " (got " +
                                     FormatDuration(icmp.interval) + ")");
  } else if (interval_ok && Usable("spec.icmp.count") && Usable("spec.timeout") &&
             icmp.count >= 1 && icmp.count <= kMaxIcmpCount &&
             icmp.interval * (icmp.count - 1) >= monitor_.timeout) {
    Report("spec.icmp.interval",
           "the last of " + std::to_string(icmp.count) + " echo requests would go out after " +
               FormatDuration(icmp.interval * (icmp.count - 1)) + ", not before spec.timeout (" +
               FormatDuration(monitor_.timeout) + "); lower count or interval, or raise timeout");
  }
  if (Usable("spec.icmp.packetSize") &&
      (icmp.packet_size < 0 || icmp.packet_size > kMaxIcmpPacketSize)) {
    Report("spec.icmp.packetSize", "must be between 0 and " + std::to_string(kMaxIcmpPacketSize) +
                                       " bytes (got " + std::to_string(icmp.packet_size) + ")");
  }
  if (fields_.Present("spec.icmp.host") && Usable("spec.icmp.host") &&
      Usable("spec.icmp.ipFamily") && IsIpAddress(icmp.host)) {
    const bool v6 = icmp.host.find(':') != std::string::npos;
    if ((icmp.ip_family == IpFamily::kIpv4 && v6) || (icmp.ip_family == IpFamily::kIpv6 && !v6)) {
      Report("spec.icmp.ipFamily", std::string("host ") + Quote(icmp.host) + " is not an " +
                                       ToString(icmp.ip_family) + " address");
    }
  }
}

void MonitorValidator::ValidateGrpc(const GrpcSpec& grpc) {
  ValidateNoTargetFields({"spec.grpc.address", "spec.grpc.resolve"});
  const std::string address_path = "spec.grpc.address";
  if (fields_.Present(address_path) && Usable(address_path)) {
    Result<HostPort> address = ParseHostPort(grpc.address);
    if (!address.ok()) {
      Report(address_path, address.error());
    } else if (address->port == 0) {
      Report(address_path,
             "needs a port: host:port, e.g. " + (grpc.address.find(':') != std::string::npos
                                                     ? "[" + grpc.address + "]:50051"
                                                     : grpc.address + ":50051"));
    } else if (!IsIpAddress(address->host) && !IsDomainName(address->host)) {
      Report(address_path, Quote(address->host) + " is not a valid host name or IP address");
    }
  }
  if (Usable("spec.grpc.service")) {
    if (CharacterCount(grpc.service) > kMaxGrpcServiceLength) {
      Report("spec.grpc.service",
             "longer than " + std::to_string(kMaxGrpcServiceLength) + " characters");
    } else if (std::any_of(grpc.service.begin(), grpc.service.end(), [](char c) {
                 return static_cast<unsigned char>(c) < ' ' || c == '\x7f';
               })) {
      Report("spec.grpc.service", "must not contain control characters");
    }
  }
  if (!grpc.authority.empty() && Usable("spec.grpc.authority")) {
    Result<HostPort> authority = ParseHostPort(grpc.authority.str());
    if (!authority.ok() || (!IsIpAddress(authority->host) && !IsDomainName(authority->host))) {
      Report("spec.grpc.authority",
             Quote(grpc.authority.str()) + " is not a host or host:port (the :authority sent)");
    }
  }
  if (grpc.metadata.size() > kMaxGrpcMetadata) {
    Report("spec.grpc.metadata", "at most " + std::to_string(kMaxGrpcMetadata) + " entries (got " +
                                     std::to_string(grpc.metadata.size()) + ")");
  }
  std::set<std::string> seen;
  for (const auto& [name, value] : grpc.metadata) {
    const std::string path = FieldLocations::Child("spec.grpc.metadata", name);
    // gRPC metadata keys: lowercase, digits, '-', '_' and '.'; "grpc-" is reserved, "-bin" keys
    // carry binary values (not supported), and HTTP/2 headers of the call are Pharos' own.
    const bool syntax = !name.empty() && name.size() <= kMaxHeaderNameLength &&
                        std::all_of(name.begin(), name.end(), [](char c) {
                          return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                                 c == '_' || c == '.';
                        });
    if (!syntax) {
      ReportAtKey(path, Quote(name) +
                            " is not a gRPC metadata key: use lowercase letters, digits, '-', '_' "
                            "and '.'");
    } else if (name.rfind("grpc-", 0) == 0 || name == "te" || name == "content-type" ||
               name == "host" || name == "connection") {
      ReportAtKey(path, Quote(name) + " is set by the gRPC call itself and cannot be sent");
    } else if (name.size() > 4 && name.compare(name.size() - 4, 4, "-bin") == 0) {
      ReportAtKey(path, "binary metadata (-bin keys) is not supported");
    } else if (!seen.insert(name).second) {
      ReportAtKey(path, "duplicate metadata key " + Quote(name));
    }
    if (std::any_of(value.begin(), value.end(),
                    [](char c) { return static_cast<unsigned char>(c) < ' ' || c == '\x7f'; })) {
      Report(path, "metadata values must be printable (no control characters)");
    } else if (CharacterCount(value) > kMaxHeaderValueLength) {
      Report(path, "value longer than " + std::to_string(kMaxHeaderValueLength) + " characters");
    }
  }
  ValidateServerName(grpc.tls_options, "spec.grpc.tlsOptions.serverName");
}

void MonitorValidator::ValidatePush(const PushSpec& push) {
  if (Usable("spec.push.expectEvery") && fields_.Present("spec.push.expectEvery") &&
      (push.expect_every < kMinPushInterval || push.expect_every > kMaxPushInterval)) {
    Report("spec.push.expectEvery", "must be between " + FormatDuration(kMinPushInterval) +
                                        " and " + FormatDuration(kMaxPushInterval) + " (got " +
                                        FormatDuration(push.expect_every) + ")");
  }
  if (Usable("spec.push.grace") && (push.grace < Millis(0) || push.grace > kMaxPushGrace)) {
    Report("spec.push.grace", "must be between 0s and " + FormatDuration(kMaxPushGrace));
  }
  if (push.max_run_time && Usable("spec.push.maxRunTime") &&
      (*push.max_run_time <= Millis(0) || *push.max_run_time > kMaxPushInterval)) {
    Report("spec.push.maxRunTime",
           "must be greater than 0 and at most " + FormatDuration(kMaxPushInterval));
  }
  if (push.token_from) {
    const PushTokenSource& from = *push.token_from;
    const auto all_of = [](std::string_view text, auto allowed) {
      return !text.empty() && std::all_of(text.begin(), text.end(), allowed);
    };
    if (!from.env.empty() && Usable("spec.push.tokenFrom.env") &&
        (std::isdigit(static_cast<unsigned char>(from.env.front())) != 0 ||
         !all_of(from.env, [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
         }))) {
      Report(
          "spec.push.tokenFrom.env",
          "must be an environment variable name (letters, digits, _; not starting with a digit)");
    }
    if (!from.file.empty() && Usable("spec.push.tokenFrom.file") && from.file.front() != '/') {
      Report("spec.push.tokenFrom.file", "must be an absolute path");
    }
    if (!from.secret_name.empty() && Usable("spec.push.tokenFrom.secretKeyRef.name") &&
        !IsDns1123Subdomain(from.secret_name)) {
      Report("spec.push.tokenFrom.secretKeyRef.name", "must be a Secret name (DNS-1123 subdomain)");
    }
    if (!from.secret_name.empty() && Usable("spec.push.tokenFrom.secretKeyRef.key") &&
        (from.secret_key.size() > 253 || !all_of(from.secret_key, [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_' ||
                  c == '.';
         }))) {
      Report("spec.push.tokenFrom.secretKeyRef.key",
             "must be a Secret key (letters, digits, '-', '_', '.')");
    }
  }
  if (!monitor_.regions.empty() && Usable("spec.regions")) {
    Report("spec.regions",
           "push monitors are not checked from regions (the job pings the operator); leave "
           "regions out");
  }
}

void MonitorValidator::ValidateServerName(const TlsOptions& tls, const std::string& path) {
  if (tls.server_name.empty() || !Usable(path)) {
    return;
  }
  if (!IsDomainName(tls.server_name.str()) && !IsIpAddress(tls.server_name.str())) {
    Report(path, Quote(tls.server_name.str()) + " is not a valid host name");
  }
}

void MonitorValidator::ValidateAssertions() {
  if (monitor_.assertions.size() > kMaxAssertions) {
    Report("spec.assertions", "at most " + std::to_string(kMaxAssertions) + " assertions (got " +
                                  std::to_string(monitor_.assertions.size()) + ")");
  }
  for (size_t i = 0; i < monitor_.assertions.size(); ++i) {
    const std::string path = FieldLocations::Item("spec.assertions", i);
    if (Usable(path + ".type")) {
      ValidateAssertion(monitor_.assertions[i], path);
    }
  }
}

void MonitorValidator::ValidateAssertion(const Assertion& assertion, const std::string& path) {
  const AssertionType type = assertion.type;
  const std::string type_name = ToString(type);
  const std::string type_path = path + ".type";
  if (Usable("spec.type")) {
    const MonitorType monitor_type = monitor_.type;
    switch (type) {
      case AssertionType::kStatusCode:
      case AssertionType::kHeader:
      case AssertionType::kBody:
      case AssertionType::kJsonPath:
        if (monitor_type != MonitorType::kHttp) {
          Report(type_path, type_name + " assertions apply to http monitors only");
        }
        break;
      case AssertionType::kDnsRecord:
        if (monitor_type != MonitorType::kDns) {
          Report(type_path, "dnsRecord assertions apply to dns monitors only");
        }
        break;
      case AssertionType::kPacketLoss:
        if (monitor_type != MonitorType::kIcmp) {
          Report(type_path, "packetLoss assertions apply to icmp monitors only");
        }
        break;
      case AssertionType::kLatency:
        break;
      case AssertionType::kCertExpiry: {
        const bool starttls =
            monitor_.tcp &&
            std::any_of(monitor_.tcp->conversation.begin(), monitor_.tcp->conversation.end(),
                        [](const TcpStep& step) { return step.kind == TcpStep::Kind::kStartTls; });
        const bool https_service = monitor_.service && monitor_.service->scheme == "https";
        if (monitor_type == MonitorType::kDns || monitor_type == MonitorType::kIcmp ||
            monitor_type == MonitorType::kPush) {
          Report(type_path,
                 "certExpiry assertions apply to http monitors with an https:// URL, tcp "
                 "monitors with TLS and grpc monitors with tls: true");
        } else if (monitor_type == MonitorType::kHttp && monitor_.http && !monitor_.service &&
                   Usable("spec.http.url") && monitor_.http->url.rfind("https://", 0) != 0) {
          Report(type_path, "certExpiry needs an https:// URL in spec.http.url");
        } else if (monitor_type == MonitorType::kHttp && monitor_.service && !https_service) {
          Report(type_path, "certExpiry needs spec.target.service.scheme: https");
        } else if (monitor_type == MonitorType::kTcp && monitor_.tcp && !monitor_.tcp->tls &&
                   !starttls) {
          Report(type_path,
                 "certExpiry on a tcp monitor needs spec.tcp.tls: true or a startTls step");
        } else if (monitor_type == MonitorType::kGrpc && monitor_.grpc && !monitor_.grpc->tls) {
          Report(type_path, "certExpiry on a grpc monitor needs spec.grpc.tls: true");
        }
        break;
      }
    }
  }

  const std::string op_path = path + ".op";
  const bool op_ok = fields_.Present(op_path) && Usable(op_path);
  if (op_ok) {
    const bool numeric_only =
        type == AssertionType::kStatusCode || type == AssertionType::kLatency ||
        type == AssertionType::kCertExpiry || type == AssertionType::kPacketLoss;
    if (numeric_only && !IsNumericOp(assertion.op)) {
      Report(op_path, type_name + " assertions support " + kNumericOps + " (got " +
                          ToString(assertion.op) + ")");
    }
  }

  const std::string name_path = path + ".name";
  if (type == AssertionType::kHeader) {
    if (!fields_.Present(name_path) || assertion.name.empty()) {
      Report(name_path, "required for header assertions (the header to check)");
    } else if (Usable(name_path) && (!IsHttpToken(assertion.name) ||
                                     CharacterCount(assertion.name) > kMaxAssertionNameLength)) {
      Report(name_path, Quote(assertion.name) +
                            " is not a valid header name: use at most 256 letters, digits and "
                            "!#$%&'*+-.^_`|~");
    }
  } else if (fields_.Present(name_path)) {
    ReportAtKey(name_path, "only used by header assertions");
  }

  const std::string json_path_path = path + ".path";
  if (type == AssertionType::kJsonPath) {
    if (!fields_.Present(json_path_path)) {
      Report(json_path_path, "required for jsonPath assertions (e.g. $.status)");
    } else if (Usable(json_path_path) && CharacterCount(assertion.path) > kMaxAssertionPathLength) {
      Report(json_path_path,
             "longer than " + std::to_string(kMaxAssertionPathLength) + " characters");
    } else if (Usable(json_path_path)) {
      if (Result<JsonPath> parsed = JsonPath::Parse(assertion.path); !parsed.ok()) {
        Report(json_path_path, "invalid JSONPath: " + parsed.error());
      }
    }
  } else if (fields_.Present(json_path_path)) {
    ReportAtKey(json_path_path, "only used by jsonPath assertions");
  }

  if (op_ok) {
    ValidateAssertionValue(assertion, path);
  }
}

void MonitorValidator::ValidateAssertionValue(const Assertion& assertion, const std::string& path) {
  const std::string value_path = path + ".value";
  const std::string op = ToString(assertion.op);
  if (!TakesValue(assertion.op)) {
    if (fields_.Present(value_path)) {
      ReportAtKey(value_path, "not used with op " + op);
    }
    return;
  }
  if (!fields_.Present(value_path)) {
    Report(value_path, "required for op " + op);
    return;
  }
  if (!Usable(value_path)) {
    return;
  }
  const std::string& value = assertion.value;
  if (const size_t length = CharacterCount(value); length > kMaxAssertionValueLength) {
    Report(value_path, "longer than " + std::to_string(kMaxAssertionValueLength) + " characters (" +
                           std::to_string(length) + ")");
    return;
  }
  switch (assertion.type) {
    case AssertionType::kStatusCode: {
      const bool digits = value.size() == 3 && std::all_of(value.begin(), value.end(), [](char c) {
                            return c >= '0' && c <= '9';
                          });
      if (!digits || value < "100" || value > "599") {
        Report(value_path, Quote(value) + " is not an HTTP status code (100-599)");
      }
      return;
    }
    case AssertionType::kPacketLoss:
      if (!IsDecimalNumber(value) || value.find_first_of("eE") != std::string::npos ||
          std::stod(value) < 0 || std::stod(value) > 100) {
        Report(value_path, Quote(value) + " is not a percentage from 0 to 100 (e.g. \"20\")");
      }
      return;
    case AssertionType::kLatency:
    case AssertionType::kCertExpiry:
      if (Result<Millis> duration = ParseDuration(value); !duration.ok()) {
        Report(value_path, duration.error());
      } else if (!IsMonitorDurationSyntax(value)) {
        Report(value_path, Quote(value) +
                               " is not a duration: write numbers with a unit (ms, s, m, h), e.g. "
                               "500ms, 2s, 168h");
      }
      return;
    default:
      break;
  }
  const bool ordering = assertion.op == CompareOp::kGt || assertion.op == CompareOp::kGte ||
                        assertion.op == CompareOp::kLt || assertion.op == CompareOp::kLte;
  if (ordering && !IsDecimalNumber(value)) {
    Report(value_path, "gt, gte, lt and lte compare numbers: " + Quote(value) + " is not a number");
    return;
  }
  if (assertion.op == CompareOp::kMatches) {
    if (Result<Regex> regex = Regex::Compile(value); !regex.ok()) {
      Report(value_path, "invalid regular expression: " + regex.error());
    }
  }
}

void MonitorValidator::ValidateAlerting() {
  const AlertingSpec& alerting = monitor_.alerting;
  const std::pair<const char*, int> thresholds[] = {
      {"spec.alerting.failureThreshold", alerting.failure_threshold},
      {"spec.alerting.successThreshold", alerting.success_threshold}};
  for (const auto& [path, value] : thresholds) {
    if (Usable(path) && (value < 1 || value > kMaxThreshold)) {
      Report(path, "must be between 1 and " + std::to_string(kMaxThreshold) + " (got " +
                       std::to_string(value) + ")");
    }
  }
  const std::string quorum_path = "spec.alerting.regionQuorum";
  if (alerting.region_quorum && Usable(quorum_path)) {
    const int quorum = *alerting.region_quorum;
    if (quorum < 1) {
      Report(quorum_path,
             "must be at least 1, or \"majority\" (got " + std::to_string(quorum) + ")");
    } else if (!monitor_.regions.empty() && Usable("spec.regions") &&
               static_cast<size_t>(quorum) > monitor_.regions.size()) {
      Report(quorum_path, std::to_string(quorum) + " is more than the " +
                              std::to_string(monitor_.regions.size()) +
                              " regions listed in spec.regions");
    }
  }
  const std::string address_quorum_path = "spec.alerting.addressQuorum";
  if (alerting.address_quorum && Usable(address_quorum_path) && *alerting.address_quorum < 1) {
    Report(address_quorum_path, "must be at least 1, or \"majority\" (got " +
                                    std::to_string(*alerting.address_quorum) + ")");
  }
  if (alerting.channels.size() > kMaxChannels) {
    Report("spec.alerting.channels", "at most " + std::to_string(kMaxChannels) + " channels (got " +
                                         std::to_string(alerting.channels.size()) + ")");
  }
  std::set<std::string> seen;
  for (size_t i = 0; i < alerting.channels.size(); ++i) {
    const std::string& channel = alerting.channels[i];
    const std::string path = FieldLocations::Item("spec.alerting.channels", i);
    if (!Usable(path)) {
      continue;
    }
    if (!IsDns1123Subdomain(channel)) {
      Report(path, Quote(channel) + " is not a valid AlertChannel name: " + kSubdomainRule);
    } else if (!seen.insert(channel).second) {
      Report(path, "duplicate channel " + Quote(channel));
    }
  }
  if (alerting.screenshot && Usable("spec.type") && monitor_.type != MonitorType::kHttp) {
    Report("spec.alerting.screenshot", "only available for http monitors");
  }
  const std::string remind_path = "spec.alerting.remindEvery";
  if (alerting.remind_every && Usable(remind_path) &&
      (*alerting.remind_every < kMinRemindEvery || *alerting.remind_every > kMaxRemindEvery)) {
    Report(remind_path, "must be between 1m and 168h (got " +
                            FormatDuration(*alerting.remind_every) +
                            "); leave it out for no reminders");
  }
}

}  // namespace pharos
