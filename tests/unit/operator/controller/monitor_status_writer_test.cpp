#include "operator/controller/monitor_status_writer.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>

#include "common/manual_clock.h"
#include "common/rfc3339.h"
#include "unit/operator/kube/fake_kube_client.h"

namespace pharos {
namespace {

using Json = nlohmann::json;
using testing::FakeKubeClient;
using testing::MakeStatusResponse;
using testing::RecordedCall;

std::shared_ptr<const Monitor> MakeMonitor(const std::string& uid, const std::string& name,
                                           int64_t generation = 1) {
  auto monitor = std::make_shared<Monitor>();
  monitor->uid = uid;
  monitor->namespace_name = "shop";
  monitor->name = name;
  monitor->generation = generation;
  monitor->type = MonitorType::kHttp;
  monitor->http = HttpSpec{};
  monitor->http->url = "https://shop.example.com/health";
  return monitor;
}

Json MonitorObject(const std::string& uid, const std::string& name, int64_t generation = 1) {
  return {{"apiVersion", "pharos.dev/v1alpha1"},
          {"kind", "Monitor"},
          {"metadata",
           {{"name", name}, {"namespace", "shop"}, {"uid", uid}, {"generation", generation}}},
          {"spec", {{"type", "http"}}}};
}

TimePoint At(const char* text) { return ParseRfc3339(text).value(); }

class MonitorStatusWriterTest : public ::testing::Test {
 protected:
  MonitorStatusWriterTest() : patcher_(client_, PatcherOptions(), clock_) {}

  static StatusPatcherOptions PatcherOptions() {
    StatusPatcherOptions options;
    options.qps = 0;  // unlimited: the tests count writes, not time
    return options;
  }

  std::unique_ptr<MonitorStatusWriter> Make(
      std::chrono::milliseconds interval = std::chrono::seconds(30)) {
    MonitorStatusWriter::Options options;
    options.interval = interval;
    return std::make_unique<MonitorStatusWriter>(
        [this](const std::string& uid) -> std::optional<MonitorStatus> {
          auto found = statuses_.find(uid);
          if (found == statuses_.end()) {
            return std::nullopt;
          }
          return found->second;
        },
        patcher_, clock_, options);
  }

  MonitorStatus& Status(const std::string& uid, const std::string& name) {
    MonitorStatus& status = statuses_[uid];
    status.monitor = MakeMonitor(uid, name);
    return status;
  }

  size_t Patches() const { return client_.Calls("patch").size(); }
  Json StoredStatus(const std::string& name) const {
    return client_.Stored(ApiResource::Monitors(), "shop", name).value().value("status", Json());
  }

  ManualClock clock_;
  FakeKubeClient client_;
  StatusPatcher patcher_;
  std::map<std::string, MonitorStatus> statuses_;
};

TEST(MonitorStatusWriterBuildTest, WritesEveryFieldOfAnUpMonitor) {
  MonitorStatus status;
  status.monitor = MakeMonitor("u1", "api", 4);
  status.state = MonitorState::kUp;
  status.last_transition_time = At("2026-01-01T10:00:00Z");
  status.last_check_time = At("2026-01-01T10:05:00.250Z");
  status.uptime_24h = 99.999;
  status.uptime_7d = 99.5;
  status.uptime_30d = 100.0;
  status.latency_p50_us = 41'400;
  status.latency_p95_us = 120'600;
  RegionStatus region;
  region.name = "eu-west";
  region.state = MonitorState::kUp;
  region.last_check_time = At("2026-01-01T10:05:00.250Z");
  region.latency_us = 38'000;
  region.status_code = 200;
  status.regions.push_back(region);

  MonitorStatusWriter::BuildContext context;
  context.now = At("2026-01-01T10:05:01Z");
  const Json built = MonitorStatusWriter::BuildStatus(status, nullptr, context);
  EXPECT_EQ(built["observedGeneration"], 4);
  EXPECT_EQ(built["state"], "Up");
  EXPECT_EQ(built["target"], "https://shop.example.com/health");
  EXPECT_EQ(built["lastCheckTime"], "2026-01-01T10:05:00.250Z");
  EXPECT_EQ(built["lastTransitionTime"], "2026-01-01T10:00:00.000Z");
  // Rounded down: 99.999 must not read as a perfect 100.
  EXPECT_EQ(built["uptime"],
            (Json{{"last24h", "99.99"}, {"last7d", "99.50"}, {"last30d", "100.00"}}));
  EXPECT_EQ(built["latency"], (Json{{"p50Ms", 41}, {"p95Ms", 121}}));
  EXPECT_TRUE(built["incident"].is_null());
  ASSERT_EQ(built["regions"].size(), 1u);
  EXPECT_EQ(built["regions"][0], (Json{{"name", "eu-west"},
                                       {"state", "Up"},
                                       {"lastCheckTime", "2026-01-01T10:05:00.250Z"},
                                       {"latencyMs", 38},
                                       {"statusCode", 200}}));
  ASSERT_EQ(built["conditions"].size(), 1u);
  const Json& ready = built["conditions"][0];
  EXPECT_EQ(ready["type"], "Ready");
  EXPECT_EQ(ready["status"], "True");
  EXPECT_EQ(ready["reason"], "Up");
  EXPECT_EQ(ready["observedGeneration"], 4);
  EXPECT_EQ(ready["lastTransitionTime"], "2026-01-01T10:00:00.000Z");
  EXPECT_FALSE(ready["message"].get<std::string>().empty());
}

TEST(MonitorStatusWriterBuildTest, APushMonitorsTokenIsInItsStatusAndNullOtherwise) {
  MonitorStatus status;
  status.monitor = MakeMonitor("u1", "api");
  status.state = MonitorState::kPending;
  MonitorStatusWriter::BuildContext context;
  context.now = At("2026-01-01T10:05:01Z");
  EXPECT_TRUE(MonitorStatusWriter::BuildStatus(status, nullptr, context)["push"].is_null());
  context.push_token = "0123456789abcdef0123456789abcdef";
  EXPECT_EQ(MonitorStatusWriter::BuildStatus(status, nullptr, context)["push"],
            (Json{{"token", "0123456789abcdef0123456789abcdef"}}));
}

TEST(MonitorStatusWriterBuildTest, FailingEndpointsAreListedPerRegionAndOnceOverall) {
  MonitorStatus status;
  status.monitor = MakeMonitor("u1", "api");
  status.state = MonitorState::kDown;
  RegionStatus eu;
  eu.name = "eu-west";
  eu.state = MonitorState::kDown;
  eu.failing_addresses = {"10.0.0.2:8080 (orders-2)", "10.0.0.1:8080 (orders-1)"};
  RegionStatus us;
  us.name = "us-east";
  us.state = MonitorState::kDown;
  us.failing_addresses = {"10.0.0.2:8080 (orders-2)"};
  RegionStatus ap;
  ap.name = "ap-south";
  ap.state = MonitorState::kUp;
  status.regions = {ap, eu, us};
  MonitorStatusWriter::BuildContext context;
  context.now = At("2026-01-01T11:00:02Z");
  const Json built =
      MonitorStatusWriter::WithoutNulls(MonitorStatusWriter::BuildStatus(status, nullptr, context));
  EXPECT_EQ(built["failingEndpoints"],
            (Json{"10.0.0.1:8080 (orders-1)", "10.0.0.2:8080 (orders-2)"}));
  EXPECT_FALSE(built["regions"][0].contains("failingEndpoints"));
  EXPECT_EQ(built["regions"][1]["failingEndpoints"],
            (Json{"10.0.0.2:8080 (orders-2)", "10.0.0.1:8080 (orders-1)"}));
  EXPECT_EQ(built["regions"][2]["failingEndpoints"], (Json{"10.0.0.2:8080 (orders-2)"}));

  // None failing: the field is null, so the merge patch removes what an earlier write left.
  for (RegionStatus& region : status.regions) region.failing_addresses.clear();
  const Json healed = MonitorStatusWriter::BuildStatus(status, built, context);
  ASSERT_TRUE(healed.contains("failingEndpoints"));
  EXPECT_TRUE(healed["failingEndpoints"].is_null());
}

TEST(MonitorStatusWriterBuildTest, DownCarriesTheIncidentAndReadyFalseWithTheStateAsReason) {
  MonitorStatus status;
  status.monitor = MakeMonitor("u1", "api");
  status.state = MonitorState::kDown;
  status.reason = "status code 503, expected 200";
  status.last_transition_time = At("2026-01-01T11:00:00Z");
  status.incident = IncidentStatus{"u1-1767265200000", At("2026-01-01T11:00:00Z")};
  MonitorStatusWriter::BuildContext context;
  context.now = At("2026-01-01T11:00:02Z");
  const Json built = MonitorStatusWriter::BuildStatus(status, nullptr, context);
  EXPECT_EQ(built["state"], "Down");
  EXPECT_EQ(built["message"], "status code 503, expected 200");
  EXPECT_EQ(built["incident"],
            (Json{{"id", "u1-1767265200000"}, {"since", "2026-01-01T11:00:00.000Z"}}));
  const Json& ready = built["conditions"][0];
  EXPECT_EQ(ready["status"], "False");
  EXPECT_EQ(ready["reason"], "Down");
  EXPECT_EQ(ready["message"], "status code 503, expected 200");
  // Nothing known yet: the fields are cleared rather than left stale.
  EXPECT_TRUE(built["uptime"].is_null());
  EXPECT_TRUE(built["latency"].is_null());
  EXPECT_TRUE(built["lastCheckTime"].is_null());
}

TEST(MonitorStatusWriterBuildTest, ReadyTransitionTimeChangesOnlyWhenItsStatusFlips) {
  MonitorStatus status;
  status.monitor = MakeMonitor("u1", "api");
  status.state = MonitorState::kDegraded;
  status.last_transition_time = At("2026-01-01T12:00:00Z");
  MonitorStatusWriter::BuildContext context;
  context.now = At("2026-01-01T12:00:01Z");
  const Json current = {
      {"state", "Up"},
      {"lastTransitionTime", "2026-01-01T09:00:00.000Z"},
      {"conditions", Json::array({{{"type", "Ready"},
                                   {"status", "True"},
                                   {"lastTransitionTime", "2026-01-01T09:00:00.000Z"},
                                   {"reason", "Up"},
                                   {"message", "x"}}})}};
  // Up → Degraded: still Ready=True, so the condition keeps its time; the state's time moves.
  Json built = MonitorStatusWriter::BuildStatus(status, current, context);
  EXPECT_EQ(built["lastTransitionTime"], "2026-01-01T12:00:00.000Z");
  EXPECT_EQ(built["conditions"][0]["lastTransitionTime"], "2026-01-01T09:00:00.000Z");
  EXPECT_EQ(built["conditions"][0]["reason"], "Degraded");

  // → Down: the condition flips, and takes the transition time.
  status.state = MonitorState::kDown;
  status.last_transition_time = At("2026-01-01T12:30:00Z");
  built = MonitorStatusWriter::BuildStatus(status, current, context);
  EXPECT_EQ(built["conditions"][0]["status"], "False");
  EXPECT_EQ(built["conditions"][0]["lastTransitionTime"], "2026-01-01T12:30:00.000Z");
}

TEST(MonitorStatusWriterBuildTest, KeepsTheWrittenTransitionTimeOfTheSameStateWhenAsked) {
  MonitorStatus status;
  status.monitor = MakeMonitor("u1", "api");
  status.state = MonitorState::kUp;
  status.last_transition_time = At("2026-01-01T12:00:00Z");  // a new leader's own restore
  MonitorStatusWriter::BuildContext context;
  context.now = At("2026-01-01T12:00:01Z");
  context.keep_transition_time = true;
  const Json current = {{"state", "Up"}, {"lastTransitionTime", "2026-01-01T08:00:00.000Z"}};
  EXPECT_EQ(MonitorStatusWriter::BuildStatus(status, current, context)["lastTransitionTime"],
            "2026-01-01T08:00:00.000Z");
  context.keep_transition_time = false;
  EXPECT_EQ(MonitorStatusWriter::BuildStatus(status, current, context)["lastTransitionTime"],
            "2026-01-01T12:00:00.000Z");
}

TEST(MonitorStatusWriterBuildTest, CutsTextsToTheSchemaLimits) {
  MonitorStatus status;
  status.monitor = MakeMonitor("u1", "api");
  status.state = MonitorState::kInvalid;
  status.reason = std::string(5000, 'x');
  RegionStatus region;
  region.name = "eu";
  region.message = std::string(1023, 'y') + "\xC3\xA9";  // "é" would straddle the limit
  status.regions.push_back(region);
  const Json built = MonitorStatusWriter::BuildStatus(status, nullptr, {});
  EXPECT_EQ(built["message"].get<std::string>().size(), 4096u);
  EXPECT_EQ(built["regions"][0]["message"].get<std::string>(), std::string(1023, 'y'));
  EXPECT_EQ(built["conditions"][0]["reason"], "Invalid");
}

TEST(MonitorStatusWriterBuildTest, WithoutNullsDropsNullMembersRecursively) {
  const Json status = {{"a", nullptr}, {"b", {{"c", nullptr}, {"d", 1}}}, {"e", Json::array()}};
  EXPECT_EQ(MonitorStatusWriter::WithoutNulls(status),
            (Json{{"b", {{"d", 1}}}, {"e", Json::array()}}));
}

TEST_F(MonitorStatusWriterTest, WritesNothingWhileInactive) {
  client_.Put(ApiResource::Monitors(), MonitorObject("u1", "api"));
  Status("u1", "api").state = MonitorState::kUp;
  auto writer = Make();
  writer->Track("u1", "shop", "api");
  EXPECT_FALSE(writer->WriteNext());
  EXPECT_EQ(Patches(), 0u);
  writer->SetActive(true);
  EXPECT_TRUE(writer->WriteNext());
  EXPECT_EQ(Patches(), 1u);
  EXPECT_EQ(StoredStatus("api")["state"], "Up");
}

TEST_F(MonitorStatusWriterTest, PeriodicWritesAtMostOncePerIntervalAndOnlyWhenChanged) {
  client_.Put(ApiResource::Monitors(), MonitorObject("u1", "api"));
  MonitorStatus& status = Status("u1", "api");
  status.state = MonitorState::kUp;
  auto writer = Make(std::chrono::seconds(30));
  writer->SetActive(true);
  writer->Track("u1", "shop", "api");
  ASSERT_TRUE(writer->WriteNext());
  ASSERT_EQ(Patches(), 1u);

  // A new check result: not written before the interval has passed.
  status.last_check_time = clock_.Now();
  clock_.Advance(std::chrono::seconds(29));
  EXPECT_FALSE(writer->WriteNext());
  clock_.Advance(std::chrono::seconds(1));
  ASSERT_TRUE(writer->WriteNext());
  EXPECT_EQ(Patches(), 2u);
  EXPECT_EQ(StoredStatus("api")["lastCheckTime"], FormatRfc3339(*status.last_check_time));

  // Due again, but nothing changed: no request at all.
  const size_t calls = client_.Calls().size();
  clock_.Advance(std::chrono::seconds(30));
  ASSERT_TRUE(writer->WriteNext());
  EXPECT_EQ(client_.Calls().size(), calls);
  EXPECT_EQ(writer->stats().unchanged, 1);
}

TEST_F(MonitorStatusWriterTest, StateChangesAreWrittenAtOnceAheadOfPeriodicWrites) {
  for (const char* name : {"a", "b", "c"}) {
    client_.Put(ApiResource::Monitors(), MonitorObject(std::string("u-") + name, name));
    Status(std::string("u-") + name, name).state = MonitorState::kUp;
  }
  auto writer = Make(std::chrono::seconds(30));
  writer->SetActive(true);
  for (const char* name : {"a", "b", "c"}) {
    writer->Track(std::string("u-") + name, "shop", name);
  }
  while (writer->WriteNext()) {
  }
  ASSERT_EQ(Patches(), 3u);

  // b and c fall due; then c goes Down: c is written first, at once.
  clock_.Advance(std::chrono::seconds(30));
  statuses_["u-b"].last_check_time = clock_.Now();
  statuses_["u-c"].state = MonitorState::kDown;
  StateEvent event;
  event.monitor_uid = "u-c";
  event.from = MonitorState::kUp;
  event.to = MonitorState::kDown;
  event.at = clock_.Now();
  writer->StateChanged(event);
  ASSERT_TRUE(writer->WriteNext());
  const auto patches = client_.Calls("patch");
  EXPECT_EQ(patches.back().path, "/apis/pharos.dev/v1alpha1/namespaces/shop/monitors/c/status");
  EXPECT_EQ(StoredStatus("c")["state"], "Down");
  EXPECT_EQ(StoredStatus("c")["conditions"][0]["status"], "False");
}

TEST_F(MonitorStatusWriterTest, ConflictIsRetriedFromTheFreshObject) {
  client_.Put(ApiResource::Monitors(), MonitorObject("u1", "api"));
  Status("u1", "api").state = MonitorState::kUp;
  bool raced = false;
  client_.SetInterceptor([&](const RecordedCall& call) -> std::optional<KubeResponse> {
    if (call.verb == "patch" && !raced) {
      raced = true;
      return MakeStatusResponse(409, "Conflict", "the object has been modified");
    }
    return std::nullopt;
  });
  auto writer = Make();
  writer->SetActive(true);
  writer->Track("u1", "shop", "api");
  ASSERT_TRUE(writer->WriteNext());
  EXPECT_EQ(client_.Calls("get").size(), 2u);
  EXPECT_EQ(patcher_.counters().conflict, 1);
  EXPECT_EQ(patcher_.counters().ok, 1);
  EXPECT_EQ(StoredStatus("api")["state"], "Up");
  // The write carried the resourceVersion it was computed from (optimistic concurrency).
  EXPECT_FALSE(client_.Calls("patch").back().body["metadata"]["resourceVersion"].is_null());
}

TEST_F(MonitorStatusWriterTest, AFailedWriteWaitsForTheServersRetryAfterEvenForAStateChange) {
  client_.Put(ApiResource::Monitors(), MonitorObject("u1", "api"));
  MonitorStatus& status = Status("u1", "api");
  status.state = MonitorState::kUp;
  bool throttled = true;
  client_.SetInterceptor([&](const RecordedCall&) -> std::optional<KubeResponse> {
    if (!throttled) {
      return std::nullopt;
    }
    KubeResponse response = MakeStatusResponse(429, "TooManyRequests", "slow down");
    response.retry_after = std::chrono::seconds(20);
    return response;
  });
  auto writer = Make(std::chrono::seconds(1));
  writer->SetActive(true);
  writer->Track("u1", "shop", "api");
  ASSERT_TRUE(writer->WriteNext());
  EXPECT_EQ(writer->stats().failed, 1);
  const size_t calls = client_.Calls().size();

  // A state change meanwhile is not sent before the server said (20 s, not the 1 s interval).
  status.state = MonitorState::kDown;
  StateEvent event;
  event.monitor_uid = "u1";
  event.from = MonitorState::kUp;
  event.to = MonitorState::kDown;
  event.at = clock_.Now();
  writer->StateChanged(event);
  EXPECT_FALSE(writer->WriteNext());
  clock_.Advance(std::chrono::milliseconds(19'999));
  EXPECT_FALSE(writer->WriteNext());
  EXPECT_EQ(client_.Calls().size(), calls);

  // Then the retry writes the latest state.
  throttled = false;
  clock_.Advance(std::chrono::milliseconds(1));
  ASSERT_TRUE(writer->WriteNext());
  EXPECT_EQ(StoredStatus("api")["state"], "Down");
  // And after a success, state changes are written at once again.
  status.state = MonitorState::kUp;
  event.from = MonitorState::kDown;
  event.to = MonitorState::kUp;
  writer->StateChanged(event);
  ASSERT_TRUE(writer->WriteNext());
  EXPECT_EQ(StoredStatus("api")["state"], "Up");
}

TEST_F(MonitorStatusWriterTest, DoesNotWriteAnObjectOfTheSameNameWithAnotherUid) {
  client_.Put(ApiResource::Monitors(), MonitorObject("new-uid", "api"));
  Status("old-uid", "api").state = MonitorState::kDown;
  auto writer = Make();
  writer->SetActive(true);
  writer->Track("old-uid", "shop", "api");
  ASSERT_TRUE(writer->WriteNext());
  EXPECT_EQ(Patches(), 0u);
}

TEST_F(MonitorStatusWriterTest, ANewLeaderKeepsTheWrittenStateUntilItHasResultsOfItsOwn) {
  Json object = MonitorObject("u1", "api");
  object["status"] = {{"observedGeneration", 1},
                      {"state", "Down"},
                      {"lastTransitionTime", "2026-01-01T00:00:00.000Z"}};
  client_.Put(ApiResource::Monitors(), object);
  MonitorStatus& status = Status("u1", "api");
  status.state = MonitorState::kPending;  // a replica that just took over knows nothing yet
  auto writer = Make(std::chrono::seconds(2));
  writer->Track("u1", "shop", "api");
  writer->SetActive(true);
  ASSERT_TRUE(writer->WriteNext());
  EXPECT_EQ(Patches(), 0u);
  EXPECT_EQ(StoredStatus("api")["state"], "Down");

  // Its own first result arrives (still Down for it after the threshold): now it writes.
  clock_.Advance(std::chrono::seconds(2));
  status.last_check_time = clock_.Now();
  status.state = MonitorState::kDown;
  status.last_transition_time = clock_.Now();
  ASSERT_TRUE(writer->WriteNext());
  EXPECT_EQ(Patches(), 1u);
  EXPECT_EQ(StoredStatus("api")["state"], "Down");
  // Down all along: the time the previous leader saw it go Down stays.
  EXPECT_EQ(StoredStatus("api")["lastTransitionTime"], "2026-01-01T00:00:00.000Z");
}

TEST_F(MonitorStatusWriterTest, ForgottenMonitorsAreNotWritten) {
  client_.Put(ApiResource::Monitors(), MonitorObject("u1", "api"));
  Status("u1", "api").state = MonitorState::kUp;
  auto writer = Make();
  writer->SetActive(true);
  writer->Track("u1", "shop", "api");
  writer->Forget("u1");
  EXPECT_FALSE(writer->WriteNext());
  EXPECT_EQ(Patches(), 0u);
  EXPECT_EQ(writer->stats().tracked, 0u);
}

TEST_F(MonitorStatusWriterTest, ThreadsWriteStateChanges) {
  client_.Put(ApiResource::Monitors(), MonitorObject("u1", "api"));
  Status("u1", "api").state = MonitorState::kUp;
  auto writer = Make();
  writer->Start();
  writer->SetActive(true);
  writer->Track("u1", "shop", "api");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (writer->stats().written < 1 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  writer->Stop();
  EXPECT_EQ(writer->stats().written, 1);
  EXPECT_EQ(StoredStatus("api")["state"], "Up");
}

}  // namespace
}  // namespace pharos
