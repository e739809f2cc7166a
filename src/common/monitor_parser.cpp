#include "common/monitor_parser.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>
#include <map>
#include <string_view>

#include "common/duration.h"

namespace pharos {
namespace {

using Kind = DocumentNode::Kind;

constexpr std::string_view kFrequencySpellings[] = {"10s", "30s", "1m", "5m", "10m", "30m", "1h"};

std::string Join(const std::string& path, std::string_view key) {
  return FieldLocations::Child(path, key);
}

std::string Index(const std::string& path, size_t index) {
  return FieldLocations::Item(path, index);
}

// Quoted for a message; long text is cut (the location says where the whole of it is).
std::string Quote(std::string_view text) {
  constexpr size_t kShown = 80;
  if (text.size() > kShown) {
    return "\"" + std::string(text.substr(0, kShown - 3)) + "...\"";
  }
  return "\"" + std::string(text) + "\"";
}

// Optimal string alignment distance (Levenshtein plus adjacent transpositions).
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) {
    d[i][0] = i;
  }
  for (size_t j = 0; j <= b.size(); ++j) {
    d[0][j] = j;
  }
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

std::string JoinWords(const std::vector<std::string_view>& words) {
  std::string text;
  for (const std::string_view word : words) {
    if (!text.empty()) {
      text += ", ";
    }
    text += word;
  }
  return text;
}

template <typename Enum, size_t N>
std::vector<std::string_view> Spellings(const Enum (&values)[N]) {
  std::vector<std::string_view> spellings;
  for (const Enum value : values) {
    spellings.push_back(ToString(value));
  }
  return spellings;
}

constexpr MonitorType kMonitorTypes[] = {MonitorType::kHttp, MonitorType::kTcp,
                                         MonitorType::kDns,  MonitorType::kIcmp,
                                         MonitorType::kGrpc, MonitorType::kPush};
constexpr ResolveMode kResolveModes[] = {ResolveMode::kOne, ResolveMode::kAll};
constexpr IpFamily kIpFamilies[] = {IpFamily::kAny, IpFamily::kIpv4, IpFamily::kIpv6};
constexpr HttpMethod kHttpMethods[] = {HttpMethod::kGet,    HttpMethod::kHead,  HttpMethod::kPost,
                                       HttpMethod::kPut,    HttpMethod::kPatch, HttpMethod::kDelete,
                                       HttpMethod::kOptions};
constexpr DnsRecordType kRecordTypes[] = {DnsRecordType::kA,     DnsRecordType::kAAAA,
                                          DnsRecordType::kCNAME, DnsRecordType::kMX,
                                          DnsRecordType::kTXT,   DnsRecordType::kNS};
constexpr AssertionType kAssertionTypes[] = {
    AssertionType::kStatusCode, AssertionType::kHeader,    AssertionType::kBody,
    AssertionType::kJsonPath,   AssertionType::kLatency,   AssertionType::kCertExpiry,
    AssertionType::kDnsRecord,  AssertionType::kPacketLoss};
constexpr CompareOp kCompareOps[] = {
    CompareOp::kEq,      CompareOp::kNotEq, CompareOp::kGt,       CompareOp::kGte,
    CompareOp::kLt,      CompareOp::kLte,   CompareOp::kContains, CompareOp::kNotContains,
    CompareOp::kMatches, CompareOp::kEmpty, CompareOp::kNotEmpty};

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// The candidate `word` was most likely meant to be: same letters in another case, or at most two
// edits away (and no more edits than half its length, so "id" does not suggest "op").
std::string_view Suggest(std::string_view word, const std::vector<std::string_view>& candidates) {
  std::string_view best;
  size_t best_distance = 3;
  for (const std::string_view candidate : candidates) {
    if (EqualsIgnoringCase(word, candidate)) {
      return candidate;
    }
    if (word.size() > candidate.size() + 2 || candidate.size() > word.size() + 2) {
      continue;  // more than two edits apart anyway
    }
    const size_t distance = EditDistance(word, candidate);
    if (distance < best_distance && distance * 2 <= candidate.size()) {
      best = candidate;
      best_distance = distance;
    }
  }
  return best;
}

// `must be one of a, b, c (got "x")`, with a suggestion when the value is a near miss.
std::string NotOneOf(std::string_view got, const std::vector<std::string_view>& allowed) {
  const std::string_view suggestion = Suggest(got, allowed);
  return "must be one of " + JoinWords(allowed) + " (got " + Quote(got) +
         (suggestion.empty() ? "" : "; did you mean " + Quote(suggestion) + "?") + ")";
}

}  // namespace

// One mapping being read: unknown and duplicate keys are reported as it is opened, and every
// known field's location is recorded.
class MonitorParser::Mapping {
 public:
  Mapping(MonitorParser& parser, Parsed* parsed, const DocumentNode& node, std::string path,
          std::vector<std::string_view> known, bool ignore_unknown = false)
      : path_(std::move(path)) {
    std::map<std::string, SourceLocation> seen;
    for (const DocumentNode::Member& member : node.members) {
      const std::string field_path = Join(path_, member.key);
      if (const auto first = seen.find(member.key); first != seen.end()) {
        parser.Fail(member.key_location, field_path,
                    "duplicate field " + Quote(member.key) +
                        (first->second.line > 0
                             ? " (first written at line " + std::to_string(first->second.line) + ")"
                             : std::string()),
                    parsed);
        continue;
      }
      seen.emplace(member.key, member.key_location);
      if (std::find(known.begin(), known.end(), member.key) == known.end()) {
        if (!ignore_unknown) {
          parser.Fail(member.key_location, field_path, UnknownField(member.key, known), parsed);
        }
        continue;
      }
      parsed->fields.Record(field_path, member.key_location, member.value.location,
                            member.value.kind == Kind::kNull);
      values_.emplace(member.key, &member.value);
    }
  }

  // The value of a known field; nullptr when absent or null.
  const DocumentNode* Get(std::string_view key) const {
    const auto found = values_.find(std::string(key));
    if (found == values_.end() || found->second->kind == Kind::kNull) {
      return nullptr;
    }
    return found->second;
  }

  std::string Path(std::string_view key) const { return Join(path_, key); }

 private:
  static std::string UnknownField(const std::string& key,
                                  const std::vector<std::string_view>& known) {
    const std::string message = "unknown field " + Quote(key);
    const std::string_view suggestion = Suggest(key, known);
    if (!suggestion.empty()) {
      return message + " (did you mean " + Quote(suggestion) + "?)";
    }
    return message + " (known fields: " + JoinWords(known) + ")";
  }

  std::string path_;
  std::map<std::string, const DocumentNode*> values_;
};

void MonitorParser::Fail(const SourceLocation& where, const std::string& path,
                         const std::string& message, Parsed* parsed) {
  errors_.push_back(ValidationError{where, path, message});
  parsed->fields.MarkInvalid(path);
}

MonitorParser::Parsed MonitorParser::Parse(const DocumentNode& document) {
  Parsed out{Monitor{}, FieldLocations(document.location)};
  out.monitor.source = document.location;
  if (document.kind != Kind::kMapping) {
    Fail(document.location, "",
         "expected a Monitor (a mapping with apiVersion, kind, metadata and spec), got " +
             document.KindName(),
         &out);
    return out;
  }
  Mapping top(*this, &out, document, "", {"apiVersion", "kind", "metadata", "spec", "status"},
              /*ignore_unknown=*/mode_ == Mode::kApiObject);
  const bool required = mode_ == Mode::kFile;
  const std::pair<const char*, std::string_view> identity[] = {{"apiVersion", kMonitorApiVersion},
                                                               {"kind", kMonitorKind}};
  for (const auto& [field, expected] : identity) {
    const DocumentNode* node = top.Get(field);
    if (node == nullptr) {
      if (required) {
        Fail(out.fields.At(field), field, "required (" + std::string(expected) + ")", &out);
      }
      continue;
    }
    std::string value;
    if (ReadString(*node, field, &value, &out) && value != expected) {
      Fail(node->location, field,
           "must be " + std::string(expected) + " (got " + Quote(value) + ")", &out);
    }
  }
  if (const DocumentNode* metadata = top.Get("metadata")) {
    ParseMetadata(*metadata, &out);
  } else {
    Fail(out.fields.At("metadata"), "metadata", "required (with at least a name)", &out);
  }
  if (const DocumentNode* spec = top.Get("spec")) {
    ParseSpec(*spec, &out);
  } else {
    Fail(out.fields.At("spec"), "spec", "required", &out);
  }
  // `status` is the operator's output; it is accepted and ignored.
  return out;
}

void MonitorParser::ParseMetadata(const DocumentNode& node, Parsed* out) {
  if (!ExpectMapping(node, "metadata", out)) {
    return;
  }
  Mapping metadata(*this, out, node, "metadata",
                   {"name", "namespace", "labels", "annotations", "uid", "generation"},
                   /*ignore_unknown=*/mode_ == Mode::kApiObject);
  Monitor& monitor = out->monitor;
  if (const DocumentNode* name = metadata.Get("name")) {
    ReadString(*name, "metadata.name", &monitor.name, out);
  } else {
    Fail(out->fields.At("metadata.name"), "metadata.name", "required", out);
  }
  if (const DocumentNode* ns = metadata.Get("namespace")) {
    ReadString(*ns, "metadata.namespace", &monitor.namespace_name, out);
  }
  std::vector<std::pair<std::string, std::string>> pairs;
  if (const DocumentNode* labels = metadata.Get("labels");
      labels != nullptr && ReadStringMap(*labels, "metadata.labels", &pairs, out)) {
    monitor.labels.insert(pairs.begin(), pairs.end());
  }
  pairs.clear();
  if (const DocumentNode* annotations = metadata.Get("annotations");
      annotations != nullptr && ReadStringMap(*annotations, "metadata.annotations", &pairs, out)) {
    monitor.annotations.insert(pairs.begin(), pairs.end());
  }
  if (const DocumentNode* uid = metadata.Get("uid")) {
    ReadString(*uid, "metadata.uid", &monitor.uid, out);
  }
  if (const DocumentNode* generation = metadata.Get("generation")) {
    ReadInt(*generation, "metadata.generation", &monitor.generation, out);
  }
}

void MonitorParser::ParseSpec(const DocumentNode& node, Parsed* out) {
  if (!ExpectMapping(node, "spec", out)) {
    return;
  }
  Mapping spec(*this, out, node, "spec",
               {"type", "frequency", "regions", "timeout", "degradedAfter", "retries", "suspend",
                "target", "http", "tcp", "dns", "icmp", "grpc", "push", "assertions", "alerting"});
  Monitor& monitor = out->monitor;

  if (const DocumentNode* type = spec.Get("type")) {
    std::string text;
    if (ReadString(*type, "spec.type", &text, out)) {
      if (const auto parsed = ParseMonitorType(text)) {
        monitor.type = *parsed;
      } else {
        Fail(type->location, "spec.type", NotOneOf(text, Spellings(kMonitorTypes)), out);
      }
    }
  } else {
    Fail(out->fields.At("spec.type"), "spec.type", "required (http, tcp, dns, icmp, grpc or push)",
         out);
  }

  if (const DocumentNode* frequency = spec.Get("frequency")) {
    std::string text;
    if (ReadString(*frequency, "spec.frequency", &text, out)) {
      const auto* found =
          std::find(std::begin(kFrequencySpellings), std::end(kFrequencySpellings), text);
      if (found == std::end(kFrequencySpellings)) {
        Fail(frequency->location, "spec.frequency",
             Quote(text) + " is not a frequency class; use one of " +
                 JoinWords(std::vector<std::string_view>(std::begin(kFrequencySpellings),
                                                         std::end(kFrequencySpellings))),
             out);
      } else {
        monitor.frequency = kFrequencyClasses[found - std::begin(kFrequencySpellings)];
      }
    }
  }
  if (const DocumentNode* regions = spec.Get("regions")) {
    ReadStringList(*regions, "spec.regions", &monitor.regions, out);
  }
  if (const DocumentNode* timeout = spec.Get("timeout")) {
    ReadDuration(*timeout, "spec.timeout", &monitor.timeout, out);
  } else {
    monitor.timeout = std::min(Millis(10'000), monitor.frequency);
  }
  if (const DocumentNode* degraded = spec.Get("degradedAfter")) {
    Millis value{0};
    if (ReadDuration(*degraded, "spec.degradedAfter", &value, out)) {
      monitor.degraded_after = value;
    }
  }
  if (const DocumentNode* retries = spec.Get("retries")) {
    ReadInt(*retries, "spec.retries", &monitor.retries, out);
  }
  if (const DocumentNode* suspend = spec.Get("suspend")) {
    ReadBool(*suspend, "spec.suspend", &monitor.suspend, out);
  }
  // The target first: with a Service, the type's block needs no URL or host of its own.
  if (const DocumentNode* target = spec.Get("target")) {
    ParseTarget(*target, "spec.target", out);
  }
  if (const DocumentNode* http = spec.Get("http")) {
    ParseHttp(*http, "spec.http", out);
  }
  if (const DocumentNode* tcp = spec.Get("tcp")) {
    ParseTcp(*tcp, "spec.tcp", out);
  }
  if (const DocumentNode* dns = spec.Get("dns")) {
    ParseDns(*dns, "spec.dns", out);
  }
  if (const DocumentNode* icmp = spec.Get("icmp")) {
    ParseIcmp(*icmp, "spec.icmp", out);
  }
  if (const DocumentNode* grpc = spec.Get("grpc")) {
    ParseGrpc(*grpc, "spec.grpc", out);
  }
  if (const DocumentNode* push = spec.Get("push")) {
    ParsePush(*push, "spec.push", out);
  }
  if (monitor.service) {
    // A Service target stands for the URL/host: the type's block may be left out.
    switch (monitor.type) {
      case MonitorType::kHttp:
        if (!monitor.http) monitor.http.emplace();
        break;
      case MonitorType::kTcp:
        if (!monitor.tcp) monitor.tcp.emplace();
        break;
      case MonitorType::kIcmp:
        if (!monitor.icmp) monitor.icmp.emplace();
        break;
      case MonitorType::kGrpc:
        if (!monitor.grpc) monitor.grpc.emplace();
        break;
      case MonitorType::kDns:
      case MonitorType::kPush:
        break;
    }
  }
  if (const DocumentNode* assertions = spec.Get("assertions")) {
    if (assertions->kind != Kind::kSequence) {
      Fail(assertions->location, "spec.assertions",
           "expected a list of assertions, got " + assertions->KindName(), out);
    } else {
      for (size_t i = 0; i < assertions->items.size(); ++i) {
        const DocumentNode& item = assertions->items[i];
        const std::string path = Index("spec.assertions", i);
        out->fields.Record(path, item.location, item.location);
        ParseAssertion(item, path, out);
      }
    }
  }
  if (const DocumentNode* alerting = spec.Get("alerting")) {
    ParseAlerting(*alerting, "spec.alerting", out);
  }
  // A heartbeat is Down as soon as one ping is late, unless the user asks for more.
  if (monitor.type == MonitorType::kPush &&
      !out->fields.Present("spec.alerting.failureThreshold")) {
    monitor.alerting.failure_threshold = 1;
  }
}

void MonitorParser::ParseHttp(const DocumentNode& node, const std::string& path, Parsed* out) {
  HttpSpec& http = out->monitor.http.emplace();
  if (!ExpectMapping(node, path, out)) {
    return;
  }
  Mapping fields(*this, out, node, path,
                 {"url", "method", "headers", "body", "followRedirects", "tls", "resolve"});
  if (const DocumentNode* url = fields.Get("url")) {
    ReadString(*url, fields.Path("url"), &http.url, out);
  } else if (!out->monitor.service) {
    Fail(out->fields.At(fields.Path("url")), fields.Path("url"),
         "required (e.g. https://example.com/health), or name a Service in spec.target.service",
         out);
  }
  if (const DocumentNode* method = fields.Get("method")) {
    std::string text;
    if (ReadString(*method, fields.Path("method"), &text, out)) {
      if (const auto parsed = ParseHttpMethod(text)) {
        http.method = *parsed;
      } else {
        Fail(method->location, fields.Path("method"), NotOneOf(text, Spellings(kHttpMethods)), out);
      }
    }
  }
  if (const DocumentNode* headers = fields.Get("headers")) {
    ReadStringMap(*headers, fields.Path("headers"), &http.headers, out);
  }
  if (const DocumentNode* body = fields.Get("body")) {
    ReadString(*body, fields.Path("body"), &http.body, out);
  }
  if (const DocumentNode* follow = fields.Get("followRedirects")) {
    ReadBool(*follow, fields.Path("followRedirects"), &http.follow_redirects, out);
  }
  if (const DocumentNode* tls = fields.Get("tls")) {
    ParseTls(*tls, fields.Path("tls"), &http.tls, out);
  }
  if (const DocumentNode* resolve = fields.Get("resolve")) {
    ParseResolve(*resolve, fields.Path("resolve"), &http.resolve, out);
  }
}

void MonitorParser::ParseTcp(const DocumentNode& node, const std::string& path, Parsed* out) {
  TcpSpec& tcp = out->monitor.tcp.emplace();
  if (!ExpectMapping(node, path, out)) {
    return;
  }
  Mapping fields(*this, out, node, path,
                 {"host", "port", "tls", "tlsOptions", "conversation", "resolve"});
  const bool service = out->monitor.service.has_value();
  if (const DocumentNode* host = fields.Get("host")) {
    ReadString(*host, fields.Path("host"), &tcp.host, out);
  } else if (!service) {
    Fail(out->fields.At(fields.Path("host")), fields.Path("host"), "required", out);
  }
  if (const DocumentNode* port = fields.Get("port")) {
    ReadInt(*port, fields.Path("port"), &tcp.port, out);
  } else if (!service) {
    Fail(out->fields.At(fields.Path("port")), fields.Path("port"), "required (1-65535)", out);
  }
  if (const DocumentNode* tls = fields.Get("tls")) {
    ReadBool(*tls, fields.Path("tls"), &tcp.tls, out);
  }
  if (const DocumentNode* options = fields.Get("tlsOptions")) {
    ParseTls(*options, fields.Path("tlsOptions"), &tcp.tls_options, out);
  }
  if (const DocumentNode* conversation = fields.Get("conversation")) {
    ParseConversation(*conversation, fields.Path("conversation"), &tcp, out);
  }
  if (const DocumentNode* resolve = fields.Get("resolve")) {
    ParseResolve(*resolve, fields.Path("resolve"), &tcp.resolve, out);
  }
}

void MonitorParser::ParseConversation(const DocumentNode& node, const std::string& path,
                                      TcpSpec* tcp, Parsed* out) {
  if (node.kind != Kind::kSequence) {
    Fail(node.location, path,
         "expected a list of steps ({send: ...}, {expect: ...}, {expectRegex: ...}, "
         "{startTls: true}), got " +
             node.KindName(),
         out);
    return;
  }
  for (size_t i = 0; i < node.items.size(); ++i) {
    const DocumentNode& item = node.items[i];
    const std::string item_path = Index(path, i);
    out->fields.Record(item_path, item.location, item.location);
    TcpStep& step = tcp->conversation.emplace_back();
    if (!ExpectMapping(item, item_path, out)) {
      continue;
    }
    Mapping fields(*this, out, item, item_path,
                   {"send", "expect", "expectRegex", "startTls", "timeout"});
    const std::pair<const char*, TcpStep::Kind> kinds[] = {
        {"send", TcpStep::Kind::kSend},
        {"expect", TcpStep::Kind::kExpect},
        {"expectRegex", TcpStep::Kind::kExpectRegex},
        {"startTls", TcpStep::Kind::kStartTls}};
    int found = 0;
    for (const auto& [key, kind] : kinds) {
      const DocumentNode* value = fields.Get(key);
      if (value == nullptr) {
        continue;
      }
      if (++found > 1) {
        Fail(value->location, fields.Path(key),
             "a step does one thing: write send, expect, expectRegex and startTls in steps of "
             "their own",
             out);
        continue;
      }
      step.kind = kind;
      if (kind == TcpStep::Kind::kStartTls) {
        bool start = false;
        if (ReadBool(*value, fields.Path(key), &start, out) && !start) {
          Fail(value->location, fields.Path(key),
               "startTls: false does nothing; leave the step out", out);
        }
      } else {
        ReadString(*value, fields.Path(key), &step.text, out);
      }
    }
    if (found == 0) {
      Fail(item.location, item_path, "a step needs one of send, expect, expectRegex or startTls",
           out);
    }
    if (const DocumentNode* timeout = fields.Get("timeout")) {
      Millis value{0};
      if (step.kind != TcpStep::Kind::kExpect && step.kind != TcpStep::Kind::kExpectRegex) {
        Fail(timeout->location, fields.Path("timeout"),
             "only expect and expectRegex steps take a timeout", out);
      } else if (ReadDuration(*timeout, fields.Path("timeout"), &value, out)) {
        step.timeout = value;
      }
    }
  }
}

void MonitorParser::ParseResolve(const DocumentNode& node, const std::string& path,
                                 ResolveMode* mode, Parsed* out) {
  std::string text;
  if (!ReadString(node, path, &text, out)) {
    return;
  }
  if (const auto parsed = ParseResolveMode(text)) {
    *mode = *parsed;
  } else {
    Fail(node.location, path, NotOneOf(text, Spellings(kResolveModes)), out);
  }
}

void MonitorParser::ParseIcmp(const DocumentNode& node, const std::string& path, Parsed* out) {
  IcmpSpec& icmp = out->monitor.icmp.emplace();
  if (!ExpectMapping(node, path, out)) {
    return;
  }
  Mapping fields(*this, out, node, path,
                 {"host", "count", "interval", "packetSize", "ipFamily", "resolve"});
  if (const DocumentNode* host = fields.Get("host")) {
    ReadString(*host, fields.Path("host"), &icmp.host, out);
  } else if (!out->monitor.service) {
    Fail(out->fields.At(fields.Path("host")), fields.Path("host"), "required", out);
  }
  if (const DocumentNode* count = fields.Get("count")) {
    ReadInt(*count, fields.Path("count"), &icmp.count, out);
  }
  if (const DocumentNode* interval = fields.Get("interval")) {
    ReadDuration(*interval, fields.Path("interval"), &icmp.interval, out);
  }
  if (const DocumentNode* size = fields.Get("packetSize")) {
    ReadInt(*size, fields.Path("packetSize"), &icmp.packet_size, out);
  }
  if (const DocumentNode* family = fields.Get("ipFamily")) {
    std::string text;
    if (ReadString(*family, fields.Path("ipFamily"), &text, out)) {
      if (const auto parsed = ParseIpFamily(text)) {
        icmp.ip_family = *parsed;
      } else {
        Fail(family->location, fields.Path("ipFamily"), NotOneOf(text, Spellings(kIpFamilies)),
             out);
      }
    }
  }
  if (const DocumentNode* resolve = fields.Get("resolve")) {
    ParseResolve(*resolve, fields.Path("resolve"), &icmp.resolve, out);
  }
}

void MonitorParser::ParseGrpc(const DocumentNode& node, const std::string& path, Parsed* out) {
  GrpcSpec& grpc = out->monitor.grpc.emplace();
  if (!ExpectMapping(node, path, out)) {
    return;
  }
  Mapping fields(*this, out, node, path,
                 {"address", "service", "tls", "tlsOptions", "authority", "metadata", "resolve"});
  if (const DocumentNode* address = fields.Get("address")) {
    ReadString(*address, fields.Path("address"), &grpc.address, out);
  } else if (!out->monitor.service) {
    Fail(out->fields.At(fields.Path("address")), fields.Path("address"),
         "required (host:port, e.g. grpc.example.com:443 or [::1]:50051)", out);
  }
  if (const DocumentNode* service = fields.Get("service")) {
    ReadString(*service, fields.Path("service"), &grpc.service, out);
  }
  if (const DocumentNode* tls = fields.Get("tls")) {
    ReadBool(*tls, fields.Path("tls"), &grpc.tls, out);
  }
  if (const DocumentNode* options = fields.Get("tlsOptions")) {
    ParseTls(*options, fields.Path("tlsOptions"), &grpc.tls_options, out);
  }
  if (const DocumentNode* authority = fields.Get("authority")) {
    ReadString(*authority, fields.Path("authority"), &grpc.authority, out);
  }
  if (const DocumentNode* metadata = fields.Get("metadata")) {
    ReadStringMap(*metadata, fields.Path("metadata"), &grpc.metadata, out);
  }
  if (const DocumentNode* resolve = fields.Get("resolve")) {
    ParseResolve(*resolve, fields.Path("resolve"), &grpc.resolve, out);
  }
}

void MonitorParser::ParsePush(const DocumentNode& node, const std::string& path, Parsed* out) {
  PushSpec& push = out->monitor.push.emplace();
  if (!ExpectMapping(node, path, out)) {
    return;
  }
  Mapping fields(*this, out, node, path, {"expectEvery", "grace", "maxRunTime", "tokenFrom"});
  if (const DocumentNode* every = fields.Get("expectEvery")) {
    ReadDuration(*every, fields.Path("expectEvery"), &push.expect_every, out);
  } else {
    Fail(out->fields.At(fields.Path("expectEvery")), fields.Path("expectEvery"),
         "required (how often the job pings, e.g. 5m or 24h)", out);
  }
  if (const DocumentNode* grace = fields.Get("grace")) {
    ReadDuration(*grace, fields.Path("grace"), &push.grace, out);
  }
  if (const DocumentNode* max_run_time = fields.Get("maxRunTime")) {
    Millis value{0};
    if (ReadDuration(*max_run_time, fields.Path("maxRunTime"), &value, out)) {
      push.max_run_time = value;
    }
  }
  if (const DocumentNode* from = fields.Get("tokenFrom")) {
    const std::string from_path = fields.Path("tokenFrom");
    if (!ExpectMapping(*from, from_path, out)) {
      return;
    }
    PushTokenSource& source = push.token_from.emplace();
    Mapping sources(*this, out, *from, from_path, {"env", "file", "secretKeyRef"});
    int given = 0;
    if (const DocumentNode* env = sources.Get("env")) {
      ++given;
      ReadString(*env, sources.Path("env"), &source.env, out);
    }
    if (const DocumentNode* file = sources.Get("file")) {
      ++given;
      ReadString(*file, sources.Path("file"), &source.file, out);
    }
    if (const DocumentNode* secret = sources.Get("secretKeyRef")) {
      ++given;
      const std::string secret_path = sources.Path("secretKeyRef");
      if (ExpectMapping(*secret, secret_path, out)) {
        Mapping ref(*this, out, *secret, secret_path, {"name", "key"});
        for (const auto& [key, target] :
             {std::pair{"name", &source.secret_name}, std::pair{"key", &source.secret_key}}) {
          if (const DocumentNode* value = ref.Get(key)) {
            ReadString(*value, ref.Path(key), target, out);
          } else {
            Fail(out->fields.At(ref.Path(key)), ref.Path(key), "required", out);
          }
        }
      }
    }
    if (given != 1) {
      Fail(from->location, from_path,
           "exactly one of env, file (pharos run) or secretKeyRef (Kubernetes) is required", out);
    }
  }
}

void MonitorParser::ParseTarget(const DocumentNode& node, const std::string& path, Parsed* out) {
  if (!ExpectMapping(node, path, out)) {
    return;
  }
  Mapping target(*this, out, node, path, {"service"});
  const DocumentNode* service_node = target.Get("service");
  if (service_node == nullptr) {
    Fail(out->fields.At(target.Path("service")), target.Path("service"),
         "required (the Service whose endpoints are checked: {name, port})", out);
    return;
  }
  const std::string service_path = target.Path("service");
  ServiceTarget& service = out->monitor.service.emplace();
  if (!ExpectMapping(*service_node, service_path, out)) {
    return;
  }
  Mapping fields(*this, out, *service_node, service_path, {"name", "port", "path", "scheme"});
  if (const DocumentNode* name = fields.Get("name")) {
    ReadString(*name, fields.Path("name"), &service.name, out);
  } else {
    Fail(out->fields.At(fields.Path("name")), fields.Path("name"), "required", out);
  }
  if (const DocumentNode* port = fields.Get("port")) {
    if (port->kind == Kind::kScalar && port->quoted) {
      ReadString(*port, fields.Path("port"), &service.port_name, out);
    } else if (port->kind == Kind::kScalar && !port->scalar.empty() &&
               std::isdigit(static_cast<unsigned char>(port->scalar.front())) == 0 &&
               port->scalar.front() != '-' && port->scalar.front() != '+') {
      service.port_name = port->scalar;  // a port name written without quotes
    } else {
      ReadInt(*port, fields.Path("port"), &service.port, out);
    }
  }
  if (const DocumentNode* service_path_node = fields.Get("path")) {
    ReadString(*service_path_node, fields.Path("path"), &service.path, out);
  }
  if (const DocumentNode* scheme = fields.Get("scheme")) {
    ReadString(*scheme, fields.Path("scheme"), &service.scheme, out);
  }
}

void MonitorParser::ParseDns(const DocumentNode& node, const std::string& path, Parsed* out) {
  DnsSpec& dns = out->monitor.dns.emplace();
  if (!ExpectMapping(node, path, out)) {
    return;
  }
  Mapping fields(*this, out, node, path, {"name", "recordType", "server"});
  if (const DocumentNode* name = fields.Get("name")) {
    ReadString(*name, fields.Path("name"), &dns.name, out);
  } else {
    Fail(out->fields.At(fields.Path("name")), fields.Path("name"), "required", out);
  }
  if (const DocumentNode* record = fields.Get("recordType")) {
    std::string text;
    if (ReadString(*record, fields.Path("recordType"), &text, out)) {
      if (const auto parsed = ParseDnsRecordType(text)) {
        dns.record_type = *parsed;
      } else {
        Fail(record->location, fields.Path("recordType"), NotOneOf(text, Spellings(kRecordTypes)),
             out);
      }
    }
  }
  if (const DocumentNode* server = fields.Get("server")) {
    ReadString(*server, fields.Path("server"), &dns.server, out);
  }
}

void MonitorParser::ParseTls(const DocumentNode& node, const std::string& path, TlsOptions* tls,
                             Parsed* out) {
  if (!ExpectMapping(node, path, out)) {
    return;
  }
  Mapping fields(*this, out, node, path, {"insecureSkipVerify", "serverName"});
  if (const DocumentNode* insecure = fields.Get("insecureSkipVerify")) {
    ReadBool(*insecure, fields.Path("insecureSkipVerify"), &tls->insecure_skip_verify, out);
  }
  if (const DocumentNode* server_name = fields.Get("serverName")) {
    ReadString(*server_name, fields.Path("serverName"), &tls->server_name, out);
  }
}

void MonitorParser::ParseAssertion(const DocumentNode& node, const std::string& path, Parsed* out) {
  Assertion& assertion = out->monitor.assertions.emplace_back();
  if (!ExpectMapping(node, path, out)) {
    return;
  }
  Mapping fields(*this, out, node, path, {"type", "op", "name", "path", "value"});
  if (const DocumentNode* type = fields.Get("type")) {
    std::string text;
    if (ReadString(*type, fields.Path("type"), &text, out)) {
      if (const auto parsed = ParseAssertionType(text)) {
        assertion.type = *parsed;
      } else {
        Fail(type->location, fields.Path("type"), NotOneOf(text, Spellings(kAssertionTypes)), out);
      }
    }
  } else {
    Fail(out->fields.At(fields.Path("type")), fields.Path("type"), "required", out);
  }
  if (const DocumentNode* op = fields.Get("op")) {
    std::string text;
    if (ReadString(*op, fields.Path("op"), &text, out)) {
      if (const auto parsed = ParseCompareOp(text)) {
        assertion.op = *parsed;
      } else {
        Fail(op->location, fields.Path("op"), NotOneOf(text, Spellings(kCompareOps)), out);
      }
    }
  } else {
    Fail(out->fields.At(fields.Path("op")), fields.Path("op"), "required", out);
  }
  if (const DocumentNode* name = fields.Get("name")) {
    ReadString(*name, fields.Path("name"), &assertion.name, out);
  }
  if (const DocumentNode* json_path = fields.Get("path")) {
    ReadString(*json_path, fields.Path("path"), &assertion.path, out);
  }
  if (const DocumentNode* value = fields.Get("value")) {
    ReadString(*value, fields.Path("value"), &assertion.value, out);
  }
}

void MonitorParser::ParseAlerting(const DocumentNode& node, const std::string& path, Parsed* out) {
  if (!ExpectMapping(node, path, out)) {
    return;
  }
  Mapping fields(*this, out, node, path,
                 {"failureThreshold", "successThreshold", "regionQuorum", "addressQuorum",
                  "channels", "screenshot", "remindEvery", "sendOnResolved"});
  AlertingSpec& alerting = out->monitor.alerting;
  if (const DocumentNode* failure = fields.Get("failureThreshold")) {
    ReadInt(*failure, fields.Path("failureThreshold"), &alerting.failure_threshold, out);
  }
  if (const DocumentNode* success = fields.Get("successThreshold")) {
    ReadInt(*success, fields.Path("successThreshold"), &alerting.success_threshold, out);
  }
  if (const DocumentNode* quorum = fields.Get("regionQuorum")) {
    ParseQuorum(*quorum, fields.Path("regionQuorum"), &alerting.region_quorum, out);
  }
  if (const DocumentNode* quorum = fields.Get("addressQuorum")) {
    ParseQuorum(*quorum, fields.Path("addressQuorum"), &alerting.address_quorum, out);
  }
  if (const DocumentNode* channels = fields.Get("channels")) {
    ReadStringList(*channels, fields.Path("channels"), &alerting.channels, out);
  }
  if (const DocumentNode* screenshot = fields.Get("screenshot")) {
    ReadBool(*screenshot, fields.Path("screenshot"), &alerting.screenshot, out);
  }
  if (const DocumentNode* remind = fields.Get("remindEvery")) {
    Millis value{0};
    if (ReadDuration(*remind, fields.Path("remindEvery"), &value, out)) {
      alerting.remind_every = value;
    }
  }
  if (const DocumentNode* resolved = fields.Get("sendOnResolved")) {
    ReadBool(*resolved, fields.Path("sendOnResolved"), &alerting.send_on_resolved, out);
  }
}

void MonitorParser::ParseQuorum(const DocumentNode& node, const std::string& path,
                                std::optional<int>* quorum, Parsed* out) {
  if (node.kind == Kind::kScalar && node.scalar == "majority") {
    *quorum = std::nullopt;
  } else if (node.kind == Kind::kScalar && !node.quoted) {
    int value = 0;
    if (ReadInt(node, path, &value, out)) {
      *quorum = value;
    }
  } else {
    Fail(node.location, path, "expected an integer >= 1 or \"majority\", got " + node.KindName(),
         out);
  }
}

bool MonitorParser::ExpectMapping(const DocumentNode& node, const std::string& path,
                                  Parsed* parsed) {
  if (node.kind == Kind::kMapping) {
    return true;
  }
  Fail(node.location, path, "expected a mapping, got " + node.KindName(), parsed);
  return false;
}

bool MonitorParser::ReadString(const DocumentNode& node, const std::string& path, std::string* out,
                               Parsed* parsed) {
  if (node.kind != Kind::kScalar) {
    Fail(node.location, path, "expected a string, got " + node.KindName(), parsed);
    return false;
  }
  *out = node.scalar;
  return true;
}

bool MonitorParser::ReadString(const DocumentNode& node, const std::string& path,
                               CompactString* out, Parsed* parsed) {
  std::string text;
  if (!ReadString(node, path, &text, parsed)) {
    return false;
  }
  *out = std::move(text);
  return true;
}

bool MonitorParser::ReadBool(const DocumentNode& node, const std::string& path, bool* out,
                             Parsed* parsed) {
  if (node.kind == Kind::kScalar && !node.quoted) {
    const std::string& text = node.scalar;
    if (text == "true" || text == "True" || text == "TRUE") {
      *out = true;
      return true;
    }
    if (text == "false" || text == "False" || text == "FALSE") {
      *out = false;
      return true;
    }
  }
  Fail(node.location, path, "expected true or false, got " + node.KindName(), parsed);
  return false;
}

bool MonitorParser::ReadInt(const DocumentNode& node, const std::string& path, int64_t* out,
                            Parsed* parsed) {
  if (node.kind == Kind::kScalar && !node.quoted) {
    const std::string& text = node.scalar;
    const char* begin = text.data() + (!text.empty() && text[0] == '+' ? 1 : 0);
    const char* end = text.data() + text.size();
    int64_t value = 0;
    const auto [stop, error] = std::from_chars(begin, end, value);
    if (stop == end && begin != end) {
      if (error == std::errc()) {
        *out = value;
        return true;
      }
      Fail(node.location, path, "integer out of range: " + Quote(text), parsed);
      return false;
    }
  }
  Fail(node.location, path, "expected an integer, got " + node.KindName(), parsed);
  return false;
}

bool MonitorParser::ReadInt(const DocumentNode& node, const std::string& path, int* out,
                            Parsed* parsed) {
  int64_t value = 0;
  if (!ReadInt(node, path, &value, parsed)) {
    return false;
  }
  if (value < std::numeric_limits<int>::min() || value > std::numeric_limits<int>::max()) {
    Fail(node.location, path, "integer out of range: " + Quote(node.scalar), parsed);
    return false;
  }
  *out = static_cast<int>(value);
  return true;
}

bool MonitorParser::ReadDuration(const DocumentNode& node, const std::string& path, Millis* out,
                                 Parsed* parsed) {
  std::string text;
  if (!ReadString(node, path, &text, parsed)) {
    return false;
  }
  Result<Millis> duration = ParseDuration(text);
  if (!duration.ok()) {
    Fail(node.location, path, duration.error(), parsed);
    return false;
  }
  // What the CRD's pattern accepts, so that a file and the API server agree.
  if (!IsMonitorDurationSyntax(text)) {
    Fail(node.location, path,
         "invalid duration \"" + text + "\": write numbers with a unit (ms, s, m, h), at most " +
             std::to_string(kMaxMonitorDurationLength) + " characters, e.g. 500ms, 10s, 1m30s",
         parsed);
    return false;
  }
  *out = *duration;
  return true;
}

bool MonitorParser::ReadStringList(const DocumentNode& node, const std::string& path,
                                   std::vector<std::string>* out, Parsed* parsed) {
  if (node.kind != Kind::kSequence) {
    Fail(node.location, path, "expected a list of strings, got " + node.KindName(), parsed);
    return false;
  }
  bool ok = true;
  for (size_t i = 0; i < node.items.size(); ++i) {
    const std::string item_path = Index(path, i);
    parsed->fields.Record(item_path, node.items[i].location, node.items[i].location);
    // Failed items stay as "" so that indexes keep matching the document.
    std::string value;
    ok &= ReadString(node.items[i], item_path, &value, parsed);
    out->push_back(std::move(value));
  }
  return ok;
}

bool MonitorParser::ReadStringMap(const DocumentNode& node, const std::string& path,
                                  std::vector<std::pair<std::string, std::string>>* out,
                                  Parsed* parsed) {
  if (node.kind != Kind::kMapping) {
    Fail(node.location, path, "expected a mapping of names to strings, got " + node.KindName(),
         parsed);
    return false;
  }
  bool ok = true;
  std::map<std::string, int> seen;
  for (const DocumentNode::Member& member : node.members) {
    const std::string item_path = Join(path, member.key);
    if (!seen.emplace(member.key, member.key_location.line).second) {
      Fail(member.key_location, item_path, "duplicate key " + Quote(member.key), parsed);
      ok = false;
      continue;
    }
    parsed->fields.Record(item_path, member.key_location, member.value.location);
    std::string value;
    // An empty value (`X-Empty:`) is an empty string, as Kubernetes reads it.
    if (member.value.kind == Kind::kNull) {
      out->emplace_back(member.key, "");
    } else if (ReadString(member.value, item_path, &value, parsed)) {
      out->emplace_back(member.key, std::move(value));
    } else {
      ok = false;
    }
  }
  return ok;
}

}  // namespace pharos
