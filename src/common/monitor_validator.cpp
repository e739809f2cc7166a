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
                                                 {MonitorType::kDns, monitor_.dns.has_value()}};
  const std::string type = ToString(monitor_.type);
  for (const auto& [block_type, present] : blocks) {
    const std::string path = std::string("spec.") + ToString(block_type);
    if (block_type == monitor_.type && !present) {
      Report(path, "required for type " + type);
    } else if (block_type != monitor_.type && present) {
      std::string message = "not allowed for type " + type;
      message += " (only spec." + type + ")";
      ReportAtKey(path, message);
    }
  }
  if (monitor_.type == MonitorType::kHttp && monitor_.http) {
    ValidateHttp(*monitor_.http);
  }
  if (monitor_.type == MonitorType::kTcp && monitor_.tcp) {
    ValidateTcp(*monitor_.tcp);
  }
  if (monitor_.type == MonitorType::kDns && monitor_.dns) {
    ValidateDns(*monitor_.dns);
  }
}

void MonitorValidator::ValidateHttp(const HttpSpec& http) {
  if (fields_.Present("spec.http.url") && Usable("spec.http.url")) {
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
  if (fields_.Present("spec.tcp.host") && Usable("spec.tcp.host")) {
    if (tcp.host.empty()) {
      Report("spec.tcp.host", "must not be empty");
    } else if (tcp.host.front() == '[') {
      Report("spec.tcp.host", "write IPv6 addresses without brackets (port goes in spec.tcp.port)");
    } else if (!IsIpAddress(tcp.host) && !IsDomainName(tcp.host)) {
      Report("spec.tcp.host", Quote(tcp.host) + " is not a valid host name or IP address");
    }
  }
  if (fields_.Present("spec.tcp.port") && Usable("spec.tcp.port") &&
      (tcp.port < 1 || tcp.port > 65535)) {
    Report("spec.tcp.port", "must be between 1 and 65535 (got " + std::to_string(tcp.port) + ")");
  }
  ValidateServerName(tcp.tls_options, "spec.tcp.tlsOptions.serverName");
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
      case AssertionType::kLatency:
        break;
      case AssertionType::kCertExpiry:
        if (monitor_type == MonitorType::kDns) {
          Report(type_path,
                 "certExpiry assertions apply to http monitors with an https:// URL and tcp "
                 "monitors with tls: true");
        } else if (monitor_type == MonitorType::kHttp && monitor_.http && Usable("spec.http.url") &&
                   monitor_.http->url.rfind("https://", 0) != 0) {
          Report(type_path, "certExpiry needs an https:// URL in spec.http.url");
        } else if (monitor_type == MonitorType::kTcp && monitor_.tcp && !monitor_.tcp->tls) {
          Report(type_path, "certExpiry on a tcp monitor needs spec.tcp.tls: true");
        }
        break;
    }
  }

  const std::string op_path = path + ".op";
  const bool op_ok = fields_.Present(op_path) && Usable(op_path);
  if (op_ok) {
    const bool numeric_only = type == AssertionType::kStatusCode ||
                              type == AssertionType::kLatency || type == AssertionType::kCertExpiry;
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
    Report(remind_path, "must be between 1m and 168h (got " + FormatDuration(*alerting.remind_every) +
                            "); leave it out for no reminders");
  }
}

}  // namespace pharos
