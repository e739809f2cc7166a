// The rules of the check types added with issue #18 (icmp, grpc, push, TCP conversations,
// resolve: all, Service targets), read through the loader as a user's file would be: each
// error at file:line:col with its field path.
#include "common/monitor_validator.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/monitor_loader.h"

namespace pharos {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::vector<std::string> Errors(const std::string& text) {
  const LoadedMonitors loaded = LoadMonitorsFromText(text, "m.yaml");
  std::vector<std::string> out;
  for (const ValidationError& error : loaded.errors) out.push_back(error.ToString());
  return out;
}

// A monitor named "web"; `spec` starts on line 6.
std::string Doc(const std::string& spec) {
  return "apiVersion: pharos.dev/v1alpha1\n"  // 1
         "kind: Monitor\n"                    // 2
         "metadata:\n"                        // 3
         "  name: web\n"                      // 4
         "spec:\n" +                          // 5
         spec;
}

Monitor LoadOne(const std::string& text) {
  LoadedMonitors loaded = LoadMonitorsFromText(text, "m.yaml");
  EXPECT_THAT(loaded.errors, IsEmpty())
      << (loaded.errors.empty() ? "" : loaded.errors[0].ToString());
  EXPECT_EQ(loaded.monitors.size(), 1u);
  return loaded.monitors.empty() ? Monitor{} : loaded.monitors.front();
}

// ---- icmp ----

TEST(IcmpSpecTest, ReadsFieldsAndDefaults) {
  const Monitor defaults = LoadOne(Doc("  type: icmp\n  icmp: {host: 127.0.0.1}\n"));
  ASSERT_TRUE(defaults.icmp.has_value());
  EXPECT_EQ(defaults.icmp->count, 3);
  EXPECT_EQ(defaults.icmp->interval, Millis(1'000));
  EXPECT_EQ(defaults.icmp->packet_size, 56);
  EXPECT_EQ(defaults.icmp->ip_family, IpFamily::kAny);
  EXPECT_EQ(defaults.icmp->resolve, ResolveMode::kOne);
  EXPECT_EQ(defaults.Target(), "127.0.0.1");

  const Monitor monitor = LoadOne(Doc(R"(  type: icmp
  icmp: {host: "::1", count: 5, interval: 100ms, packetSize: 0, ipFamily: ipv6, resolve: all}
  assertions:
    - {type: packetLoss, op: lt, value: "20.5"}
    - {type: latency, op: lt, value: 10ms}
)"));
  EXPECT_EQ(monitor.icmp->count, 5);
  EXPECT_EQ(monitor.icmp->interval, Millis(100));
  EXPECT_EQ(monitor.icmp->packet_size, 0);
  EXPECT_EQ(monitor.icmp->ip_family, IpFamily::kIpv6);
  EXPECT_TRUE(monitor.ChecksEveryAddress());
}

TEST(IcmpSpecTest, ReportsBadValuesWhereTheyAre) {
  EXPECT_THAT(
      Errors(Doc(R"(  type: icmp
  icmp: {host: "::1", count: 0, interval: 5ms, packetSize: 70000, ipFamily: ipv4}
)")),
      ElementsAre("m.yaml:7:30: spec.icmp.count: must be between 1 and 100 (got 0)",
                  "m.yaml:7:43: spec.icmp.interval: must be between 10ms and 1m (got 5ms)",
                  "m.yaml:7:60: spec.icmp.packetSize: must be between 0 and 65500 bytes (got "
                  "70000)",
                  "m.yaml:7:77: spec.icmp.ipFamily: host \"::1\" is not an ipv4 address"));
  EXPECT_THAT(Errors(Doc("  type: icmp\n  icmp: {host: 10.0.0.1, ipFamily: v4}\n")),
              ElementsAre("m.yaml:7:36: spec.icmp.ipFamily: must be one of any, ipv4, ipv6 (got "
                          "\"v4\"; did you mean \"ipv4\"?)"));
  // The last echo request must leave before the deadline.
  EXPECT_THAT(
      Errors(
          Doc("  type: icmp\n  timeout: 2s\n  icmp: {host: a.test, count: 5, interval: 500ms}\n")),
      ElementsAre("m.yaml:8:44: spec.icmp.interval: the last of 5 echo requests would go out "
                  "after 2s, not before spec.timeout (2s); lower count or interval, or raise "
                  "timeout"));
  EXPECT_THAT(Errors(Doc("  type: icmp\n  icmp: {count: 2}\n")),
              ElementsAre("m.yaml:7:3: spec.icmp.host: required"));
}

TEST(IcmpSpecTest, PacketLossIsForIcmpAndTakesAPercentage) {
  EXPECT_THAT(Errors(Doc(R"(  type: icmp
  icmp: {host: 127.0.0.1}
  assertions:
    - {type: packetLoss, op: contains, value: "5"}
    - {type: packetLoss, op: lt, value: "150"}
)")),
              ElementsAre("m.yaml:9:30: spec.assertions[0].op: packetLoss assertions support "
                          "eq, not_eq, gt, gte, lt, lte (got contains)",
                          "m.yaml:10:41: spec.assertions[1].value: \"150\" is not a percentage "
                          "from 0 to 100 (e.g. \"20\")"));
  EXPECT_THAT(Errors(Doc(R"(  type: tcp
  tcp: {host: 127.0.0.1, port: 22}
  assertions:
    - {type: packetLoss, op: lt, value: "5"}
)")),
              ElementsAre("m.yaml:9:14: spec.assertions[0].type: packetLoss assertions apply to "
                          "icmp monitors only"));
}

// ---- grpc ----

TEST(GrpcSpecTest, ReadsFields) {
  const Monitor monitor = LoadOne(Doc(R"(  type: grpc
  grpc:
    address: "[::1]:50051"
    service: shop.v1.Orders
    tls: true
    tlsOptions: {insecureSkipVerify: true}
    authority: orders.internal
    metadata: {x-team: shop, authorization: Bearer abc}
  assertions:
    - {type: certExpiry, op: gt, value: 24h}
)"));
  ASSERT_TRUE(monitor.grpc.has_value());
  EXPECT_EQ(monitor.grpc->address, "[::1]:50051");
  EXPECT_EQ(monitor.grpc->service, "shop.v1.Orders");
  EXPECT_TRUE(monitor.grpc->tls);
  EXPECT_EQ(monitor.grpc->authority.str(), "orders.internal");
  EXPECT_EQ(monitor.grpc->metadata.size(), 2u);
  EXPECT_EQ(monitor.Target(), "[::1]:50051 shop.v1.Orders");
}

TEST(GrpcSpecTest, ReportsBadAddressesAndMetadata) {
  EXPECT_THAT(Errors(Doc(R"(  type: grpc
  grpc:
    address: localhost
    metadata: {grpc-timeout: 1S, X-Upper: a, data-bin: AAA}
  assertions:
    - {type: certExpiry, op: gt, value: 24h}
)")),
              ElementsAre("m.yaml:8:14: spec.grpc.address: needs a port: host:port, e.g. "
                          "localhost:50051",
                          "m.yaml:9:16: spec.grpc.metadata.grpc-timeout: \"grpc-timeout\" is set "
                          "by the gRPC call itself and cannot be sent",
                          "m.yaml:9:34: spec.grpc.metadata.X-Upper: \"X-Upper\" is not a gRPC "
                          "metadata key: use lowercase letters, digits, '-', '_' and '.'",
                          "m.yaml:9:46: spec.grpc.metadata.data-bin: binary metadata (-bin keys) "
                          "is not supported",
                          "m.yaml:11:14: spec.assertions[0].type: certExpiry on a grpc monitor "
                          "needs spec.grpc.tls: true"));
  EXPECT_THAT(Errors(Doc("  type: grpc\n  grpc: {}\n")),
              ElementsAre("m.yaml:7:3: spec.grpc.address: required (host:port, e.g. "
                          "grpc.example.com:443 or [::1]:50051)"));
}

// ---- push ----

TEST(PushSpecTest, ReadsFieldsAndDefaultsToDownOnTheFirstLatePing) {
  const Monitor monitor = LoadOne(Doc("  type: push\n  push: {expectEvery: 5m}\n"));
  ASSERT_TRUE(monitor.push.has_value());
  EXPECT_EQ(monitor.push->expect_every, Millis(300'000));
  EXPECT_EQ(monitor.push->grace, Millis(60'000));
  EXPECT_EQ(monitor.push->max_run_time, std::nullopt);
  EXPECT_EQ(monitor.alerting.failure_threshold, 1);
  EXPECT_EQ(monitor.Target(), "push");

  const Monitor explicit_threshold =
      LoadOne(Doc("  type: push\n  push: {expectEvery: 1h, grace: 0s, maxRunTime: 10m}\n"
                  "  alerting: {failureThreshold: 3}\n"));
  EXPECT_EQ(explicit_threshold.alerting.failure_threshold, 3);
  EXPECT_EQ(explicit_threshold.push->grace, Millis(0));
  EXPECT_EQ(explicit_threshold.push->max_run_time, Millis(600'000));
}

TEST(PushSpecTest, ReportsBadValues) {
  EXPECT_THAT(Errors(Doc(R"(  type: push
  regions: [eu-west]
  push: {expectEvery: 500ms, maxRunTime: 0s}
  assertions:
    - {type: statusCode, op: eq, value: "200"}
)")),
              ElementsAre("m.yaml:7:12: spec.regions: push monitors are not checked from regions "
                          "(the job pings the operator); leave regions out",
                          "m.yaml:8:23: spec.push.expectEvery: must be between 1s and 744h (got "
                          "500ms)",
                          "m.yaml:8:42: spec.push.maxRunTime: must be greater than 0 and at most "
                          "744h",
                          "m.yaml:10:14: spec.assertions[0].type: statusCode assertions apply to "
                          "http monitors only"));
  EXPECT_THAT(Errors(Doc("  type: push\n  push: {}\n")),
              ElementsAre("m.yaml:7:3: spec.push.expectEvery: required (how often the job "
                          "pings, e.g. 5m or 24h)"));
}

TEST(PushSpecTest, ReadsTokenFromAndRoundTripsItThroughJson) {
  const Monitor from_env =
      LoadOne(Doc("  type: push\n  push:\n    expectEvery: 1h\n    tokenFrom: {env: PING}\n"));
  ASSERT_TRUE(from_env.push && from_env.push->token_from);
  EXPECT_EQ(from_env.push->token_from->env, "PING");
  const Monitor from_secret =
      LoadOne(Doc("  type: push\n  push:\n    expectEvery: 1h\n    tokenFrom:\n"
                  "      secretKeyRef: {name: ping-tokens, key: backup}\n"));
  ASSERT_TRUE(from_secret.push && from_secret.push->token_from);
  EXPECT_EQ(from_secret.push->token_from->secret_name, "ping-tokens");
  EXPECT_EQ(from_secret.push->token_from->secret_key, "backup");
  const auto json = MonitorToJson(from_secret);
  EXPECT_EQ(json["spec"]["push"]["tokenFrom"]["secretKeyRef"]["key"], "backup");
}

TEST(PushSpecTest, ReportsBadTokenSources) {
  EXPECT_THAT(Errors(Doc("  type: push\n  push:\n    expectEvery: 1h\n    tokenFrom: {}\n")),
              ElementsAre("m.yaml:9:16: spec.push.tokenFrom: exactly one of env, file (pharos "
                          "run) or secretKeyRef (Kubernetes) is required"));
  EXPECT_THAT(
      Errors(Doc("  type: push\n  push:\n    expectEvery: 1h\n    tokenFrom: {file: run/x}\n")),
      ElementsAre("m.yaml:9:23: spec.push.tokenFrom.file: must be an absolute path"));
  EXPECT_THAT(Errors(Doc("  type: push\n  push:\n    expectEvery: 1h\n    tokenFrom:\n"
                         "      secretKeyRef: {name: Bad_Name}\n")),
              ElementsAre("m.yaml:10:7: spec.push.tokenFrom.secretKeyRef.key: required",
                          "m.yaml:10:28: spec.push.tokenFrom.secretKeyRef.name: must be a "
                          "Secret name (DNS-1123 subdomain)"));
}

// ---- TCP conversations ----

TEST(TcpConversationTest, ReadsSteps) {
  const Monitor monitor = LoadOne(Doc(R"(  type: tcp
  tcp:
    host: 127.0.0.1
    port: 25
    conversation:
      - {expectRegex: "^220 ", timeout: 2s}
      - send: "EHLO x\r\n"
      - expect: STARTTLS
      - startTls: true
  assertions:
    - {type: certExpiry, op: gt, value: 24h}
)"));
  ASSERT_EQ(monitor.tcp->conversation.size(), 4u);
  EXPECT_EQ(monitor.tcp->conversation[0].kind, TcpStep::Kind::kExpectRegex);
  EXPECT_EQ(monitor.tcp->conversation[0].timeout, Millis(2'000));
  EXPECT_EQ(monitor.tcp->conversation[1].kind, TcpStep::Kind::kSend);
  EXPECT_EQ(monitor.tcp->conversation[1].text, "EHLO x\r\n");
  EXPECT_EQ(monitor.tcp->conversation[2].kind, TcpStep::Kind::kExpect);
  EXPECT_EQ(monitor.tcp->conversation[3].kind, TcpStep::Kind::kStartTls);
}

TEST(TcpConversationTest, ReportsBadSteps) {
  EXPECT_THAT(Errors(Doc(R"(  type: tcp
  tcp:
    host: 127.0.0.1
    port: 25
    tls: true
    conversation:
      - {send: a, expect: b}
      - {}
      - {send: x, timeout: 1s}
      - expectRegex: "(unclosed"
      - {expect: ok, timeout: 1m}
      - startTls: true
)")),
              ElementsAre("m.yaml:12:27: spec.tcp.conversation[0].expect: a step does one thing: "
                          "write send, expect, expectRegex and startTls in steps of their own",
                          "m.yaml:13:9: spec.tcp.conversation[1]: a step needs one of send, "
                          "expect, expectRegex or startTls",
                          "m.yaml:14:28: spec.tcp.conversation[2].timeout: only expect and "
                          "expectRegex steps take a timeout",
                          "m.yaml:15:22: spec.tcp.conversation[3].expectRegex: invalid regular "
                          "expression: missing closing parenthesis at offset 9",
                          "m.yaml:16:31: spec.tcp.conversation[4].timeout: must not exceed "
                          "spec.timeout (1m > 10s)",
                          "m.yaml:17:19: spec.tcp.conversation[5].startTls: the connection is "
                          "already TLS (spec.tcp.tls: true); STARTTLS upgrades a plaintext one"));
}

// ---- resolve: all, Service targets, addressQuorum ----

TEST(EveryAddressTest, ResolveAllAndAddressQuorum) {
  const Monitor monitor = LoadOne(Doc(R"(  type: http
  http: {url: "http://multi.test:8080/", resolve: all}
  alerting: {addressQuorum: majority}
)"));
  EXPECT_TRUE(monitor.ChecksEveryAddress());
  EXPECT_EQ(monitor.alerting.address_quorum, std::nullopt);
  EXPECT_THAT(Errors(Doc(R"(  type: tcp
  tcp: {host: a.test, port: 1, resolve: every}
  alerting: {addressQuorum: 0}
)")),
              ElementsAre("m.yaml:7:41: spec.tcp.resolve: must be one of one, all (got \"every\")",
                          "m.yaml:8:29: spec.alerting.addressQuorum: must be at least 1, or "
                          "\"majority\" (got 0)"));
}

TEST(ServiceTargetTest, StandsForTheUrlOrHost) {
  const Monitor http = LoadOne(Doc(R"(  type: http
  target:
    service: {name: checkout, port: http, path: /healthz, scheme: https}
)"));
  ASSERT_TRUE(http.service.has_value());
  ASSERT_TRUE(http.http.has_value());  // the block may be left out
  EXPECT_EQ(http.service->port_name, "http");
  EXPECT_EQ(http.service->port, 0);
  EXPECT_TRUE(http.ChecksEveryAddress());
  EXPECT_EQ(http.Target(), "service checkout:http https /healthz");

  const Monitor tcp = LoadOne(Doc("  type: tcp\n  target: {service: {name: db, port: 5432}}\n"));
  EXPECT_EQ(tcp.service->port, 5432);
  EXPECT_EQ(tcp.Target(), "service db:5432");
  // Quoted, a port is a name, and "9000" is none.
  EXPECT_THAT(Errors(Doc("  type: grpc\n  target: {service: {name: db, port: \"9000\"}}\n")),
              ElementsAre("m.yaml:7:38: spec.target.service.port: \"9000\" is not a port number "
                          "or port name (at most 15 lowercase letters, digits and '-', with at "
                          "least one letter)"));
  const Monitor icmp = LoadOne(Doc("  type: icmp\n  target: {service: {name: db}}\n"));
  EXPECT_EQ(icmp.Target(), "service db");
}

TEST(ServiceTargetTest, ReportsConflictsAndBadNames) {
  EXPECT_THAT(Errors(Doc(R"(  type: http
  target:
    service: {name: Checkout, port: 70000, path: healthz, scheme: ftp}
  http: {url: "http://x.test/", resolve: all}
)")),
              ElementsAre("m.yaml:8:21: spec.target.service.name: \"Checkout\" is not a valid "
                          "Service name: use at most 63 lowercase letters, digits and '-', "
                          "starting and ending with a letter or digit",
                          "m.yaml:8:37: spec.target.service.port: must be between 1 and 65535 "
                          "(got 70000)",
                          "m.yaml:8:50: spec.target.service.path: must start with / (e.g. "
                          "/healthz)",
                          "m.yaml:8:67: spec.target.service.scheme: must be http or https (got "
                          "\"ftp\")",
                          "m.yaml:9:10: spec.http.url: not used with spec.target.service (the "
                          "Service's endpoints are checked)",
                          "m.yaml:9:33: spec.http.resolve: a Service target checks every ready "
                          "endpoint; leave resolve out"));
  EXPECT_THAT(Errors(Doc("  type: dns\n  target: {service: {name: db, port: 53}}\n"
                         "  dns: {name: a.test}\n")),
              ElementsAre("m.yaml:7:3: spec.target: a Service target is for http, tcp, grpc and "
                          "icmp monitors (not dns)"));
  EXPECT_THAT(Errors(Doc("  type: tcp\n  target: {service: {name: db}}\n")),
              ElementsAre("m.yaml:7:12: spec.target.service.port: required: the Service's port "
                          "number or name (e.g. 8080 or http)"));
}

// ---- the JSON form ----

TEST(NewTypesJsonTest, RoundTripAndOlderProbesSeeNoNewFieldsOnOldShapes) {
  const LoadedMonitors examples =
      LoadMonitorFiles({std::string(PHAROS_SOURCE_DIR) + "/examples/more-checks.yaml"});
  ASSERT_THAT(examples.errors, IsEmpty());
  ASSERT_EQ(examples.monitors.size(), 6u);
  for (Monitor original : examples.monitors) {
    original.source = {};
    const std::string text = MonitorToJson(original).dump();
    Result<Monitor> back = MonitorFromApiObject(nlohmann::json::parse(text), nullptr);
    ASSERT_TRUE(back.ok()) << back.error() << "\n" << text;
    EXPECT_EQ(*back, original) << text;
  }
  // A plain http monitor's JSON has none of the fields added since: probes of the first release
  // refuse unknown fields.
  const nlohmann::json plain =
      MonitorToJson(LoadOne(Doc("  type: http\n  http: {url: \"http://a.test/\"}\n")));
  EXPECT_FALSE(plain["spec"]["http"].contains("resolve"));
  EXPECT_FALSE(plain["spec"]["alerting"].contains("addressQuorum"));
  EXPECT_FALSE(plain["spec"].contains("target"));
}

}  // namespace
}  // namespace pharos
