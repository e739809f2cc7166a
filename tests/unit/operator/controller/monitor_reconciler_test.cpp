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
            monitors_, status_, events_) {
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

}  // namespace
}  // namespace pharos
