// ICMP checks: IcmpSocket's packet building and reply filtering, and IcmpAttempt through the
// CheckEngine against 127.0.0.1 and ::1. The socket kind is whatever this machine allows
// (kAuto: a datagram socket when net.ipv4.ping_group_range admits the test's group, raw when
// it runs as root); a machine allowing neither skips the live tests and says why.

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/ip_icmp.h>

#include "probe/check_engine.h"
#include "probe/icmp_socket.h"

namespace pharos {
namespace {

using std::chrono::milliseconds;
using ::testing::HasSubstr;

Monitor Ping(const std::string& host, int count = 3) {
  Monitor monitor;
  monitor.name = "ping";
  monitor.type = MonitorType::kIcmp;
  monitor.icmp.emplace();
  monitor.icmp->host = host;
  monitor.icmp->count = count;
  monitor.icmp->interval = milliseconds(20);
  monitor.timeout = milliseconds(3000);
  return monitor;
}

// Why this machine cannot ping, or "" when it can.
std::string CannotPing(int family) {
  bool resource_error = false;
  Result<IcmpSocket> socket = IcmpSocket::Open(family, IcmpSocket::Kind::kAuto, &resource_error);
  return socket.ok() ? "" : socket.error();
}

TEST(IcmpSocketTest, EchoRequestHasTypeIdSequenceChecksumAndPayload) {
  const std::string packet = IcmpSocket::EchoRequest(AF_INET, 0x1234, 7, 0xAABBCCDDEEFF0011, 56);
  ASSERT_EQ(packet.size(), 8u + 56u);
  EXPECT_EQ(static_cast<uint8_t>(packet[0]), ICMP_ECHO);
  EXPECT_EQ(static_cast<uint8_t>(packet[1]), 0);
  EXPECT_EQ(static_cast<uint8_t>(packet[4]), 0x12);
  EXPECT_EQ(static_cast<uint8_t>(packet[5]), 0x34);
  EXPECT_EQ(static_cast<uint8_t>(packet[7]), 7);
  // The one's-complement sum of a packet with its checksum is all ones.
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < packet.size(); i += 2) {
    sum += (static_cast<uint8_t>(packet[i]) << 8) | static_cast<uint8_t>(packet[i + 1]);
  }
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  EXPECT_EQ(sum, 0xFFFFu);
}

TEST(IcmpSocketTest, RepliesAreFilteredByTypeIdentifierAndToken) {
  const uint64_t token = 0x0102030405060708;
  std::string reply = IcmpSocket::EchoRequest(AF_INET, 42, 3, token, 16);
  reply[0] = static_cast<char>(ICMP_ECHOREPLY);
  const auto parsed = IcmpSocket::ParseReply(AF_INET, reply, false, uint16_t{42}, token, 16);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->sequence, 3);
  EXPECT_FALSE(IcmpSocket::ParseReply(AF_INET, reply, false, uint16_t{43}, token, 16));
  EXPECT_FALSE(IcmpSocket::ParseReply(AF_INET, reply, false, uint16_t{42}, token + 1, 16));
  // The kernel matched the identifier of a datagram socket's replies.
  EXPECT_TRUE(IcmpSocket::ParseReply(AF_INET, reply, false, std::nullopt, token, 16));
  std::string request = reply;
  request[0] = static_cast<char>(ICMP_ECHO);
  EXPECT_FALSE(IcmpSocket::ParseReply(AF_INET, request, false, std::nullopt, token, 16));
  // Hostile input: short, truncated after the IP header, an IP header length past the end.
  EXPECT_FALSE(IcmpSocket::ParseReply(AF_INET, reply.substr(0, 5), false, std::nullopt, token, 16));
  EXPECT_FALSE(
      IcmpSocket::ParseReply(AF_INET, std::string("\x4f", 1), true, std::nullopt, token, 16));
  EXPECT_FALSE(
      IcmpSocket::ParseReply(AF_INET, std::string(20, '\x45'), true, std::nullopt, token, 16));
}

TEST(IcmpSocketTest, KindNames) {
  EXPECT_EQ(ParseIcmpSocketKind("raw"), IcmpSocket::Kind::kRaw);
  EXPECT_EQ(ParseIcmpSocketKind("datagram"), IcmpSocket::Kind::kDatagram);
  EXPECT_EQ(ParseIcmpSocketKind("auto"), IcmpSocket::Kind::kAuto);
  EXPECT_FALSE(ParseIcmpSocketKind("udp"));
}

TEST(IcmpCheckTest, LoopbackV4AnswersEveryRequest) {
  if (const std::string why = CannotPing(AF_INET); !why.empty()) GTEST_SKIP() << why;
  const CheckResult result = RunChecksOnce({Ping("127.0.0.1")}, {}).front();
  ASSERT_EQ(result.outcome, Outcome::kUp) << result.error;
  ASSERT_TRUE(result.icmp.has_value());
  EXPECT_EQ(result.icmp->sent, 3);
  EXPECT_EQ(result.icmp->received, 3);
  EXPECT_GT(result.icmp->rtt_min_us, 0);
  EXPECT_LE(result.icmp->rtt_min_us, result.icmp->rtt_avg_us);
  EXPECT_LE(result.icmp->rtt_avg_us, result.icmp->rtt_max_us);
  EXPECT_EQ(result.timings.total_us, result.icmp->rtt_avg_us);
  EXPECT_EQ(result.icmp->LossPercent(), 0.0);
}

TEST(IcmpCheckTest, LoopbackV6AnswersEveryRequest) {
  if (const std::string why = CannotPing(AF_INET6); !why.empty()) GTEST_SKIP() << why;
  const CheckResult result = RunChecksOnce({Ping("::1", 2)}, {}).front();
  ASSERT_EQ(result.outcome, Outcome::kUp) << result.error;
  ASSERT_TRUE(result.icmp.has_value());
  EXPECT_EQ(result.icmp->sent, 2);
  EXPECT_EQ(result.icmp->received, 2);
}

TEST(IcmpCheckTest, HostNameIsLookedUpInTheWantedFamily) {
  if (const std::string why = CannotPing(AF_INET); !why.empty()) GTEST_SKIP() << why;
  Monitor monitor = Ping("localhost", 1);
  monitor.icmp->ip_family = IpFamily::kIpv4;
  const CheckResult result = RunChecksOnce({monitor}, {}).front();
  EXPECT_EQ(result.outcome, Outcome::kUp) << result.error;
  EXPECT_GT(result.timings.dns_us, 0);
}

TEST(IcmpCheckTest, PacketLossAndLatencyAssertions) {
  if (const std::string why = CannotPing(AF_INET); !why.empty()) GTEST_SKIP() << why;
  Monitor monitor = Ping("127.0.0.1", 2);
  monitor.assertions = {{AssertionType::kPacketLoss, CompareOp::kLte, "", "", "0"},
                        {AssertionType::kLatency, CompareOp::kLt, "", "", "2s"}};
  CheckResult result = RunChecksOnce({monitor}, {}).front();
  EXPECT_EQ(result.outcome, Outcome::kUp) << result.error;
  // No loss cannot pass "more than 50% lost": the failure says what was measured.
  monitor.assertions = {{AssertionType::kPacketLoss, CompareOp::kGt, "", "", "50"}};
  result = RunChecksOnce({monitor}, {}).front();
  EXPECT_EQ(result.outcome, Outcome::kDown);
  ASSERT_TRUE(result.failed_assertion.has_value());
  EXPECT_THAT(result.failed_assertion->message, HasSubstr("0% (2 of 2 replies)"));
}

TEST(IcmpCheckTest, DeadlineBeforeTheLastRequestKeepsWhatWasMeasured) {
  if (const std::string why = CannotPing(AF_INET); !why.empty()) GTEST_SKIP() << why;
  Monitor monitor = Ping("127.0.0.1", 5);
  monitor.icmp->interval = milliseconds(10'000);
  monitor.timeout = milliseconds(300);
  const CheckResult result = RunChecksOnce({monitor}, {}).front();
  EXPECT_EQ(result.outcome, Outcome::kUp) << result.error;
  ASSERT_TRUE(result.icmp.has_value());
  EXPECT_EQ(result.icmp->sent, 1);
  EXPECT_EQ(result.icmp->received, 1);
}

TEST(IcmpCheckTest, UnknownHostIsDown) {
  Monitor monitor = Ping("no-such-host.invalid", 1);
  const CheckResult result = RunChecksOnce({monitor}, {}).front();
  EXPECT_NE(result.outcome, Outcome::kUp);
  EXPECT_FALSE(result.error.empty());
}

}  // namespace
}  // namespace pharos
