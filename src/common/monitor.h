#pragma once

// Monitor: the in-memory form of a `pharos.dev/v1alpha1` Monitor (docs/monitor-reference.md),
// shared by the CLI, the probe and the operator. Plain data; parsing lives in MonitorParser, rules
// in MonitorValidator. Thread-safety: a value type.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/compact_string.h"
#include "common/compact_string_map.h"
#include "common/heap_optional.h"

namespace pharos {

using Millis = std::chrono::milliseconds;

enum class MonitorType { kHttp, kTcp, kDns };
enum class HttpMethod { kGet, kHead, kPost, kPut, kPatch, kDelete, kOptions };
enum class DnsRecordType { kA, kAAAA, kCNAME, kMX, kTXT, kNS };
enum class AssertionType {
  kStatusCode,
  kHeader,
  kBody,
  kJsonPath,
  kLatency,
  kCertExpiry,
  kDnsRecord
};
enum class CompareOp {
  kEq,
  kNotEq,
  kGt,
  kGte,
  kLt,
  kLte,
  kContains,
  kNotContains,
  kMatches,
  kEmpty,
  kNotEmpty
};

// Spellings as they appear in YAML/JSON ("http", "GET", "AAAA", "statusCode", "not_eq").
const char* ToString(MonitorType type);
const char* ToString(HttpMethod method);
const char* ToString(DnsRecordType type);
const char* ToString(AssertionType type);
const char* ToString(CompareOp op);
std::optional<MonitorType> ParseMonitorType(std::string_view text);
std::optional<HttpMethod> ParseHttpMethod(std::string_view text);
std::optional<DnsRecordType> ParseDnsRecordType(std::string_view text);
std::optional<AssertionType> ParseAssertionType(std::string_view text);
std::optional<CompareOp> ParseCompareOp(std::string_view text);

// The frequency classes; each has its own scheduler queue.
inline constexpr Millis kFrequencyClasses[] = {Millis(10'000),   Millis(30'000),  Millis(60'000),
                                               Millis(300'000),  Millis(600'000), Millis(1'800'000),
                                               Millis(3'600'000)};

// The string fields that are nearly always empty are CompactStrings (one pointer each, not 32
// bytes): the operator keeps a Monitor per monitor, by the tens of thousands.
struct TlsOptions {
  bool insecure_skip_verify = false;
  CompactString server_name;  // SNI and the name verified; empty = the target host

  bool operator==(const TlsOptions&) const = default;
};

struct HttpSpec {
  std::string url;
  HttpMethod method = HttpMethod::kGet;
  std::vector<std::pair<std::string, std::string>> headers;  // in the order given
  CompactString body;
  bool follow_redirects = true;
  TlsOptions tls;

  bool operator==(const HttpSpec&) const = default;
};

struct TcpSpec {
  std::string host;
  int port = 0;
  bool tls = false;  // handshake after connect (certificate checked unless insecure)
  TlsOptions tls_options;

  bool operator==(const TcpSpec&) const = default;
};

struct DnsSpec {
  std::string name;
  DnsRecordType record_type = DnsRecordType::kA;
  std::string server;  // "host[:port]"; empty = the system resolver

  bool operator==(const DnsSpec&) const = default;
};

struct Assertion {
  AssertionType type = AssertionType::kStatusCode;
  CompareOp op = CompareOp::kEq;
  std::string name;   // header name (type header)
  std::string path;   // JSONPath (type jsonPath)
  std::string value;  // expected value; durations for latency/certExpiry ("500ms", "168h")

  bool operator==(const Assertion&) const = default;
};

struct AlertingSpec {
  int failure_threshold = 2;
  int success_threshold = 1;
  // Regions that must fail in a round to call the monitor Down; nullopt = majority.
  std::optional<int> region_quorum = 1;
  std::vector<std::string> channels;
  bool screenshot = false;
  // While an incident stays open (and is not acknowledged): a reminder this often; nullopt = none.
  std::optional<Millis> remind_every;
  // A `recovered` notification when the incident is resolved.
  bool send_on_resolved = true;

  bool operator==(const AlertingSpec&) const = default;
};

// Where a Monitor came from, so errors can point at it ("monitors.yaml:14:7").
struct SourceLocation {
  std::string file;
  int line = 0;    // 1-based; 0 = unknown
  int column = 0;  // 1-based

  bool operator==(const SourceLocation&) const = default;
};

// CompactSourceLocation: a Monitor's SourceLocation kept on the heap, one pointer inline. The
// operator drops the location from the tens of thousands of monitors it keeps (it is for the
// loader's error messages), where an inline SourceLocation would cost 40 bytes each. Reads as
// SourceLocation{} when absent; an absent location and a default one are the same value, and
// assigning a default one (or `= {}`) frees the heap copy.
//
// Thread-safety: a value type — const access from many threads, changes from one.
class CompactSourceLocation {
 public:
  CompactSourceLocation() = default;
  CompactSourceLocation(SourceLocation location)  // NOLINT(google-explicit-constructor): a value
      : location_(location == SourceLocation{} ? HeapOptional<SourceLocation>()
                                               : HeapOptional(std::move(location))) {}

  const SourceLocation& get() const { return location_ ? *location_ : Unknown(); }
  const SourceLocation& operator*() const { return get(); }
  const SourceLocation* operator->() const { return &get(); }

  friend bool operator==(const CompactSourceLocation& a, const CompactSourceLocation& b) {
    return a.get() == b.get();
  }

 private:
  static const SourceLocation& Unknown() {
    static const SourceLocation kUnknown;
    return kUnknown;
  }

  HeapOptional<SourceLocation> location_;
};

// The only apiVersion and kind a Monitor document may have (the parser rejects others).
inline constexpr std::string_view kMonitorApiVersion = "pharos.dev/v1alpha1";
inline constexpr std::string_view kMonitorKind = "Monitor";

struct Monitor {
  // metadata (apiVersion and kind are always kMonitorApiVersion and kMonitorKind)
  std::string namespace_name = "default";
  std::string name;
  std::string uid;  // from Kubernetes; for files, derived from namespace/name
  int64_t generation = 1;
  CompactStringMap labels;
  CompactStringMap annotations;

  // spec
  MonitorType type = MonitorType::kHttp;
  Millis frequency = Millis(60'000);
  std::vector<std::string> regions;  // empty = every region
  Millis timeout = Millis(10'000);
  std::optional<Millis> degraded_after;  // passing but slower than this = degraded
  int retries = 0;
  bool suspend = false;
  // One of the three, by `type`; kept on the heap (see HeapOptional).
  HeapOptional<HttpSpec> http;
  HeapOptional<TcpSpec> tcp;
  HeapOptional<DnsSpec> dns;
  std::vector<Assertion> assertions;
  AlertingSpec alerting;

  CompactSourceLocation source;  // reads as SourceLocation{} when unknown or dropped

  // "namespace/name"
  std::string Key() const { return namespace_name + "/" + name; }
  // What is checked, for humans: the URL, "host:port", or "name A @server".
  std::string Target() const;

  // Every field, `source` included (clear it to compare what two documents declare).
  bool operator==(const Monitor&) const = default;
};

}  // namespace pharos
