#include "common/monitor_loader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/document_node.h"

namespace pharos {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::vector<std::string> Errors(const std::string& text, const std::string& file = "m.yaml") {
  const LoadedMonitors loaded = LoadMonitorsFromText(text, file);
  std::vector<std::string> out;
  for (const ValidationError& error : loaded.errors) out.push_back(error.ToString());
  return out;
}

// A monitor named "web"; `spec` is indented by two spaces and starts on line 6.
std::string Doc(const std::string& spec) {
  return "apiVersion: pharos.dev/v1alpha1\n"  // 1
         "kind: Monitor\n"                    // 2
         "metadata:\n"                        // 3
         "  name: web\n"                      // 4
         "spec:\n" +                          // 5
         spec;
}

// Doc() with a valid http block, for tests about other fields (spec lines start at line 6,
// the lines given follow the http block and start at line 9).
std::string HttpDoc(const std::string& more) {
  return Doc(
      "  type: http\n"                   // 6
      "  http:\n"                        // 7
      "    url: https://127.0.0.1/\n" +  // 8
      more);
}

Monitor LoadOne(const std::string& text) {
  LoadedMonitors loaded = LoadMonitorsFromText(text, "m.yaml");
  EXPECT_THAT(loaded.errors, IsEmpty())
      << (loaded.errors.empty() ? "" : loaded.errors[0].ToString());
  EXPECT_EQ(loaded.monitors.size(), 1u);
  return loaded.monitors.empty() ? Monitor{} : loaded.monitors.front();
}

// ---- Documents and the file level ----

TEST(MonitorLoaderTest, LoadsAMinimalMonitorWithDefaults) {
  const Monitor monitor = LoadOne(HttpDoc(""));
  EXPECT_EQ(monitor.name, "web");
  EXPECT_EQ(monitor.namespace_name, "default");
  EXPECT_EQ(monitor.uid, "file:default/web");
  EXPECT_EQ(monitor.generation, 1);
  EXPECT_EQ(monitor.type, MonitorType::kHttp);
  EXPECT_EQ(monitor.frequency, Millis(60'000));
  EXPECT_EQ(monitor.timeout, Millis(10'000));
  EXPECT_EQ(monitor.degraded_after, std::nullopt);
  EXPECT_EQ(monitor.retries, 0);
  EXPECT_FALSE(monitor.suspend);
  EXPECT_TRUE(monitor.regions.empty());
  ASSERT_TRUE(monitor.http.has_value());
  EXPECT_EQ(monitor.http->url, "https://127.0.0.1/");
  EXPECT_EQ(monitor.http->method, HttpMethod::kGet);
  EXPECT_TRUE(monitor.http->follow_redirects);
  EXPECT_FALSE(monitor.tcp.has_value());
  EXPECT_FALSE(monitor.dns.has_value());
  EXPECT_EQ(monitor.alerting.failure_threshold, 2);
  EXPECT_EQ(monitor.alerting.success_threshold, 1);
  EXPECT_EQ(monitor.alerting.region_quorum, 1);
  EXPECT_FALSE(monitor.alerting.screenshot);
  EXPECT_EQ(monitor.source, (SourceLocation{"m.yaml", 1, 1}));
}

TEST(MonitorLoaderTest, ReadsEveryField) {
  const Monitor monitor = LoadOne(R"(apiVersion: pharos.dev/v1alpha1
kind: Monitor
metadata:
  name: checkout-api
  namespace: shop
  uid: 1234-abcd
  generation: 7
  labels: {team: payments, app.kubernetes.io/name: shop}
  annotations: {note: "hello"}
spec:
  type: http
  frequency: 30s
  regions: [eu-west, us-east]
  timeout: 5s
  degradedAfter: 1.5s
  retries: 3
  suspend: true
  http:
    url: https://shop.example.com/api/health?full=1
    method: POST
    headers:
      Accept: application/json
      X-Empty:
    body: '{"ping": true}'
    followRedirects: false
    tls: {insecureSkipVerify: true, serverName: shop.internal}
  assertions:
    - {type: statusCode, op: gte, value: 200}
    - {type: header, name: Content-Type, op: contains, value: json}
    - {type: body, op: not_empty}
    - {type: jsonPath, path: "$.checks[*].status", op: eq, value: up}
    - {type: latency, op: lt, value: 500ms}
    - {type: certExpiry, op: gt, value: 168h}
  alerting:
    failureThreshold: 3
    successThreshold: 2
    regionQuorum: majority
    channels: [oncall-slack, team.email]
    screenshot: true
status:
  state: Up
)");
  EXPECT_EQ(monitor.Key(), "shop/checkout-api");
  EXPECT_EQ(monitor.uid, "1234-abcd");
  EXPECT_EQ(monitor.generation, 7);
  EXPECT_EQ(monitor.labels,
            (CompactStringMap{{"team", "payments"}, {"app.kubernetes.io/name", "shop"}}));
  EXPECT_EQ(monitor.annotations.at("note"), "hello");
  EXPECT_EQ(monitor.frequency, Millis(30'000));
  EXPECT_EQ(monitor.regions, (std::vector<std::string>{"eu-west", "us-east"}));
  EXPECT_EQ(monitor.timeout, Millis(5'000));
  EXPECT_EQ(monitor.degraded_after, Millis(1'500));
  EXPECT_EQ(monitor.retries, 3);
  EXPECT_TRUE(monitor.suspend);
  ASSERT_TRUE(monitor.http.has_value());
  const HttpSpec& http = *monitor.http;
  EXPECT_EQ(http.method, HttpMethod::kPost);
  EXPECT_EQ(http.headers, (std::vector<std::pair<std::string, std::string>>{
                              {"Accept", "application/json"}, {"X-Empty", ""}}));
  EXPECT_EQ(http.body, R"({"ping": true})");
  EXPECT_FALSE(http.follow_redirects);
  EXPECT_TRUE(http.tls.insecure_skip_verify);
  EXPECT_EQ(http.tls.server_name, "shop.internal");
  ASSERT_EQ(monitor.assertions.size(), 6u);
  EXPECT_EQ(monitor.assertions[0],
            (Assertion{AssertionType::kStatusCode, CompareOp::kGte, "", "", "200"}));
  EXPECT_EQ(monitor.assertions[1],
            (Assertion{AssertionType::kHeader, CompareOp::kContains, "Content-Type", "", "json"}));
  EXPECT_EQ(monitor.assertions[2], (Assertion{AssertionType::kBody, CompareOp::kNotEmpty}));
  EXPECT_EQ(monitor.assertions[3],
            (Assertion{AssertionType::kJsonPath, CompareOp::kEq, "", "$.checks[*].status", "up"}));
  EXPECT_EQ(monitor.assertions[4].value, "500ms");
  EXPECT_EQ(monitor.assertions[5].type, AssertionType::kCertExpiry);
  EXPECT_EQ(monitor.alerting.failure_threshold, 3);
  EXPECT_EQ(monitor.alerting.success_threshold, 2);
  EXPECT_EQ(monitor.alerting.region_quorum, std::nullopt);
  EXPECT_EQ(monitor.alerting.channels, (std::vector<std::string>{"oncall-slack", "team.email"}));
  EXPECT_TRUE(monitor.alerting.screenshot);
}

TEST(MonitorLoaderTest, ReadsTcpAndDnsMonitors) {
  const Monitor tcp = LoadOne(Doc(R"(  type: tcp
  tcp:
    host: db.example.com
    port: 5432
    tls: true
    tlsOptions: {serverName: db.internal}
  assertions:
    - {type: certExpiry, op: gt, value: 72h}
)"));
  ASSERT_TRUE(tcp.tcp.has_value());
  EXPECT_EQ(tcp.tcp->host, "db.example.com");
  EXPECT_EQ(tcp.tcp->port, 5432);
  EXPECT_TRUE(tcp.tcp->tls);
  EXPECT_EQ(tcp.tcp->tls_options.server_name, "db.internal");

  const Monitor dns = LoadOne(Doc(R"(  type: dns
  dns: {name: example.com, recordType: AAAA, server: "[::1]:5353"}
  assertions:
    - {type: dnsRecord, op: matches, value: "^2001:db8:"}
    - {type: latency, op: lte, value: 200ms}
)"));
  ASSERT_TRUE(dns.dns.has_value());
  EXPECT_EQ(dns.dns->name, "example.com");
  EXPECT_EQ(dns.dns->record_type, DnsRecordType::kAAAA);
  EXPECT_EQ(dns.dns->server, "[::1]:5353");
}

TEST(MonitorLoaderTest, TimeoutDefaultsToAtMostTenSeconds) {
  EXPECT_EQ(LoadOne(HttpDoc("  frequency: 10s\n")).timeout, Millis(10'000));
  EXPECT_EQ(LoadOne(HttpDoc("  frequency: 1h\n")).timeout, Millis(10'000));
}

TEST(MonitorLoaderTest, NullValuesMeanAbsent) {
  const Monitor monitor = LoadOne(HttpDoc("  degradedAfter:\n  timeout: null\n  regions: ~\n"));
  EXPECT_EQ(monitor.degraded_after, std::nullopt);
  EXPECT_EQ(monitor.timeout, Millis(10'000));
}

TEST(MonitorLoaderTest, MultipleDocumentsAndEmptyOnes) {
  const std::string text = "---\n" + HttpDoc("") + "---\n# nothing here\n---\n" +
                           "apiVersion: pharos.dev/v1alpha1\nkind: Monitor\nmetadata: {name: two}\n"
                           "spec: {type: tcp, tcp: {host: 127.0.0.1, port: 1}}\n---\n";
  const LoadedMonitors loaded = LoadMonitorsFromText(text, "m.yaml");
  EXPECT_THAT(loaded.errors, IsEmpty());
  ASSERT_EQ(loaded.monitors.size(), 2u);
  EXPECT_EQ(loaded.monitors[0].name, "web");
  EXPECT_EQ(loaded.monitors[1].name, "two");
  EXPECT_EQ(loaded.monitors[1].source, (SourceLocation{"m.yaml", 13, 1}));
}

TEST(MonitorLoaderTest, HandsBackDocumentsOfTheOtherKindsAskedFor) {
  const std::string text =
      "apiVersion: pharos.dev/v1alpha1\nkind: AlertChannel\nmetadata: {name: hook}\n"
      "spec: {type: webhook}\n---\n"
      "apiVersion: pharos.dev/v1alpha1\nkind: Monitor\nmetadata: {name: api}\n"
      "spec: {type: http, frequency: 1m, http: {url: \"http://127.0.0.1/\"}}\n---\n"
      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n";
  const LoadedMonitors loaded =
      LoadMonitorsFromText(text, "m.yaml", {"AlertChannel", "MaintenanceWindow"});
  ASSERT_EQ(loaded.monitors.size(), 1u);
  ASSERT_EQ(loaded.others.size(), 1u);
  EXPECT_EQ(loaded.others[0].kind, "AlertChannel");
  ASSERT_NE(loaded.others[0].document, nullptr);
  EXPECT_EQ(loaded.others[0].document->location.line, 1);
  ASSERT_EQ(loaded.errors.size(), 1u);
  EXPECT_EQ(loaded.errors[0].ToString(),
            "m.yaml:12:7: kind: \"ConfigMap\" is not a kind Pharos reads here (expected Monitor, "
            "AlertChannel, MaintenanceWindow)");
}

TEST(MonitorLoaderTest, EmptyTextHasNoMonitorsAndNoErrors) {
  const LoadedMonitors loaded = LoadMonitorsFromText("# just a comment\n", "m.yaml");
  EXPECT_THAT(loaded.errors, IsEmpty());
  EXPECT_THAT(loaded.monitors, IsEmpty());
}

TEST(MonitorLoaderTest, InvalidDocumentsDoNotStopValidOnes) {
  const std::string text = HttpDoc("  retries: 99\n") + "---\n" +
                           "apiVersion: pharos.dev/v1alpha1\nkind: Monitor\nmetadata: {name: ok}\n"
                           "spec: {type: tcp, tcp: {host: 127.0.0.1, port: 1}}\n";
  const LoadedMonitors loaded = LoadMonitorsFromText(text, "m.yaml");
  ASSERT_EQ(loaded.monitors.size(), 1u);
  EXPECT_EQ(loaded.monitors[0].name, "ok");
  EXPECT_THAT(Errors(text),
              ElementsAre("m.yaml:9:12: spec.retries: must be between 0 and 10 (got 99)"));
}

TEST(MonitorLoaderTest, CollectsEveryErrorInLineOrder) {
  EXPECT_THAT(Errors(Doc(R"(  type: http
  frequency: 2m
  retries: -1
  http:
    url: ftp://127.0.0.1/
    method: get
  asertions: []
)")),
              ElementsAre("m.yaml:7:14: spec.frequency: \"2m\" is not a frequency class; use one "
                          "of 10s, 30s, 1m, 5m, 10m, 30m, 1h",
                          "m.yaml:8:12: spec.retries: must be between 0 and 10 (got -1)",
                          "m.yaml:10:10: spec.http.url: scheme must be http or https",
                          "m.yaml:11:13: spec.http.method: must be one of GET, HEAD, POST, PUT, "
                          "PATCH, DELETE, OPTIONS (got \"get\"; did you mean \"GET\"?)",
                          "m.yaml:12:3: spec.asertions: unknown field \"asertions\" (did you mean "
                          "\"assertions\"?)"));
}

TEST(MonitorLoaderTest, YamlSyntaxError) {
  EXPECT_THAT(Errors("apiVersion: pharos.dev/v1alpha1\nkind: [Monitor\nmetadata: {}\n"),
              ElementsAre("m.yaml:3:9: YAML syntax error: end of sequence flow not found"));
  EXPECT_THAT(Errors("a: b: c\n"), ElementsAre("m.yaml:1:5: YAML syntax error: illegal map value"));
}

TEST(MonitorLoaderTest, DocumentMustBeAMapping) {
  EXPECT_THAT(Errors("- a\n- b\n"),
              ElementsAre("m.yaml:1:1: expected a Monitor (a mapping with apiVersion, kind, "
                          "metadata and spec), got a list"));
  EXPECT_THAT(Errors("---\njust text\n"),
              ElementsAre("m.yaml:2:1: expected a Monitor (a mapping with apiVersion, kind, "
                          "metadata and spec), got \"just text\""));
}

TEST(MonitorLoaderTest, ComplexKeysAreRejected) {
  EXPECT_THAT(Errors("? [a]\n: 1\n"),
              ElementsAre("m.yaml:1:3: mapping keys must be plain names, not lists"));
}

TEST(MonitorLoaderTest, AbsurdNestingIsAnErrorNotACrash) {
  const std::string text =
      "apiVersion: pharos.dev/v1alpha1\nkind: Monitor\nmetadata: {name: a}\n"
      "spec: {regions: " +
      std::string(100, '[') + std::string(100, ']') + "}\n";
  EXPECT_THAT(Errors(text), ElementsAre("m.yaml:4:79: nested deeper than 64 levels"));
  // Far past yaml-cpp's own recursion limit: still our message and where it happened.
  for (const std::string& deep :
       {"spec: {regions: " + std::string(10'000, '[') + std::string(10'000, ']') + "}\n",
        "spec:\n  " +
            [] {
              std::string block;  // compact block lists: "- - - ... x"
              for (int i = 0; i < 10'000; ++i) block += "- ";
              return block;
            }() +
            "x\n"}) {
    const std::vector<std::string> errors =
        Errors("apiVersion: pharos.dev/v1alpha1\nkind: Monitor\nmetadata: {name: a}\n" + deep);
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_THAT(errors[0],
                ::testing::MatchesRegex("m\\.yaml:[0-9]+:[0-9]+: nested deeper than 64 levels"));
  }
}

TEST(MonitorLoaderTest, RecursiveAliasIsRefusedNotDropped) {
  const std::string text =
      "apiVersion: pharos.dev/v1alpha1\nkind: Monitor\n"
      "metadata: &m {name: a, annotations: *m}\n"
      "spec: {type: tcp, tcp: {host: db, port: 5432}}\n";
  EXPECT_THAT(Errors(text),
              ElementsAre("m.yaml:3:37: an alias to the node that contains it (a recursive alias) "
                          "cannot be expanded"));
  EXPECT_THAT(Errors("apiVersion: pharos.dev/v1alpha1\nkind: Monitor\nmetadata: {name: *nope}\n"),
              ::testing::Not(::testing::IsEmpty()));
}

TEST(MonitorLoaderTest, HugeValuesAreCutInErrors) {
  const std::string huge(1'000'000, '9');
  const std::vector<std::string> errors = Errors(HttpDoc("  retries: " + huge + "\n"));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_LT(errors[0].size(), 300u);
  EXPECT_THAT(errors[0], HasSubstr("spec.retries: integer out of range"));
}

TEST(MonitorLoaderTest, TextMustBeUtf8) {
  EXPECT_THAT(Errors(HttpDoc("    body: caf\xc3(\n")),
              ElementsAre("m.yaml:9:11: text is not valid UTF-8"));
  EXPECT_THAT(Errors(HttpDoc("    headers: {X-\xed\xa0\x80: a}\n")),
              ElementsAre("m.yaml:9:15: text is not valid UTF-8"));
  EXPECT_THAT(Errors(HttpDoc("    body: \"caf\xc3\xa9 \\xe9 \xf0\x9f\x94\xa6\"\n")), IsEmpty());
}

TEST(MonitorLoaderTest, StrayCommaIsAnErrorNotAHang) {
  // yaml-cpp 0.7's LoadAll loops forever on this.
  const std::string text = HttpDoc("") + "---\n,\n";
  const LoadedMonitors loaded = LoadMonitorsFromText(text, "m.yaml");
  EXPECT_EQ(loaded.monitors.size(), 1u);
  EXPECT_THAT(Errors(text), ElementsAre("m.yaml:10:1: YAML syntax error: unexpected ','"));
  EXPECT_THAT(Errors(","), ElementsAre("m.yaml:1:1: YAML syntax error: unexpected ','"));
}

TEST(MonitorLoaderTest, SyntaxErrorKeepsTheDocumentsBeforeIt) {
  const std::string text = HttpDoc("") + "---\n" + HttpDoc("  retries: [\n");
  const LoadedMonitors loaded = LoadMonitorsFromText(text, "m.yaml");
  EXPECT_EQ(loaded.monitors.size(), 1u);
  EXPECT_THAT(Errors(text),
              ElementsAre("m.yaml:19:1: YAML syntax error: end of sequence flow not found"));
}

// Documents are parsed and checked one at a time (a large file is never held as one tree): the
// errors come in the order of the text, a syntax error after the documents it follows.
TEST(MonitorLoaderTest, ErrorsComeInTheOrderOfTheText) {
  std::string second = HttpDoc("");
  second.replace(second.find("name: web"), 9, "name: api");
  const std::string text = HttpDoc("  retries: -1\n") + "---\n" + second + "---\n,\n";
  EXPECT_EQ(LoadMonitorsFromText(text, "m.yaml").monitors.size(), 1u);
  const std::vector<std::string> errors = Errors(text);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_THAT(errors[0], ::testing::StartsWith("m.yaml:9:"));
  EXPECT_EQ(errors[1], "m.yaml:20:1: YAML syntax error: unexpected ','");
}

TEST(MonitorLoaderTest, AliasesAreExpanded) {
  const Monitor monitor = LoadOne(Doc(R"(  type: http
  regions: &where [eu-west, us-east]
  http:
    url: https://127.0.0.1/
    headers: &common {Accept: text/plain}
  alerting:
    channels: *where
)"));
  EXPECT_EQ(monitor.alerting.channels, (std::vector<std::string>{"eu-west", "us-east"}));
}

TEST(MonitorLoaderTest, AliasBombIsAnErrorNotAnExplosion) {
  std::string text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 9; ++i) {
    const std::string previous = "*a" + std::to_string(i - 1);
    text += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int k = 0; k < 10; ++k) text += (k ? ", " : "") + previous;
    text += "]\n";
  }
  EXPECT_THAT(Errors(text), ElementsAre("m.yaml:5:45: document too large: more than 100000 values "
                                        "(aliases count as copies)"));
}

TEST(MonitorLoaderTest, ApiVersionAndKind) {
  EXPECT_THAT(Errors("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"
                     "spec: {type: tcp, tcp: {host: a, port: 1}}\n"),
              ElementsAre("m.yaml:1:13: apiVersion: must be pharos.dev/v1alpha1 (got \"v1\")",
                          "m.yaml:2:7: kind: must be Monitor (got \"ConfigMap\")"));
  EXPECT_THAT(Errors("metadata: {name: x}\nspec: {type: tcp, tcp: {host: a, port: 1}}\n"),
              ElementsAre("m.yaml:1:1: apiVersion: required (pharos.dev/v1alpha1)",
                          "m.yaml:1:1: kind: required (Monitor)"));
}

TEST(MonitorLoaderTest, MetadataAndSpecAreRequired) {
  EXPECT_THAT(Errors("apiVersion: pharos.dev/v1alpha1\nkind: Monitor\n"),
              ElementsAre("m.yaml:1:1: metadata: required (with at least a name)",
                          "m.yaml:1:1: spec: required"));
  EXPECT_THAT(Errors("apiVersion: pharos.dev/v1alpha1\nkind: Monitor\nmetadata:\n  namespace: a\n"
                     "spec: {type: tcp, tcp: {host: a, port: 1}}\n"),
              ElementsAre("m.yaml:3:1: metadata.name: required"));
  EXPECT_THAT(Errors("apiVersion: pharos.dev/v1alpha1\nkind: Monitor\nmetadata: {name: a}\n"
                     "spec: [http]\n"),
              ElementsAre("m.yaml:4:7: spec: expected a mapping, got a list"));
}

TEST(MonitorLoaderTest, MetadataNames) {
  EXPECT_THAT(Errors("apiVersion: pharos.dev/v1alpha1\nkind: Monitor\nmetadata:\n"
                     "  name: Checkout_API\n  namespace: my.shop\n"
                     "spec: {type: tcp, tcp: {host: a, port: 1}}\n"),
              ElementsAre("m.yaml:4:9: metadata.name: \"Checkout_API\" is not a valid name: use "
                          "at most 253 lowercase letters, digits, '-' and '.', starting and "
                          "ending with a letter or digit",
                          "m.yaml:5:14: metadata.namespace: \"my.shop\" is not a valid namespace: "
                          "use at most 63 lowercase letters, digits and '-', starting and ending "
                          "with a letter or digit"));
}

TEST(MonitorLoaderTest, UnknownFieldsAtEveryLevel) {
  EXPECT_THAT(
      Errors(R"(apiVersion: pharos.dev/v1alpha1
kind: Monitor
metdata: {name: x}
metadata:
  name: web
  resourceVersion: "12"
spec:
  type: http
  tiemout: 5s
  http:
    url: https://127.0.0.1/
    headrs: {}
    tls: {verify: false}
  assertions:
    - {type: body, op: empty, vaule: x}
  alerting: {channel: [a]}
)"),
      ElementsAre(
          "m.yaml:3:1: metdata: unknown field \"metdata\" (did you mean \"metadata\"?)",
          "m.yaml:6:3: metadata.resourceVersion: unknown field \"resourceVersion\" (known "
          "fields: name, namespace, labels, annotations, uid, generation)",
          "m.yaml:9:3: spec.tiemout: unknown field \"tiemout\" (did you mean \"timeout\"?)",
          "m.yaml:12:5: spec.http.headrs: unknown field \"headrs\" (did you mean \"headers\"?)",
          "m.yaml:13:11: spec.http.tls.verify: unknown field \"verify\" (known fields: "
          "insecureSkipVerify, serverName)",
          "m.yaml:15:31: spec.assertions[0].vaule: unknown field \"vaule\" (did you mean "
          "\"value\"?)",
          "m.yaml:16:14: spec.alerting.channel: unknown field \"channel\" (did you mean "
          "\"channels\"?)"));
}

TEST(MonitorLoaderTest, LongTextIsCutInMessages) {
  const std::string key(500, 'k');  // YAML keys are at most 1024 characters
  EXPECT_THAT(Errors(HttpDoc("  " + key + ": 1\n")),
              ElementsAre("m.yaml:9:3: spec." + key + ": unknown field \"" + std::string(77, 'k') +
                          "...\" (known fields: type, frequency, regions, timeout, degradedAfter, "
                          "retries, suspend, target, http, tcp, dns, icmp, grpc, push, assertions, "
                          "alerting)"));
}

TEST(MonitorLoaderTest, DuplicateFields) {
  EXPECT_THAT(Errors(HttpDoc("  retries: 1\n  retries: 2\n")),
              ElementsAre("m.yaml:10:3: spec.retries: duplicate field \"retries\" (first written "
                          "at line 9)"));
  EXPECT_THAT(Errors(HttpDoc("  regions: [a]\n  alerting: {channels: [a], channels: [b]}\n")),
              ElementsAre("m.yaml:10:29: spec.alerting.channels: duplicate field \"channels\" "
                          "(first written at line 10)"));
}

TEST(MonitorLoaderTest, WrongTypes) {
  EXPECT_THAT(Errors(Doc(R"(  type: tcp
  regions: eu-west
  suspend: yes
  retries: "2"
  tcp:
    host: {name: a}
    port: 80.5
    tls: "true"
  alerting: {channels: [[a]], regionQuorum: "2"}
)")),
              ElementsAre("m.yaml:7:12: spec.regions: expected a list of strings, got \"eu-west\"",
                          "m.yaml:8:12: spec.suspend: expected true or false, got \"yes\"",
                          "m.yaml:9:12: spec.retries: expected an integer, got the string \"2\"",
                          "m.yaml:11:11: spec.tcp.host: expected a string, got a mapping",
                          "m.yaml:12:11: spec.tcp.port: expected an integer, got \"80.5\"",
                          "m.yaml:13:10: spec.tcp.tls: expected true or false, got the string "
                          "\"true\"",
                          "m.yaml:14:25: spec.alerting.channels[0]: expected a string, got a list",
                          "m.yaml:14:45: spec.alerting.regionQuorum: expected an integer >= 1 or "
                          "\"majority\", got the string \"2\""));
  EXPECT_THAT(Errors(HttpDoc("  retries: 99999999999\n  assertions: {type: body}\n")),
              ElementsAre("m.yaml:9:12: spec.retries: integer out of range: \"99999999999\"",
                          "m.yaml:10:15: spec.assertions: expected a list of assertions, got a "
                          "mapping"));
}

TEST(MonitorLoaderTest, SpecType) {
  EXPECT_THAT(Errors(Doc("  frequency: 1m\n")),
              ElementsAre("m.yaml:5:1: spec.type: required (http, tcp, dns, icmp, grpc or push)"));
  EXPECT_THAT(Errors(Doc("  type: htp\n  http: {url: https://a/}\n")),
              ElementsAre("m.yaml:6:9: spec.type: must be one of http, tcp, dns, icmp, grpc, push "
                          "(got \"htp\"; did you mean \"http\"?)"));
  EXPECT_THAT(Errors(Doc("  type: smtpd\n")),
              ElementsAre("m.yaml:6:9: spec.type: must be one of http, tcp, dns, icmp, grpc, push "
                          "(got \"smtpd\")"));
}

TEST(MonitorLoaderTest, TypeBlocks) {
  EXPECT_THAT(Errors(Doc("  type: http\n")),
              ElementsAre("m.yaml:5:1: spec.http: required for type http"));
  EXPECT_THAT(Errors(Doc("  type: http\n  http:\n")),
              ElementsAre("m.yaml:7:3: spec.http: required for type http"));
  EXPECT_THAT(Errors(HttpDoc("  tcp: {host: a, port: 1}\n  dns: {name: a}\n")),
              ElementsAre("m.yaml:9:3: spec.tcp: not allowed for type http (only spec.http)",
                          "m.yaml:10:3: spec.dns: not allowed for type http (only spec.http)"));
  EXPECT_THAT(Errors(Doc("  type: dns\n  dns: example.com\n")),
              ElementsAre("m.yaml:7:8: spec.dns: expected a mapping, got \"example.com\""));
}

TEST(MonitorLoaderTest, Frequency) {
  EXPECT_THAT(Errors(HttpDoc("  frequency: 60s\n")),
              ElementsAre("m.yaml:9:14: spec.frequency: \"60s\" is not a frequency class; use one "
                          "of 10s, 30s, 1m, 5m, 10m, 30m, 1h"));
  for (const char* frequency : {"10s", "30s", "1m", "5m", "10m", "30m", "1h"}) {
    EXPECT_THAT(Errors(HttpDoc(std::string("  frequency: ") + frequency + "\n")), IsEmpty());
  }
}

TEST(MonitorLoaderTest, Durations) {
  EXPECT_THAT(Errors(HttpDoc("  timeout: 5x\n  degradedAfter: -1s\n")),
              ElementsAre("m.yaml:9:12: spec.timeout: invalid duration \"5x\": unknown unit \"x\" "
                          "(use ms, s, m or h)",
                          "m.yaml:10:18: spec.degradedAfter: invalid duration \"-1s\": negative "
                          "durations are not allowed"));
  EXPECT_THAT(Errors(HttpDoc("  timeout: \"\"\n")),
              ElementsAre("m.yaml:9:12: spec.timeout: invalid duration \"\": empty (e.g. 500ms, "
                          "10s, 1m30s)"));
  EXPECT_THAT(Errors(HttpDoc("  timeout: 9999999999999999h\n")),
              ElementsAre("m.yaml:9:12: spec.timeout: invalid duration \"9999999999999999h\": too "
                          "large"));
  // The CRD's pattern: digits before any '.', a unit on every number, at most 32 characters.
  for (const char* text : {"0", ".5s", "10s0ms0ms0ms0ms0ms0ms0ms0ms0ms0ms"}) {
    const auto errors = Errors(HttpDoc(std::string("  timeout: \"") + text + "\"\n"));
    ASSERT_EQ(errors.size(), 1u) << text;
    EXPECT_THAT(errors[0],
                ::testing::HasSubstr("write numbers with a unit (ms, s, m, h), at most 32"))
        << text;
  }
  EXPECT_THAT(
      Errors(HttpDoc("  timeout: 0.5s\n  degradedAfter: 1s0ms0ms0ms0ms0ms0ms0ms0ms0ms0ms\n")),
      ElementsAre("m.yaml:10:18: spec.degradedAfter: must be less than timeout (1s >= "
                  "500ms)"));
}

TEST(MonitorLoaderTest, TimingRules) {
  EXPECT_THAT(Errors(HttpDoc("  frequency: 30s\n  timeout: 45s\n")),
              ElementsAre("m.yaml:10:12: spec.timeout: must not exceed frequency (45s > 30s)"));
  EXPECT_THAT(Errors(HttpDoc("  timeout: 0s\n")),
              ElementsAre("m.yaml:9:12: spec.timeout: must be greater than 0"));
  EXPECT_THAT(
      Errors(HttpDoc("  timeout: 2s\n  degradedAfter: 2s\n")),
      ElementsAre("m.yaml:10:18: spec.degradedAfter: must be less than timeout (2s >= 2s)"));
  EXPECT_THAT(Errors(HttpDoc("  degradedAfter: 0ms\n")),
              ElementsAre("m.yaml:9:18: spec.degradedAfter: must be greater than 0"));
  EXPECT_THAT(Errors(HttpDoc("  degradedAfter: 9s\n  frequency: 10s\n  timeout: 10s\n")),
              IsEmpty());
}

TEST(MonitorLoaderTest, Retries) {
  EXPECT_THAT(Errors(HttpDoc("  retries: 11\n")),
              ElementsAre("m.yaml:9:12: spec.retries: must be between 0 and 10 (got 11)"));
  EXPECT_THAT(Errors(HttpDoc("  retries: 10\n")), IsEmpty());
}

TEST(MonitorLoaderTest, Regions) {
  EXPECT_THAT(Errors(HttpDoc("  regions: [eu-west, EU_West, eu-west]\n")),
              ElementsAre("m.yaml:9:22: spec.regions[1]: \"EU_West\" is not a valid region name: "
                          "use at most 63 lowercase letters, digits and '-', starting and ending "
                          "with a letter or digit",
                          "m.yaml:9:31: spec.regions[2]: duplicate region \"eu-west\""));
  std::string many = "  regions: [";
  for (int i = 0; i < 33; ++i) many += (i ? ", r" : "r") + std::to_string(i);
  EXPECT_THAT(Errors(HttpDoc(many + "]\n")),
              ElementsAre("m.yaml:9:12: spec.regions: at most 32 regions (got 33)"));
}

TEST(MonitorLoaderTest, HttpUrl) {
  const auto url_error = [](const std::string& url) {
    const std::vector<std::string> errors =
        Errors(Doc("  type: http\n  http:\n    url: \"" + url + "\"\n"));
    return errors.size() == 1 ? errors[0] : "(" + std::to_string(errors.size()) + " errors)";
  };
  EXPECT_EQ(url_error("ftp://127.0.0.1/x"),
            "m.yaml:8:10: spec.http.url: scheme must be http or https");
  EXPECT_EQ(url_error("example.com/health"),
            "m.yaml:8:10: spec.http.url: must be an absolute URL such as "
            "https://example.com/health");
  EXPECT_EQ(url_error("http:///path"),
            "m.yaml:8:10: spec.http.url: must have a host, e.g. https://example.com/health");
  EXPECT_EQ(url_error("http://:80/"),
            "m.yaml:8:10: spec.http.url: must have a host, e.g. https://example.com/health");
  EXPECT_EQ(url_error("http://exa mple.com/"),
            "m.yaml:8:10: spec.http.url: must not contain spaces or control characters "
            "(percent-encode them)");
  EXPECT_EQ(url_error("http://exa<mple.com/"),
            "m.yaml:8:10: spec.http.url: is not a valid URL: Bad hostname");
  EXPECT_EQ(url_error("http://127.0.0.1:99999/"),
            "m.yaml:8:10: spec.http.url: is not a valid URL: Port number was not a decimal "
            "number between 0 and 65535");
  EXPECT_EQ(url_error("https://" + std::string(2040, 'a') + ".com/"),
            "m.yaml:8:10: spec.http.url: longer than 2048 characters");
  EXPECT_EQ(url_error("HTTPS://Example.COM:8443/a?b=c#d"), "(0 errors)");
  EXPECT_EQ(url_error("http://[::1]:8080/"), "(0 errors)");
  EXPECT_THAT(Errors(Doc("  type: http\n  http:\n    method: GET\n")),
              ElementsAre("m.yaml:7:3: spec.http.url: required (e.g. https://example.com/health), "
                          "or name a Service in spec.target.service"));
}

TEST(MonitorLoaderTest, HttpMethod) {
  EXPECT_THAT(Errors(HttpDoc("    method: FETCH\n")),
              ElementsAre("m.yaml:9:13: spec.http.method: must be one of GET, HEAD, POST, PUT, "
                          "PATCH, DELETE, OPTIONS (got \"FETCH\"; did you mean \"PATCH\"?)"));
}

TEST(MonitorLoaderTest, HttpHeaders) {
  EXPECT_THAT(Errors(HttpDoc(R"(    headers:
      Bad Name: x
      X-Line: "a\r\nInjected: 1"
      accept: json
      Accept: xml
      X-Big: )" + std::string(8193, 'v') +
                             "\n")),
              ElementsAre("m.yaml:10:7: spec.http.headers[\"Bad Name\"]: \"Bad Name\" is not a "
                          "valid header name: use at most 256 letters, digits and "
                          "!#$%&'*+-.^_`|~",
                          "m.yaml:11:15: spec.http.headers.X-Line: header values must not contain "
                          "CR, LF or NUL characters",
                          "m.yaml:13:7: spec.http.headers.Accept: duplicate header \"Accept\" "
                          "(header names are case-insensitive)",
                          "m.yaml:14:14: spec.http.headers.X-Big: header value longer than 8192 "
                          "characters (8193)"));
  // Limits count characters, as the CRD's maxLength does: 8192 two-byte characters fit.
  std::string wide;
  for (int i = 0; i < 8192; ++i) wide += "\u00e9";
  EXPECT_THAT(Errors(HttpDoc("    headers: {X-Wide: " + wide + "}\n")), IsEmpty());
  std::string many = "    headers:\n";
  for (int i = 0; i < 21; ++i) many += "      X-H" + std::to_string(i) + ": v\n";
  EXPECT_THAT(Errors(HttpDoc(many)),
              ElementsAre("m.yaml:10:7: spec.http.headers: at most 20 headers (got 21)"));
  EXPECT_THAT(Errors(HttpDoc("    headers: {a: 1, a: 2}\n")),
              ElementsAre("m.yaml:9:21: spec.http.headers.a: duplicate key \"a\""));
}

TEST(MonitorLoaderTest, HttpBodyAndTls) {
  EXPECT_THAT(Errors(HttpDoc("    body: " + std::string(65537, 'b') + "\n")),
              ElementsAre("m.yaml:9:11: spec.http.body: longer than 65536 characters (65537)"));
  EXPECT_THAT(Errors(HttpDoc("    body: " + std::string(65536, 'b') + "\n")), IsEmpty());
  EXPECT_THAT(Errors(HttpDoc("    tls: {serverName: \"bad name\"}\n")),
              ElementsAre("m.yaml:9:23: spec.http.tls.serverName: \"bad name\" is not a valid "
                          "host name"));
}

TEST(MonitorLoaderTest, Tcp) {
  EXPECT_THAT(Errors(Doc("  type: tcp\n  tcp:\n    host: \"\"\n    port: 0\n")),
              ElementsAre("m.yaml:8:11: spec.tcp.host: must not be empty",
                          "m.yaml:9:11: spec.tcp.port: must be between 1 and 65535 (got 0)"));
  EXPECT_THAT(Errors(Doc("  type: tcp\n  tcp:\n    host: \"[::1]\"\n    port: 65536\n")),
              ElementsAre("m.yaml:8:11: spec.tcp.host: write IPv6 addresses without brackets "
                          "(port goes in spec.tcp.port)",
                          "m.yaml:9:11: spec.tcp.port: must be between 1 and 65535 (got 65536)"));
  EXPECT_THAT(Errors(Doc("  type: tcp\n  tcp:\n    host: db/primary\n")),
              ElementsAre("m.yaml:7:3: spec.tcp.port: required (1-65535)",
                          "m.yaml:8:11: spec.tcp.host: \"db/primary\" is not a valid host name or "
                          "IP address"));
  EXPECT_THAT(Errors(Doc("  type: tcp\n  tcp: {host: \"::1\", port: 22}\n")), IsEmpty());
}

TEST(MonitorLoaderTest, Dns) {
  EXPECT_THAT(Errors(Doc("  type: dns\n  dns:\n    name: exa mple.com\n    recordType: SRV\n"
                         "    server: 127.0.0.1:99999\n")),
              ElementsAre("m.yaml:8:11: spec.dns.name: \"exa mple.com\" is not a valid domain name",
                          "m.yaml:9:17: spec.dns.recordType: must be one of A, AAAA, CNAME, MX, "
                          "TXT, NS (got \"SRV\")",
                          "m.yaml:10:13: spec.dns.server: port must be a number from 1 to 65535 "
                          "(got \"99999\")"));
  EXPECT_THAT(Errors(Doc("  type: dns\n  dns:\n    name: example.com\n    server: \"::1\"\n")),
              ElementsAre("m.yaml:9:13: spec.dns.server: IPv6 addresses need brackets, e.g. "
                          "[::1]:53"));
  EXPECT_THAT(Errors(Doc("  type: dns\n  dns: {recordType: MX}\n")),
              ElementsAre("m.yaml:7:3: spec.dns.name: required"));
}

TEST(MonitorLoaderTest, AssertionTypeMustSuitTheMonitor) {
  EXPECT_THAT(Errors(Doc(R"(  type: tcp
  tcp: {host: a, port: 1}
  assertions:
    - {type: statusCode, op: eq, value: "200"}
    - {type: header, name: a, op: eq, value: b}
    - {type: body, op: empty}
    - {type: jsonPath, path: $.a, op: empty}
    - {type: dnsRecord, op: empty}
    - {type: certExpiry, op: gt, value: 1h}
    - {type: latency, op: lt, value: 1s}
)")),
              ElementsAre("m.yaml:9:14: spec.assertions[0].type: statusCode assertions apply to "
                          "http monitors only",
                          "m.yaml:10:14: spec.assertions[1].type: header assertions apply to http "
                          "monitors only",
                          "m.yaml:11:14: spec.assertions[2].type: body assertions apply to http "
                          "monitors only",
                          "m.yaml:12:14: spec.assertions[3].type: jsonPath assertions apply to "
                          "http monitors only",
                          "m.yaml:13:14: spec.assertions[4].type: dnsRecord assertions apply to "
                          "dns monitors only",
                          "m.yaml:14:14: spec.assertions[5].type: certExpiry on a tcp monitor "
                          "needs spec.tcp.tls: true or a startTls step"));
  EXPECT_THAT(Errors(Doc("  type: http\n  http: {url: \"http://a/\"}\n  assertions:\n"
                         "    - {type: certExpiry, op: gt, value: 1h}\n")),
              ElementsAre("m.yaml:9:14: spec.assertions[0].type: certExpiry needs an https:// URL "
                          "in spec.http.url"));
  EXPECT_THAT(Errors(Doc("  type: dns\n  dns: {name: a}\n  assertions:\n"
                         "    - {type: certExpiry, op: gt, value: 1h}\n")),
              ElementsAre("m.yaml:9:14: spec.assertions[0].type: certExpiry assertions apply to "
                          "http monitors with an https:// URL, tcp monitors with TLS and grpc "
                          "monitors with tls: true"));
}

TEST(MonitorLoaderTest, AssertionTypeAndOpSpelling) {
  EXPECT_THAT(Errors(HttpDoc("  assertions:\n    - {type: status, op: ne, value: \"200\"}\n")),
              ElementsAre("m.yaml:10:14: spec.assertions[0].type: must be one of statusCode, "
                          "header, body, jsonPath, latency, certExpiry, dnsRecord, packetLoss "
                          "(got \"status\")",
                          "m.yaml:10:26: spec.assertions[0].op: must be one of eq, not_eq, gt, "
                          "gte, lt, lte, contains, not_contains, matches, empty, not_empty (got "
                          "\"ne\")"));
  EXPECT_THAT(Errors(HttpDoc("  assertions:\n    - {value: x}\n")),
              ElementsAre("m.yaml:10:7: spec.assertions[0].type: required",
                          "m.yaml:10:7: spec.assertions[0].op: required"));
  EXPECT_THAT(Errors(HttpDoc("  assertions:\n    - body\n")),
              ElementsAre("m.yaml:10:7: spec.assertions[0]: expected a mapping, got \"body\""));
}

TEST(MonitorLoaderTest, AssertionOpMustSuitTheType) {
  EXPECT_THAT(Errors(HttpDoc(R"(  assertions:
    - {type: statusCode, op: contains, value: "20"}
    - {type: latency, op: matches, value: 1s}
    - {type: certExpiry, op: not_empty}
)")),
              ElementsAre("m.yaml:10:30: spec.assertions[0].op: statusCode assertions support eq, "
                          "not_eq, gt, gte, lt, lte (got contains)",
                          "m.yaml:10:47: spec.assertions[0].value: \"20\" is not an HTTP status "
                          "code (100-599)",
                          "m.yaml:11:27: spec.assertions[1].op: latency assertions support eq, "
                          "not_eq, gt, gte, lt, lte (got matches)",
                          "m.yaml:12:30: spec.assertions[2].op: certExpiry assertions support eq, "
                          "not_eq, gt, gte, lt, lte (got not_empty)"));
  // Text assertions take every op.
  std::string all_ops = "  assertions:\n";
  for (const char* op :
       {"eq", "not_eq", "gt", "gte", "lt", "lte", "contains", "not_contains", "matches"}) {
    all_ops += std::string("    - {type: body, op: ") + op + ", value: \"1\"}\n";
  }
  all_ops += "    - {type: body, op: empty}\n    - {type: body, op: not_empty}\n";
  EXPECT_THAT(Errors(HttpDoc(all_ops)), IsEmpty());
}

TEST(MonitorLoaderTest, AssertionValues) {
  EXPECT_THAT(Errors(HttpDoc(R"(  assertions:
    - {type: statusCode, op: eq}
    - {type: body, op: empty, value: x}
    - {type: statusCode, op: eq, value: "2xx"}
    - {type: statusCode, op: eq, value: 600}
    - {type: latency, op: lt, value: fast}
    - {type: body, op: gt, value: "2026-01-01"}
    - {type: body, op: matches, value: "a(b"}
    - {type: body, op: eq, value: ""}
)")),
              ElementsAre("m.yaml:10:7: spec.assertions[0].value: required for op eq",
                          "m.yaml:11:31: spec.assertions[1].value: not used with op empty",
                          "m.yaml:12:41: spec.assertions[2].value: \"2xx\" is not an HTTP status "
                          "code (100-599)",
                          "m.yaml:13:41: spec.assertions[3].value: \"600\" is not an HTTP status "
                          "code (100-599)",
                          "m.yaml:14:38: spec.assertions[4].value: invalid duration \"fast\": "
                          "expected a number at \"fast\"",
                          "m.yaml:15:35: spec.assertions[5].value: gt, gte, lt and lte compare "
                          "numbers: \"2026-01-01\" is not a number",
                          "m.yaml:16:40: spec.assertions[6].value: invalid regular expression: "
                          "missing closing parenthesis at offset 3"));
}

TEST(MonitorLoaderTest, AssertionLimitsAreTheCrds) {
  EXPECT_THAT(
      Errors(HttpDoc("  assertions:\n    - {type: header, name: " + std::string(257, 'x') +
                     ", op: not_empty}\n    - {type: jsonPath, path: $." + std::string(511, 'a') +
                     ", op: not_empty}\n    - {type: body, op: "
                     "contains, value: " +
                     std::string(4097, 'v') + "}\n")),
      ElementsAre(::testing::HasSubstr("spec.assertions[0].name: \"xxx"),
                  ::testing::HasSubstr("spec.assertions[1].path: longer than 512 characters"),
                  ::testing::HasSubstr("spec.assertions[2].value: longer than 4096 "
                                       "characters (4097)")));
  EXPECT_THAT(
      Errors(HttpDoc("  assertions:\n    - {type: header, name: " + std::string(256, 'x') +
                     ", op: not_empty}\n    - {type: jsonPath, path: $." + std::string(510, 'a') +
                     ", op: not_empty}\n    - {type: body, op: "
                     "contains, value: " +
                     std::string(4096, 'v') +
                     "}\n    - {type: "
                     "body, op: lte, value: \"-1.5e3\"}\n    - {type: latency, op: eq, "
                     "value: 0s}\n")),
      IsEmpty());
  EXPECT_THAT(Errors(HttpDoc("  assertions:\n    - {type: latency, op: lt, value: .5s}\n")),
              ElementsAre(::testing::HasSubstr("\".5s\" is not a duration")));
}

TEST(MonitorLoaderTest, HeaderAndJsonPathAssertions) {
  EXPECT_THAT(Errors(HttpDoc(R"(  assertions:
    - {type: header, op: eq, value: x}
    - {type: header, name: "Content Type", op: eq, value: x}
    - {type: body, name: x, op: empty}
    - {type: jsonPath, op: eq, value: x}
    - {type: jsonPath, path: "checks.db", op: eq, value: x}
    - {type: body, path: $.a, op: empty}
)")),
              ElementsAre("m.yaml:10:7: spec.assertions[0].name: required for header assertions "
                          "(the header to check)",
                          "m.yaml:11:28: spec.assertions[1].name: \"Content Type\" is not a valid "
                          "header name: use at most 256 letters, digits and !#$%&'*+-.^_`|~",
                          "m.yaml:12:20: spec.assertions[2].name: only used by header assertions",
                          "m.yaml:13:7: spec.assertions[3].path: required for jsonPath assertions "
                          "(e.g. $.status)",
                          "m.yaml:14:30: spec.assertions[4].path: invalid JSONPath: JSONPath must "
                          "start with '$' at character 1",
                          "m.yaml:15:20: spec.assertions[5].path: only used by jsonPath "
                          "assertions"));
}

TEST(MonitorLoaderTest, TooManyAssertions) {
  std::string many = "  assertions:\n";
  for (int i = 0; i < 51; ++i) many += "    - {type: body, op: not_empty}\n";
  EXPECT_THAT(Errors(HttpDoc(many)),
              ElementsAre("m.yaml:10:5: spec.assertions: at most 50 assertions (got 51)"));
}

TEST(MonitorLoaderTest, Alerting) {
  EXPECT_THAT(Errors(HttpDoc(R"(  regions: [a, b]
  alerting:
    failureThreshold: 0
    successThreshold: 101
    regionQuorum: 3
    channels: [oncall, Oncall_Slack, oncall]
)")),
              ElementsAre("m.yaml:11:23: spec.alerting.failureThreshold: must be between 1 and "
                          "100 (got 0)",
                          "m.yaml:12:23: spec.alerting.successThreshold: must be between 1 and "
                          "100 (got 101)",
                          "m.yaml:13:19: spec.alerting.regionQuorum: 3 is more than the 2 regions "
                          "listed in spec.regions",
                          "m.yaml:14:24: spec.alerting.channels[1]: \"Oncall_Slack\" is not a "
                          "valid AlertChannel name: use at most 253 lowercase letters, digits, "
                          "'-' and '.', starting and ending with a letter or digit",
                          "m.yaml:14:38: spec.alerting.channels[2]: duplicate channel "
                          "\"oncall\""));
  EXPECT_THAT(Errors(HttpDoc("  alerting: {regionQuorum: 0}\n")),
              ElementsAre("m.yaml:9:28: spec.alerting.regionQuorum: must be at least 1, or "
                          "\"majority\" (got 0)"));
  EXPECT_THAT(Errors(HttpDoc("  alerting: {regionQuorum: most}\n")),
              ElementsAre("m.yaml:9:28: spec.alerting.regionQuorum: expected an integer, got "
                          "\"most\""));
  // Without listed regions the quorum is checked against the regions that exist at run time.
  EXPECT_THAT(Errors(HttpDoc("  alerting: {regionQuorum: 5}\n")), IsEmpty());
  EXPECT_THAT(
      Errors(Doc("  type: tcp\n  tcp: {host: a, port: 1}\n  alerting: {screenshot: true}\n")),
      ElementsAre("m.yaml:8:26: spec.alerting.screenshot: only available for http "
                  "monitors"));
}

TEST(MonitorLoaderTest, DuplicateMonitorsAcrossDocuments) {
  const std::string other =
      "apiVersion: pharos.dev/v1alpha1\nkind: Monitor\nmetadata:\n"
      "  name: web\n  namespace: default\nspec: {type: tcp, tcp: {host: a, "
      "port: 1}}\n";
  const LoadedMonitors loaded = LoadMonitorsFromText(HttpDoc("") + "---\n" + other, "m.yaml");
  EXPECT_EQ(loaded.monitors.size(), 1u);
  EXPECT_THAT(Errors(HttpDoc("") + "---\n" + other),
              ElementsAre("m.yaml:13:9: metadata.name: duplicate monitor default/web (first "
                          "defined at m.yaml:4:9)"));
  // Same name, other namespace: fine.
  EXPECT_THAT(Errors(HttpDoc("") + "---\n" +
                     "apiVersion: pharos.dev/v1alpha1\nkind: Monitor\nmetadata: {name: web, "
                     "namespace: shop}\nspec: {type: tcp, tcp: {host: a, port: 1}}\n"),
              IsEmpty());
}

TEST(MonitorLoaderTest, ReadsJsonText) {
  const std::string json = R"({
  "apiVersion": "pharos.dev/v1alpha1",
  "kind": "Monitor",
  "metadata": {"name": "api", "namespace": "shop"},
  "spec": {
    "type": "tcp",
    "tcp": {"host": "127.0.0.1", "port": 5432, "tls": true},
    "alerting": {"regionQuorum": 2, "failureThreshold": "3"},
    "retries": 1.5
  }
})";
  EXPECT_THAT(Errors(json, "m.json"),
              ElementsAre("m.json:8:57: spec.alerting.failureThreshold: expected an integer, got "
                          "the string \"3\"",
                          "m.json:9:16: spec.retries: expected an integer, got \"1.5\""));
}

// ---- Files and directories ----

class MonitorFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() /
            ("pharos-loader-test-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_);
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  std::string Write(const std::string& relative, const std::string& text) {
    const std::filesystem::path path = root_ / relative;
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path) << text;
    return path.string();
  }

  static std::string Named(const std::string& name, const std::string& type_block) {
    return "apiVersion: pharos.dev/v1alpha1\nkind: Monitor\nmetadata:\n  name: " + name +
           "\nspec:\n" + type_block;
  }
  static std::string Tcp(const std::string& name) {
    return Named(name, "  type: tcp\n  tcp: {host: 127.0.0.1, port: 9}\n");
  }

  std::filesystem::path root_;
};

TEST_F(MonitorFilesTest, LoadsDirectoriesRecursively) {
  Write("a.yaml", Tcp("one") + "---\n" + Tcp("two"));
  Write("sub/deeper/b.yml", Tcp("three"));
  Write("sub/c.json",
        R"({"apiVersion": "pharos.dev/v1alpha1", "kind": "Monitor", "metadata": {"name": "four"},
            "spec": {"type": "dns", "dns": {"name": "example.com"}}})");
  Write("notes.txt", "not a monitor");
  Write("README.md", "# not a monitor");
  // Mounted ConfigMaps keep a hidden copy of every file.
  Write("..2026_11_25/a.yaml", Tcp("one"));
  Write(".hidden.yaml", Tcp("one"));
  const LoadedMonitors loaded = LoadMonitorFiles({root_.string()});
  EXPECT_THAT(loaded.errors, IsEmpty())
      << (loaded.errors.empty() ? "" : loaded.errors[0].ToString());
  EXPECT_EQ(loaded.files, 3);
  std::vector<std::string> names;
  for (const Monitor& monitor : loaded.monitors) names.push_back(monitor.name);
  EXPECT_THAT(names, ElementsAre("one", "two", "four", "three"));
  EXPECT_EQ(loaded.monitors[3].source->file, (root_ / "sub/deeper/b.yml").string());
}

TEST_F(MonitorFilesTest, ExplicitFilesAreReadWhateverTheirExtension) {
  const std::string path = Write("monitors.txt", Tcp("one"));
  const LoadedMonitors loaded = LoadMonitorFiles({path});
  EXPECT_THAT(loaded.errors, IsEmpty());
  EXPECT_EQ(loaded.monitors.size(), 1u);
}

TEST_F(MonitorFilesTest, MissingPathIsAnError) {
  const std::string missing = (root_ / "nope.yaml").string();
  const LoadedMonitors loaded = LoadMonitorFiles({missing, Write("a.yaml", Tcp("one"))});
  ASSERT_EQ(loaded.errors.size(), 1u);
  EXPECT_EQ(loaded.errors[0].ToString(), missing + ": no such file or directory");
  EXPECT_EQ(loaded.monitors.size(), 1u);
  EXPECT_EQ(loaded.files, 1);
}

TEST_F(MonitorFilesTest, DuplicatesAcrossFilesNameTheFirst) {
  const std::string first = Write("a.yaml", Tcp("one"));
  const std::string second = Write("b.yaml", "# the same monitor again\n" + Tcp("one"));
  const LoadedMonitors loaded = LoadMonitorFiles({first, second});
  ASSERT_EQ(loaded.errors.size(), 1u);
  EXPECT_EQ(loaded.errors[0].ToString(), second +
                                             ":5:9: metadata.name: duplicate monitor "
                                             "default/one (first defined at " +
                                             first + ":4:9)");
  ASSERT_EQ(loaded.monitors.size(), 1u);
  EXPECT_EQ(loaded.monitors[0].source->file, first);
}

TEST_F(MonitorFilesTest, SyntaxErrorInOneFileDoesNotStopOthers) {
  const std::string bad = Write("a.yaml", "apiVersion: [\n");
  const LoadedMonitors loaded = LoadMonitorFiles({root_.string()});
  Write("b.yaml", Tcp("two"));
  const LoadedMonitors again = LoadMonitorFiles({root_.string()});
  ASSERT_EQ(again.errors.size(), 1u);
  EXPECT_EQ(again.errors[0].location.file, bad);
  EXPECT_EQ(again.errors[0].location.line, 2);
  EXPECT_EQ(again.monitors.size(), 1u);
  EXPECT_EQ(loaded.files, 1);
}

TEST_F(MonitorFilesTest, ShippedExamplesValidate) {
  const LoadedMonitors loaded =
      LoadMonitorFiles({std::string(PHAROS_SOURCE_DIR) + "/examples/monitors.yaml"});
  EXPECT_THAT(loaded.errors, IsEmpty())
      << (loaded.errors.empty() ? "" : loaded.errors[0].ToString());
  EXPECT_GE(loaded.monitors.size(), 4u);
}

// docs/monitor-reference.md quotes this output; keep both in step.
TEST_F(MonitorFilesTest, ShippedInvalidExampleGivesTheDocumentedErrors) {
  std::ifstream in(std::string(PHAROS_SOURCE_DIR) + "/examples/invalid.yaml");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_FALSE(text.empty());
  const LoadedMonitors loaded = LoadMonitorsFromText(text, "examples/invalid.yaml");
  EXPECT_THAT(loaded.monitors, IsEmpty());
  std::vector<std::string> messages;
  for (const ValidationError& error : loaded.errors) messages.push_back(error.ToString());
  const std::vector<std::string> expected = {
      ("examples/invalid.yaml:8:9: metadata.name: \"Checkout_API\" is not a valid name: use at "
       "most 253 lowercase letters, digits, '-' and '.', starting and ending with a letter or "
       "digit"),
      ("examples/invalid.yaml:11:14: spec.frequency: \"2m\" is not a frequency class; use one of "
       "10s, 30s, 1m, 5m, 10m, 30m, 1h"),
      "examples/invalid.yaml:14:10: spec.http.url: scheme must be http or https",
      ("examples/invalid.yaml:15:13: spec.http.method: must be one of GET, HEAD, POST, PUT, PATCH, "
       "DELETE, OPTIONS (got \"FETCH\"; did you mean \"PATCH\"?)"),
      ("examples/invalid.yaml:16:3: spec.asertions: unknown field \"asertions\" (did you mean "
       "\"assertions\"?)"),
      "examples/invalid.yaml:26:18: spec.degradedAfter: must be less than timeout (5s >= 5s)",
      "examples/invalid.yaml:29:11: spec.tcp.port: must be between 1 and 65535 (got 70000)",
      ("examples/invalid.yaml:31:14: spec.assertions[0].type: body assertions apply to http "
       "monitors only"),
      ("examples/invalid.yaml:32:14: spec.assertions[1].type: certExpiry on a tcp monitor needs "
       "spec.tcp.tls: true or a startTls step"),
      ("examples/invalid.yaml:32:41: spec.assertions[1].value: invalid duration \"2w\": unknown "
       "unit \"w\" (use ms, s, m or h)"),
      "examples/invalid.yaml:34:17: spec.alerting.screenshot: only available for http monitors",
      "examples/invalid.yaml:44:3: spec.dns: not allowed for type http (only spec.http)",
      ("examples/invalid.yaml:47:40: spec.assertions[0].value: invalid regular expression: missing "
       "closing parenthesis at offset 14"),
      ("examples/invalid.yaml:48:30: spec.assertions[1].path: invalid JSONPath: unterminated '[' "
       "at character 9"),
      ("examples/invalid.yaml:49:7: spec.assertions[2].name: required for header assertions (the "
       "header to check)"),
  };
  EXPECT_EQ(messages, expected);
}

TEST_F(MonitorFilesTest, EveryTruncationOfTheExamplesIsHandled) {
  std::ifstream in(std::string(PHAROS_SOURCE_DIR) + "/examples/monitors.yaml");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_FALSE(text.empty());
  // Every 7th length: cuts land in keys, values, flow mappings and comments alike.
  for (size_t length = 0; length <= text.size(); length += 7) {
    const LoadedMonitors loaded = LoadMonitorsFromText(text.substr(0, length), "cut.yaml");
    // Each document either loads or says why not.
    for (const ValidationError& error : loaded.errors) {
      ASSERT_FALSE(error.message.empty()) << length;
      ASSERT_EQ(error.location.file, "cut.yaml") << length;
    }
  }
}

// ---- API objects and JSON form ----

nlohmann::json ApiObject() {
  return nlohmann::json::parse(R"({
    "apiVersion": "pharos.dev/v1alpha1",
    "kind": "Monitor",
    "metadata": {
      "name": "checkout-api", "namespace": "shop", "uid": "6f1c-42", "generation": 4,
      "resourceVersion": "123456", "creationTimestamp": "2026-11-25T23:00:00Z",
      "managedFields": [{"manager": "kubectl"}], "labels": {"team": "payments"}
    },
    "spec": {
      "type": "http", "frequency": "30s",
      "http": {"url": "https://shop.example.com/health", "headers": {"Accept": "application/json"}},
      "assertions": [{"type": "statusCode", "op": "eq", "value": "200"}],
      "alerting": {"regionQuorum": "majority"}
    },
    "status": {"state": "Up", "observedGeneration": 3}
  })");
}

TEST(MonitorFromApiObjectTest, ReadsAnObjectFromTheApiServer) {
  std::vector<ValidationError> errors;
  Result<Monitor> monitor = MonitorFromApiObject(ApiObject(), &errors);
  ASSERT_TRUE(monitor.ok()) << monitor.error();
  EXPECT_THAT(errors, IsEmpty());
  EXPECT_EQ(monitor->Key(), "shop/checkout-api");
  EXPECT_EQ(monitor->uid, "6f1c-42");
  EXPECT_EQ(monitor->generation, 4);
  EXPECT_EQ(monitor->frequency, Millis(30'000));
  EXPECT_EQ(monitor->alerting.region_quorum, std::nullopt);
  EXPECT_EQ(monitor->labels.at("team"), "payments");
  EXPECT_EQ(monitor->source, SourceLocation{});
}

TEST(MonitorFromApiObjectTest, ListItemsWithoutApiVersionAreFine) {
  nlohmann::json object = ApiObject();
  object.erase("apiVersion");
  object.erase("kind");
  object["metadata"].erase("uid");
  Result<Monitor> monitor = MonitorFromApiObject(object, nullptr);
  ASSERT_TRUE(monitor.ok()) << monitor.error();
  EXPECT_EQ(monitor->uid, "file:shop/checkout-api");
}

TEST(MonitorFromApiObjectTest, SameRulesAsFiles) {
  nlohmann::json object = ApiObject();
  object["spec"]["asertions"] = nlohmann::json::array();
  object["spec"]["timeout"] = "1m";
  object["spec"]["http"]["url"] = "ftp://x/";
  object["kind"] = "Pod";
  std::vector<ValidationError> errors;
  Result<Monitor> monitor = MonitorFromApiObject(object, &errors);
  ASSERT_FALSE(monitor.ok());
  std::vector<std::string> messages;
  messages.reserve(errors.size());
  for (const ValidationError& error : errors) messages.push_back(error.ToString());
  EXPECT_THAT(messages, ElementsAre("kind: must be Monitor (got \"Pod\")",
                                    "spec.asertions: unknown field \"asertions\" (did you mean "
                                    "\"assertions\"?)",
                                    "spec.timeout: must not exceed frequency (1m > 30s)",
                                    "spec.http.url: scheme must be http or https"));
  EXPECT_EQ(monitor.error(),
            "kind: must be Monitor (got \"Pod\"); spec.asertions: unknown field \"asertions\" (did "
            "you mean \"assertions\"?); spec.timeout: must not exceed frequency (1m > 30s); "
            "spec.http.url: scheme must be http or https");
}

TEST(MonitorFromApiObjectTest, NotAnObject) {
  std::vector<ValidationError> errors;
  Result<Monitor> monitor = MonitorFromApiObject(nlohmann::json::array(), &errors);
  ASSERT_FALSE(monitor.ok());
  EXPECT_EQ(monitor.error(),
            "expected a Monitor (a mapping with apiVersion, kind, metadata and spec), got a list");
}

TEST(MonitorFromApiObjectTest, AbsurdNestingIsAnErrorNotACrash) {
  nlohmann::json deep = "x";
  for (int i = 0; i < 200; ++i) deep = nlohmann::json::array({deep});
  nlohmann::json object = ApiObject();
  object["spec"]["regions"] = deep;
  Result<Monitor> monitor = MonitorFromApiObject(object, nullptr);
  ASSERT_FALSE(monitor.ok());
  EXPECT_EQ(monitor.error(), "nested deeper than 64 levels");
}

Monitor WithoutSource(Monitor monitor) {
  monitor.source = {};
  return monitor;
}

TEST(MonitorToJsonTest, WritesTheKubernetesFormWithDefaults) {
  const nlohmann::json json = MonitorToJson(LoadOne(HttpDoc("")));
  EXPECT_EQ(json["apiVersion"], "pharos.dev/v1alpha1");
  EXPECT_EQ(json["kind"], "Monitor");
  EXPECT_EQ(json["metadata"]["name"], "web");
  EXPECT_EQ(json["metadata"]["namespace"], "default");
  EXPECT_EQ(json["spec"]["frequency"], "1m");
  EXPECT_EQ(json["spec"]["timeout"], "10s");
  EXPECT_EQ(json["spec"]["retries"], 0);
  EXPECT_EQ(json["spec"]["http"]["method"], "GET");
  EXPECT_EQ(json["spec"]["http"]["followRedirects"], true);
  EXPECT_EQ(json["spec"]["alerting"]["failureThreshold"], 2);
  EXPECT_EQ(json["spec"]["alerting"]["successThreshold"], 1);
  EXPECT_EQ(json["spec"]["alerting"]["regionQuorum"], 1);
  EXPECT_FALSE(json["spec"].contains("degradedAfter"));
  EXPECT_FALSE(json["spec"].contains("tcp"));
  EXPECT_FALSE(json.contains("status"));
}

TEST(MonitorToJsonTest, RoundTripsThroughTheLoader) {
  const LoadedMonitors examples =
      LoadMonitorFiles({std::string(PHAROS_SOURCE_DIR) + "/examples/monitors.yaml"});
  ASSERT_THAT(examples.errors, IsEmpty());
  std::vector<Monitor> monitors = examples.monitors;
  monitors.push_back(LoadOne(Doc(R"(  type: tcp
  frequency: 10s
  timeout: 1.5s
  degradedAfter: 250ms
  suspend: true
  tcp: {host: "::1", port: 443, tls: true, tlsOptions: {insecureSkipVerify: true}}
  assertions:
    - {type: certExpiry, op: gte, value: 1h30m}
)")));
  for (const Monitor& original : monitors) {
    const std::string text = MonitorToJson(original).dump(2);
    // Through the file loader (JSON is YAML) ...
    const LoadedMonitors reloaded = LoadMonitorsFromText(text, "round.json");
    ASSERT_THAT(reloaded.errors, IsEmpty())
        << text << "\n"
        << (reloaded.errors.empty() ? "" : reloaded.errors[0].ToString());
    ASSERT_EQ(reloaded.monitors.size(), 1u);
    EXPECT_EQ(WithoutSource(reloaded.monitors[0]), WithoutSource(original)) << text;
    // ... and as an API object.
    Result<Monitor> from_api = MonitorFromApiObject(nlohmann::json::parse(text), nullptr);
    ASSERT_TRUE(from_api.ok()) << from_api.error();
    EXPECT_EQ(*from_api, WithoutSource(original)) << text;
  }
}

TEST(ValidationErrorTest, FormatsKnownParts) {
  EXPECT_EQ((ValidationError{{"m.yaml", 14, 7}, "spec.http.url", "bad"}).ToString(),
            "m.yaml:14:7: spec.http.url: bad");
  EXPECT_EQ((ValidationError{{"m.yaml", 0, 0}, "", "no such file or directory"}).ToString(),
            "m.yaml: no such file or directory");
  EXPECT_EQ((ValidationError{{}, "spec.type", "required"}).ToString(), "spec.type: required");
  EXPECT_EQ((ValidationError{{"", 3, 4}, "", "oops"}).ToString(), "3:4: oops");
}

}  // namespace
}  // namespace pharos
