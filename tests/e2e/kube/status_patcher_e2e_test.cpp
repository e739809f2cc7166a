// StatusPatcher against a real kube-apiserver with the Monitor CRD (status subresource on).

#include <filesystem>

#include "e2e/kube/kube_e2e_helpers.h"
#include "operator/kube/status_patcher.h"

namespace pharos::e2e {
namespace {

class StatusPatcherE2ETest : public KubeE2ETest {
 protected:
  void SetUp() override {
    KubeE2ETest::SetUp();
    std::string crd = std::string(PHAROS_SOURCE_DIR) + "/crds/monitors.pharos.dev.yaml";
    if (!std::filesystem::exists(crd)) {
      crd = std::string(PHAROS_SOURCE_DIR) + "/tests/e2e/kube/fixtures/monitors-crd-minimal.yaml";
    }
    const CommandResult applied = control_plane().Kubectl({"apply", "-f", crd});
    ASSERT_EQ(applied.exit_code, 0) << applied.output;
    // Creating is the check that the new CRD is served (Established and in discovery). Not
    // `kubectl wait --for condition=Established`: the pinned kubectl fails at once when the CRD
    // has no conditions yet, as it can right after the apply.
    ASSERT_TRUE(Eventually(
        [&] {
          created_ = client_->Create(ApiResource::Monitors(), namespace_, MonitorObject("api"));
          return created_.ok();
        },
        std::chrono::seconds(60)))
        << created_.Describe();
  }

  nlohmann::json MonitorObject(const std::string& name) {
    return {{"apiVersion", "pharos.dev/v1alpha1"},
            {"kind", "Monitor"},
            {"metadata", {{"name", name}, {"namespace", namespace_}}},
            {"spec",
             {{"type", "http"},
              {"frequency", "1m"},
              {"http", {{"url", "http://127.0.0.1:8080/health"}}}}}};
  }
  nlohmann::json Current() { return client_->Get(ApiResource::Monitors(), namespace_, "api").body; }

  KubeResponse created_;
  SystemClock clock_;
};

TEST_F(StatusPatcherE2ETest, MergePatchWritesOnlyTheStatus) {
  StatusPatcher patcher(*client_, {}, clock_);
  const int64_t generation = created_.body["metadata"]["generation"].get<int64_t>();
  const KubeResponse patched = patcher.Patch(namespace_, "api",
                                             {{"state", "Up"},
                                              {"observedGeneration", generation},
                                              {"target", "http://127.0.0.1:8080/health"}});
  ASSERT_TRUE(patched.ok()) << patched.Describe();
  const nlohmann::json monitor = Current();
  EXPECT_EQ(monitor["status"]["state"], "Up");
  EXPECT_EQ(monitor["status"]["observedGeneration"], generation);
  EXPECT_EQ(monitor["metadata"]["generation"], generation) << "a status write is not a spec change";
  EXPECT_EQ(patcher.counters().ok, 1);

  // The main endpoint ignores status: only /status can change it.
  ASSERT_TRUE(client_
                  ->Patch(ApiResource::Monitors(), namespace_, "api", PatchType::kMerge,
                          {{"status", {{"state", "Down"}}}}, PatchOptions{})
                  .ok());
  EXPECT_EQ(Current()["status"]["state"], "Up");

  const KubeResponse missing = patcher.Patch(namespace_, "no-such-monitor", {{"state", "Up"}});
  EXPECT_TRUE(missing.IsNotFound()) << missing.Describe();
  EXPECT_EQ(patcher.counters().error, 1);
}

TEST_F(StatusPatcherE2ETest, ServerSideApplyOwnsTheStatusFields) {
  StatusPatcherOptions options;
  options.mode = StatusPatchMode::kServerSideApply;
  StatusPatcher patcher(*client_, options, clock_);
  const KubeResponse applied = patcher.Patch(namespace_, "api", {{"state", "Degraded"}});
  ASSERT_TRUE(applied.ok()) << applied.Describe();
  const nlohmann::json monitor = Current();
  EXPECT_EQ(monitor["status"]["state"], "Degraded");
  bool owned = false;
  for (const auto& entry : monitor["metadata"]["managedFields"]) {
    owned = owned ||
            (entry.value("manager", "") == "pharos-operator" &&
             entry.value("operation", "") == "Apply" && entry.value("subresource", "") == "status");
  }
  EXPECT_TRUE(owned) << monitor["metadata"]["managedFields"].dump(2);
}

TEST_F(StatusPatcherE2ETest, ConflictRereadsAndKeepsTheOtherWritersChange) {
  StatusPatcher patcher(*client_, {}, clock_);
  std::vector<StatusPatchOutcome> outcomes;
  patcher.SetObserver(
      [&](StatusPatchOutcome outcome, const KubeResponse&) { outcomes.push_back(outcome); });
  int computed = 0;
  const KubeResponse result = patcher.PatchFromFresh(
      namespace_, "api", [&](const nlohmann::json& object) -> std::optional<nlohmann::json> {
        ++computed;
        if (computed == 1) {
          // Another writer (another replica) changes the status after our read.
          const KubeResponse other = client_->Patch(
              ApiResource::Monitors(), namespace_, "api", PatchType::kMerge,
              {{"status", {{"target", "written-by-someone-else"}}}}, PatchOptions{"status"});
          EXPECT_TRUE(other.ok()) << other.Describe();
        }
        nlohmann::json status = object.value("status", nlohmann::json::object());
        status["state"] = "Down";
        return status;
      });
  ASSERT_TRUE(result.ok()) << result.Describe();
  EXPECT_EQ(computed, 2);
  EXPECT_EQ(outcomes, (std::vector<StatusPatchOutcome>{StatusPatchOutcome::kConflict,
                                                       StatusPatchOutcome::kOk}));
  EXPECT_EQ(patcher.counters().conflict, 1);
  const nlohmann::json monitor = Current();
  EXPECT_EQ(monitor["status"]["state"], "Down");
  EXPECT_EQ(monitor["status"]["target"], "written-by-someone-else");
}

}  // namespace
}  // namespace pharos::e2e
