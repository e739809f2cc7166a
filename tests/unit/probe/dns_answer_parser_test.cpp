#include "probe/dns_answer_parser.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "probe/dns_attempt.h"

namespace pharos {
namespace {

using Packet = std::vector<unsigned char>;

void Put16(Packet& packet, unsigned value) {
  packet.push_back(static_cast<unsigned char>(value >> 8));
  packet.push_back(static_cast<unsigned char>(value & 0xff));
}

void PutName(Packet& packet, const std::string& name) {
  size_t start = 0;
  while (start < name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    packet.push_back(static_cast<unsigned char>(dot - start));
    packet.insert(packet.end(), name.begin() + static_cast<long>(start),
                  name.begin() + static_cast<long>(dot));
    start = dot + 1;
  }
  packet.push_back(0);
}

// A response for example.com with `answers` (type, rdata) records, names compressed.
Packet Response(const std::vector<std::pair<unsigned, Packet>>& answers) {
  Packet packet;
  Put16(packet, 0x1234);
  Put16(packet, 0x8180);
  Put16(packet, 1);
  Put16(packet, static_cast<unsigned>(answers.size()));
  Put16(packet, 0);
  Put16(packet, 0);
  PutName(packet, "example.com");
  Put16(packet, 1);
  Put16(packet, 1);
  for (const auto& [type, data] : answers) {
    Put16(packet, 0xc00c);
    Put16(packet, type);
    Put16(packet, 1);
    Put16(packet, 0);
    Put16(packet, 60);
    Put16(packet, static_cast<unsigned>(data.size()));
    packet.insert(packet.end(), data.begin(), data.end());
  }
  return packet;
}

Packet Name(const std::string& name) {
  Packet packet;
  PutName(packet, name);
  return packet;
}

TEST(DnsAnswerParserTest, TypedRecordsOnly) {
  Packet cname = Name("alias.example.net");
  const Packet packet = Response({{5, cname}, {1, {192, 0, 2, 7}}, {1, {198, 51, 100, 1}}});
  EXPECT_EQ(ParseDnsAnswers(packet, DnsRecordType::kA).value(),
            (std::vector<std::string>{"192.0.2.7", "198.51.100.1"}));
  EXPECT_EQ(ParseDnsAnswers(packet, DnsRecordType::kCNAME).value(),
            (std::vector<std::string>{"alias.example.net"}));
  EXPECT_TRUE(ParseDnsAnswers(packet, DnsRecordType::kMX).value().empty());
}

TEST(DnsAnswerParserTest, MxTxtNsAaaa) {
  Packet mx = {0, 20};
  const Packet exchange = Name("mx.example.com");
  mx.insert(mx.end(), exchange.begin(), exchange.end());
  const Packet txt = {3, 'a', 'b', 'c', 2, 'd', 'e', 0};
  Packet aaaa(16, 0);
  aaaa[0] = 0x20, aaaa[1] = 0x01, aaaa[2] = 0x0d, aaaa[3] = 0xb8, aaaa[15] = 5;
  const Packet packet = Response({{15, mx}, {16, txt}, {2, Name("ns.example.com")}, {28, aaaa}});
  EXPECT_EQ(ParseDnsAnswers(packet, DnsRecordType::kMX).value(),
            (std::vector<std::string>{"20 mx.example.com"}));
  EXPECT_EQ(ParseDnsAnswers(packet, DnsRecordType::kTXT).value(),
            (std::vector<std::string>{"abcde"}));
  EXPECT_EQ(ParseDnsAnswers(packet, DnsRecordType::kNS).value(),
            (std::vector<std::string>{"ns.example.com"}));
  EXPECT_EQ(ParseDnsAnswers(packet, DnsRecordType::kAAAA).value(),
            (std::vector<std::string>{"2001:db8::5"}));
}

TEST(DnsAnswerParserTest, BinaryTxtIsEscaped) {
  const Packet packet = Response({{16, {3, 'a', 0, 0xff}}});
  EXPECT_EQ(ParseDnsAnswers(packet, DnsRecordType::kTXT).value(),
            (std::vector<std::string>{"a\\x00\\xff"}));
}

TEST(DnsAnswerParserTest, MalformedPacketsAreErrorsNotCrashes) {
  EXPECT_FALSE(ParseDnsAnswers({}, DnsRecordType::kA).ok());
  EXPECT_FALSE(ParseDnsAnswers(Packet(11, 0), DnsRecordType::kA).ok());
  const Packet good = Response({{1, {192, 0, 2, 7}}, {16, {5, 'a', 'b', 'c', 'd', 'e'}}});
  // Every truncation of a valid packet must parse or fail cleanly.
  for (size_t length = 0; length < good.size(); ++length) {
    const Packet cut(good.begin(), good.begin() + static_cast<long>(length));
    EXPECT_FALSE(ParseDnsAnswers(cut, DnsRecordType::kA).ok()) << length;
  }
  EXPECT_FALSE(ParseDnsAnswers(Response({{1, {1, 2, 3}}}), DnsRecordType::kA).ok());
  EXPECT_FALSE(ParseDnsAnswers(Response({{16, {9, 'a'}}}), DnsRecordType::kTXT).ok());
  Packet loop = Response({});
  loop[7] = 1;  // one answer whose name points at itself
  Put16(loop, 0xc000 | static_cast<unsigned>(loop.size()));
  EXPECT_FALSE(ParseDnsAnswers(loop, DnsRecordType::kA).ok());
}

TEST(DnsAnswerParserTest, AnswerCountLargerThanThePacket) {
  Packet packet = Response({{1, {192, 0, 2, 7}}});
  packet[6] = 0xff;
  packet[7] = 0xff;
  EXPECT_FALSE(ParseDnsAnswers(packet, DnsRecordType::kA).ok());
}

TEST(DnsServerTest, ParsesHostAndPort) {
  EXPECT_EQ(ParseDnsServer("10.0.0.2").value().host, "10.0.0.2");
  EXPECT_EQ(ParseDnsServer("10.0.0.2").value().port, 53);
  EXPECT_EQ(ParseDnsServer("127.0.0.1:5353").value().port, 5353);
  EXPECT_EQ(ParseDnsServer("[::1]:5300").value().host, "::1");
  EXPECT_EQ(ParseDnsServer("[::1]:5300").value().port, 5300);
  EXPECT_EQ(ParseDnsServer("::1").value().host, "::1");
  EXPECT_EQ(ParseDnsServer("::1").value().port, 53);
  EXPECT_EQ(ParseDnsServer("2001:db8::53").value().host, "2001:db8::53");
  EXPECT_EQ(ParseDnsServer("ns.example.com:54").value().host, "ns.example.com");
  for (const char* bad :
       {"", ":53", "1.2.3.4:", "1.2.3.4:0", "1.2.3.4:65536", "[::1", "[::1]x", "1.2.3.4:5x"}) {
    EXPECT_FALSE(ParseDnsServer(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace pharos
