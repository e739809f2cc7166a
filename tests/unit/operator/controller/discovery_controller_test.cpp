#include "operator/controller/discovery_controller.h"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <thread>

#include "common/manual_clock.h"
#include "unit/eventually.h"
#include "unit/operator/kube/fake_kube_client.h"

namespace pharos {
namespace {

using Json = nlohmann::json;
using Kind = DiscoveredMonitor::SourceKind;
using testing::FakeKubeClient;
using testing::MakeStatusResponse;

using ::pharos::testing::Eventually;

Json Ingress(const std::string& name, Json annotations, const std::string& host = "shop.example") {
  return {
      {"apiVersion", "networking.k8s.io/v1"},
      {"kind", "Ingress"},
      {"metadata",
       {{"name", name},
        {"namespace", "web"},
        {"uid", "uid-" + name},
        {"annotations", std::move(annotations)}}},
      {"spec",
       {{"rules",
         {{{"host", host}, {"http", {{"paths", {{{"path", "/"}, {"pathType", "Prefix"}}}}}}}}}}}};
}

const Json kWanted = {{"pharos.dev/monitor", "true"}};

class DiscoveryControllerTest : public ::testing::Test {
 protected:
  std::optional<Json> Monitor(const std::string& name) {
    return client_.Stored(ApiResource::Monitors(), "web", name);
  }
  void Reconcile(const std::string& name, Kind kind = Kind::kIngress) {
    Status status = controller_.Reconcile(DiscoveryController::Key(kind, "web", name));
    ASSERT_TRUE(status) << status.error();
  }
  size_t Writes() {
    return client_.Calls("create").size() + client_.Calls("update").size() +
           client_.Calls("delete").size();
  }

  ManualClock clock_;
  FakeKubeClient client_;
  std::map<std::string, Json> sources_;  // "ingress/web/name"
  DiscoveryController controller_{
      client_, clock_, [this](Kind kind, const std::string& key) -> std::optional<Json> {
        auto found = sources_.find(std::string(DiscoveredMonitor::KindName(kind)) + "/" + key);
        if (found == sources_.end()) return std::nullopt;
        return found->second;
      }};
};

TEST_F(DiscoveryControllerTest, AFollowerWritesNothing) {
  sources_["ingress/web/shop"] = Ingress("shop", kWanted);
  Reconcile("shop");
  EXPECT_EQ(Writes(), 0U);
  EXPECT_FALSE(Monitor("shop-ingress"));
}

TEST_F(DiscoveryControllerTest, AnAnnotatedIngressGetsItsMonitorOnce) {
  controller_.SetLeading(true);
  sources_["ingress/web/shop"] = Ingress("shop", kWanted);
  Reconcile("shop");
  std::optional<Json> monitor = Monitor("shop-ingress");
  ASSERT_TRUE(monitor);
  EXPECT_EQ((*monitor)["spec"]["http"]["url"], "http://shop.example/");
  EXPECT_EQ((*monitor)["metadata"]["ownerReferences"][0]["uid"], "uid-shop");
  EXPECT_EQ(controller_.stats().created, 1);

  // The API server adds the CRD's defaults: still the same Monitor, nothing written again.
  Json stored = *monitor;
  stored["spec"]["frequency"] = "1m";
  stored["spec"]["http"]["method"] = "GET";
  stored["status"] = {{"state", "Up"}};
  client_.Put(ApiResource::Monitors(), stored);
  const size_t writes = Writes();
  Reconcile("shop");
  Reconcile("shop");
  EXPECT_EQ(Writes(), writes);
}

TEST_F(DiscoveryControllerTest, EditsUpdateTheMonitorAndKeepTheUsersOwnFields) {
  controller_.SetLeading(true);
  Json annotations = kWanted;
  annotations["pharos.dev/frequency"] = "30s";
  sources_["ingress/web/shop"] = Ingress("shop", annotations);
  Reconcile("shop");
  Json monitor = *Monitor("shop-ingress");
  EXPECT_EQ(monitor["spec"]["frequency"], "30s");
  monitor["spec"]["suspend"] = true;  // the user's own
  client_.Put(ApiResource::Monitors(), monitor);

  annotations.erase("pharos.dev/frequency");
  annotations["pharos.dev/path"] = "/healthz";
  sources_["ingress/web/shop"] = Ingress("shop", annotations, "store.example");
  Reconcile("shop");
  monitor = *Monitor("shop-ingress");
  EXPECT_EQ(monitor["spec"]["http"]["url"], "http://store.example/healthz");
  EXPECT_FALSE(monitor["spec"].contains("frequency")) << "the annotation's value removed";
  EXPECT_EQ(monitor["spec"]["suspend"], true);
  EXPECT_EQ(controller_.stats().updated, 1);

  // A hand edit of what discovery sets is put back.
  monitor["spec"]["http"]["url"] = "http://elsewhere/";
  client_.Put(ApiResource::Monitors(), monitor);
  Reconcile("shop");
  EXPECT_EQ((*Monitor("shop-ingress"))["spec"]["http"]["url"], "http://store.example/healthz");
}

TEST_F(DiscoveryControllerTest, RemovingTheAnnotationOrTheSourceDeletesTheMonitor) {
  controller_.SetLeading(true);
  sources_["ingress/web/shop"] = Ingress("shop", kWanted);
  sources_["ingress/web/cart"] = Ingress("cart", kWanted);
  Reconcile("shop");
  Reconcile("cart");
  ASSERT_TRUE(Monitor("shop-ingress") && Monitor("cart-ingress"));

  sources_["ingress/web/shop"] = Ingress("shop", {{"pharos.dev/monitor", "false"}});
  Reconcile("shop");
  EXPECT_FALSE(Monitor("shop-ingress"));
  sources_.erase("ingress/web/cart");
  Reconcile("cart");
  EXPECT_FALSE(Monitor("cart-ingress"));
  EXPECT_EQ(controller_.stats().deleted, 2);
  ASSERT_FALSE(client_.Calls("delete").empty());
  EXPECT_FALSE(client_.Calls("delete").front().path.empty());
}

TEST_F(DiscoveryControllerTest, AMonitorDiscoveryDidNotMakeIsNeverTouched) {
  controller_.SetLeading(true);
  client_.Put(ApiResource::Monitors(),
              {{"apiVersion", "pharos.dev/v1alpha1"},
               {"kind", "Monitor"},
               {"metadata", {{"name", "shop-ingress"}, {"namespace", "web"}}},
               {"spec", {{"type", "tcp"}, {"tcp", {{"host", "db"}, {"port", 5432}}}}}});
  sources_["ingress/web/shop"] = Ingress("shop", kWanted);
  Reconcile("shop");
  sources_.erase("ingress/web/shop");
  Reconcile("shop");
  EXPECT_EQ((*Monitor("shop-ingress"))["spec"]["type"], "tcp");
  EXPECT_EQ(Writes(), 0U);
}

TEST_F(DiscoveryControllerTest, AnInvalidAnnotationKeepsTheMonitorAsItWas) {
  controller_.SetLeading(true);
  sources_["ingress/web/shop"] = Ingress("shop", kWanted);
  Reconcile("shop");
  Json annotations = kWanted;
  annotations["pharos.dev/expect-status"] = "ok";
  sources_["ingress/web/shop"] = Ingress("shop", annotations);
  const size_t writes = Writes();
  Reconcile("shop");
  EXPECT_EQ(Writes(), writes);
  EXPECT_TRUE(Monitor("shop-ingress"));
  EXPECT_EQ(controller_.stats().failures, 1);
}

TEST_F(DiscoveryControllerTest, AConflictIsRetried) {
  controller_.SetLeading(true);
  sources_["ingress/web/shop"] = Ingress("shop", kWanted);
  client_.SetInterceptor([](const testing::RecordedCall& call) -> std::optional<KubeResponse> {
    if (call.verb == "create") return MakeStatusResponse(409, "AlreadyExists", "exists");
    return std::nullopt;
  });
  EXPECT_FALSE(controller_.Reconcile("ingress/web/shop"));
}

// With informers: ingresses are listed and watched; the HTTPRoute CRD is absent (404), which is
// skipped, not an error.
TEST(DiscoveryControllerInformersTest, WatchesIngressesAndSkipsAMissingHttpRouteCrd) {
  ManualClock clock;
  FakeKubeClient client;
  client.SetInterceptor([](const testing::RecordedCall& call) -> std::optional<KubeResponse> {
    if (call.path.find("/httproutes") != std::string::npos) {
      return MakeStatusResponse(404, "NotFound",
                                "the server could not find the requested resource");
    }
    return std::nullopt;
  });
  client.Put(ApiResource::Ingresses(), Ingress("shop", kWanted));
  client.Put(ApiResource::Ingresses(), Ingress("quiet", Json::object()));
  DiscoveryController::Options options;
  options.watch_namespace = "web";
  DiscoveryController controller(client, clock, options);
  controller.Start();
  controller.SetLeading(true);
  // A source whose add arrives while the informer's first list is still being delivered is
  // retried after a short wait on the controller's clock: virtual time moves it along.
  ASSERT_TRUE(Eventually([&] {
    clock.Advance(std::chrono::milliseconds(200));
    return client.Stored(ApiResource::Monitors(), "web", "shop-ingress");
  }));
  EXPECT_TRUE(controller.Watching(Kind::kIngress));
  EXPECT_FALSE(controller.Watching(Kind::kHttpRoute));
  EXPECT_FALSE(client.Stored(ApiResource::Monitors(), "web", "quiet-ingress"));
  controller.Stop();
  EXPECT_EQ(controller.stats().created, 1);
  EXPECT_EQ(controller.stats().failures, 0);
}

}  // namespace
}  // namespace pharos
