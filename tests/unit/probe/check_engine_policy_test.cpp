// The target policy as the check engine enforces it: on the address actually connected to, for
// each check type, each redirect hop and each address of a name. Only loopback is used: the
// addresses denied here are loopback ones, and a denied one is never connected to.

#include <gtest/gtest.h>

#include "probe/check_engine.h"
#include "unit/probe/fake_dns_server.h"
#include "unit/probe/loopback_server.h"

namespace pharos {
namespace {

using std::chrono::milliseconds;
using testing::FakeDnsServer;
using testing::LoopbackServer;

CheckEngine::Options Denying(const std::vector<std::string>& deny,
                             const std::vector<std::string>& allow = {}) {
  CheckEngine::Options options;
  auto policy = TargetPolicy::Create(deny, allow);
  EXPECT_TRUE(policy.ok());
  if (policy.ok()) options.target_policy = *policy;
  return options;
}

CheckResult RunOne(const Monitor& monitor, CheckEngine::Options options) {
  return RunChecksOnce({monitor}, std::move(options)).front();
}

Monitor Http(const std::string& url) {
  Monitor monitor;
  monitor.name = "web";
  monitor.type = MonitorType::kHttp;
  monitor.http.emplace();
  monitor.http->url = url;
  monitor.timeout = milliseconds(5000);
  monitor.retries = 2;
  return monitor;
}

Monitor Tcp(const std::string& host, int port) {
  Monitor monitor;
  monitor.name = "tcp";
  monitor.type = MonitorType::kTcp;
  monitor.tcp.emplace();
  monitor.tcp->host = host;
  monitor.tcp->port = port;
  monitor.timeout = milliseconds(5000);
  return monitor;
}

Monitor Dns(const std::string& server) {
  Monitor monitor;
  monitor.name = "dns";
  monitor.type = MonitorType::kDns;
  monitor.dns.emplace();
  monitor.dns->name = "www.example.com";
  monitor.dns->record_type = DnsRecordType::kA;
  monitor.dns->server = server;
  monitor.timeout = milliseconds(3000);
  return monitor;
}

std::string Url(const LoopbackServer& server, const std::string& path = "/") {
  return "http://127.0.0.1:" + std::to_string(server.port()) + path;
}

TEST(CheckEnginePolicyTest, DeniedHttpTargetIsAnErrorAndNeverConnected) {
  LoopbackServer server({.response = LoopbackServer::HttpResponse(200, "ok")});
  const CheckResult result = RunOne(Http(Url(server)), Denying({"127.0.0.1/32"}));
  EXPECT_EQ(result.outcome, Outcome::kError);
  EXPECT_EQ(result.error, "target address 127.0.0.1 is blocked by the probe's policy");
  EXPECT_EQ(result.attempts, 1);  // the probe's refusal is not retried as if the target failed
  EXPECT_EQ(server.accepted(), 0);

  EXPECT_EQ(RunOne(Http(Url(server)), Denying({"127.0.0.2/32"})).outcome, Outcome::kUp);
  EXPECT_EQ(RunOne(Http(Url(server)), Denying({}, {"127.0.0.0/8"})).outcome, Outcome::kUp);
  EXPECT_EQ(RunOne(Http(Url(server)), Denying({"127.0.0.1"}, {"127.0.0.0/8"})).outcome,
            Outcome::kError);
}

TEST(CheckEnginePolicyTest, RedirectToADeniedAddressIsRefusedAtThatHop) {
  // Nothing listens on 127.0.0.2 for this: the hop is refused before any connect.
  LoopbackServer redirect({.response = LoopbackServer::HttpResponse(
                               302, "", "Location: http://127.0.0.2:9/secret\r\n")});
  const CheckResult result = RunOne(Http(Url(redirect)), Denying({"127.0.0.2/32"}));
  EXPECT_EQ(result.outcome, Outcome::kError);
  EXPECT_EQ(result.error, "target address 127.0.0.2 is blocked by the probe's policy");
  EXPECT_EQ(redirect.accepted(), 1);
}

TEST(CheckEnginePolicyTest, DefaultPolicyRefusesMetadataWithoutSendingAPacket) {
  // 169.254.169.254 is refused before a socket exists, so this sends nothing anywhere.
  const CheckResult result =
      RunOne(Http("http://169.254.169.254/latest/meta-data/"), CheckEngine::Options{});
  EXPECT_EQ(result.outcome, Outcome::kError);
  EXPECT_EQ(result.error, "target address 169.254.169.254 is blocked by the probe's policy");
  const CheckResult tcp = RunOne(Tcp("169.254.169.254", 80), CheckEngine::Options{});
  EXPECT_EQ(tcp.outcome, Outcome::kError);
  EXPECT_EQ(tcp.error, "target address 169.254.169.254 is blocked by the probe's policy");
  const CheckResult dns = RunOne(Dns("[fd00:ec2::254]:53"), CheckEngine::Options{});
  EXPECT_EQ(dns.outcome, Outcome::kError);
  EXPECT_EQ(dns.error, "target address fd00:ec2::254 is blocked by the probe's policy");
}

TEST(CheckEnginePolicyTest, EveryAddressOfANameIsJudged) {
  LoopbackServer server({.response = LoopbackServer::HttpResponse(200, "ok")});
  const std::string by_name = "http://localhost:" + std::to_string(server.port()) + "/";
  // localhost is 127.0.0.1 and ::1 (from /etc/hosts): with both denied nothing is left.
  const CheckResult result = RunOne(Http(by_name), Denying({"127.0.0.1/32", "::1/128"}));
  EXPECT_EQ(result.outcome, Outcome::kError);
  EXPECT_NE(result.error.find("is blocked by the probe's policy"), std::string::npos)
      << result.error;
  EXPECT_EQ(server.accepted(), 0);

  const CheckResult tcp = RunOne(Tcp("localhost", server.port()), Denying({"127.0.0.1", "::1"}));
  EXPECT_EQ(tcp.outcome, Outcome::kError);
  EXPECT_NE(tcp.error.find("is blocked by the probe's policy"), std::string::npos) << tcp.error;
  EXPECT_EQ(server.accepted(), 0);
}

TEST(CheckEnginePolicyTest, DeniedTcpTargetIsAnError) {
  LoopbackServer server({.response = LoopbackServer::HttpResponse(200, "ok")});
  const CheckResult blocked = RunOne(Tcp("127.0.0.1", server.port()), Denying({"127.0.0.1/32"}));
  EXPECT_EQ(blocked.outcome, Outcome::kError);
  EXPECT_EQ(blocked.error, "target address 127.0.0.1 is blocked by the probe's policy");
  EXPECT_EQ(server.accepted(), 0);
  EXPECT_EQ(RunOne(Tcp("127.0.0.1", server.port()), Denying({"10.0.0.0/8"})).outcome, Outcome::kUp);
}

// Decided before any socket is opened, so it holds whether or not the probe may ping.
TEST(CheckEnginePolicyTest, DeniedIcmpTargetIsAnErrorBeforeAnyPacket) {
  Monitor monitor;
  monitor.name = "icmp";
  monitor.type = MonitorType::kIcmp;
  monitor.icmp.emplace();
  monitor.icmp->host = "127.0.0.1";
  monitor.icmp->count = 1;
  monitor.timeout = milliseconds(3000);
  const CheckResult blocked = RunOne(monitor, Denying({"127.0.0.1/32"}));
  EXPECT_EQ(blocked.outcome, Outcome::kError);
  EXPECT_EQ(blocked.error, "target address 127.0.0.1 is blocked by the probe's policy");
  EXPECT_EQ(blocked.icmp, std::nullopt);
}

TEST(CheckEnginePolicyTest, DeniedDnsServerIsNeverQueried) {
  FakeDnsServer dns;
  const std::string server = "127.0.0.1:" + std::to_string(dns.port());
  const CheckResult blocked = RunOne(Dns(server), Denying({"127.0.0.1/32"}));
  EXPECT_EQ(blocked.outcome, Outcome::kError);
  EXPECT_EQ(blocked.error, "target address 127.0.0.1 is blocked by the probe's policy");
  EXPECT_EQ(dns.queries(), 0);
  const CheckResult named =
      RunOne(Dns("localhost:" + std::to_string(dns.port())), Denying({"127.0.0.1", "::1"}));
  EXPECT_EQ(named.outcome, Outcome::kError);
  EXPECT_EQ(dns.queries(), 0);
  EXPECT_EQ(RunOne(Dns(server), Denying({"127.0.0.2/32"})).outcome, Outcome::kUp);
  EXPECT_GT(dns.queries(), 0);
}

TEST(CheckEnginePolicyTest, ClusterPolicyAddsToTheProbesOwn) {
  LoopbackServer server({.response = LoopbackServer::HttpResponse(200, "ok")});
  CheckEngine engine(CheckEngine::Options{});
  auto cluster = TargetPolicy::Create({"127.0.0.1/32"}, {});
  ASSERT_TRUE(cluster.ok());
  engine.SetClusterPolicy(*cluster);
  CheckResult result;
  engine.Submit(std::make_shared<const Monitor>(Http(Url(server))),
                [&result](CheckResult reported) { result = std::move(reported); });
  engine.Drain();
  EXPECT_EQ(result.outcome, Outcome::kError);
  EXPECT_EQ(server.accepted(), 0);

  engine.SetClusterPolicy(TargetPolicy());
  engine.Submit(std::make_shared<const Monitor>(Http(Url(server))),
                [&result](CheckResult reported) { result = std::move(reported); });
  engine.Drain();
  EXPECT_EQ(result.outcome, Outcome::kUp) << result.error;
}

TEST(CheckEngineRedactTest, RedactBodiesKeepsWhichAssertionFailedAndDropsTheResponse) {
  LoopbackServer server(
      {.response = LoopbackServer::HttpResponse(200, "{\"token\": \"s3cr3t-credential\"}",
                                                "X-Secret: s3cr3t-header\r\n")});
  for (const Assertion& assertion :
       {Assertion{AssertionType::kBody, CompareOp::kContains, "", "", "healthy"},
        Assertion{AssertionType::kJsonPath, CompareOp::kEq, "", "$.token", "other"},
        Assertion{AssertionType::kHeader, CompareOp::kEq, "X-Secret", "", "other"}}) {
    Monitor monitor = Http(Url(server));
    monitor.retries = 0;
    monitor.assertions = {assertion};
    const CheckResult shown = RunOne(monitor, CheckEngine::Options{});
    ASSERT_TRUE(shown.failed_assertion.has_value());
    EXPECT_NE(shown.failed_assertion->actual.find("s3cr3t"), std::string::npos)
        << "without --redact-bodies the excerpt is reported: " << shown.failed_assertion->actual;

    CheckEngine::Options redacting;
    redacting.redact_bodies = true;
    const CheckResult redacted = RunOne(monitor, redacting);
    EXPECT_EQ(redacted.outcome, Outcome::kDown);
    ASSERT_TRUE(redacted.failed_assertion.has_value());
    EXPECT_EQ(redacted.failed_assertion->type, shown.failed_assertion->type);
    EXPECT_EQ(redacted.failed_assertion->expected, shown.failed_assertion->expected);
    EXPECT_EQ(redacted.failed_assertion->actual, "");
    EXPECT_EQ(redacted.failed_assertion->message.find("s3cr3t"), std::string::npos)
        << redacted.failed_assertion->message;
    EXPECT_NE(redacted.failed_assertion->message.find("--redact-bodies"), std::string::npos);
  }

  // Status codes are not response content: still reported.
  LoopbackServer failing({.response = LoopbackServer::HttpResponse(503, "s3cr3t")});
  Monitor monitor = Http(Url(failing));
  monitor.retries = 0;
  CheckEngine::Options redacting;
  redacting.redact_bodies = true;
  const CheckResult status = RunOne(monitor, redacting);
  ASSERT_TRUE(status.failed_assertion.has_value());
  EXPECT_EQ(status.failed_assertion->actual, "503");
}

}  // namespace
}  // namespace pharos
