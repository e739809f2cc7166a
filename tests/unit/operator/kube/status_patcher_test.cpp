#include "operator/kube/status_patcher.h"

#include <gtest/gtest.h>

#include <vector>

#include "common/manual_clock.h"
#include "unit/operator/kube/fake_kube_client.h"

namespace pharos {
namespace {

using testing::FakeKubeClient;
using testing::MakeStatusResponse;
using testing::RecordedCall;

nlohmann::json MonitorObject(const std::string& name) {
  return {{"apiVersion", "pharos.dev/v1alpha1"},
          {"kind", "Monitor"},
          {"metadata", {{"name", name}, {"namespace", "shop"}, {"generation", 3}}},
          {"spec", {{"type", "http"}}}};
}

class StatusPatcherTest : public ::testing::Test {
 protected:
  std::unique_ptr<StatusPatcher> Make(const StatusPatcherOptions& options = {}) {
    auto patcher = std::make_unique<StatusPatcher>(client_, options, clock_);
    patcher->SetObserver(
        [this](StatusPatchOutcome outcome, const KubeResponse&) { outcomes_.push_back(outcome); });
    return patcher;
  }

  ManualClock clock_;
  FakeKubeClient client_;
  std::vector<StatusPatchOutcome> outcomes_;
};

TEST_F(StatusPatcherTest, MergePatchesTheStatusSubresource) {
  client_.Put(ApiResource::Monitors(), MonitorObject("api"));
  auto patcher = Make();
  const KubeResponse response =
      patcher->Patch("shop", "api", {{"state", "Up"}, {"observedGeneration", 3}});
  ASSERT_TRUE(response.ok()) << response.Describe();
  const auto patches = client_.Calls("patch");
  ASSERT_EQ(patches.size(), 1u);
  EXPECT_EQ(patches[0].path, "/apis/pharos.dev/v1alpha1/namespaces/shop/monitors/api/status");
  EXPECT_EQ(patches[0].patch_type, PatchType::kMerge);
  EXPECT_EQ(patches[0].body,
            (nlohmann::json{{"status", {{"state", "Up"}, {"observedGeneration", 3}}}}));
  EXPECT_EQ(patches[0].patch_options.field_manager, "pharos-operator");
  EXPECT_EQ(response.body["status"]["state"], "Up");
  EXPECT_EQ(outcomes_, std::vector<StatusPatchOutcome>{StatusPatchOutcome::kOk});
  EXPECT_EQ(patcher->counters().ok, 1);
}

TEST_F(StatusPatcherTest, ServerSideApplyNamesTheObjectAndForces) {
  client_.Put(ApiResource::Monitors(), MonitorObject("api"));
  StatusPatcherOptions options;
  options.mode = StatusPatchMode::kServerSideApply;
  auto patcher = Make(options);
  ASSERT_TRUE(patcher->Patch("shop", "api", {{"state", "Down"}}).ok());
  const auto patch = client_.Calls("patch").at(0);
  EXPECT_EQ(patch.patch_type, PatchType::kApply);
  EXPECT_TRUE(patch.patch_options.force);
  EXPECT_EQ(patch.patch_options.field_manager, "pharos-operator");
  EXPECT_EQ(patch.patch_options.subresource, "status");
  EXPECT_EQ(patch.body["apiVersion"], "pharos.dev/v1alpha1");
  EXPECT_EQ(patch.body["kind"], "Monitor");
  EXPECT_EQ(patch.body["metadata"]["name"], "api");
  EXPECT_EQ(patch.body["metadata"]["namespace"], "shop");
  EXPECT_EQ(patch.body["status"]["state"], "Down");
}

TEST_F(StatusPatcherTest, ConflictRereadsAndRecomputes) {
  client_.Put(ApiResource::Monitors(), MonitorObject("api"));
  auto patcher = Make();
  int computed = 0;
  bool raced = false;
  client_.SetInterceptor([&](const RecordedCall& call) -> std::optional<KubeResponse> {
    if (call.verb == "patch" && !raced) {
      raced = true;  // another writer changes the object between our GET and PATCH
      auto current = client_.Stored(ApiResource::Monitors(), "shop", "api");
      (*current)["status"]["incident"] = "opened-elsewhere";
      client_.Put(ApiResource::Monitors(), *current);
    }
    return std::nullopt;
  });
  const KubeResponse response = patcher->PatchFromFresh(
      "shop", "api", [&](const nlohmann::json& object) -> std::optional<nlohmann::json> {
        ++computed;
        nlohmann::json status = object.value("status", nlohmann::json::object());
        status["state"] = "Down";
        return status;
      });
  ASSERT_TRUE(response.ok()) << response.Describe();
  EXPECT_EQ(computed, 2);
  EXPECT_EQ(response.body["status"]["incident"], "opened-elsewhere");  // nothing lost
  EXPECT_EQ(response.body["status"]["state"], "Down");
  const auto patches = client_.Calls("patch");
  ASSERT_EQ(patches.size(), 2u);
  EXPECT_FALSE(JsonStringAt(patches[0].body, {"metadata", "resourceVersion"}).empty());
  EXPECT_EQ(outcomes_, (std::vector<StatusPatchOutcome>{StatusPatchOutcome::kConflict,
                                                        StatusPatchOutcome::kOk}));
  EXPECT_EQ(patcher->counters().conflict, 1);
  EXPECT_EQ(patcher->counters().ok, 1);
}

TEST_F(StatusPatcherTest, GivesUpAfterMaxAttemptsOfConflicts) {
  client_.Put(ApiResource::Monitors(), MonitorObject("api"));
  StatusPatcherOptions options;
  options.max_attempts = 3;
  auto patcher = Make(options);
  client_.SetInterceptor([&](const RecordedCall& call) -> std::optional<KubeResponse> {
    if (call.verb == "patch") return MakeStatusResponse(409, "Conflict", "modified");
    return std::nullopt;
  });
  const KubeResponse response = patcher->PatchFromFresh("shop", "api", [](const nlohmann::json&) {
    return nlohmann::json{{"state", "Up"}};
  });
  EXPECT_TRUE(response.IsConflict());
  EXPECT_EQ(client_.Calls("get").size(), 3u);
  EXPECT_EQ(patcher->counters().conflict, 3);
}

TEST_F(StatusPatcherTest, NothingToWriteMeansNoPatch) {
  client_.Put(ApiResource::Monitors(), MonitorObject("api"));
  auto patcher = Make();
  const KubeResponse response = patcher->PatchFromFresh(
      "shop", "api",
      [](const nlohmann::json&) -> std::optional<nlohmann::json> { return std::nullopt; });
  EXPECT_TRUE(response.ok());
  EXPECT_TRUE(client_.Calls("patch").empty());
  EXPECT_TRUE(outcomes_.empty());
}

TEST_F(StatusPatcherTest, AMissingObjectIsAnError) {
  auto patcher = Make();
  const KubeResponse patched = patcher->Patch("shop", "gone", {{"state", "Up"}});
  EXPECT_TRUE(patched.IsNotFound());
  EXPECT_EQ(patcher->counters().error, 1);
  const KubeResponse fresh = patcher->PatchFromFresh(
      "shop", "gone", [](const nlohmann::json&) { return nlohmann::json{}; });
  EXPECT_TRUE(fresh.IsNotFound());
}

TEST_F(StatusPatcherTest, ShutdownEndsWaitsForTheRateLimiter) {
  client_.Put(ApiResource::Monitors(), MonitorObject("api"));
  SystemClock real;
  StatusPatcherOptions options;
  options.qps = 0.001;  // one write, then the next token is ~1000 s away
  options.burst = 1;
  StatusPatcher patcher(client_, options, real);
  ASSERT_TRUE(patcher.Patch("shop", "api", {{"state", "Up"}}).ok());
  patcher.Shutdown();
  const KubeResponse waited = patcher.Patch("shop", "api", {{"state", "Down"}});
  EXPECT_TRUE(waited.cancelled);
  EXPECT_EQ(client_.Calls("patch").size(), 1u);
}

}  // namespace
}  // namespace pharos
