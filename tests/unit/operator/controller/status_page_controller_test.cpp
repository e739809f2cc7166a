#include "operator/controller/status_page_controller.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "common/manual_clock.h"
#include "unit/eventually.h"
#include "unit/operator/kube/fake_kube_client.h"

namespace pharos {
namespace {

using Json = nlohmann::json;
using testing::FakeKubeClient;

using ::pharos::testing::Eventually;

Json Page(const std::string& name, Json spec) {
  return {{"apiVersion", "pharos.dev/v1alpha1"},
          {"kind", "StatusPage"},
          {"metadata", {{"name", name}, {"namespace", "shop"}, {"generation", 1}}},
          {"spec", std::move(spec)}};
}

Json Groups() {
  return Json::array({{{"name", "Shop"}, {"components", {{{"monitor", "storefront"}}}}}});
}

class StatusPageControllerTest : public ::testing::Test {
 protected:
  // Starts the controller on what the fake API server holds; leading writes statuses.
  void Start(bool leading) {
    StatusPageController::Options options;
    options.resync_period = std::chrono::hours(1);  // only SetLeading wakes it
    controller_ = std::make_unique<StatusPageController>(client_, pages_, clock_, options);
    controller_->Start();
    ASSERT_TRUE(Eventually([&] { return controller_->HasSynced(); }));
    if (leading) controller_->SetLeading(true);
  }

  // The Ready condition written to the page's status, with status.slug.
  std::optional<Json> Ready(const std::string& name) {
    std::optional<Json> stored = client_.Stored(ApiResource::StatusPages(), "shop", name);
    if (!stored || !stored->contains("status")) return std::nullopt;
    for (const Json& condition : (*stored)["status"].value("conditions", Json::array())) {
      if (condition.value("type", "") == "Ready") {
        Json ready = condition;
        ready["slug"] = (*stored)["status"].value("slug", Json(nullptr));
        ready["url"] = (*stored)["status"].value("url", Json(nullptr));
        return ready;
      }
    }
    return std::nullopt;
  }

  void TearDown() override {
    if (controller_) controller_->Stop();
  }

  ManualClock clock_;
  FakeKubeClient client_;
  StatusPageDirectory pages_{/*default_page=*/false};
  std::unique_ptr<StatusPageController> controller_;
};

TEST_F(StatusPageControllerTest, AValidPageIsServedAndSaysWhere) {
  client_.Put(ApiResource::StatusPages(),
              Page("public", {{"slug", "shop"}, {"title", "Shop"}, {"groups", Groups()}}));
  Start(/*leading=*/true);
  ASSERT_TRUE(Eventually([&] { return Ready("public").has_value(); }));
  const Json ready = *Ready("public");
  EXPECT_EQ(ready["status"], "True");
  EXPECT_EQ(ready["reason"], "Served");
  EXPECT_EQ(ready["slug"], "shop");
  EXPECT_EQ(ready["url"], "/status/shop");
  std::shared_ptr<const StatusPage> page = pages_.Find("shop");
  ASSERT_NE(page, nullptr);
  EXPECT_EQ(page->title, "Shop");
  EXPECT_EQ(page->Key(), "shop/public");
}

TEST_F(StatusPageControllerTest, WhatTheOperatorRefusesIsNotServedAndSaysWhy) {
  client_.Put(ApiResource::StatusPages(),
              Page("a-first", {{"slug", "shop"}, {"title", "First"}, {"groups", Groups()}}));
  client_.Put(ApiResource::StatusPages(),
              Page("b-second", {{"slug", "shop"}, {"title", "Second"}, {"groups", Groups()}}));
  client_.Put(
      ApiResource::StatusPages(),
      Page("bad-cidr", {{"groups", Groups()}, {"access", {{"allowedCidrs", {"10.0.0.0/99"}}}}}));
  client_.Put(
      ApiResource::StatusPages(),
      Page("no-secret",
           {{"groups", Groups()},
            {"access", {{"passwordSecretRef", {{"name", "missing"}, {"key", "password"}}}}}}));
  Start(/*leading=*/true);
  ASSERT_TRUE(Eventually([&] {
    return Ready("a-first") && Ready("b-second") && Ready("bad-cidr") && Ready("no-secret");
  }));
  EXPECT_EQ((*Ready("a-first"))["reason"], "Served");
  const Json conflict = *Ready("b-second");
  EXPECT_EQ(conflict["status"], "False");
  EXPECT_EQ(conflict["reason"], "SlugConflict");
  EXPECT_NE(
      conflict["message"].get<std::string>().find("already served by StatusPage shop/a-first"),
      std::string::npos)
      << conflict;
  EXPECT_EQ(conflict["slug"], nullptr);
  EXPECT_EQ(pages_.Find("shop")->title, "First");

  const Json invalid = *Ready("bad-cidr");
  EXPECT_EQ(invalid["reason"], "InvalidSpec");
  EXPECT_NE(invalid["message"].get<std::string>().find("spec.access.allowedCidrs[0]"),
            std::string::npos)
      << invalid;
  EXPECT_EQ(pages_.Find("bad-cidr"), nullptr);

  const Json secret = *Ready("no-secret");
  EXPECT_EQ(secret["reason"], "SecretUnavailable");
  EXPECT_NE(secret["message"].get<std::string>().find("Secret shop/missing"), std::string::npos)
      << secret;
  EXPECT_EQ(pages_.Find("no-secret"), nullptr);  // never served without its password
}

TEST_F(StatusPageControllerTest, PasswordComesFromTheSecretAndIsReadAgainAtResync) {
  client_.Put(ApiResource::Secrets(),
              {{"apiVersion", "v1"},
               {"kind", "Secret"},
               {"metadata", {{"name", "page-password"}, {"namespace", "shop"}}},
               {"data", {{"password", "czNjcjN0Cg=="}}}});  // "s3cr3t\n"
  client_.Put(ApiResource::StatusPages(),
              Page("private",
                   {{"groups", Groups()},
                    {"access",
                     {{"passwordSecretRef", {{"name", "page-password"}, {"key", "password"}}}}}}));
  Start(/*leading=*/false);
  ASSERT_TRUE(Eventually([&] { return pages_.Find("private") != nullptr; }));
  EXPECT_EQ(pages_.Find("private")->access.password, "s3cr3t");
  // Not leading: nothing written.
  EXPECT_TRUE(client_.Calls("patch").empty());

  client_.Put(ApiResource::Secrets(),
              {{"apiVersion", "v1"},
               {"kind", "Secret"},
               {"metadata", {{"name", "page-password"}, {"namespace", "shop"}}},
               {"data", {{"password", "cm90YXRlZA=="}}}});  // "rotated"
  controller_->Resync();
  EXPECT_EQ(pages_.Find("private")->access.password, "rotated");

  // The API server away for a moment: the page stays served with the password it had.
  client_.SetInterceptor([](const testing::RecordedCall& call) -> std::optional<KubeResponse> {
    if (call.verb == "get" && call.path.find("/secrets/") != std::string::npos) {
      return testing::MakeStatusResponse(500, "InternalError", "etcd is away");
    }
    return std::nullopt;
  });
  controller_->Resync();
  ASSERT_NE(pages_.Find("private"), nullptr);
  EXPECT_EQ(pages_.Find("private")->access.password, "rotated");

  client_.SetInterceptor([](const testing::RecordedCall& call) -> std::optional<KubeResponse> {
    if (call.verb == "get" && call.path.find("/secrets/") != std::string::npos) {
      return testing::MakeStatusResponse(403, "Forbidden", "forbidden");
    }
    return std::nullopt;
  });
  controller_->Resync();
  EXPECT_EQ(pages_.Find("private"), nullptr);
  controller_->SetLeading(true);
  ASSERT_TRUE(Eventually([&] { return Ready("private").has_value(); }));
  EXPECT_NE((*Ready("private"))["message"].get<std::string>().find("statusPages.secretNames"),
            std::string::npos);
}

}  // namespace
}  // namespace pharos
