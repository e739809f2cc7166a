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

enum class MonitorType { kHttp, kTcp, kDns, kIcmp, kGrpc, kPush };
enum class HttpMethod { kGet, kHead, kPost, kPut, kPatch, kDelete, kOptions };
enum class DnsRecordType { kA, kAAAA, kCNAME, kMX, kTXT, kNS };
enum class AssertionType {
  kStatusCode,
  kHeader,
  kBody,
  kJsonPath,
  kLatency,
  kCertExpiry,
  kDnsRecord,
  kPacketLoss
};
// Which of the addresses a target's name resolves to are checked: the first that answers
// ("one"), or every A and AAAA address, each as a result of its own within the round ("all").
enum class ResolveMode { kOne, kAll };
enum class IpFamily { kAny, kIpv4, kIpv6 };
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
const char* ToString(ResolveMode mode);  // "one" "all"
const char* ToString(IpFamily family);   // "any" "ipv4" "ipv6"
std::optional<MonitorType> ParseMonitorType(std::string_view text);
std::optional<HttpMethod> ParseHttpMethod(std::string_view text);
std::optional<DnsRecordType> ParseDnsRecordType(std::string_view text);
std::optional<AssertionType> ParseAssertionType(std::string_view text);
std::optional<CompareOp> ParseCompareOp(std::string_view text);
std::optional<ResolveMode> ParseResolveMode(std::string_view text);
std::optional<IpFamily> ParseIpFamily(std::string_view text);

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
  std::string url;  // empty when the Monitor names a Service (spec.target.service)
  HttpMethod method = HttpMethod::kGet;
  ResolveMode resolve = ResolveMode::kOne;                   // here, in the padding after `method`
  std::vector<std::pair<std::string, std::string>> headers;  // in the order given
  CompactString body;
  bool follow_redirects = true;
  TlsOptions tls;

  bool operator==(const HttpSpec&) const = default;
};

// One step of a TCP conversation (spec.tcp.conversation), run in order after connecting.
struct TcpStep {
  enum class Kind {
    kSend,         // write `text`
    kExpect,       // read lines until one contains `text`
    kExpectRegex,  // read lines until one matches the PCRE2 pattern `text`
    kStartTls,     // TLS handshake on the connection (STARTTLS), with spec.tcp.tlsOptions
  };
  Kind kind = Kind::kSend;
  std::string text;
  std::optional<Millis> timeout;  // expect steps; none = until the check's deadline

  bool operator==(const TcpStep&) const = default;
};

struct TcpSpec {
  std::string host;  // empty when the Monitor names a Service (spec.target.service)
  int port = 0;
  bool tls = false;  // handshake after connect (certificate checked unless insecure)
  TlsOptions tls_options;
  std::vector<TcpStep> conversation;
  ResolveMode resolve = ResolveMode::kOne;

  bool operator==(const TcpSpec&) const = default;
};

struct DnsSpec {
  std::string name;
  DnsRecordType record_type = DnsRecordType::kA;
  std::string server;  // "host[:port]"; empty = the system resolver

  bool operator==(const DnsSpec&) const = default;
};

struct IcmpSpec {
  std::string host;  // empty when the Monitor names a Service (spec.target.service)
  int count = 3;     // echo requests per check
  Millis interval = Millis(1'000);
  int packet_size = 56;  // payload bytes of each echo request
  IpFamily ip_family = IpFamily::kAny;
  ResolveMode resolve = ResolveMode::kOne;

  bool operator==(const IcmpSpec&) const = default;
};

// A grpc.health.v1.Health/Check call.
struct GrpcSpec {
  std::string address;  // "host:port" ("[::1]:50051"); empty with spec.target.service
  std::string service;  // the service asked about; "" = the server as a whole
  bool tls = false;     // TLS (h2 over ALPN) instead of plaintext h2c
  TlsOptions tls_options;
  CompactString authority;                                    // :authority; "" = the address
  std::vector<std::pair<std::string, std::string>> metadata;  // request metadata, in order
  ResolveMode resolve = ResolveMode::kOne;

  bool operator==(const GrpcSpec&) const = default;
};

// Where a push monitor's ping token is read instead of being generated (spec.push.tokenFrom):
// exactly one of an environment variable or a file (`pharos run`), or a key of a Secret in the
// Monitor's namespace (pharos-operator).
struct PushTokenSource {
  std::string env;
  std::string file;
  std::string secret_name;  // secretKeyRef.name
  std::string secret_key;   // secretKeyRef.key

  bool operator==(const PushTokenSource&) const = default;
};

// A heartbeat (push) monitor: nothing is checked; the job pings /api/v1/push/{token}.
struct PushSpec {
  Millis expect_every{0};  // a ping is due this long after the previous one
  Millis grace = Millis(60'000);
  std::optional<Millis> max_run_time;         // a started job must finish within this
  std::optional<PushTokenSource> token_from;  // none: a generated token

  bool operator==(const PushSpec&) const = default;
};

// The Kubernetes Service whose ready endpoints are checked, each as an address of its own,
// instead of a URL or host (spec.target.service; pharos-operator only).
struct ServiceTarget {
  std::string name;
  int port = 0;           // a port number, or
  std::string port_name;  // the name of the Service's port (EndpointSlice port name)
  std::string path = "/";
  std::string scheme = "http";  // http monitors: http or https

  bool operator==(const ServiceTarget&) const = default;
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
  // Addresses that must fail for a region's check to fail (resolve: all, Service targets);
  // nullopt = majority.
  std::optional<int> address_quorum = 1;
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
  // One of these, by `type`; kept on the heap (see HeapOptional).
  HeapOptional<HttpSpec> http;
  HeapOptional<TcpSpec> tcp;
  HeapOptional<DnsSpec> dns;
  HeapOptional<IcmpSpec> icmp;
  HeapOptional<GrpcSpec> grpc;
  HeapOptional<PushSpec> push;
  HeapOptional<ServiceTarget> service;  // spec.target.service
  std::vector<Assertion> assertions;
  AlertingSpec alerting;

  CompactSourceLocation source;  // reads as SourceLocation{} when unknown or dropped

  // "namespace/name"
  std::string Key() const { return namespace_name + "/" + name; }
  // What is checked, for humans: the URL, "host:port", "name A @server", "ping host",
  // "grpc host:port [service]", "push", "service name:port".
  std::string Target() const;
  // Whether every address of the target is checked (resolve: all, or a Service's endpoints).
  bool ChecksEveryAddress() const;

  // Every field, `source` included (clear it to compare what two documents declare).
  bool operator==(const Monitor&) const = default;
};

}  // namespace pharos
