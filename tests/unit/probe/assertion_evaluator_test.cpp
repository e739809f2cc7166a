#include "probe/assertion_evaluator.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace pharos {
namespace {

using std::chrono::hours;
using ::testing::HasSubstr;
using ::testing::StartsWith;

class FixedClock : public Clock {
 public:
  TimePoint Now() const override { return now; }
  std::chrono::steady_clock::time_point SteadyNow() const override { return {}; }
  TimePoint now = std::chrono::system_clock::from_time_t(1'700'000'000);
};

class AssertionEvaluatorTest : public ::testing::Test {
 protected:
  AssertionEvaluatorTest() {
    http_.type = MonitorType::kHttp;
    http_.http.emplace();
    dns_.type = MonitorType::kDns;
    dns_.dns.emplace();
    dns_.dns->name = "example.com";
    observation_.status_code = 200;
    observation_.headers = {{"Content-Type", "application/json; charset=utf-8"},
                            {"Set-Cookie", "a=1"},
                            {"set-cookie", "b=2"},
                            {"X-Empty", ""}};
    observation_.body = R"({"status":"ok","count":3,"ratio":0.5,"flag":true,"none":null,)"
                        R"("items":[{"id":1,"name":"a"},{"id":2,"name":"b"}],"tags":[],"obj":{}})";
    observation_.timings.total_us = 250'000;
  }

  std::optional<FailedAssertion> Check(AssertionType type, CompareOp op, std::string value,
                                       std::string name = "", std::string path = "") {
    Assertion assertion;
    assertion.type = type;
    assertion.op = op;
    assertion.value = std::move(value);
    assertion.name = std::move(name);
    assertion.path = std::move(path);
    const Monitor& monitor = type == AssertionType::kDnsRecord ? dns_ : http_;
    return evaluator_.Evaluate(monitor, assertion, observation_);
  }
  bool Holds(AssertionType type, CompareOp op, std::string value, std::string name = "",
             std::string path = "") {
    return !Check(type, op, std::move(value), std::move(name), std::move(path)).has_value();
  }
  bool JsonHolds(const std::string& path, CompareOp op, const std::string& value = "") {
    return Holds(AssertionType::kJsonPath, op, value, "", path);
  }

  FixedClock clock_;
  AssertionEvaluator evaluator_{clock_};
  Monitor http_;
  Monitor dns_;
  Observation observation_;
};

TEST_F(AssertionEvaluatorTest, StatusCodeComparesNumerically) {
  EXPECT_TRUE(Holds(AssertionType::kStatusCode, CompareOp::kEq, "200"));
  EXPECT_TRUE(Holds(AssertionType::kStatusCode, CompareOp::kEq, "200.0"));
  EXPECT_FALSE(Holds(AssertionType::kStatusCode, CompareOp::kEq, "201"));
  EXPECT_TRUE(Holds(AssertionType::kStatusCode, CompareOp::kNotEq, "500"));
  EXPECT_FALSE(Holds(AssertionType::kStatusCode, CompareOp::kNotEq, "200"));
  EXPECT_TRUE(Holds(AssertionType::kStatusCode, CompareOp::kGt, "199"));
  EXPECT_FALSE(Holds(AssertionType::kStatusCode, CompareOp::kGt, "200"));
  EXPECT_TRUE(Holds(AssertionType::kStatusCode, CompareOp::kGte, "200"));
  EXPECT_TRUE(Holds(AssertionType::kStatusCode, CompareOp::kLt, "300"));
  EXPECT_FALSE(Holds(AssertionType::kStatusCode, CompareOp::kLt, "200"));
  EXPECT_TRUE(Holds(AssertionType::kStatusCode, CompareOp::kLte, "200"));
  // Numeric, not textual: "1000" > "200" although "1000" < "200" as text.
  EXPECT_TRUE(Holds(AssertionType::kStatusCode, CompareOp::kLt, "1000"));
  EXPECT_TRUE(Holds(AssertionType::kStatusCode, CompareOp::kContains, "20"));
  EXPECT_TRUE(Holds(AssertionType::kStatusCode, CompareOp::kNotContains, "5"));
  EXPECT_TRUE(Holds(AssertionType::kStatusCode, CompareOp::kMatches, "^2\\d\\d$"));
  EXPECT_TRUE(Holds(AssertionType::kStatusCode, CompareOp::kNotEmpty, ""));
  EXPECT_FALSE(Holds(AssertionType::kStatusCode, CompareOp::kEmpty, ""));
}

TEST_F(AssertionEvaluatorTest, StatusCodeFailureInPlainWords) {
  observation_.status_code = 503;
  const auto failure = Check(AssertionType::kStatusCode, CompareOp::kEq, "200");
  ASSERT_TRUE(failure.has_value());
  EXPECT_EQ(failure->type, "statusCode");
  EXPECT_EQ(failure->expected, "eq 200");
  EXPECT_EQ(failure->actual, "503");
  EXPECT_EQ(failure->message, "status code is 503, expected eq 200");
}

TEST_F(AssertionEvaluatorTest, HeaderNamesAreCaseInsensitive) {
  EXPECT_TRUE(Holds(AssertionType::kHeader, CompareOp::kContains, "json", "content-type"));
  EXPECT_TRUE(Holds(AssertionType::kHeader, CompareOp::kContains, "json", "CONTENT-TYPE"));
  EXPECT_TRUE(Holds(AssertionType::kHeader, CompareOp::kEq, "application/json; charset=utf-8",
                    "Content-Type"));
  EXPECT_FALSE(Holds(AssertionType::kHeader, CompareOp::kEq, "application/json", "content-type"));
  EXPECT_TRUE(Holds(AssertionType::kHeader, CompareOp::kNotContains, "xml", "content-type"));
  EXPECT_TRUE(
      Holds(AssertionType::kHeader, CompareOp::kMatches, "^application/\\w+", "content-type"));
  EXPECT_TRUE(Holds(AssertionType::kHeader, CompareOp::kEmpty, "", "x-empty"));
  EXPECT_FALSE(Holds(AssertionType::kHeader, CompareOp::kNotEmpty, "", "x-empty"));
}

TEST_F(AssertionEvaluatorTest, RepeatedHeadersAnyForPositiveEveryForNegative) {
  EXPECT_TRUE(Holds(AssertionType::kHeader, CompareOp::kEq, "b=2", "set-cookie"));
  EXPECT_TRUE(Holds(AssertionType::kHeader, CompareOp::kEq, "a=1", "set-cookie"));
  EXPECT_FALSE(Holds(AssertionType::kHeader, CompareOp::kNotEq, "a=1", "set-cookie"));
  EXPECT_TRUE(Holds(AssertionType::kHeader, CompareOp::kNotContains, "c=", "set-cookie"));
  EXPECT_FALSE(Holds(AssertionType::kHeader, CompareOp::kNotContains, "b=", "set-cookie"));
}

TEST_F(AssertionEvaluatorTest, MissingHeaderIsEmpty) {
  EXPECT_TRUE(Holds(AssertionType::kHeader, CompareOp::kEmpty, "", "x-missing"));
  EXPECT_TRUE(Holds(AssertionType::kHeader, CompareOp::kNotEq, "x", "x-missing"));
  EXPECT_TRUE(Holds(AssertionType::kHeader, CompareOp::kNotContains, "x", "x-missing"));
  EXPECT_TRUE(Holds(AssertionType::kHeader, CompareOp::kEq, "", "x-missing"));
  const auto failure = Check(AssertionType::kHeader, CompareOp::kEq, "yes", "X-Missing");
  ASSERT_TRUE(failure.has_value());
  EXPECT_EQ(failure->actual, "");
  EXPECT_EQ(failure->message, "header X-Missing is missing, expected eq yes");
  const auto not_empty = Check(AssertionType::kHeader, CompareOp::kNotEmpty, "", "X-Missing");
  ASSERT_TRUE(not_empty.has_value());
  EXPECT_EQ(not_empty->expected, "not_empty");
}

TEST_F(AssertionEvaluatorTest, HeaderFailureQuotesTheValue) {
  const auto failure = Check(AssertionType::kHeader, CompareOp::kContains, "xml", "content-type");
  ASSERT_TRUE(failure.has_value());
  EXPECT_EQ(failure->type, "header");
  EXPECT_EQ(failure->actual, "application/json; charset=utf-8");
  EXPECT_EQ(failure->message,
            "header content-type is \"application/json; charset=utf-8\", expected contains xml");
}

TEST_F(AssertionEvaluatorTest, BodyOperators) {
  EXPECT_TRUE(Holds(AssertionType::kBody, CompareOp::kContains, R"("status":"ok")"));
  EXPECT_FALSE(Holds(AssertionType::kBody, CompareOp::kContains, "error"));
  EXPECT_TRUE(Holds(AssertionType::kBody, CompareOp::kNotContains, "error"));
  EXPECT_FALSE(Holds(AssertionType::kBody, CompareOp::kEq, "ok"));
  EXPECT_TRUE(Holds(AssertionType::kBody, CompareOp::kNotEq, "ok"));
  EXPECT_TRUE(Holds(AssertionType::kBody, CompareOp::kMatches, R"("count":\s*\d+)"));
  EXPECT_TRUE(Holds(AssertionType::kBody, CompareOp::kNotEmpty, ""));
  EXPECT_FALSE(Holds(AssertionType::kBody, CompareOp::kEmpty, ""));
  observation_.body = "";
  EXPECT_TRUE(Holds(AssertionType::kBody, CompareOp::kEmpty, ""));
  const auto failure = Check(AssertionType::kBody, CompareOp::kNotEmpty, "");
  ASSERT_TRUE(failure.has_value());
  EXPECT_EQ(failure->message, "body is empty, expected not_empty");
}

TEST_F(AssertionEvaluatorTest, BodyTextComparisonWhenNotNumeric) {
  observation_.body = "banana";
  EXPECT_TRUE(Holds(AssertionType::kBody, CompareOp::kGt, "apple"));
  EXPECT_TRUE(Holds(AssertionType::kBody, CompareOp::kLt, "cherry"));
  observation_.body = "42";
  EXPECT_TRUE(Holds(AssertionType::kBody, CompareOp::kGt, "9"));  // numeric: 42 > 9
  EXPECT_TRUE(Holds(AssertionType::kBody, CompareOp::kEq, "42.0"));
  observation_.body = "42 apples";
  EXPECT_FALSE(Holds(AssertionType::kBody, CompareOp::kGt, "9"));  // text: "42 apples" < "9"
}

TEST_F(AssertionEvaluatorTest, LongBodyIsExcerptedInTheFailure) {
  observation_.body = std::string(10000, 'z');
  const auto failure = Check(AssertionType::kBody, CompareOp::kContains, "needle");
  ASSERT_TRUE(failure.has_value());
  EXPECT_LE(failure->actual.size(), 210u);
  EXPECT_THAT(failure->actual, ::testing::EndsWith("…"));
  EXPECT_LE(failure->message.size(), 520u);
}

TEST_F(AssertionEvaluatorTest, InvalidRegexAndMatchLimitFailWithReasons) {
  auto failure = Check(AssertionType::kBody, CompareOp::kMatches, "(unclosed");
  ASSERT_TRUE(failure.has_value());
  EXPECT_THAT(failure->message, StartsWith("invalid regular expression \"(unclosed\": "));
  observation_.body = std::string(30, 'a') + "!";
  failure = Check(AssertionType::kBody, CompareOp::kMatches, "^(a+)+$");
  ASSERT_TRUE(failure.has_value());
  EXPECT_THAT(failure->message, StartsWith("body: regular expression gave up"));
}

TEST_F(AssertionEvaluatorTest, JsonPathSelectsStringsNumbersBoolsNull) {
  EXPECT_TRUE(JsonHolds("$.status", CompareOp::kEq, "ok"));
  EXPECT_FALSE(JsonHolds("$.status", CompareOp::kEq, "\"ok\""));  // strings compare unquoted
  EXPECT_TRUE(JsonHolds("$.count", CompareOp::kEq, "3"));
  EXPECT_TRUE(JsonHolds("$.count", CompareOp::kGte, "3"));
  EXPECT_TRUE(JsonHolds("$.count", CompareOp::kLt, "10"));
  EXPECT_TRUE(JsonHolds("$.ratio", CompareOp::kEq, "0.5"));
  EXPECT_TRUE(JsonHolds("$.flag", CompareOp::kEq, "true"));
  EXPECT_TRUE(JsonHolds("$.none", CompareOp::kEq, "null"));
  EXPECT_TRUE(JsonHolds("$.none", CompareOp::kEmpty));
  EXPECT_TRUE(JsonHolds("$.tags", CompareOp::kEmpty));
  EXPECT_TRUE(JsonHolds("$.obj", CompareOp::kEmpty));
  EXPECT_TRUE(JsonHolds("$.status", CompareOp::kNotEmpty));
  EXPECT_TRUE(JsonHolds("$.items[0]", CompareOp::kEq, R"({"id":1,"name":"a"})"));
  EXPECT_TRUE(JsonHolds("$.status", CompareOp::kMatches, "^o"));
  EXPECT_TRUE(JsonHolds("$.status", CompareOp::kContains, "k"));
}

TEST_F(AssertionEvaluatorTest, JsonPathSeveralSelections) {
  EXPECT_TRUE(JsonHolds("$.items[*].name", CompareOp::kEq, "b"));
  EXPECT_FALSE(JsonHolds("$.items[*].name", CompareOp::kEq, "c"));
  EXPECT_TRUE(JsonHolds("$.items[*].id", CompareOp::kGt, "1"));
  EXPECT_TRUE(JsonHolds("$.items[*].name", CompareOp::kNotEq, "c"));
  EXPECT_FALSE(JsonHolds("$.items[*].name", CompareOp::kNotEq, "a"));
  EXPECT_TRUE(JsonHolds("$.items[*].name", CompareOp::kNotContains, "z"));
  EXPECT_FALSE(JsonHolds("$.items[*].name", CompareOp::kNotContains, "b"));
  const auto failure = Check(AssertionType::kJsonPath, CompareOp::kEq, "c", "", "$.items[*].name");
  ASSERT_TRUE(failure.has_value());
  EXPECT_EQ(failure->actual, "a, b");
}

TEST_F(AssertionEvaluatorTest, JsonPathSelectingNothing) {
  EXPECT_FALSE(JsonHolds("$.missing", CompareOp::kEq, "x"));
  EXPECT_FALSE(JsonHolds("$.missing", CompareOp::kNotEmpty));
  EXPECT_TRUE(JsonHolds("$.missing", CompareOp::kEmpty));
  EXPECT_TRUE(JsonHolds("$.missing", CompareOp::kNotEq, "x"));
  const auto failure = Check(AssertionType::kJsonPath, CompareOp::kEq, "x", "", "$.missing");
  ASSERT_TRUE(failure.has_value());
  EXPECT_EQ(failure->message, "$.missing selected nothing, expected eq x");
}

TEST_F(AssertionEvaluatorTest, NumbersBeyondADoubleDoNotMakeTheBodyNotJson) {
  observation_.body = R"({"status": "ok", "huge": 1e400, "tiny": -1E+999, "note": "1e400"})";
  EXPECT_TRUE(JsonHolds("$.status", CompareOp::kEq, "ok"));
  EXPECT_TRUE(JsonHolds("$.huge", CompareOp::kGt, "1e300"));
  EXPECT_TRUE(JsonHolds("$.tiny", CompareOp::kLt, "-1e300"));
  EXPECT_TRUE(JsonHolds("$.note", CompareOp::kEq, "1e400"));
}

TEST_F(AssertionEvaluatorTest, JsonPathOnNonJsonBody) {
  observation_.body = "<html>oops</html>";
  auto failure = Check(AssertionType::kJsonPath, CompareOp::kEq, "ok", "", "$.status");
  ASSERT_TRUE(failure.has_value());
  EXPECT_EQ(failure->type, "jsonPath");
  EXPECT_THAT(failure->message, StartsWith("body is not JSON: parse error"));
  EXPECT_EQ(failure->actual, "<html>oops</html>");
  observation_.body = "";
  failure = Check(AssertionType::kJsonPath, CompareOp::kEq, "ok", "", "$.status");
  ASSERT_TRUE(failure.has_value());
  EXPECT_EQ(failure->message, "body is not JSON: the body is empty");
  observation_.body = std::string(100000, '[');
  failure = Check(AssertionType::kJsonPath, CompareOp::kEq, "ok", "", "$.status");
  ASSERT_TRUE(failure.has_value());
  EXPECT_EQ(failure->message, "body is not JSON: nested deeper than 256 levels");
  observation_.body = R"({"a":1)";
  observation_.body_truncated = true;
  failure = Check(AssertionType::kJsonPath, CompareOp::kEq, "1", "", "$.a");
  ASSERT_TRUE(failure.has_value());
  EXPECT_THAT(failure->message, HasSubstr("(the body was cut at 6 bytes)"));
}

TEST_F(AssertionEvaluatorTest, InvalidJsonPathFails) {
  const auto failure = Check(AssertionType::kJsonPath, CompareOp::kEq, "ok", "", "status[");
  ASSERT_TRUE(failure.has_value());
  EXPECT_THAT(failure->message, StartsWith("invalid JSONPath \"status[\": "));
}

TEST_F(AssertionEvaluatorTest, LatencyUsesTotalTimeAndDurations) {
  EXPECT_TRUE(Holds(AssertionType::kLatency, CompareOp::kLt, "500ms"));
  EXPECT_TRUE(Holds(AssertionType::kLatency, CompareOp::kLt, "1s"));
  EXPECT_FALSE(Holds(AssertionType::kLatency, CompareOp::kLt, "250ms"));
  EXPECT_TRUE(Holds(AssertionType::kLatency, CompareOp::kLte, "250ms"));
  EXPECT_TRUE(Holds(AssertionType::kLatency, CompareOp::kGt, "100ms"));
  EXPECT_TRUE(Holds(AssertionType::kLatency, CompareOp::kEq, "0.25s"));
  EXPECT_FALSE(Holds(AssertionType::kLatency, CompareOp::kLt, "300"));  // a unit is required
  const auto failure = Check(AssertionType::kLatency, CompareOp::kLt, "200ms");
  ASSERT_TRUE(failure.has_value());
  EXPECT_EQ(failure->type, "latency");
  EXPECT_EQ(failure->expected, "lt 200ms");
  EXPECT_EQ(failure->actual, "250ms");
  EXPECT_EQ(failure->message, "latency is 250ms, expected lt 200ms");
  const auto invalid = Check(AssertionType::kLatency, CompareOp::kLt, "fast");
  ASSERT_TRUE(invalid.has_value());
  EXPECT_THAT(invalid->message, StartsWith("invalid duration \"fast\""));
}

TEST_F(AssertionEvaluatorTest, CertExpiryUsesTheEarliestInTheChain) {
  observation_.cert_expiry = clock_.now + hours(24 * 90);
  observation_.cert_earliest_expiry = clock_.now + hours(100);
  EXPECT_TRUE(Holds(AssertionType::kCertExpiry, CompareOp::kGt, "48h"));
  EXPECT_FALSE(Holds(AssertionType::kCertExpiry, CompareOp::kGt, "168h"));
  EXPECT_TRUE(Holds(AssertionType::kCertExpiry, CompareOp::kLt, "168h"));
  const auto failure = Check(AssertionType::kCertExpiry, CompareOp::kGt, "168h");
  ASSERT_TRUE(failure.has_value());
  EXPECT_EQ(failure->actual, "100h");
  EXPECT_EQ(failure->message,
            "certificate expires in 100h (earliest in the chain), expected gt 168h");
}

TEST_F(AssertionEvaluatorTest, CertExpiryExpiredOrMissing) {
  observation_.cert_earliest_expiry = clock_.now - hours(3);
  auto failure = Check(AssertionType::kCertExpiry, CompareOp::kGt, "0s");
  ASSERT_TRUE(failure.has_value());
  EXPECT_EQ(failure->actual, "-3h");
  EXPECT_EQ(failure->message, "certificate expired 3h ago (earliest in the chain), expected gt 0s");
  observation_.cert_earliest_expiry.reset();
  failure = Check(AssertionType::kCertExpiry, CompareOp::kGt, "1h");
  ASSERT_TRUE(failure.has_value());
  EXPECT_EQ(failure->message, "no TLS certificate to check");
}

TEST_F(AssertionEvaluatorTest, DnsRecordOperators) {
  observation_.dns_records = {"93.184.216.34", "93.184.216.35"};
  EXPECT_TRUE(Holds(AssertionType::kDnsRecord, CompareOp::kEq, "93.184.216.35"));
  EXPECT_FALSE(Holds(AssertionType::kDnsRecord, CompareOp::kEq, "1.2.3.4"));
  EXPECT_TRUE(Holds(AssertionType::kDnsRecord, CompareOp::kContains, "216.34"));
  EXPECT_TRUE(Holds(AssertionType::kDnsRecord, CompareOp::kNotEq, "1.2.3.4"));
  EXPECT_FALSE(Holds(AssertionType::kDnsRecord, CompareOp::kNotEq, "93.184.216.34"));
  EXPECT_TRUE(Holds(AssertionType::kDnsRecord, CompareOp::kNotContains, "10."));
  EXPECT_FALSE(Holds(AssertionType::kDnsRecord, CompareOp::kNotContains, "93."));
  EXPECT_TRUE(Holds(AssertionType::kDnsRecord, CompareOp::kMatches, "^93\\.184\\."));
  EXPECT_TRUE(Holds(AssertionType::kDnsRecord, CompareOp::kNotEmpty, ""));
  EXPECT_FALSE(Holds(AssertionType::kDnsRecord, CompareOp::kEmpty, ""));
  const auto failure = Check(AssertionType::kDnsRecord, CompareOp::kEq, "1.2.3.4");
  ASSERT_TRUE(failure.has_value());
  EXPECT_EQ(failure->type, "dnsRecord");
  EXPECT_EQ(failure->actual, "93.184.216.34, 93.184.216.35");
  EXPECT_EQ(failure->message, "A records are 93.184.216.34, 93.184.216.35, expected eq 1.2.3.4");
  observation_.dns_records.clear();
  EXPECT_TRUE(Holds(AssertionType::kDnsRecord, CompareOp::kEmpty, ""));
  EXPECT_TRUE(Holds(AssertionType::kDnsRecord, CompareOp::kNotEq, "1.2.3.4"));
  const auto none = Check(AssertionType::kDnsRecord, CompareOp::kEq, "1.2.3.4");
  ASSERT_TRUE(none.has_value());
  EXPECT_EQ(none->message, "no A records, expected eq 1.2.3.4");
}

TEST_F(AssertionEvaluatorTest, DnsNamesIgnoreCaseAndTrailingDot) {
  dns_.dns->record_type = DnsRecordType::kCNAME;
  observation_.dns_records = {"Target.Example.com"};
  EXPECT_TRUE(Holds(AssertionType::kDnsRecord, CompareOp::kEq, "target.example.com."));
  EXPECT_TRUE(Holds(AssertionType::kDnsRecord, CompareOp::kEq, "TARGET.example.com"));
  dns_.dns->record_type = DnsRecordType::kTXT;
  observation_.dns_records = {"Hello"};
  EXPECT_FALSE(Holds(AssertionType::kDnsRecord, CompareOp::kEq, "hello"));  // TXT is exact
}

TEST_F(AssertionEvaluatorTest, JudgeTransportErrorAlwaysFails) {
  http_.assertions = {{AssertionType::kStatusCode, CompareOp::kEq, "", "", "0"}};
  observation_.status_code = 0;
  observation_.error = "connection refused";
  auto verdict = evaluator_.Judge(http_, observation_);
  EXPECT_EQ(verdict.outcome, Outcome::kDown);
  EXPECT_FALSE(verdict.failed_assertion.has_value());
  observation_.probe_fault = true;
  verdict = evaluator_.Judge(http_, observation_);
  EXPECT_EQ(verdict.outcome, Outcome::kError);
}

TEST_F(AssertionEvaluatorTest, JudgeDefaultsPerType) {
  for (int code : {200, 204, 299}) {
    observation_.status_code = code;
    EXPECT_EQ(evaluator_.Judge(http_, observation_).outcome, Outcome::kUp) << code;
  }
  for (int code : {199, 301, 404, 500}) {
    observation_.status_code = code;
    const auto verdict = evaluator_.Judge(http_, observation_);
    EXPECT_EQ(verdict.outcome, Outcome::kDown) << code;
    ASSERT_TRUE(verdict.failed_assertion.has_value());
    EXPECT_EQ(verdict.failed_assertion->expected, "2xx");
  }
  Monitor tcp;
  tcp.type = MonitorType::kTcp;
  EXPECT_EQ(evaluator_.Judge(tcp, Observation{}).outcome, Outcome::kUp);
  dns_.dns->record_type = DnsRecordType::kMX;
  const auto verdict = evaluator_.Judge(dns_, Observation{});
  EXPECT_EQ(verdict.outcome, Outcome::kDown);
  ASSERT_TRUE(verdict.failed_assertion.has_value());
  EXPECT_EQ(verdict.failed_assertion->message, "no MX records for example.com");
  Observation answered;
  answered.dns_records = {"10 mx.example.com"};
  EXPECT_EQ(evaluator_.Judge(dns_, answered).outcome, Outcome::kUp);
}

TEST_F(AssertionEvaluatorTest, JudgeNotFoundStatusCanBeUpWithAnAssertion) {
  observation_.status_code = 404;
  http_.assertions = {{AssertionType::kStatusCode, CompareOp::kEq, "", "", "404"}};
  EXPECT_EQ(evaluator_.Judge(http_, observation_).outcome, Outcome::kUp);
}

TEST_F(AssertionEvaluatorTest, JudgeReportsTheFirstFailedAssertion) {
  http_.assertions = {{AssertionType::kStatusCode, CompareOp::kEq, "", "", "200"},
                      {AssertionType::kBody, CompareOp::kContains, "", "", "missing"},
                      {AssertionType::kStatusCode, CompareOp::kEq, "", "", "500"}};
  const auto verdict = evaluator_.Judge(http_, observation_);
  EXPECT_EQ(verdict.outcome, Outcome::kDown);
  ASSERT_TRUE(verdict.failed_assertion.has_value());
  EXPECT_EQ(verdict.failed_assertion->type, "body");
}

TEST_F(AssertionEvaluatorTest, JudgeDegradedOnlyWhenPassingAndSlow) {
  http_.degraded_after = std::chrono::milliseconds(200);
  EXPECT_EQ(evaluator_.Judge(http_, observation_).outcome, Outcome::kDegraded);
  http_.degraded_after = std::chrono::milliseconds(250);
  EXPECT_EQ(evaluator_.Judge(http_, observation_).outcome, Outcome::kUp);  // not slower
  http_.degraded_after = std::chrono::milliseconds(100);
  observation_.status_code = 500;
  EXPECT_EQ(evaluator_.Judge(http_, observation_).outcome, Outcome::kDown);
}

}  // namespace
}  // namespace pharos
