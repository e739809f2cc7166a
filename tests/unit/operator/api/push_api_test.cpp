#include "operator/api/push_api.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/manual_clock.h"
#include "common/metrics_registry.h"

namespace pharos {
namespace {

using ::testing::HasSubstr;

// Records the pings it is given and answers with what the test set.
class FakeReceiver final : public PushReceiver {
 public:
  void Ping(const std::string& uid, PushPing ping, PingDone done) override {
    uids.push_back(uid);
    pings.push_back(ping);
    done(answer);
  }

  std::vector<std::string> uids;
  std::vector<PushPing> pings;
  Result<std::optional<HeartbeatVerdict>> answer = std::optional<HeartbeatVerdict>{};
};

class PushApiTest : public ::testing::Test {
 protected:
  void SetUp() override { tokens_.Set("uid-backup", kToken); }

  HttpResponse Call(const std::string& token, PushPing ping,
                    const std::string& remote = "10.0.0.1") {
    HttpRequest request;
    request.remote_address = remote;
    request.method = "POST";
    request.path = "/api/v1/push/" + token;
    request.path_params["token"] = token;
    std::optional<HttpResponse> answer;
    api_.Handle(request, ping, [&answer](HttpResponse response) { answer = std::move(response); });
    EXPECT_TRUE(answer.has_value());
    return answer ? *answer : HttpResponse{};
  }

  static constexpr const char* kToken = "0123456789abcdef0123456789abcdef";
  PushTokens tokens_;
  FakeReceiver receiver_;
  ManualClock clock_;
  MetricsRegistry registry_{MetricsRegistry::Options{}};
  BadTokenGuard bad_tokens_{clock_, registry_, {.burst = 3, .refill = std::chrono::seconds(6)}};
  PushApi api_{tokens_, receiver_, bad_tokens_};
};

TEST_F(PushApiTest, AKnownTokenPingsItsMonitor) {
  HeartbeatVerdict verdict;
  verdict.outcome = Outcome::kUp;
  verdict.run_time = Millis(1'500);
  receiver_.answer = std::optional<HeartbeatVerdict>(verdict);
  HttpResponse response = Call(kToken, PushPing::kSuccess);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(nlohmann::json::parse(response.body),
            nlohmann::json({{"ping", "success"}, {"outcome", "up"}, {"runTimeMs", 1500}}));
  ASSERT_EQ(receiver_.uids.size(), 1u);
  EXPECT_EQ(receiver_.uids[0], "uid-backup");
  EXPECT_EQ(receiver_.pings[0], PushPing::kSuccess);
}

TEST_F(PushApiTest, AStartPingAnswersWithoutAnOutcome) {
  HttpResponse response = Call(kToken, PushPing::kStart);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, R"({"ping":"start"})");
}

TEST_F(PushApiTest, AnUnknownTokenIsA404ThatNamesNothingAndReachesNoMonitor) {
  for (const std::string token : {"0123456789abcdef0123456789abcdee", "x", ""}) {
    HttpResponse response = Call(token, PushPing::kFail);
    EXPECT_EQ(response.status, 404);
    EXPECT_EQ(response.body, R"({"error":"not found"})");
  }
  EXPECT_TRUE(receiver_.uids.empty());
}

TEST_F(PushApiTest, AMonitorGoneSinceTheLookupIsTheSame404) {
  receiver_.answer = Error{"no push monitor has uid 'uid-backup'", ErrorKind::kInvalidArgument};
  HttpResponse response = Call(kToken, PushPing::kSuccess);
  EXPECT_EQ(response.status, 404);
  EXPECT_EQ(response.body, R"({"error":"not found"})");
}

TEST_F(PushApiTest, AnAddressGuessingTokensIsThrottledBeforeAnyLookup) {
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(Call("guess" + std::to_string(i), PushPing::kSuccess).status, 404);
  }
  HttpResponse throttled = Call(kToken, PushPing::kSuccess);
  EXPECT_EQ(throttled.status, 429);
  ASSERT_EQ(throttled.headers.size(), 1u);
  EXPECT_EQ(throttled.headers[0].first, "Retry-After");
  EXPECT_TRUE(receiver_.uids.empty());
  const std::string metrics = registry_.Expose();
  EXPECT_THAT(metrics, HasSubstr("pharos_auth_failures_total{api=\"push\"} 3"));
  EXPECT_THAT(metrics, HasSubstr("pharos_auth_throttled_total{api=\"push\"} 1"));

  // Other addresses keep pinging, and the guesser gets one try back per refill interval.
  EXPECT_EQ(Call(kToken, PushPing::kSuccess, "10.0.0.2").status, 200);
  clock_.Advance(std::chrono::seconds(6));
  EXPECT_EQ(Call(kToken, PushPing::kSuccess).status, 200);
  EXPECT_EQ(receiver_.uids.size(), 2u);
}

TEST_F(PushApiTest, AMonitorRemovedUnderAPingIsNotAGuess) {
  receiver_.answer = Error{"no push monitor has uid 'uid-backup'", ErrorKind::kInvalidArgument};
  for (int i = 0; i < 5; ++i) EXPECT_EQ(Call(kToken, PushPing::kSuccess).status, 404);
}

TEST_F(PushApiTest, ANonLeaderAsksTheJobToRetry) {
  receiver_.answer = Error{"not the leader", ErrorKind::kUnavailable};
  HttpResponse response = Call(kToken, PushPing::kSuccess);
  EXPECT_EQ(response.status, 503);
  ASSERT_EQ(response.headers.size(), 1u);
  EXPECT_EQ(response.headers[0].first, "Retry-After");
}

TEST_F(PushApiTest, AStoreFailureIsA500) {
  receiver_.answer = Error{"disk I/O error", ErrorKind::kFailed};
  HttpResponse response = Call(kToken, PushPing::kSuccess);
  EXPECT_EQ(response.status, 500);
  EXPECT_THAT(response.body, HasSubstr("disk I/O error"));
}

}  // namespace
}  // namespace pharos
