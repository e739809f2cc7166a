#include "operator/kube/event_recorder.h"

#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/manual_clock.h"
#include "unit/eventually.h"
#include "unit/operator/kube/fake_kube_client.h"

namespace pharos {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;
using testing::Eventually;
using testing::FakeKubeClient;
using testing::MakeStatusResponse;
using testing::RecordedCall;

ObjectReference Monitor(const std::string& name) {
  return ObjectReference::FromObject({{"apiVersion", "pharos.dev/v1alpha1"},
                                      {"kind", "Monitor"},
                                      {"metadata",
                                       {{"name", name},
                                        {"namespace", "shop"},
                                        {"uid", "uid-" + name},
                                        {"resourceVersion", "7"}}}});
}

class EventRecorderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    EventRecorderOptions options;
    options.instance = "pharos-operator-0";
    recorder_ = std::make_unique<EventRecorder>(client_, options, clock_);
    recorder_->Start();
  }
  void TearDown() override { recorder_->Stop(); }
  void Flush() { ASSERT_TRUE(recorder_->WaitIdle(seconds(10))); }

  ManualClock clock_;
  FakeKubeClient client_;
  std::unique_ptr<EventRecorder> recorder_;
};

TEST_F(EventRecorderTest, CreatesACoreEventAboutTheObject) {
  recorder_->Warning(Monitor("api"), "MonitorDown", "eu-west: connection refused");
  Flush();
  const auto creates = client_.Calls("create");
  ASSERT_EQ(creates.size(), 1u);
  const nlohmann::json& event = creates[0].body;
  EXPECT_EQ(creates[0].path.rfind("/api/v1/namespaces/shop/events/api.", 0), 0u) << creates[0].path;
  EXPECT_EQ(event["kind"], "Event");
  EXPECT_EQ(event["involvedObject"]["kind"], "Monitor");
  EXPECT_EQ(event["involvedObject"]["uid"], "uid-api");
  EXPECT_EQ(event["involvedObject"]["apiVersion"], "pharos.dev/v1alpha1");
  EXPECT_EQ(event["reason"], "MonitorDown");
  EXPECT_EQ(event["message"], "eu-west: connection refused");
  EXPECT_EQ(event["type"], "Warning");
  EXPECT_EQ(event["count"], 1);
  EXPECT_EQ(event["firstTimestamp"], "2026-01-01T00:00:00Z");
  EXPECT_EQ(event["source"]["component"], "pharos-operator");
  EXPECT_EQ(event["source"]["host"], "pharos-operator-0");
  EXPECT_EQ(recorder_->stats().created, 1);
}

TEST_F(EventRecorderTest, RepeatsWithinTenMinutesBumpTheCount) {
  recorder_->Normal(Monitor("api"), "MonitorUp", "all regions up");
  Flush();
  clock_.Advance(minutes(3));
  recorder_->Normal(Monitor("api"), "MonitorUp", "all regions up");
  Flush();
  clock_.Advance(minutes(9));
  recorder_->Normal(Monitor("api"), "MonitorUp", "all regions up");
  Flush();
  ASSERT_EQ(client_.Calls("create").size(), 1u);
  const auto patches = client_.Calls("patch");
  ASSERT_EQ(patches.size(), 2u);
  EXPECT_EQ(patches[0].patch_type, PatchType::kMerge);
  EXPECT_EQ(patches[0].body["count"], 2);
  EXPECT_EQ(patches[0].body["lastTimestamp"], "2026-01-01T00:03:00Z");
  EXPECT_EQ(patches[1].body["count"], 3);
  const std::string name = JsonStringAt(client_.Calls("create")[0].body, {"metadata", "name"});
  EXPECT_EQ(client_.Stored(ApiResource::CoreEvents(), "shop", name)->at("count"), 3);
  EXPECT_EQ(recorder_->stats().aggregated, 2);
}

TEST_F(EventRecorderTest, OldOrDifferentEventsAreNewObjects) {
  recorder_->Normal(Monitor("api"), "MonitorUp", "up");
  Flush();
  clock_.Advance(minutes(11));
  recorder_->Normal(Monitor("api"), "MonitorUp", "up");         // older than the window
  recorder_->Normal(Monitor("api"), "MonitorUp", "up again");   // another message
  recorder_->Warning(Monitor("api"), "MonitorUp", "up again");  // another type
  recorder_->Normal(Monitor("web"), "MonitorUp", "up");         // another object
  Flush();
  EXPECT_EQ(client_.Calls("create").size(), 5u);
  EXPECT_TRUE(client_.Calls("patch").empty());
}

TEST_F(EventRecorderTest, AnEventDeletedMeanwhileIsCreatedAgain) {
  recorder_->Normal(Monitor("api"), "MonitorUp", "up");
  Flush();
  const std::string name = JsonStringAt(client_.Calls("create")[0].body, {"metadata", "name"});
  client_.Erase(ApiResource::CoreEvents(), "shop", name);
  clock_.Advance(seconds(1));
  recorder_->Normal(Monitor("api"), "MonitorUp", "up");
  Flush();
  EXPECT_EQ(client_.Calls("patch").size(), 1u);
  EXPECT_EQ(client_.Calls("create").size(), 2u);
}

TEST_F(EventRecorderTest, FloodsFromOneObjectAreCutBySpamFilter) {
  for (int i = 0; i < 30; ++i) {
    recorder_->Warning(Monitor("flappy"), "MonitorDown", "attempt " + std::to_string(i));
  }
  recorder_->Warning(Monitor("other"), "MonitorDown", "fine");
  Flush();
  const EventRecorderStats stats = recorder_->stats();
  EXPECT_EQ(stats.created, 26);  // 25 from the burst + the other object
  EXPECT_EQ(stats.dropped_spam, 5);
  clock_.Advance(minutes(5));  // one more token
  recorder_->Warning(Monitor("flappy"), "MonitorDown", "later");
  recorder_->Warning(Monitor("flappy"), "MonitorDown", "later still");
  Flush();
  EXPECT_EQ(recorder_->stats().created, 27);
  EXPECT_EQ(recorder_->stats().dropped_spam, 6);
}

TEST_F(EventRecorderTest, FailuresAreCountedAndDoNotStopTheRecorder) {
  int failures = 1;
  client_.SetInterceptor([&](const RecordedCall& call) -> std::optional<KubeResponse> {
    if (call.verb == "create" && failures-- > 0) return MakeStatusResponse(422, "Invalid", "no");
    return std::nullopt;
  });
  recorder_->Normal(Monitor("api"), "A", "first");
  recorder_->Normal(Monitor("api"), "B", "second");
  Flush();
  EXPECT_EQ(recorder_->stats().failed, 1);
  EXPECT_EQ(recorder_->stats().created, 1);
}

TEST(EventRecorderQueueTest, RecordNeverBlocksAndDropsTheOldestWhenFull) {
  ManualClock clock;
  FakeKubeClient client;
  EventRecorderOptions options;
  options.queue_capacity = 2;
  EventRecorder recorder(client, options, clock);  // not started: nothing drains the queue
  for (int i = 0; i < 5; ++i) recorder.Normal(Monitor("api"), "R", std::to_string(i));
  EXPECT_EQ(recorder.stats().recorded, 5);
  EXPECT_EQ(recorder.stats().dropped_full, 3);
  EXPECT_EQ(recorder.stats().queued, 2);
  recorder.Start();
  ASSERT_TRUE(recorder.WaitIdle(seconds(10)));
  recorder.Stop();
  const auto creates = client.Calls("create");
  ASSERT_EQ(creates.size(), 2u);
  EXPECT_EQ(creates[0].body["message"], "3");  // the newest two
  EXPECT_EQ(creates[1].body["message"], "4");
}

KubeResponse Unreachable() {
  KubeResponse response;
  response.transport_error = "Failed to connect to 127.0.0.1 port 6443: Connection refused";
  return response;
}

// The API server away: every create fails (no answer) until `down` is cleared; each attempt's
// virtual time is kept.
class EventRecorderOutageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    client_.SetInterceptor([this](const RecordedCall& call) -> std::optional<KubeResponse> {
      if (call.verb != "create") return std::nullopt;
      std::lock_guard<std::mutex> lock(mutex_);
      attempts_.push_back(clock_.SteadyNow());
      if (answer_) return answer_;
      return std::nullopt;
    });
    EventRecorderOptions options;
    options.queue_capacity = 3;
    recorder_ = std::make_unique<EventRecorder>(client_, options, clock_);
    recorder_->Start();
  }
  void TearDown() override { recorder_->Stop(std::chrono::milliseconds(0)); }

  void Answer(std::optional<KubeResponse> answer) {
    std::lock_guard<std::mutex> lock(mutex_);
    answer_ = std::move(answer);
  }
  size_t Attempts() {
    std::lock_guard<std::mutex> lock(mutex_);
    return attempts_.size();
  }
  // Seconds since the start of each create attempt.
  std::vector<double> AttemptTimes() {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<double> times;
    for (const auto at : attempts_) {
      times.push_back(std::chrono::duration<double>(at - start_).count());
    }
    return times;
  }
  // Waits for the attempt that failed to be counted and its retry scheduled.
  void WaitRetried(int64_t retried) {
    ASSERT_TRUE(Eventually([&] { return recorder_->stats().retried == retried; }))
        << recorder_->stats().retried;
  }
  double RetryIn() {
    return std::chrono::duration<double>(recorder_->stats().retry_at - clock_.SteadyNow()).count();
  }

  ManualClock clock_;
  const std::chrono::steady_clock::time_point start_ = clock_.SteadyNow();
  FakeKubeClient client_;
  std::mutex mutex_;
  std::optional<KubeResponse> answer_ = Unreachable();
  std::vector<std::chrono::steady_clock::time_point> attempts_;
  std::unique_ptr<EventRecorder> recorder_;
};

TEST_F(EventRecorderOutageTest, AnEventIsSentAgainWithBackoffAndKeepsItsTime) {
  recorder_->Warning(Monitor("api"), "MonitorDown", "eu-west: 503");
  WaitRetried(1);
  EXPECT_DOUBLE_EQ(RetryIn(), 0.5);  // retry_min
  clock_.Advance(std::chrono::milliseconds(500));
  WaitRetried(2);
  EXPECT_DOUBLE_EQ(RetryIn(), 1.0);  // doubling
  clock_.Advance(seconds(1));
  WaitRetried(3);
  EXPECT_DOUBLE_EQ(RetryIn(), 2.0);
  Answer(std::nullopt);  // the API server is back
  clock_.Advance(seconds(2));
  ASSERT_TRUE(recorder_->WaitIdle(seconds(10)));
  EXPECT_EQ(AttemptTimes(), (std::vector<double>{0, 0.5, 1.5, 3.5}));
  const auto creates = client_.Calls("create");
  ASSERT_EQ(creates.size(), 4u);
  EXPECT_EQ(creates[0].path, creates[3].path);  // one name: a lost answer cannot duplicate it
  EXPECT_EQ(creates[3].body["firstTimestamp"], "2026-01-01T00:00:00Z");  // when it happened
  const EventRecorderStats stats = recorder_->stats();
  EXPECT_EQ(stats.created, 1);
  EXPECT_EQ(stats.retried, 3);
  EXPECT_EQ(stats.failed, 0);
  EXPECT_EQ(stats.queued, 0);
}

TEST_F(EventRecorderOutageTest, TheBackoffStopsAtRetryMax) {
  recorder_->Warning(Monitor("api"), "MonitorDown", "eu-west: 503");
  double waited = 0;
  for (int64_t attempt = 1; attempt <= 8; ++attempt) {
    WaitRetried(attempt);
    waited = RetryIn();
    clock_.Advance(std::chrono::duration<double>(waited));
  }
  EXPECT_DOUBLE_EQ(waited, 30.0);  // 0.5 1 2 4 8 16 30 30
}

TEST_F(EventRecorderOutageTest, RetryAfterOfA429IsHonoured) {
  KubeResponse too_many = MakeStatusResponse(429, "TooManyRequests", "slow down");
  too_many.retry_after = seconds(4);
  Answer(too_many);
  recorder_->Normal(Monitor("api"), "MonitorUp", "up");
  WaitRetried(1);
  EXPECT_DOUBLE_EQ(RetryIn(), 4.0);  // not retry_min's 0.5 s
  Answer(std::nullopt);
  clock_.Advance(seconds(4));
  ASSERT_TRUE(recorder_->WaitIdle(seconds(10)));
  EXPECT_EQ(AttemptTimes(), (std::vector<double>{0, 4}));
  EXPECT_EQ(recorder_->stats().created, 1);
}

TEST_F(EventRecorderOutageTest, FiveHundredsAreRetriedRefusalsAreNot) {
  Answer(MakeStatusResponse(503, "ServiceUnavailable", "etcd"));
  recorder_->Normal(Monitor("api"), "MonitorUp", "up");
  WaitRetried(1);
  Answer(MakeStatusResponse(422, "Invalid", "bad event"));
  clock_.Advance(std::chrono::milliseconds(500));
  ASSERT_TRUE(recorder_->WaitIdle(seconds(10)));
  EXPECT_EQ(recorder_->stats().failed, 1);
  EXPECT_EQ(recorder_->stats().retried, 1);
  EXPECT_EQ(Attempts(), 2u);
}

TEST_F(EventRecorderOutageTest, ForbiddenIsTriedFiveTimesInAll) {
  // A restarted API server answers 403 until its authorizer has synced; RBAC that really
  // refuses stays 403.
  Answer(MakeStatusResponse(403, "Forbidden", "events is forbidden"));
  recorder_->Normal(Monitor("api"), "MonitorUp", "up");
  for (int64_t retried = 1; retried <= 4; ++retried) {
    WaitRetried(retried);
    clock_.Advance(std::chrono::duration<double>(RetryIn()));
  }
  ASSERT_TRUE(recorder_->WaitIdle(seconds(10)));
  EXPECT_EQ(Attempts(), 5u);
  EXPECT_EQ(recorder_->stats().failed, 1);
  EXPECT_EQ(recorder_->stats().created, 0);
}

TEST_F(EventRecorderOutageTest, AnAnswerLostAfterTheCreateCountsAsCreatedOnRetry) {
  // The first attempt reaches the API server but its answer is lost.
  client_.SetInterceptor([this](const RecordedCall& call) -> std::optional<KubeResponse> {
    if (call.verb != "create") return std::nullopt;
    std::lock_guard<std::mutex> lock(mutex_);
    attempts_.push_back(clock_.SteadyNow());
    if (attempts_.size() > 1) return std::nullopt;
    client_.Put(ApiResource::CoreEvents(), call.body);
    return Unreachable();
  });
  recorder_->Normal(Monitor("api"), "MonitorUp", "up");
  WaitRetried(1);
  clock_.Advance(std::chrono::milliseconds(500));
  ASSERT_TRUE(recorder_->WaitIdle(seconds(10)));
  EXPECT_EQ(Attempts(), 2u);
  EXPECT_EQ(recorder_->stats().created, 1);
  EXPECT_EQ(recorder_->stats().failed, 0);
}

TEST_F(EventRecorderOutageTest, DuringAnOutageTheQueueKeepsTheNewestAndRecordNeverWaits) {
  recorder_->Warning(Monitor("a"), "MonitorDown", "0");
  WaitRetried(1);
  for (int i = 1; i <= 5; ++i) recorder_->Warning(Monitor("a"), "MonitorDown", std::to_string(i));
  // Bound 3: "0" (being retried, the oldest) and "1", "2" went.
  EXPECT_EQ(recorder_->stats().queued, 3);
  Answer(std::nullopt);
  clock_.Advance(std::chrono::milliseconds(500));
  ASSERT_TRUE(recorder_->WaitIdle(seconds(10)));
  std::vector<std::string> sent;
  for (const auto& call : client_.Calls("create")) {
    if (call.path != client_.Calls("create")[0].path) sent.push_back(call.body["message"]);
  }
  EXPECT_EQ(sent, (std::vector<std::string>{"3", "4", "5"}));
  const EventRecorderStats stats = recorder_->stats();
  EXPECT_EQ(stats.recorded, 6);
  EXPECT_EQ(stats.dropped_full, 3);
  EXPECT_EQ(stats.created, 3);
}

TEST(EventRecorderQueueTest, CutsLongReasonsAndMessages) {
  ManualClock clock;
  FakeKubeClient client;
  EventRecorder recorder(client, {}, clock);
  recorder.Start();
  recorder.Normal(Monitor("api"), std::string(200, 'R'), std::string(1023, 'm') + "é");
  ASSERT_TRUE(recorder.WaitIdle(seconds(10)));
  recorder.Stop();
  const auto creates = client.Calls("create");
  ASSERT_EQ(creates.size(), 1u);
  EXPECT_EQ(creates[0].body["reason"].get<std::string>().size(), 128u);
  EXPECT_EQ(creates[0].body["message"].get<std::string>().size(), 1023u);  // é not split
}

}  // namespace
}  // namespace pharos
