// ClickHouseSchema: row encoding (every column, invalid UTF-8, results without an item id), the
// classification of ClickHouse's error answers, database names.

#include "operator/analytics/clickhouse_schema.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "operator/analytics/curl_clickhouse_transport.h"
#include "tests/unit/operator/analytics/fake_clickhouse_transport.h"

namespace pharos {
namespace {

using std::chrono::seconds;

TEST(ClickHouseSchemaTest, EncodesEveryColumnOfAResult) {
  CheckResult result;
  result.monitor_namespace = "shop";
  result.monitor_name = "checkout";
  result.monitor_uid = "uid-1";
  result.generation = 4;
  result.target = "https://shop.example/checkout";
  result.region = "eu-west";
  result.probe = "probe-a";
  result.item_id = "uid-1@eu-west@1796600000000";
  result.scheduled_at =
      std::chrono::system_clock::time_point(std::chrono::milliseconds(1796600000123));
  result.started_at = result.scheduled_at + std::chrono::milliseconds(7);
  result.outcome = Outcome::kDown;
  result.status_code = 503;
  result.timings = {1, 2, 3, 4, 5, 15};
  result.cert_expiry = std::chrono::system_clock::time_point(seconds(1800000000));
  result.failed_assertion = FailedAssertion{"statusCode", "eq 200", "503", "status code 503"};
  result.error = std::string("bad \xff byte");
  result.attempts = 2;
  const std::string line = ClickHouseSchema::EncodeRow(result, "unused");
  ASSERT_EQ(line.back(), '\n');
  const nlohmann::json row = nlohmann::json::parse(line);
  EXPECT_EQ(row["item_id"], result.item_id);
  EXPECT_EQ(row["time"], 1796600000);
  EXPECT_EQ(row["scheduled_at_ms"], 1796600000123);
  EXPECT_EQ(row["started_at_ms"], 1796600000130);
  EXPECT_EQ(row["outcome"], "down");
  EXPECT_EQ(row["status_code"], 503);
  EXPECT_EQ(row["total_us"], 15);
  EXPECT_EQ(row["first_byte_us"], 4);
  EXPECT_EQ(row["cert_expiry"], 1800000000);
  EXPECT_TRUE(row["cert_earliest_expiry"].is_null());
  EXPECT_EQ(row["assertion_expected"], "eq 200");
  EXPECT_EQ(row["error"], "bad \xEF\xBF\xBD byte") << "invalid UTF-8 replaced, not thrown";
  EXPECT_EQ(row["type"], "http");
  // Every column of the DDL is in the row, and nothing else.
  std::string ddl;
  for (const std::string& statement : ClickHouseSchema::Statements("pharos")) {
    if (statement.find(".check_results (") != std::string::npos) ddl = statement;
  }
  size_t columns = 0;
  for (const auto& [key, value] : row.items()) {
    EXPECT_NE(ddl.find("    " + key + " "), std::string::npos) << key;
    ++columns;
  }
  size_t ddl_columns = 0;
  for (size_t at = ddl.find("\n    "); at != std::string::npos; at = ddl.find("\n    ", at + 1)) {
    ++ddl_columns;
  }
  EXPECT_EQ(columns, ddl_columns);
}

TEST(ClickHouseSchemaTest, AResultWithoutItemIdTakesTheFallback) {
  CheckResult result;
  const nlohmann::json row =
      nlohmann::json::parse(ClickHouseSchema::EncodeRow(result, "local-1-0"));
  EXPECT_EQ(row["item_id"], "local-1-0");
}

TEST(ClickHouseSchemaTest, ClassifiesAnswersByExceptionCode) {
  EXPECT_EQ(
      ClassifyClickHouseAnswer({401, "Code: 193, e.displayText() = DB::Exception: Wrong password"})
          .kind,
      ClickHouseFailure::kAuth);
  EXPECT_EQ(
      ClassifyClickHouseAnswer({516, "Code: 516. DB::Exception: pharos: Authentication failed"})
          .kind,
      ClickHouseFailure::kAuth);
  EXPECT_EQ(ClassifyClickHouseAnswer({403, ""}).kind, ClickHouseFailure::kAuth);
  EXPECT_EQ(ClassifyClickHouseAnswer(
                {404, "Code: 60, e.displayText() = DB::Exception: Table x doesn't exist"})
                .kind,
            ClickHouseFailure::kMissingTable);
  EXPECT_EQ(
      ClassifyClickHouseAnswer({404, "Code: 81. DB::Exception: Database pharos doesn't exist"})
          .kind,
      ClickHouseFailure::kMissingTable);
  EXPECT_EQ(ClassifyClickHouseAnswer({500, "Code: 252, Too many parts"}).kind,
            ClickHouseFailure::kRefused);
  EXPECT_EQ(ClassifyClickHouseAnswer({502, "<html>bad gateway</html>"}).kind,
            ClickHouseFailure::kRefused);
  const ClickHouseError auth = ClassifyClickHouseAnswer({401, "Code: 193, Wrong password"});
  EXPECT_NE(auth.message.find("--clickhouse-password-file"), std::string::npos);
  EXPECT_EQ(ClickHouseExceptionCode("Code: 60, e.displayText()"), 60);
  EXPECT_EQ(ClickHouseExceptionCode("no code here"), 0);
}

TEST(ClickHouseSchemaTest, DatabaseNames) {
  EXPECT_TRUE(ClickHouseSchema::ValidDatabaseName("pharos"));
  EXPECT_TRUE(ClickHouseSchema::ValidDatabaseName("pharos_prod2"));
  EXPECT_FALSE(ClickHouseSchema::ValidDatabaseName(""));
  EXPECT_FALSE(ClickHouseSchema::ValidDatabaseName("2pharos"));
  EXPECT_FALSE(ClickHouseSchema::ValidDatabaseName("pharos; DROP"));
  EXPECT_FALSE(ClickHouseSchema::ValidDatabaseName("a.b"));
}

TEST(ClickHouseSchemaTest, EnsureRecordsTheVersionOnceAndRefusesNewer) {
  testing::FakeClickHouseTransport transport;
  ASSERT_TRUE(ClickHouseSchema::Ensure(transport, "pharos"));
  EXPECT_EQ(transport.stored_version(), ClickHouseSchema::kVersion);
  ASSERT_TRUE(ClickHouseSchema::Ensure(transport, "pharos"));
  transport.set_stored_version(9);
  ClickHouseError failure;
  Status newer = ClickHouseSchema::Ensure(transport, "pharos", &failure);
  ASSERT_FALSE(newer);
  EXPECT_EQ(newer.error_kind(), ErrorKind::kInvalidArgument);
  EXPECT_NE(newer.error().find("upgrade Pharos"), std::string::npos);
}

TEST(ClickHouseSchemaTest, GzipRoundTrips) {
  const std::string text(10'000, 'x');
  Result<std::string> packed = GzipCompress(text);
  ASSERT_TRUE(packed);
  EXPECT_LT(packed->size(), 200u);
  EXPECT_EQ(testing::FakeClickHouseTransport::Gunzip(*packed), text);
}

TEST(CurlClickHouseTransportTest, RefusesBadUrls) {
  for (const char* url : {"clickhouse:8123", "ftp://x", "http://", "http:///x", "http://a b"}) {
    CurlClickHouseTransport::Options options;
    options.url = url;
    EXPECT_FALSE(CurlClickHouseTransport::Create(options)) << url;
  }
  CurlClickHouseTransport::Options options;
  options.url = "https://clickhouse.analytics:8443/";
  EXPECT_TRUE(CurlClickHouseTransport::Create(options));
}

TEST(CurlClickHouseTransportTest, AClosedPortIsUnavailable) {
  CurlClickHouseTransport::Options options;
  options.url = "http://127.0.0.1:9";
  options.connect_timeout = std::chrono::milliseconds(2'000);
  Result<CurlClickHouseTransport> transport = CurlClickHouseTransport::Create(options);
  ASSERT_TRUE(transport);
  Result<ClickHouseResponse> answer = transport->Send({"", "SELECT 1", false});
  ASSERT_FALSE(answer);
  EXPECT_EQ(answer.error_kind(), ErrorKind::kUnavailable);
}

}  // namespace
}  // namespace pharos
