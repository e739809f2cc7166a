#include "operator/api/result_bounds.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "common/manual_clock.h"

namespace pharos {
namespace {

CheckResult Plausible(std::chrono::system_clock::time_point now) {
  CheckResult result;
  result.scheduled_at = now - std::chrono::seconds(5);
  result.started_at = now - std::chrono::seconds(4);
  result.generation = 3;
  result.status_code = 200;
  result.attempts = 1;
  result.timings.total_us = 1'500;
  result.item_id = "uid@eu-west@123";
  result.target = "https://example.com/";
  result.dns_records = {"192.0.2.1"};
  return result;
}

TEST(ResultBoundsTest, APlausibleResultPasses) {
  const auto now = ManualClock::DefaultStart();
  EXPECT_TRUE(CheckResultBounds(Plausible(now), now).ok());
  CheckResult error = Plausible(now);
  error.status_code = 0;
  error.attempts = 0;
  error.timings = {};
  EXPECT_TRUE(CheckResultBounds(error, now).ok());
}

TEST(ResultBoundsTest, EachFieldOutOfBoundsIsNamed) {
  const auto now = ManualClock::DefaultStart();
  const auto expect_refused = [&](const std::function<void(CheckResult&)>& spoil,
                                  const std::string& field) {
    CheckResult result = Plausible(now);
    spoil(result);
    Status status = CheckResultBounds(result, now);
    ASSERT_FALSE(status.ok()) << field;
    EXPECT_THAT(status.error(), ::testing::StartsWith(field + ": "));
    EXPECT_EQ(status.error_kind(), ErrorKind::kInvalidArgument);
  };
  expect_refused([&](CheckResult& r) { r.scheduled_at = now + std::chrono::hours(25); },
                 "scheduledAt");
  expect_refused([](CheckResult& r) { r.started_at = {}; }, "startedAt");
  expect_refused([](CheckResult& r) { r.generation = -1; }, "generation");
  expect_refused([](CheckResult& r) { r.status_code = -200; }, "statusCode");
  expect_refused([](CheckResult& r) { r.status_code = 1000; }, "statusCode");
  expect_refused([](CheckResult& r) { r.attempts = -1; }, "attempts");
  expect_refused([](CheckResult& r) { r.timings.total_us = INT64_MAX; }, "timings.totalUs");
  expect_refused([](CheckResult& r) { r.timings.tls_us = -1; }, "timings.tlsUs");
  expect_refused([](CheckResult& r) { r.error = std::string(5000, 'x'); }, "error");
  expect_refused([](CheckResult& r) { r.error = std::string("a\0b", 3); }, "error");
  expect_refused([](CheckResult& r) { r.dns_records.assign(1001, "a"); }, "dnsRecords");
  expect_refused([](CheckResult& r) { r.dns_records = {std::string(2000, 'a')}; }, "dnsRecords[0]");
  expect_refused(
      [](CheckResult& r) {
        r.failed_assertion = FailedAssertion{"body", "", std::string(2000, 'a'), ""};
      },
      "failedAssertion.actual");
  expect_refused([](CheckResult& r) { r.item_id = std::string(300, 'i'); }, "itemId");
}

}  // namespace
}  // namespace pharos
