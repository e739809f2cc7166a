#include "operator/kube/kube_client.h"

#include <gtest/gtest.h>

#include "unit/operator/kube/fake_kube_client.h"

namespace pharos {
namespace {

using testing::FakeKubeClient;
using testing::MakeStatusResponse;
using testing::RecordedCall;

TEST(ApiResourceTest, BuildsCorePathsAndGroupPaths) {
  EXPECT_EQ(ApiResource::ConfigMaps().Path("ns"), "/api/v1/namespaces/ns/configmaps");
  EXPECT_EQ(ApiResource::ConfigMaps().Path(""), "/api/v1/configmaps");
  EXPECT_EQ(ApiResource::ConfigMaps().Path("ns", "a"), "/api/v1/namespaces/ns/configmaps/a");
  EXPECT_EQ(ApiResource::Monitors().Path("shop", "api", "status"),
            "/apis/pharos.dev/v1alpha1/namespaces/shop/monitors/api/status");
  EXPECT_EQ(ApiResource::Namespaces().Path("ignored", "pharos"), "/api/v1/namespaces/pharos");
  EXPECT_EQ(ApiResource::Leases().ApiVersion(), "coordination.k8s.io/v1");
  EXPECT_EQ(ApiResource::ConfigMaps().ApiVersion(), "v1");
}

TEST(KubeResponseTest, ClassifiesFailures) {
  EXPECT_TRUE(MakeStatusResponse(404, "NotFound").IsNotFound());
  EXPECT_TRUE(MakeStatusResponse(409, "Conflict").IsConflict());
  EXPECT_FALSE(MakeStatusResponse(409, "AlreadyExists").IsConflict());
  EXPECT_TRUE(MakeStatusResponse(409, "AlreadyExists").IsAlreadyExists());
  EXPECT_TRUE(MakeStatusResponse(410, "Expired").IsGone());
  EXPECT_TRUE(MakeStatusResponse(429, "TooManyRequests").IsTooManyRequests());
  EXPECT_TRUE(MakeStatusResponse(503, "ServiceUnavailable").IsServerError());
  KubeResponse transport;
  transport.transport_error = "Connection refused";
  EXPECT_TRUE(transport.IsTransportError());
  EXPECT_FALSE(transport.ok());
  EXPECT_EQ(transport.Describe(), "transport: Connection refused");
  EXPECT_EQ(MakeStatusResponse(409, "Conflict", "modified").Describe(),
            "HTTP 409 Conflict: modified");
}

TEST(KubeStatusTest, DecodesOnlyStatusObjects) {
  KubeStatus status;
  EXPECT_FALSE(KubeStatus::FromJson({{"kind", "ConfigMap"}}, &status));
  EXPECT_FALSE(KubeStatus::FromJson(nlohmann::json::array(), &status));
  ASSERT_TRUE(KubeStatus::FromJson(
      {{"kind", "Status"}, {"reason", "Expired"}, {"code", 410}, {"message", "too old"}}, &status));
  EXPECT_EQ(status.reason, "Expired");
  EXPECT_EQ(status.code, 410);
}

TEST(ObjectKeyTest, NamespacedAndClusterScoped) {
  EXPECT_EQ(ObjectKey({{"metadata", {{"name", "a"}, {"namespace", "ns"}}}}), "ns/a");
  EXPECT_EQ(ObjectKey({{"metadata", {{"name", "node-1"}}}}), "node-1");
  EXPECT_EQ(ObjectKey({{"metadata", 5}}), "");
  EXPECT_EQ(JsonStringAt({{"a", {{"b", 1}}}}, {"a", "b"}), "");
  EXPECT_EQ(JsonStringAt({{"a", {{"b", "x"}}}}, {"a", "b"}), "x");
}

nlohmann::json ConfigMap(const std::string& ns, const std::string& name) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", name}, {"namespace", ns}}}};
}

TEST(ListAllTest, FollowsContinueTokensAcrossPages) {
  FakeKubeClient client;
  for (int i = 0; i < 7; ++i) {
    client.Put(ApiResource::ConfigMaps(), ConfigMap("ns", "cm-" + std::to_string(i)));
  }
  client.Put(ApiResource::ConfigMaps(), ConfigMap("other", "elsewhere"));
  ListOptions options;
  options.limit = 3;
  const KubeResponse all = client.ListAll(ApiResource::ConfigMaps(), "ns", options);
  ASSERT_TRUE(all.ok()) << all.Describe();
  ASSERT_EQ(all.body["items"].size(), 7u);
  EXPECT_EQ(all.body["items"][6]["metadata"]["name"], "cm-6");
  EXPECT_FALSE(JsonStringAt(all.body, {"metadata", "resourceVersion"}).empty());
  const auto lists = client.Calls("list");
  ASSERT_EQ(lists.size(), 3u);
  EXPECT_TRUE(lists[0].list_options.continue_token.empty());
  EXPECT_FALSE(lists[1].list_options.continue_token.empty());
  for (const auto& call : lists) EXPECT_EQ(call.list_options.limit, 3);
}

TEST(ListAllTest, StartsOverOnceWhenAContinueTokenExpired) {
  FakeKubeClient client;
  for (int i = 0; i < 4; ++i) {
    client.Put(ApiResource::ConfigMaps(), ConfigMap("ns", "cm-" + std::to_string(i)));
  }
  bool expired_once = false;
  client.SetInterceptor([&](const RecordedCall& call) -> std::optional<KubeResponse> {
    if (call.verb == "list" && !call.list_options.continue_token.empty() && !expired_once) {
      expired_once = true;
      return MakeStatusResponse(410, "Expired", "The provided continue parameter is too old");
    }
    return std::nullopt;
  });
  ListOptions options;
  options.limit = 3;
  options.resource_version = "5";
  const KubeResponse all = client.ListAll(ApiResource::ConfigMaps(), "ns", options);
  ASSERT_TRUE(all.ok()) << all.Describe();
  EXPECT_EQ(all.body["items"].size(), 4u);  // no duplicates from the abandoned first page
  const auto lists = client.Calls("list");
  ASSERT_EQ(lists.size(), 4u);
  EXPECT_EQ(lists[0].list_options.resource_version, "5");
  EXPECT_EQ(lists[2].list_options.resource_version, "");  // restarted as a consistent read
  EXPECT_TRUE(lists[2].list_options.continue_token.empty());
}

TEST(ListAllTest, ReturnsTheFailureOfAPage) {
  FakeKubeClient client;
  client.SetInterceptor([](const RecordedCall&) -> std::optional<KubeResponse> {
    return MakeStatusResponse(403, "Forbidden", "configmaps is forbidden");
  });
  const KubeResponse all = client.ListAll(ApiResource::ConfigMaps(), "ns", ListOptions{});
  EXPECT_FALSE(all.ok());
  EXPECT_EQ(all.http_status, 403);
  EXPECT_EQ(all.status.reason, "Forbidden");
}

}  // namespace
}  // namespace pharos
