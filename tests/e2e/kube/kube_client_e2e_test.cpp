// CurlKubeClient against a real kube-apiserver: authentication, CRUD, paging, watches.

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "e2e/kube/kube_e2e_helpers.h"

namespace pharos::e2e {
namespace {

using KubeClientE2ETest = KubeE2ETest;

TEST_F(KubeClientE2ETest, TokenAuthFromKubeconfig) {
  auto config = KubeConfig::FromFiles({control_plane().Env("KUBECONFIG_ADMIN")}, "");
  ASSERT_TRUE(config.ok()) << config.error();
  EXPECT_FALSE(config->token.empty());
  EXPECT_FALSE(config->ca_pem.empty());
  const KubeResponse ns = client_->Get(ApiResource::Namespaces(), "", "default");
  ASSERT_TRUE(ns.ok()) << ns.Describe();
  EXPECT_EQ(ns.body["metadata"]["name"], "default");
}

TEST_F(KubeClientE2ETest, ClientCertificateAuthWithRelativePaths) {
  auto config = KubeConfig::FromFiles({control_plane().Env("KUBECONFIG_CERT")}, "");
  ASSERT_TRUE(config.ok()) << config.error();
  EXPECT_TRUE(config->token.empty());
  EXPECT_EQ(config->client_cert_file, control_plane().dir() + "/cp/pki/admin.crt");
  EXPECT_EQ(config->ca_file, control_plane().dir() + "/cp/pki/server-ca.crt");
  auto client = ControlPlaneEnvironment::ClientFor(control_plane().Env("KUBECONFIG_CERT"));
  ASSERT_NE(client, nullptr);
  const KubeResponse created =
      client->Create(ApiResource::ConfigMaps(), namespace_, ConfigMapObject(namespace_, "by-cert"));
  ASSERT_TRUE(created.ok()) << created.Describe();
}

TEST_F(KubeClientE2ETest, WrongCredentialsAreUnauthorized) {
  auto config = KubeConfig::FromFiles({control_plane().Env("KUBECONFIG_ADMIN")}, "");
  ASSERT_TRUE(config.ok());
  config->token = "not-a-valid-token";
  auto client = CurlKubeClient::New(*config);
  ASSERT_TRUE(client.ok());
  const KubeResponse denied = (*client)->Get(ApiResource::Namespaces(), "", "default");
  EXPECT_EQ(denied.http_status, 401);
  EXPECT_EQ(denied.status.reason, "Unauthorized");

  // Without the CA the server certificate is not trusted.
  config->ca_pem.clear();
  auto untrusting = CurlKubeClient::New(*config);
  ASSERT_TRUE(untrusting.ok());
  const KubeResponse tls = (*untrusting)->Get(ApiResource::Namespaces(), "", "default");
  EXPECT_TRUE(tls.IsTransportError()) << tls.Describe();
}

TEST_F(KubeClientE2ETest, TlsServerNameVerifiesAgainstAnotherName) {
  auto config = KubeConfig::FromFiles({control_plane().Env("KUBECONFIG_ADMIN")}, "");
  ASSERT_TRUE(config.ok());
  // The serving certificate names localhost and kubernetes.default.svc; connect by IP but verify
  // the name kubernetes.default.svc.
  config->tls_server_name = "kubernetes.default.svc";
  auto client = CurlKubeClient::New(*config);
  ASSERT_TRUE(client.ok());
  const KubeResponse ok = (*client)->Get(ApiResource::Namespaces(), "", "default");
  EXPECT_TRUE(ok.ok()) << ok.Describe();
  config->tls_server_name = "not-in-the-certificate.example";
  auto wrong = CurlKubeClient::New(*config);
  ASSERT_TRUE(wrong.ok());
  const KubeResponse refused = (*wrong)->Get(ApiResource::Namespaces(), "", "default");
  EXPECT_TRUE(refused.IsTransportError()) << refused.Describe();
}

TEST_F(KubeClientE2ETest, ConfigMapCrud) {
  const ApiResource cms = ApiResource::ConfigMaps();
  const KubeResponse created = client_->Create(cms, namespace_, ConfigMapObject(namespace_, "a"));
  ASSERT_TRUE(created.ok()) << created.Describe();
  EXPECT_EQ(created.http_status, 201);
  const KubeResponse again = client_->Create(cms, namespace_, ConfigMapObject(namespace_, "a"));
  EXPECT_TRUE(again.IsAlreadyExists()) << again.Describe();

  KubeResponse got = client_->Get(cms, namespace_, "a");
  ASSERT_TRUE(got.ok()) << got.Describe();
  EXPECT_EQ(got.body["data"]["key"], "v");

  // PUT with the current resourceVersion succeeds; with a stale one it is a 409 Conflict.
  nlohmann::json changed = got.body;
  changed["data"]["key"] = "v2";
  const KubeResponse updated = client_->Update(cms, namespace_, "a", changed, UpdateOptions{});
  ASSERT_TRUE(updated.ok()) << updated.Describe();
  const KubeResponse stale = client_->Update(cms, namespace_, "a", changed, UpdateOptions{});
  EXPECT_TRUE(stale.IsConflict()) << stale.Describe();
  EXPECT_EQ(stale.status.reason, "Conflict");
  EXPECT_EQ(stale.status.code, 409);

  const KubeResponse merged = client_->Patch(cms, namespace_, "a", PatchType::kMerge,
                                             {{"data", {{"merged", "yes"}}}}, PatchOptions{});
  ASSERT_TRUE(merged.ok()) << merged.Describe();
  EXPECT_EQ(merged.body["data"]["key"], "v2");
  EXPECT_EQ(merged.body["data"]["merged"], "yes");

  const KubeResponse json_patch = client_->Patch(
      cms, namespace_, "a", PatchType::kJson,
      nlohmann::json::array({{{"op", "remove"}, {"path", "/data/merged"}}}), PatchOptions{});
  ASSERT_TRUE(json_patch.ok()) << json_patch.Describe();
  EXPECT_FALSE(json_patch.body["data"].contains("merged"));

  PatchOptions apply;
  apply.field_manager = "pharos-e2e";
  apply.force = true;
  nlohmann::json applied_object = ConfigMapObject(namespace_, "applied", "from-apply");
  const KubeResponse applied =
      client_->Patch(cms, namespace_, "applied", PatchType::kApply, applied_object, apply);
  ASSERT_TRUE(applied.ok()) << applied.Describe();
  EXPECT_EQ(applied.body["data"]["key"], "from-apply");
  bool managed = false;
  for (const auto& entry : applied.body["metadata"]["managedFields"]) {
    managed = managed || entry.value("manager", "") == "pharos-e2e";
  }
  EXPECT_TRUE(managed);

  DeleteOptions precondition;
  precondition.precondition_resource_version = "1";
  const KubeResponse refused = client_->Delete(cms, namespace_, "a", precondition);
  EXPECT_TRUE(refused.IsConflict()) << refused.Describe();
  const KubeResponse deleted = client_->Delete(cms, namespace_, "a", DeleteOptions{});
  ASSERT_TRUE(deleted.ok()) << deleted.Describe();
  const KubeResponse gone = client_->Get(cms, namespace_, "a");
  EXPECT_TRUE(gone.IsNotFound());
  EXPECT_EQ(gone.status.reason, "NotFound");
  EXPECT_TRUE(client_->Delete(cms, namespace_, "a", DeleteOptions{}).IsNotFound());
}

TEST_F(KubeClientE2ETest, ListPagesWithLimitAndContinue) {
  const ApiResource cms = ApiResource::ConfigMaps();
  for (int i = 0; i < 25; ++i) {
    const KubeResponse created = client_->Create(
        cms, namespace_, ConfigMapObject(namespace_, "cm-" + std::to_string(100 + i)));
    ASSERT_TRUE(created.ok()) << created.Describe();
  }
  ListOptions options;
  options.limit = 10;
  const KubeResponse first = client_->List(cms, namespace_, options);
  ASSERT_TRUE(first.ok()) << first.Describe();
  EXPECT_EQ(first.body["items"].size(), 10u);
  const std::string token = JsonStringAt(first.body, {"metadata", "continue"});
  EXPECT_FALSE(token.empty());
  options.continue_token = token;
  const KubeResponse second = client_->List(cms, namespace_, options);
  ASSERT_TRUE(second.ok()) << second.Describe();
  EXPECT_EQ(second.body["items"][0]["metadata"]["name"], "cm-110");

  ListOptions all_options;
  all_options.limit = 10;
  const KubeResponse all = client_->ListAll(cms, namespace_, all_options);
  ASSERT_TRUE(all.ok()) << all.Describe();
  // 25 created + the namespace's kube-root-ca.crt would be published by a controller; none runs.
  EXPECT_EQ(all.body["items"].size(), 25u);
  EXPECT_FALSE(JsonStringAt(all.body, {"metadata", "resourceVersion"}).empty());

  ListOptions selected;
  selected.field_selector = "metadata.name=cm-107";
  const KubeResponse one = client_->List(cms, namespace_, selected);
  ASSERT_TRUE(one.ok()) << one.Describe();
  EXPECT_EQ(one.body["items"].size(), 1u);
}

TEST_F(KubeClientE2ETest, ExpiredContinueTokenIsGone) {
  const ApiResource cms = ApiResource::ConfigMaps();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(
        client_->Create(cms, namespace_, ConfigMapObject(namespace_, "cm-" + std::to_string(i)))
            .ok());
  }
  ListOptions options;
  options.limit = 1;
  const KubeResponse first = client_->List(cms, namespace_, options);
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(client_->Create(cms, namespace_, ConfigMapObject(namespace_, "later")).ok());
  control_plane().Compact();
  options.continue_token = JsonStringAt(first.body, {"metadata", "continue"});
  const KubeResponse expired = client_->List(cms, namespace_, options);
  EXPECT_TRUE(expired.IsGone()) << expired.Describe();
  EXPECT_EQ(expired.status.code, 410);
}

struct Collected {
  std::mutex mutex;
  std::vector<WatchEvent> events;
  size_t Size() {
    std::lock_guard<std::mutex> lock(mutex);
    return events.size();
  }
};

TEST_F(KubeClientE2ETest, WatchStreamsEventsAndCancelsPromptly) {
  const ApiResource cms = ApiResource::ConfigMaps();
  const KubeResponse listed = client_->List(cms, namespace_, ListOptions{});
  ASSERT_TRUE(listed.ok());
  Collected collected;
  std::stop_source cancel;
  KubeResponse ended;
  WatchOptions options;
  options.resource_version = JsonStringAt(listed.body, {"metadata", "resourceVersion"});
  options.timeout = std::chrono::seconds(120);
  std::thread watcher([&] {
    ended = client_->Watch(
        cms, namespace_, options,
        [&](const WatchEvent& event) {
          std::lock_guard<std::mutex> lock(collected.mutex);
          collected.events.push_back(event);
          return true;
        },
        cancel.get_token());
  });
  ASSERT_TRUE(client_->Create(cms, namespace_, ConfigMapObject(namespace_, "w")).ok());
  ASSERT_TRUE(client_
                  ->Patch(cms, namespace_, "w", PatchType::kMerge, {{"data", {{"key", "2"}}}},
                          PatchOptions{})
                  .ok());
  ASSERT_TRUE(client_->Delete(cms, namespace_, "w", DeleteOptions{}).ok());
  ASSERT_TRUE(Eventually([&] { return collected.Size() >= 3; }));
  cancel.request_stop();
  watcher.join();  // hangs (and the test times out) if cancelling does not end the stream
  EXPECT_TRUE(ended.cancelled);
  std::lock_guard<std::mutex> lock(collected.mutex);
  ASSERT_EQ(collected.events.size(), 3u);
  EXPECT_EQ(collected.events[0].type, WatchEvent::Type::kAdded);
  EXPECT_EQ(collected.events[1].type, WatchEvent::Type::kModified);
  EXPECT_EQ(collected.events[1].object["data"]["key"], "2");
  EXPECT_EQ(collected.events[2].type, WatchEvent::Type::kDeleted);
  EXPECT_EQ(ObjectKey(collected.events[2].object), namespace_ + "/w");
}

TEST_F(KubeClientE2ETest, WatchEndsAtItsTimeout) {
  std::stop_source cancel;
  WatchOptions options;
  options.timeout = std::chrono::seconds(1);
  const KubeResponse listed = client_->List(ApiResource::ConfigMaps(), namespace_, ListOptions{});
  options.resource_version = JsonStringAt(listed.body, {"metadata", "resourceVersion"});
  const KubeResponse ended = client_->Watch(
      ApiResource::ConfigMaps(), namespace_, options, [](const WatchEvent&) { return true; },
      cancel.get_token());
  EXPECT_TRUE(ended.ok()) << ended.Describe();
  EXPECT_EQ(ended.http_status, 200);
  EXPECT_FALSE(ended.cancelled);
}

TEST_F(KubeClientE2ETest, WatchFromACompactedVersionGetsAnInStreamGone) {
  const ApiResource cms = ApiResource::ConfigMaps();
  const KubeResponse listed = client_->List(cms, namespace_, ListOptions{});
  const std::string old_version = JsonStringAt(listed.body, {"metadata", "resourceVersion"});
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(
        client_->Create(cms, namespace_, ConfigMapObject(namespace_, "c" + std::to_string(i)))
            .ok());
  }
  control_plane().Compact();
  std::stop_source cancel;
  WatchOptions options;
  options.resource_version = old_version;
  options.timeout = std::chrono::seconds(30);
  std::vector<WatchEvent> events;
  const KubeResponse ended = client_->Watch(
      cms, namespace_, options,
      [&](const WatchEvent& event) {
        events.push_back(event);
        return event.type != WatchEvent::Type::kError;
      },
      cancel.get_token());
  EXPECT_EQ(ended.http_status, 200) << ended.Describe();
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().type, WatchEvent::Type::kError);
  EXPECT_EQ(events.back().status.code, 410);
  EXPECT_EQ(events.back().status.reason, "Expired");

  ListOptions exact;
  exact.resource_version = old_version;
  exact.resource_version_match = "Exact";
  EXPECT_TRUE(client_->List(cms, namespace_, exact).IsGone());
}

TEST_F(KubeClientE2ETest, ConcurrentRequestsFromManyThreads) {
  const ApiResource cms = ApiResource::ConfigMaps();
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  threads.reserve(8);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        const std::string name = "t" + std::to_string(t) + "-" + std::to_string(i);
        if (!client_->Create(cms, namespace_, ConfigMapObject(namespace_, name)).ok()) ++failures;
        if (!client_->Get(cms, namespace_, name).ok()) ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(client_->ListAll(cms, namespace_, ListOptions{}).body["items"].size(), 80u);
}

}  // namespace
}  // namespace pharos::e2e
