#include "operator/controller/monitor_reconciler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/manual_clock.h"
#include "operator/kube/status_patcher.h"
#include "unit/operator/kube/fake_kube_client.h"

namespace pharos {
namespace {

using ::testing::ElementsAre;
using testing::FakeKubeClient;
using ::testing::HasSubstr;

// A MonitorSet that records what the reconciler asked for and can refuse upserts.
class RecordingMonitorSet final : public MonitorSet {
 public:
  Status UpsertMonitor(const Monitor& monitor) override {
    calls.push_back("upsert " + monitor.Key() + " " + monitor.uid);
    if (!refuse_upserts.empty()) {
      return Error{refuse_upserts};
    }
    return OkStatus();
  }
  Status MarkInvalid(const Monitor& monitor, std::string reason) override {
    calls.push_back("invalid " + monitor.Key() + " " + monitor.uid);
    reasons[monitor.uid] = std::move(reason);
    return OkStatus();
  }
  bool RemoveMonitor(const std::string& uid) override {
    calls.push_back("remove " + uid);
    return true;
  }

  std::vector<std::string> calls;
  std::map<std::string, std::string> reasons;
  std::string refuse_upserts;
};

nlohmann::json MonitorObject(const std::string& name, const std::string& uid,
                             const std::string& url = "http://127.0.0.1:9/") {
  return {{"apiVersion", "pharos.dev/v1alpha1"},
          {"kind", "Monitor"},
          {"metadata", {{"name", name}, {"namespace", "shop"}, {"uid", uid}, {"generation", 1}}},
          {"spec", {{"type", "http"}, {"frequency", "1m"}, {"http", {{"url", url}}}}}};
}

class MonitorReconcilerTest : public ::testing::Test {
 protected:
  MonitorReconcilerTest()
      : patcher_(client_, StatusPatcherOptions{}, clock_),
        status_([](const std::string&) { return std::nullopt; }, patcher_, clock_, {}),
        events_(client_, EventRecorderOptions{}, clock_),
        reconciler_(
            [this](const std::string& key) -> std::optional<nlohmann::json> {
              auto found = cache_.find(key);
              if (found == cache_.end()) {
                return std::nullopt;
              }
              return found->second;
            },
            monitors_, status_, events_, policy_) {
    events_.Start();
  }
  ~MonitorReconcilerTest() override { events_.Stop(); }

  std::vector<std::string> InvalidSpecEvents() {
    EXPECT_TRUE(events_.WaitIdle(std::chrono::seconds(10)));
    std::vector<std::string> reasons;
    for (const auto& call : client_.Calls("create")) {
      reasons.push_back(call.body["reason"].get<std::string>() + ": " +
                        call.body["message"].get<std::string>());
    }
    return reasons;
  }

  ManualClock clock_;
  FakeKubeClient client_;
  StatusPatcher patcher_;
  MonitorStatusWriter status_;
  EventRecorder events_;
  RecordingMonitorSet monitors_;
  std::map<std::string, nlohmann::json> cache_;
  // The defaults (link-local and metadata addresses) plus a cluster-wide --deny-cidr.
  const TargetPolicy policy_ = TargetPolicy::Create({"10.96.0.0/12"}, {}).value();
  MonitorReconciler reconciler_;
};

TEST_F(MonitorReconcilerTest, AValidMonitorIsUpsertedAndTracked) {
  cache_["shop/api"] = MonitorObject("api", "uid-1");
  ASSERT_TRUE(reconciler_.Reconcile("shop/api").ok());
  EXPECT_THAT(monitors_.calls, ElementsAre("upsert shop/api uid-1"));
  EXPECT_EQ(status_.stats().tracked, 1u);
}

TEST_F(MonitorReconcilerTest, AGoneMonitorIsRemovedAndNoLongerTracked) {
  cache_["shop/api"] = MonitorObject("api", "uid-1");
  ASSERT_TRUE(reconciler_.Reconcile("shop/api").ok());
  cache_.erase("shop/api");
  ASSERT_TRUE(reconciler_.Reconcile("shop/api").ok());
  EXPECT_THAT(monitors_.calls, ElementsAre("upsert shop/api uid-1", "remove uid-1"));
  EXPECT_EQ(status_.stats().tracked, 0u);
}

TEST_F(MonitorReconcilerTest, AMonitorCreatedAgainUnderANewUidReplacesTheOldOne) {
  cache_["shop/api"] = MonitorObject("api", "uid-1");
  ASSERT_TRUE(reconciler_.Reconcile("shop/api").ok());
  cache_["shop/api"] = MonitorObject("api", "uid-2");
  ASSERT_TRUE(reconciler_.Reconcile("shop/api").ok());
  EXPECT_THAT(monitors_.calls,
              ElementsAre("upsert shop/api uid-1", "remove uid-1", "upsert shop/api uid-2"));
}

TEST_F(MonitorReconcilerTest, AnInvalidMonitorIsMarkedAndWarnedAboutOnceWhileLeading) {
  cache_["shop/api"] = MonitorObject("api", "uid-1", "ftp://example/");
  ASSERT_TRUE(reconciler_.Reconcile("shop/api").ok());
  EXPECT_THAT(monitors_.calls, ElementsAre("invalid shop/api uid-1"));
  EXPECT_THAT(monitors_.reasons["uid-1"], HasSubstr("spec.http.url"));
  EXPECT_TRUE(InvalidSpecEvents().empty()) << "a standby sends no Events";

  reconciler_.SetLeading(true);
  ASSERT_TRUE(reconciler_.Reconcile("shop/api").ok());  // the same generation and reason again
  const std::vector<std::string> events = InvalidSpecEvents();
  ASSERT_EQ(events.size(), 1u) << "one InvalidSpec Event per generation and reason";
  EXPECT_THAT(events[0], HasSubstr("InvalidSpec: The operator refused this Monitor"));
  EXPECT_THAT(events[0], HasSubstr("spec.http.url"));
}

TEST_F(MonitorReconcilerTest, AMonitorTheCoreRefusesIsMarkedInvalidWithTheCoresReason) {
  monitors_.refuse_upserts = "spec.frequency is not a frequency class";
  cache_["shop/api"] = MonitorObject("api", "uid-1");
  ASSERT_TRUE(reconciler_.Reconcile("shop/api").ok());
  EXPECT_THAT(monitors_.calls, ElementsAre("upsert shop/api uid-1", "invalid shop/api uid-1"));
  EXPECT_EQ(monitors_.reasons["uid-1"], "spec.frequency is not a frequency class");
}

TEST_F(MonitorReconcilerTest, AnObjectWithoutUidIsIgnored) {
  nlohmann::json object = MonitorObject("api", "uid-1");
  object["metadata"].erase("uid");
  cache_["shop/api"] = object;
  ASSERT_TRUE(reconciler_.Reconcile("shop/api").ok());
  EXPECT_TRUE(monitors_.calls.empty());
}

TEST_F(MonitorReconcilerTest, ABlockedLiteralTargetIsCheckedAndWarnedAboutOncePerGeneration) {
  reconciler_.SetLeading(true);
  cache_["shop/metadata"] = MonitorObject("metadata", "uid-1", "http://169.254.169.254/latest/");
  cache_["shop/cluster"] = MonitorObject("cluster", "uid-2", "http://10.100.0.1:8080/healthz");
  cache_["shop/fine"] = MonitorObject("fine", "uid-3", "http://127.0.0.1:8080/healthz");
  for (const char* key : {"shop/metadata", "shop/cluster", "shop/fine"}) {
    ASSERT_TRUE(reconciler_.Reconcile(key).ok()) << key;
  }
  // Blocked targets are still checked (each check is a probe error, never Down).
  EXPECT_THAT(monitors_.calls, ElementsAre("upsert shop/metadata uid-1",
                                           "upsert shop/cluster uid-2", "upsert shop/fine uid-3"));
  ASSERT_TRUE(reconciler_.Reconcile("shop/metadata").ok());  // nothing new: no second Event
  std::vector<std::string> events = InvalidSpecEvents();
  ASSERT_EQ(events.size(), 2u) << ::testing::PrintToString(events);
  EXPECT_THAT(events[0], HasSubstr("BlockedTarget: spec.http.url: "));
  EXPECT_THAT(events[0], HasSubstr("169.254.169.254"));
  EXPECT_THAT(events[1], HasSubstr("10.100.0.1"));

  // A new generation that still points there is told again (the recorder counts the repeat on
  // the same Event); one that moves away is not.
  cache_["shop/metadata"]["metadata"]["generation"] = 2;
  cache_["shop/cluster"] = MonitorObject("cluster", "uid-2", "http://127.0.0.1:8080/healthz");
  cache_["shop/cluster"]["metadata"]["generation"] = 2;
  ASSERT_TRUE(reconciler_.Reconcile("shop/metadata").ok());
  ASSERT_TRUE(reconciler_.Reconcile("shop/cluster").ok());
  EXPECT_EQ(InvalidSpecEvents().size(), 2u);
  ASSERT_EQ(client_.Calls("patch").size(), 1u);
  EXPECT_EQ(client_.Calls("patch")[0].body["count"], 2);
}

}  // namespace
}  // namespace pharos
