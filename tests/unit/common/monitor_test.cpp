#include "common/monitor.h"

#include <gtest/gtest.h>

namespace pharos {
namespace {

TEST(MonitorTest, EnumSpellingsRoundTrip) {
  for (auto type : {MonitorType::kHttp, MonitorType::kTcp, MonitorType::kDns}) {
    EXPECT_EQ(ParseMonitorType(ToString(type)), type);
  }
  for (auto method : {HttpMethod::kGet, HttpMethod::kHead, HttpMethod::kPost, HttpMethod::kPut,
                      HttpMethod::kPatch, HttpMethod::kDelete, HttpMethod::kOptions}) {
    EXPECT_EQ(ParseHttpMethod(ToString(method)), method);
  }
  for (auto record : {DnsRecordType::kA, DnsRecordType::kAAAA, DnsRecordType::kCNAME,
                      DnsRecordType::kMX, DnsRecordType::kTXT, DnsRecordType::kNS}) {
    EXPECT_EQ(ParseDnsRecordType(ToString(record)), record);
  }
  for (auto type : {AssertionType::kStatusCode, AssertionType::kHeader, AssertionType::kBody,
                    AssertionType::kJsonPath, AssertionType::kLatency, AssertionType::kCertExpiry,
                    AssertionType::kDnsRecord}) {
    EXPECT_EQ(ParseAssertionType(ToString(type)), type);
  }
  for (auto op : {CompareOp::kEq, CompareOp::kNotEq, CompareOp::kGt, CompareOp::kGte,
                  CompareOp::kLt, CompareOp::kLte, CompareOp::kContains, CompareOp::kNotContains,
                  CompareOp::kMatches, CompareOp::kEmpty, CompareOp::kNotEmpty}) {
    EXPECT_EQ(ParseCompareOp(ToString(op)), op);
  }
}

TEST(MonitorTest, SpellingsAreTheYamlOnes) {
  EXPECT_STREQ(ToString(MonitorType::kHttp), "http");
  EXPECT_STREQ(ToString(HttpMethod::kOptions), "OPTIONS");
  EXPECT_STREQ(ToString(DnsRecordType::kAAAA), "AAAA");
  EXPECT_STREQ(ToString(AssertionType::kStatusCode), "statusCode");
  EXPECT_STREQ(ToString(AssertionType::kJsonPath), "jsonPath");
  EXPECT_STREQ(ToString(CompareOp::kNotEq), "not_eq");
  EXPECT_STREQ(ToString(CompareOp::kNotEmpty), "not_empty");
}

TEST(MonitorTest, UnknownSpellingsAreRejected) {
  EXPECT_EQ(ParseMonitorType("HTTP"), std::nullopt);
  EXPECT_EQ(ParseHttpMethod("get"), std::nullopt);
  EXPECT_EQ(ParseDnsRecordType("SRV"), std::nullopt);
  EXPECT_EQ(ParseAssertionType("status"), std::nullopt);
  EXPECT_EQ(ParseCompareOp("ne"), std::nullopt);
  EXPECT_EQ(ParseCompareOp(""), std::nullopt);
}

TEST(MonitorTest, TargetDescribesWhatIsChecked) {
  Monitor http;
  http.type = MonitorType::kHttp;
  http.http = HttpSpec{.url = "https://example.com/health"};
  EXPECT_EQ(http.Target(), "https://example.com/health");

  Monitor tcp;
  tcp.type = MonitorType::kTcp;
  tcp.tcp = TcpSpec{.host = "db.example.com", .port = 5432};
  EXPECT_EQ(tcp.Target(), "db.example.com:5432");
  tcp.tcp->host = "::1";
  EXPECT_EQ(tcp.Target(), "[::1]:5432");

  Monitor dns;
  dns.type = MonitorType::kDns;
  dns.dns = DnsSpec{.name = "example.com", .record_type = DnsRecordType::kAAAA};
  EXPECT_EQ(dns.Target(), "example.com AAAA");
  dns.dns->server = "127.0.0.1:5353";
  EXPECT_EQ(dns.Target(), "example.com AAAA @127.0.0.1:5353");
}

TEST(MonitorTest, KeyIsNamespaceSlashName) {
  Monitor monitor;
  monitor.name = "checkout-api";
  EXPECT_EQ(monitor.Key(), "default/checkout-api");
}

TEST(MonitorTest, AnAbsentSourceReadsAsADefaultOne) {
  static_assert(sizeof(CompactSourceLocation) == sizeof(void*));
  Monitor monitor;
  EXPECT_EQ(*monitor.source, SourceLocation{});
  EXPECT_EQ(monitor.source->file, "");
  EXPECT_EQ(monitor.source->line, 0);
  EXPECT_EQ(monitor.source, SourceLocation{});

  monitor.source = SourceLocation{"m.yaml", 3, 1};
  EXPECT_EQ(monitor.source->file, "m.yaml");
  EXPECT_EQ(monitor.source->line, 3);
  EXPECT_EQ(monitor.source->column, 1);
  EXPECT_NE(monitor.source, SourceLocation{});

  Monitor copy = monitor;
  monitor.source = {};
  EXPECT_EQ(monitor.source, SourceLocation{});
  EXPECT_EQ(copy.source, (SourceLocation{"m.yaml", 3, 1}));
  EXPECT_NE(copy, monitor);
  copy.source = SourceLocation{};  // a default location equals an absent one
  EXPECT_EQ(copy, monitor);
}

}  // namespace
}  // namespace pharos
