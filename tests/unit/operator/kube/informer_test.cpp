#include "operator/kube/informer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common/manual_clock.h"
#include "unit/eventually.h"
#include "unit/operator/kube/fake_kube_client.h"

namespace pharos {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::FakeKubeClient;
using testing::MakeEvent;
using testing::MakeOkResponse;
using testing::MakeStatusResponse;
using testing::RecordedCall;
using testing::WatchScript;

nlohmann::json ConfigMap(const std::string& name, const std::string& value = "v") {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", name}, {"namespace", "ns"}}},
          {"data", {{"key", value}}}};
}

nlohmann::json WithVersion(nlohmann::json object, const std::string& rv) {
  object["metadata"]["resourceVersion"] = rv;
  return object;
}

nlohmann::json Bookmark(const std::string& rv) {
  return {{"kind", "ConfigMap"}, {"metadata", {{"resourceVersion", rv}}}};
}

nlohmann::json GoneStatus() {
  return {{"kind", "Status"},
          {"status", "Failure"},
          {"reason", "Expired"},
          {"code", 410},
          {"message", "too old resource version: 1 (50)"}};
}

using ::pharos::testing::Eventually;

// What the handlers saw, in order: "add ns/a", "update ns/a", "delete ns/b".
class Recorder {
 public:
  InformerHandlers Handlers() {
    return {[this](const nlohmann::json& o) { Push("add " + ObjectKey(o)); },
            [this](const nlohmann::json& old_object, const nlohmann::json& new_object) {
              EXPECT_EQ(ObjectKey(old_object), ObjectKey(new_object));
              Push("update " + ObjectKey(new_object));
            },
            [this](const nlohmann::json& o) { Push("delete " + ObjectKey(o)); }};
  }
  void Push(std::string line) {
    std::lock_guard<std::mutex> lock(mutex_);
    lines_.push_back(std::move(line));
  }
  std::vector<std::string> Lines() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return lines_;
  }
  size_t Size() const { return Lines().size(); }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> lines_;
};

class InformerTest : public ::testing::Test {
 protected:
  std::unique_ptr<Informer> MakeInformer(InformerOptions options = {}) {
    options.resource = ApiResource::ConfigMaps();
    options.namespace_name = "ns";
    return std::make_unique<Informer>(
        client_, options, recorder_.Handlers(), clock_,
        [this](milliseconds delay) {
          std::lock_guard<std::mutex> lock(mutex_);
          sleeps_.push_back(delay);
          clock_.Advance(delay);
          return true;
        },
        [] { return 1.0; });  // the largest jitter: delays equal the backoff step
  }
  std::vector<milliseconds> Sleeps() {
    std::lock_guard<std::mutex> lock(mutex_);
    return sleeps_;
  }
  size_t WatchCalls() { return client_.Calls("watch").size(); }

  ManualClock clock_;
  FakeKubeClient client_;
  Recorder recorder_;
  std::mutex mutex_;
  std::vector<milliseconds> sleeps_;
};

TEST_F(InformerTest, ListsThenWatchesFromTheListedVersion) {
  client_.Put(ApiResource::ConfigMaps(), ConfigMap("a"));
  client_.Put(ApiResource::ConfigMaps(), ConfigMap("b"));
  auto informer = MakeInformer();
  informer->Start();
  ASSERT_TRUE(informer->WaitForSync(seconds(10)));
  EXPECT_TRUE(informer->HasSynced());
  EXPECT_EQ(recorder_.Lines(), (std::vector<std::string>{"add ns/a", "add ns/b"}));
  const std::string listed = std::to_string(client_.resource_version());
  EXPECT_EQ(informer->LastResourceVersion(), listed);
  ASSERT_TRUE(Eventually([&] { return WatchCalls() == 1; }));
  const WatchOptions watch = client_.Calls("watch")[0].watch_options;
  EXPECT_EQ(watch.resource_version, listed);
  EXPECT_TRUE(watch.allow_bookmarks);
  EXPECT_GE(watch.timeout, seconds(300));
  EXPECT_LE(watch.timeout, seconds(600));
  ASSERT_TRUE(informer->Get("ns/a").has_value());
  EXPECT_EQ(informer->List().size(), 2u);
  informer->Stop();
}

TEST_F(InformerTest, AppliesWatchEventsAndResumesFromTheLastVersion) {
  client_.Put(ApiResource::ConfigMaps(), ConfigMap("a"));
  client_.Put(ApiResource::ConfigMaps(), ConfigMap("b"));
  auto informer = MakeInformer();
  WatchScript script;
  script.during = [this] { clock_.Advance(seconds(400)); };  // the watch ran to its timeout
  script.events = {
      MakeEvent(WatchEvent::Type::kAdded, WithVersion(ConfigMap("c"), "201")),
      MakeEvent(WatchEvent::Type::kModified, WithVersion(ConfigMap("a", "new"), "202")),
      MakeEvent(WatchEvent::Type::kDeleted, WithVersion(ConfigMap("b"), "203")),
      MakeEvent(WatchEvent::Type::kDeleted, WithVersion(ConfigMap("never-seen"), "204")),
      MakeEvent(WatchEvent::Type::kBookmark, Bookmark("250"))};
  script.end = MakeOkResponse();
  client_.AddWatchScript(script);
  informer->Start();
  ASSERT_TRUE(Eventually([&] { return WatchCalls() == 2; }));
  EXPECT_EQ(recorder_.Lines(), (std::vector<std::string>{"add ns/a", "add ns/b", "add ns/c",
                                                         "update ns/a", "delete ns/b"}));
  EXPECT_EQ(client_.Calls("watch")[1].watch_options.resource_version, "250");
  EXPECT_EQ(client_.Calls("list").size(), 1u);
  EXPECT_TRUE(Sleeps().empty()) << "a watch that ends by its timeout is restarted at once";
  EXPECT_EQ((*informer->Get("ns/a"))["data"]["key"], "new");
  EXPECT_FALSE(informer->Get("ns/b").has_value());
  const InformerStats stats = informer->stats();
  EXPECT_EQ(stats.events, 5);
  EXPECT_EQ(stats.watch_failures, 0);
  informer->Stop();
}

TEST_F(InformerTest, TransformTrimsListedAndWatchedObjectsBeforeCachingAndHandlers) {
  nlohmann::json listed = ConfigMap("a");
  listed["metadata"]["managedFields"] = nlohmann::json::array({{{"manager", "kubectl"}}});
  client_.Put(ApiResource::ConfigMaps(), listed);
  nlohmann::json watched = WithVersion(ConfigMap("b"), "201");
  watched["metadata"]["managedFields"] = nlohmann::json::array({{{"manager", "kubectl"}}});
  WatchScript script;
  script.during = [this] { clock_.Advance(seconds(400)); };
  script.events = {MakeEvent(WatchEvent::Type::kAdded, watched)};
  script.end = MakeOkResponse();
  client_.AddWatchScript(script);

  std::mutex seen_mutex;
  std::vector<bool> handler_saw_managed_fields;
  InformerOptions options;
  options.resource = ApiResource::ConfigMaps();
  options.namespace_name = "ns";
  options.transform = [](nlohmann::json& object) { object["metadata"].erase("managedFields"); };
  InformerHandlers handlers;
  handlers.on_add = [&](const nlohmann::json& object) {
    std::lock_guard<std::mutex> lock(seen_mutex);
    handler_saw_managed_fields.push_back(object["metadata"].contains("managedFields"));
  };
  Informer informer(
      client_, options, handlers, clock_,
      [this](milliseconds delay) {
        clock_.Advance(delay);
        return true;
      },
      [] { return 1.0; });
  informer.Start();
  ASSERT_TRUE(Eventually([&] { return WatchCalls() == 2; }));
  informer.Stop();
  EXPECT_EQ(handler_saw_managed_fields, (std::vector<bool>{false, false}));
  ASSERT_TRUE(informer.Get("ns/a").has_value());
  ASSERT_TRUE(informer.Get("ns/b").has_value());
  EXPECT_FALSE((*informer.Get("ns/a"))["metadata"].contains("managedFields"));
  EXPECT_FALSE((*informer.Get("ns/b"))["metadata"].contains("managedFields"));
  EXPECT_EQ((*informer.Get("ns/b"))["data"]["key"], "v");
}

TEST_F(InformerTest, InStreamGoneRelistsAndReportsChangesMissedMeanwhile) {
  client_.Put(ApiResource::ConfigMaps(), ConfigMap("a"));
  client_.Put(ApiResource::ConfigMaps(), ConfigMap("b"));
  auto informer = MakeInformer();
  WatchScript script;
  script.during = [this] {
    // While the informer was not looking: b deleted, a changed, c created.
    client_.Erase(ApiResource::ConfigMaps(), "ns", "b");
    client_.Put(ApiResource::ConfigMaps(), ConfigMap("a", "changed"));
    client_.Put(ApiResource::ConfigMaps(), ConfigMap("c"));
  };
  script.events = {MakeEvent(WatchEvent::Type::kError, GoneStatus())};
  script.end = MakeOkResponse();
  client_.AddWatchScript(script);
  informer->Start();
  ASSERT_TRUE(Eventually([&] { return WatchCalls() == 2; }));
  EXPECT_EQ(recorder_.Lines(), (std::vector<std::string>{"add ns/a", "add ns/b", "update ns/a",
                                                         "add ns/c", "delete ns/b"}));
  EXPECT_EQ(client_.Calls("list").size(), 2u);
  EXPECT_EQ(informer->stats().relists_after_gone, 1);
  EXPECT_TRUE(Sleeps().empty());
  EXPECT_EQ(client_.Calls("watch")[1].watch_options.resource_version,
            std::to_string(client_.resource_version()));
  informer->Stop();
}

TEST_F(InformerTest, HttpGoneOnTheWatchRelists) {
  client_.Put(ApiResource::ConfigMaps(), ConfigMap("a"));
  auto informer = MakeInformer();
  WatchScript script;
  script.end = MakeStatusResponse(410, "Expired", "too old resource version");
  client_.AddWatchScript(script);
  informer->Start();
  ASSERT_TRUE(Eventually([&] { return WatchCalls() == 2; }));
  EXPECT_EQ(client_.Calls("list").size(), 2u);
  EXPECT_EQ(informer->stats().relists_after_gone, 1);
  EXPECT_EQ(recorder_.Lines(), std::vector<std::string>{"add ns/a"});  // nothing changed
  informer->Stop();
}

TEST_F(InformerTest, AWatchClosingAtOnceWithoutEventsBacksOffExponentially) {
  auto informer = MakeInformer();
  for (int i = 0; i < 4; ++i) {
    WatchScript script;
    script.end = MakeOkResponse();  // closed immediately (no virtual time passed), no events
    client_.AddWatchScript(script);
  }
  informer->Start();
  ASSERT_TRUE(Eventually([&] { return WatchCalls() == 5; }));
  EXPECT_EQ(Sleeps(), (std::vector<milliseconds>{milliseconds(800), milliseconds(1600),
                                                 milliseconds(3200), milliseconds(6400)}));
  EXPECT_EQ(informer->stats().watch_failures, 4);
  EXPECT_EQ(client_.Calls("list").size(), 1u);
  informer->Stop();
}

TEST_F(InformerTest, ServerErrorsAndTooManyRequestsBackOffHonouringRetryAfter) {
  auto informer = MakeInformer();
  WatchScript busy;
  busy.end = MakeStatusResponse(429, "TooManyRequests", "slow down");
  busy.end.retry_after = seconds(7);
  WatchScript broken;
  broken.end = MakeStatusResponse(503, "ServiceUnavailable", "etcd is away");
  WatchScript reset;
  reset.end.http_status = 200;
  reset.end.transport_error = "Connection reset by peer";
  client_.AddWatchScript(busy);
  client_.AddWatchScript(broken);
  client_.AddWatchScript(reset);
  informer->Start();
  ASSERT_TRUE(Eventually([&] { return WatchCalls() == 4; }));
  EXPECT_EQ(Sleeps(), (std::vector<milliseconds>{milliseconds(7000), milliseconds(1600),
                                                 milliseconds(3200)}));
  informer->Stop();
}

TEST_F(InformerTest, AWorkingWatchWhoseStreamBreaksOffIsRenewedAtOnceFromTheLastVersion) {
  client_.Put(ApiResource::ConfigMaps(), ConfigMap("a"));
  auto informer = MakeInformer();
  // Cut after events, then cut after 3 s without events (a proxy closing watches), again and
  // again: each is watched again at once, from the last version, and nothing counts as failing.
  for (int i = 0; i < 4; ++i) {
    WatchScript script;
    if (i % 2 == 0) {
      script.events = {
          MakeEvent(WatchEvent::Type::kAdded,
                    WithVersion(ConfigMap("c" + std::to_string(i)), std::to_string(300 + i)))};
    } else {
      script.during = [this] { clock_.Advance(seconds(3)); };
    }
    script.end.http_status = 200;
    script.end.transport_error = "transfer closed with outstanding read data remaining";
    script.end.stream_broken = true;
    client_.AddWatchScript(script);
  }
  informer->Start();
  ASSERT_TRUE(Eventually([&] { return WatchCalls() == 5; }));
  EXPECT_TRUE(Sleeps().empty());
  const auto watches = client_.Calls("watch");
  EXPECT_EQ(watches[1].watch_options.resource_version, "300");
  EXPECT_EQ(watches[2].watch_options.resource_version, "300");
  EXPECT_EQ(watches[4].watch_options.resource_version, "302");
  EXPECT_EQ(recorder_.Lines(), (std::vector<std::string>{"add ns/a", "add ns/c0", "add ns/c2"}));
  EXPECT_EQ(informer->stats().watch_failures, 0);
  EXPECT_EQ(client_.Calls("list").size(), 1u);
  informer->Stop();
}

TEST_F(InformerTest, AStreamBreakingOffAtOnceWithoutEventsStillBacksOff) {
  auto informer = MakeInformer();
  for (int i = 0; i < 2; ++i) {
    WatchScript script;
    script.end.http_status = 200;
    script.end.transport_error = "Connection reset by peer";
    script.end.stream_broken = true;
    client_.AddWatchScript(script);
  }
  informer->Start();
  ASSERT_TRUE(Eventually([&] { return WatchCalls() == 3; }));
  EXPECT_EQ(Sleeps(), (std::vector<milliseconds>{milliseconds(800), milliseconds(1600)}));
  EXPECT_EQ(informer->stats().watch_failures, 2);
  informer->Stop();
}

TEST_F(InformerTest, ListFailuresAreRetriedWithBackoff) {
  client_.Put(ApiResource::ConfigMaps(), ConfigMap("a"));
  int failures = 0;
  client_.SetInterceptor([&](const RecordedCall& call) -> std::optional<KubeResponse> {
    if (call.verb == "list" && failures < 2) {
      ++failures;
      return MakeStatusResponse(500, "InternalError", "boom");
    }
    return std::nullopt;
  });
  auto informer = MakeInformer();
  informer->Start();
  ASSERT_TRUE(informer->WaitForSync(seconds(10)));
  EXPECT_EQ(Sleeps(), (std::vector<milliseconds>{milliseconds(800), milliseconds(1600)}));
  EXPECT_EQ(informer->stats().list_failures, 2);
  EXPECT_EQ(recorder_.Lines(), std::vector<std::string>{"add ns/a"});
  informer->Stop();
}

TEST_F(InformerTest, WatchFailingForTooLongListsAgain) {
  InformerOptions options;
  options.relist_after_failures = seconds(120);
  auto informer = MakeInformer(options);
  for (int i = 0; i < 3; ++i) {
    WatchScript script;
    script.during = [this] { clock_.Advance(seconds(61)); };
    script.end = MakeStatusResponse(503, "ServiceUnavailable", "down");
    client_.AddWatchScript(script);
  }
  informer->Start();
  ASSERT_TRUE(Eventually([&] { return WatchCalls() == 4; }));
  // Failures at +61 s, +122 s (+backoff), +183 s: the third is more than 120 s after the first.
  EXPECT_EQ(client_.Calls("list").size(), 2u);
  informer->Stop();
}

TEST_F(InformerTest, PagesTheInitialList) {
  for (int i = 0; i < 5; ++i) {
    client_.Put(ApiResource::ConfigMaps(), ConfigMap("cm-" + std::to_string(i)));
  }
  InformerOptions options;
  options.page_size = 2;
  auto informer = MakeInformer(options);
  informer->Start();
  ASSERT_TRUE(informer->WaitForSync(seconds(10)));
  EXPECT_EQ(client_.Calls("list").size(), 3u);
  EXPECT_EQ(informer->List().size(), 5u);
  informer->Stop();
}

TEST_F(InformerTest, AThrowingHandlerDoesNotStopTheInformer) {
  client_.Put(ApiResource::ConfigMaps(), ConfigMap("a"));
  InformerOptions options;
  options.resource = ApiResource::ConfigMaps();
  options.namespace_name = "ns";
  int adds = 0;
  InformerHandlers handlers;
  handlers.on_add = [&](const nlohmann::json&) {
    ++adds;
    throw std::runtime_error("handler bug");
  };
  Informer informer(
      client_, options, handlers, clock_, [](milliseconds) { return true; }, [] { return 0.5; });
  WatchScript script;
  script.during = [this] { clock_.Advance(seconds(10)); };
  script.events = {MakeEvent(WatchEvent::Type::kAdded, WithVersion(ConfigMap("b"), "300"))};
  script.end = MakeOkResponse();
  client_.AddWatchScript(script);
  informer.Start();
  ASSERT_TRUE(Eventually([&] { return client_.Calls("watch").size() == 2; }));
  EXPECT_EQ(adds, 2);
  EXPECT_TRUE(informer.Get("ns/b").has_value());
  informer.Stop();
}

TEST_F(InformerTest, StopInterruptsAWatchAndARealBackoffWait) {
  {
    auto informer = MakeInformer();
    informer->Start();
    ASSERT_TRUE(Eventually([&] { return WatchCalls() == 1; }));
    informer->Stop();  // the fake watch blocks until cancelled
    EXPECT_EQ(WatchCalls(), 1u);
  }
  // With the real sleeper and an hour of backoff, Stop must still return.
  InformerOptions options;
  options.resource = ApiResource::ConfigMaps();
  options.backoff.initial = std::chrono::hours(1);
  options.backoff.max = std::chrono::hours(1);
  FakeKubeClient failing;
  failing.SetInterceptor([](const RecordedCall&) -> std::optional<KubeResponse> {
    return MakeStatusResponse(500, "InternalError", "down");
  });
  Informer informer(failing, options, {}, clock_, {}, [] { return 1.0; });
  informer.Start();
  ASSERT_TRUE(Eventually([&] { return informer.stats().list_failures == 1; }));
  informer.Stop();
  EXPECT_FALSE(informer.HasSynced());
  EXPECT_FALSE(informer.WaitForSync(milliseconds(1)));
}

}  // namespace
}  // namespace pharos
