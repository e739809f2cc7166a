#include "common/check_result_json.h"

#include <gtest/gtest.h>

#include "common/rfc3339.h"

namespace pharos {
namespace {

using nlohmann::json;
using std::chrono::system_clock;

system_clock::time_point Time(const char* text) { return *ParseRfc3339(text); }

CheckResult FullResult() {
  CheckResult result;
  result.monitor_namespace = "shop";
  result.monitor_name = "checkout-api";
  result.monitor_uid = "0b6f3c1e";
  result.generation = 3;
  result.type = MonitorType::kHttp;
  result.target = "https://shop.example.com/health";
  result.region = "eu-west";
  result.probe = "probe-a";
  result.item_id = "item-42";
  result.scheduled_at = Time("2026-11-25T23:17:54.000Z");
  result.started_at = Time("2026-11-25T23:17:54.123Z");
  result.outcome = Outcome::kDown;
  result.status_code = 503;
  result.timings = {1, 2, 3, 4, 5, 15};
  result.cert_expiry = Time("2027-01-01T00:00:00.000Z");
  result.cert_earliest_expiry = Time("2026-12-31T00:00:00.000Z");
  result.failed_assertion =
      FailedAssertion{"statusCode", "eq 200", "503", "status code 503, expected eq 200"};
  result.error = "";
  result.attempts = 2;
  result.dns_records = {"93.184.216.34", "93.184.216.35"};
  return result;
}

void ExpectSame(const CheckResult& a, const CheckResult& b) {
  EXPECT_EQ(a.monitor_namespace, b.monitor_namespace);
  EXPECT_EQ(a.monitor_name, b.monitor_name);
  EXPECT_EQ(a.monitor_uid, b.monitor_uid);
  EXPECT_EQ(a.generation, b.generation);
  EXPECT_EQ(a.type, b.type);
  EXPECT_EQ(a.target, b.target);
  EXPECT_EQ(a.region, b.region);
  EXPECT_EQ(a.probe, b.probe);
  EXPECT_EQ(a.item_id, b.item_id);
  EXPECT_EQ(a.scheduled_at, b.scheduled_at);
  EXPECT_EQ(a.started_at, b.started_at);
  EXPECT_EQ(a.outcome, b.outcome);
  EXPECT_EQ(a.status_code, b.status_code);
  EXPECT_EQ(a.timings.dns_us, b.timings.dns_us);
  EXPECT_EQ(a.timings.connect_us, b.timings.connect_us);
  EXPECT_EQ(a.timings.tls_us, b.timings.tls_us);
  EXPECT_EQ(a.timings.first_byte_us, b.timings.first_byte_us);
  EXPECT_EQ(a.timings.transfer_us, b.timings.transfer_us);
  EXPECT_EQ(a.timings.total_us, b.timings.total_us);
  EXPECT_EQ(a.cert_expiry, b.cert_expiry);
  EXPECT_EQ(a.cert_earliest_expiry, b.cert_earliest_expiry);
  ASSERT_EQ(a.failed_assertion.has_value(), b.failed_assertion.has_value());
  if (a.failed_assertion) {
    EXPECT_EQ(a.failed_assertion->type, b.failed_assertion->type);
    EXPECT_EQ(a.failed_assertion->expected, b.failed_assertion->expected);
    EXPECT_EQ(a.failed_assertion->actual, b.failed_assertion->actual);
    EXPECT_EQ(a.failed_assertion->message, b.failed_assertion->message);
  }
  EXPECT_EQ(a.error, b.error);
  EXPECT_EQ(a.attempts, b.attempts);
  EXPECT_EQ(a.dns_records, b.dns_records);
}

TEST(CheckResultJsonTest, WritesTheDocumentedFields) {
  const json out = CheckResultToJson(FullResult());
  EXPECT_EQ(out["namespace"], "shop");
  EXPECT_EQ(out["name"], "checkout-api");
  EXPECT_EQ(out["type"], "http");
  EXPECT_EQ(out["itemId"], "item-42");
  EXPECT_EQ(out["scheduledAt"], "2026-11-25T23:17:54.000Z");
  EXPECT_EQ(out["startedAt"], "2026-11-25T23:17:54.123Z");
  EXPECT_EQ(out["outcome"], "down");
  EXPECT_EQ(out["statusCode"], 503);
  EXPECT_EQ(out["timings"], json::parse(R"({"dnsUs":1,"connectUs":2,"tlsUs":3,
                                            "firstByteUs":4,"transferUs":5,"totalUs":15})"));
  EXPECT_EQ(out["certExpiry"], "2027-01-01T00:00:00.000Z");
  EXPECT_EQ(out["failedAssertion"]["expected"], "eq 200");
  EXPECT_EQ(out["dnsRecords"], json::parse(R"(["93.184.216.34","93.184.216.35"])"));
  EXPECT_EQ(out.size(), 22u);
}

TEST(CheckResultJsonTest, NullsForAbsentOptionals) {
  CheckResult result;
  result.outcome = Outcome::kUp;
  const json out = CheckResultToJson(result);
  EXPECT_TRUE(out["certExpiry"].is_null());
  EXPECT_TRUE(out["certEarliestExpiry"].is_null());
  EXPECT_TRUE(out["failedAssertion"].is_null());
}

TEST(CheckResultJsonTest, RoundTrips) {
  const CheckResult original = FullResult();
  Result<CheckResult> parsed = CheckResultFromJson(CheckResultToJson(original));
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  ExpectSame(original, *parsed);

  CheckResult sparse;
  sparse.outcome = Outcome::kDegraded;
  sparse.type = MonitorType::kDns;
  Result<CheckResult> sparse_parsed = CheckResultFromJson(CheckResultToJson(sparse));
  ASSERT_TRUE(sparse_parsed.ok()) << sparse_parsed.error();
  ExpectSame(sparse, *sparse_parsed);
  // Through text too, as the probe protocol carries it.
  Result<CheckResult> via_text =
      CheckResultFromJson(json::parse(CheckResultToJson(original).dump()));
  ASSERT_TRUE(via_text.ok()) << via_text.error();
  ExpectSame(original, *via_text);
}

TEST(CheckResultJsonTest, AcceptsTimestampsWithoutFraction) {
  json in = CheckResultToJson(FullResult());
  in["startedAt"] = "2026-11-25T23:17:54Z";
  Result<CheckResult> parsed = CheckResultFromJson(in);
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  EXPECT_EQ(parsed->started_at, Time("2026-11-25T23:17:54.000Z"));
}

std::string ErrorFor(const std::string& field, const json& value) {
  json in = CheckResultToJson(FullResult());
  json* target = &in;
  std::string key = field;
  if (const size_t dot = field.find('.'); dot != std::string::npos) {
    target = &in[field.substr(0, dot)];
    key = field.substr(dot + 1);
  }
  (*target)[key] = value;
  Result<CheckResult> parsed = CheckResultFromJson(in);
  return parsed.ok() ? "(accepted)" : parsed.error();
}

TEST(CheckResultJsonTest, StrictAboutValues) {
  EXPECT_EQ(ErrorFor("outcome", "sideways"),
            "outcome: unknown outcome \"sideways\" (expected up, degraded, down or error)");
  EXPECT_EQ(ErrorFor("outcome", 1), "outcome: expected a string, got number");
  EXPECT_EQ(ErrorFor("type", "smtp"),
            "type: unknown monitor type \"smtp\" (expected http, tcp, dns, icmp, grpc or push)");
  EXPECT_EQ(ErrorFor("statusCode", "200"), "statusCode: expected an integer, got string");
  EXPECT_EQ(ErrorFor("statusCode", 200.5), "statusCode: expected an integer, got number");
  EXPECT_EQ(ErrorFor("statusCode", 1LL << 40), "statusCode: integer out of range");
  EXPECT_EQ(ErrorFor("generation", 18446744073709551615ULL), "generation: integer out of range");
  EXPECT_EQ(ErrorFor("name", nullptr), "name: expected a string, got null");
  EXPECT_EQ(ErrorFor("timings.dnsUs", "1"), "timings.dnsUs: expected an integer, got string");
  EXPECT_EQ(ErrorFor("timings", json::array()), "timings: expected an object, got array");
  EXPECT_EQ(ErrorFor("startedAt", "now"),
            "startedAt: \"now\" is not an RFC 3339 timestamp (like 2026-11-25T23:17:54.123Z)");
  EXPECT_EQ(ErrorFor("startedAt", nullptr), "startedAt: expected an RFC 3339 timestamp, got null");
  EXPECT_EQ(ErrorFor("certExpiry", 5),
            "certExpiry: expected an RFC 3339 timestamp or null, got number");
  EXPECT_EQ(ErrorFor("failedAssertion", "x"),
            "failedAssertion: expected an object or null, got string");
  EXPECT_EQ(ErrorFor("failedAssertion.actual", 503),
            "failedAssertion.actual: expected a string, got number");
  EXPECT_EQ(ErrorFor("dnsRecords", json::parse(R"(["a", 1])")),
            "dnsRecords[1]: expected a string, got number");
}

TEST(CheckResultJsonTest, OutcomeIsRequired) {
  json in = CheckResultToJson(FullResult());
  in.erase("outcome");
  EXPECT_EQ(CheckResultFromJson(in).error(), "outcome: missing");
  EXPECT_EQ(CheckResultFromJson(json::array()).error(),
            "check result: expected a JSON object, got array");
}

TEST(CheckResultJsonTest, OutcomeSpellings) {
  for (Outcome outcome : {Outcome::kUp, Outcome::kDegraded, Outcome::kDown, Outcome::kError}) {
    EXPECT_EQ(ParseOutcome(ToString(outcome)), outcome);
  }
  EXPECT_EQ(ParseOutcome("Up"), std::nullopt);
}

}  // namespace
}  // namespace pharos

namespace pharos {
namespace {

TEST(CheckResultJsonTest, IcmpStatsAndAddressesRoundTrip) {
  CheckResult result = FullResult();
  result.type = MonitorType::kIcmp;
  result.icmp = IcmpStats{3, 2, 100, 150, 200};
  AddressResult first;
  first.address = "127.0.0.1";
  first.outcome = Outcome::kUp;
  first.total_us = 150;
  first.icmp = IcmpStats{3, 3, 90, 100, 110};
  AddressResult second;
  second.address = "10.1.2.3:8080";
  second.name = "web-7d9f";
  second.outcome = Outcome::kDown;
  second.status_code = 503;
  second.message = "status code is 503, expected 2xx";
  result.addresses = {first, second};
  const json written = CheckResultToJson(result);
  EXPECT_DOUBLE_EQ(written["icmp"]["packetLossPercent"].get<double>(), 100.0 / 3.0);
  EXPECT_EQ(written["addresses"][1]["name"], "web-7d9f");
  Result<CheckResult> read = CheckResultFromJson(json::parse(written.dump()));
  ASSERT_TRUE(read.ok()) << read.error();
  EXPECT_EQ(read->icmp, result.icmp);
  EXPECT_EQ(read->addresses, result.addresses);
}

TEST(CheckResultJsonTest, ResultsOfOlderProbesHaveNoAddresses) {
  json older = CheckResultToJson(FullResult());
  older.erase("icmp");
  older.erase("addresses");
  Result<CheckResult> read = CheckResultFromJson(older);
  ASSERT_TRUE(read.ok()) << read.error();
  EXPECT_FALSE(read->icmp.has_value());
  EXPECT_TRUE(read->addresses.empty());
  json bad = CheckResultToJson(FullResult());
  bad["addresses"] = json::array({json{{"address", "a"}, {"outcome", "sideways"}}});
  EXPECT_EQ(CheckResultFromJson(bad).error(), "addresses[0].outcome: unknown outcome \"sideways\"");
  bad["addresses"] = json::array({json{{"outcome", "up"}}});
  EXPECT_EQ(CheckResultFromJson(bad).error(), "addresses[0].address: missing");
}

}  // namespace
}  // namespace pharos
