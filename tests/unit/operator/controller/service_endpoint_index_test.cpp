#include "operator/controller/service_endpoint_index.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "unit/eventually.h"
#include "unit/operator/kube/fake_kube_client.h"

namespace pharos {
namespace {

using Json = nlohmann::json;
using ::testing::ElementsAre;
using testing::FakeKubeClient;
using ::testing::IsEmpty;
using testing::MakeEvent;
using testing::WatchScript;

using ::pharos::testing::Eventually;

struct Endpoint {
  std::string address;
  std::optional<bool> ready = true;  // nullopt: no conditions.ready (counts as ready)
  std::string pod = "";
};

Json Slice(const std::string& name, const std::string& service, const Json& ports,
           const std::vector<Endpoint>& endpoints, const std::string& address_type = "IPv4",
           const std::string& namespace_name = "shop") {
  Json list = Json::array();
  for (const Endpoint& endpoint : endpoints) {
    Json one = {{"addresses", {endpoint.address}}};
    if (endpoint.ready) {
      one["conditions"] = {{"ready", *endpoint.ready}, {"serving", *endpoint.ready}};
    }
    if (!endpoint.pod.empty()) {
      one["targetRef"] = {{"kind", "Pod"}, {"name", endpoint.pod}};
    }
    list.push_back(std::move(one));
  }
  Json metadata = {{"name", name}, {"namespace", namespace_name}};
  if (!service.empty()) {
    metadata["labels"] = {{"kubernetes.io/service-name", service},
                          {"endpointslice.kubernetes.io/managed-by", "test"}};
  }
  metadata["managedFields"] = Json::array({{{"manager", "kube-controller-manager"}}});
  return {{"apiVersion", "discovery.k8s.io/v1"},
          {"kind", "EndpointSlice"},
          {"metadata", std::move(metadata)},
          {"addressType", address_type},
          {"ports", ports},
          {"endpoints", std::move(list)}};
}

Json HttpPort(int number, const std::string& name = "http") {
  return Json::array({{{"name", name}, {"port", number}, {"protocol", "TCP"}}});
}

Monitor ServiceMonitor(const std::string& service, int port, const std::string& port_name = "",
                       MonitorType type = MonitorType::kHttp) {
  Monitor monitor;
  monitor.namespace_name = "shop";
  monitor.name = "backends";
  monitor.type = type;
  ServiceTarget& target = monitor.service.emplace();
  target.name = service;
  target.port = port;
  target.port_name = port_name;
  return monitor;
}

class ServiceEndpointIndexTest : public ::testing::Test {
 protected:
  ServiceEndpointIndexTest() { index_.MarkSynced(); }

  std::vector<ServiceEndpoint> Ready(const Monitor& monitor) const {
    std::optional<std::vector<ServiceEndpoint>> endpoints = index_.ReadyEndpoints(monitor);
    EXPECT_TRUE(endpoints.has_value());
    return endpoints.value_or(std::vector<ServiceEndpoint>{});
  }

  ServiceEndpointIndex index_;
};

TEST_F(ServiceEndpointIndexTest, ReadyEndpointsOfEverySliceWithTheNamedPort) {
  index_.Apply(Slice("orders-a", "orders", HttpPort(8080),
                     {{"10.0.0.2", true, "orders-2"},
                      {"10.0.0.1", std::nullopt, "orders-1"},  // no condition: ready
                      {"10.0.0.9", false, "orders-9"}}));      // not ready: left out
  // Another slice of the same Service maps the name to another number (a rollout).
  index_.Apply(Slice("orders-b", "orders", HttpPort(9090), {{"10.0.1.1", true, "orders-3"}}));
  index_.Apply(Slice("payments-a", "payments", HttpPort(8080), {{"10.0.2.1"}}));

  EXPECT_THAT(Ready(ServiceMonitor("orders", 0, "http")),
              ElementsAre(ServiceEndpoint{"10.0.0.1", 8080, "orders-1"},
                          ServiceEndpoint{"10.0.0.2", 8080, "orders-2"},
                          ServiceEndpoint{"10.0.1.1", 9090, "orders-3"}));
  // A number is used as given, on every endpoint.
  EXPECT_THAT(Ready(ServiceMonitor("orders", 7000)),
              ElementsAre(ServiceEndpoint{"10.0.0.1", 7000, "orders-1"},
                          ServiceEndpoint{"10.0.0.2", 7000, "orders-2"},
                          ServiceEndpoint{"10.0.1.1", 7000, "orders-3"}));
  // icmp pings addresses: no port.
  EXPECT_THAT(Ready(ServiceMonitor("payments", 0, "", MonitorType::kIcmp)),
              ElementsAre(ServiceEndpoint{"10.0.2.1", 0, ""}));
  EXPECT_EQ(index_.service_count(), 2u);
  EXPECT_EQ(index_.slice_count(), 3u);
}

TEST_F(ServiceEndpointIndexTest, AServiceWithoutReadyEndpointsHasAnEmptyList) {
  index_.Apply(Slice("idle-a", "idle", HttpPort(8080), {{"10.0.0.1", false}}));
  EXPECT_THAT(Ready(ServiceMonitor("idle", 0, "http")), IsEmpty());
  // A Service no slice names (yet) is the same: known to have no ready endpoint.
  EXPECT_THAT(Ready(ServiceMonitor("absent", 80)), IsEmpty());
  // Endpoints whose slice has no port of that name (nor a TCP one) do not count.
  index_.Apply(Slice("dns-a", "dns",
                     Json::array({{{"name", "dns"}, {"port", 53}, {"protocol", "UDP"}},
                                  {{"name", "metrics"}, {"port", 9153}, {"protocol", "TCP"}}}),
                     {{"10.0.3.1"}}));
  EXPECT_THAT(Ready(ServiceMonitor("dns", 0, "dns")), IsEmpty());
  EXPECT_THAT(Ready(ServiceMonitor("dns", 0, "metrics")),
              ElementsAre(ServiceEndpoint{"10.0.3.1", 9153, ""}));
}

TEST_F(ServiceEndpointIndexTest, UnknownUntilSyncedAndForMonitorsWithoutAService) {
  ServiceEndpointIndex fresh;
  fresh.Apply(Slice("orders-a", "orders", HttpPort(8080), {{"10.0.0.1"}}));
  EXPECT_FALSE(fresh.ReadyEndpoints(ServiceMonitor("orders", 80)).has_value());
  fresh.MarkSynced();
  EXPECT_TRUE(fresh.ReadyEndpoints(ServiceMonitor("orders", 80)).has_value());
  Monitor by_url;
  by_url.http.emplace().url = "http://10.0.0.1/";
  EXPECT_FALSE(fresh.ReadyEndpoints(by_url).has_value());
}

TEST_F(ServiceEndpointIndexTest, SlicesChangeMoveAndLeave) {
  index_.Apply(Slice("orders-a", "orders", HttpPort(8080), {{"10.0.0.1"}, {"10.0.0.2"}}));
  index_.Apply(Slice("orders-a", "orders", HttpPort(8080), {{"10.0.0.1"}}));
  EXPECT_THAT(Ready(ServiceMonitor("orders", 0, "http")),
              ElementsAre(ServiceEndpoint{"10.0.0.1", 8080, ""}));
  // Relabelled to another Service: gone from the first.
  index_.Apply(Slice("orders-a", "billing", HttpPort(8080), {{"10.0.0.1"}}));
  EXPECT_THAT(Ready(ServiceMonitor("orders", 0, "http")), IsEmpty());
  EXPECT_THAT(Ready(ServiceMonitor("billing", 0, "http")), ::testing::SizeIs(1));
  // The label removed: the slice is no longer any Service's.
  index_.Apply(Slice("orders-a", "", HttpPort(8080), {{"10.0.0.1"}}));
  EXPECT_THAT(Ready(ServiceMonitor("billing", 0, "http")), IsEmpty());
  EXPECT_EQ(index_.slice_count(), 0u);

  index_.Apply(Slice("orders-b", "orders", HttpPort(8080), {{"10.0.0.3"}}));
  index_.Remove(Slice("orders-b", "orders", HttpPort(8080), {}));
  EXPECT_THAT(Ready(ServiceMonitor("orders", 0, "http")), IsEmpty());
  EXPECT_EQ(index_.service_count(), 0u);
}

TEST_F(ServiceEndpointIndexTest, OtherNamespacesFqdnSlicesAndDuplicatesAreHandled) {
  index_.Apply(Slice("orders-a", "orders", HttpPort(8080), {{"10.0.0.1"}}, "IPv4", "elsewhere"));
  EXPECT_THAT(Ready(ServiceMonitor("orders", 0, "http")), IsEmpty());
  index_.Apply(Slice("orders-f", "orders", HttpPort(8080), {{"orders.example.com"}}, "FQDN"));
  EXPECT_THAT(Ready(ServiceMonitor("orders", 0, "http")), IsEmpty());
  // While a slice replaces another, an endpoint in both counts once.
  index_.Apply(Slice("orders-a", "orders", HttpPort(8080), {{"10.0.0.1", true, "p"}}));
  index_.Apply(Slice("orders-b", "orders", HttpPort(8080), {{"10.0.0.1", true, "p"}}));
  index_.Apply(Slice("orders-6", "orders", HttpPort(8080), {{"fd00::7", true, "q"}}, "IPv6"));
  EXPECT_THAT(
      Ready(ServiceMonitor("orders", 0, "http")),
      ElementsAre(ServiceEndpoint{"10.0.0.1", 8080, "p"}, ServiceEndpoint{"fd00::7", 8080, "q"}));
}

TEST_F(ServiceEndpointIndexTest, MalformedSlicesAreIgnoredNotFatal) {
  Json slice = Slice("weird", "orders", HttpPort(8080), {{"10.0.0.1"}});
  slice["endpoints"].push_back({{"addresses", Json::array()}});
  slice["endpoints"].push_back({{"addresses", {42}}});
  slice["endpoints"].push_back("not an object");
  slice["ports"].push_back({{"name", "big"}, {"port", 70000}});
  slice["ports"].push_back({{"name", "text"}, {"port", "80"}});
  index_.Apply(slice);
  index_.Apply(Json::array());
  index_.Apply({{"metadata", "x"}});
  EXPECT_THAT(Ready(ServiceMonitor("orders", 0, "http")),
              ElementsAre(ServiceEndpoint{"10.0.0.1", 8080, ""}));
  EXPECT_THAT(Ready(ServiceMonitor("orders", 0, "big")), IsEmpty());
}

TEST_F(ServiceEndpointIndexTest, AtMostAsManyEndpointsAsAProbeChecks) {
  std::vector<Endpoint> many;
  many.reserve(300);
  for (int i = 0; i < 300; ++i) {
    many.push_back({"10.1." + std::to_string(i / 250) + "." + std::to_string(i % 250)});
  }
  index_.Apply(Slice("big", "big", HttpPort(80), many));
  EXPECT_EQ(Ready(ServiceMonitor("big", 80)).size(), ServiceEndpointIndex::kMaxEndpoints);
}

// The informer half: LIST and WATCH of EndpointSlices carrying the service-name label, in the
// watched namespace, followed without a restart.
TEST(ServiceEndpointIndexWatchTest, FollowsTheSlicesOfTheWatchedNamespace) {
  FakeKubeClient client;
  const ApiResource slices = ApiResource::EndpointSlices();
  client.Put(slices, Slice("orders-a", "orders", HttpPort(8080),
                           {{"10.0.0.1", true, "orders-1"}, {"10.0.0.2", true, "orders-2"}}));
  client.Put(slices, Slice("orphan", "", HttpPort(8080), {{"10.9.9.9"}}));
  std::promise<void> go;
  std::shared_future<void> started = go.get_future().share();
  WatchScript script;
  script.during = [started] { started.wait(); };
  script.events = {
      MakeEvent(WatchEvent::Type::kModified,
                Slice("orders-a", "orders", HttpPort(8080), {{"10.0.0.1", true, "orders-1"}})),
      MakeEvent(WatchEvent::Type::kAdded,
                Slice("orders-b", "orders", HttpPort(8080), {{"10.0.0.3", true, "orders-3"}})),
  };
  script.end = testing::MakeOkResponse(Json::object());
  client.AddWatchScript(std::move(script));
  WatchScript deletion;
  deletion.events = {
      MakeEvent(WatchEvent::Type::kDeleted, Slice("orders-a", "orders", HttpPort(8080), {}))};
  deletion.end = testing::MakeOkResponse(Json::object());

  ServiceEndpointIndex index(client, ServiceEndpointIndex::Options{"shop"});
  const Monitor monitor = ServiceMonitor("orders", 0, "http");
  EXPECT_FALSE(index.ReadyEndpoints(monitor).has_value()) << "not known before the first LIST";
  index.Start();
  ASSERT_TRUE(Eventually([&] { return index.HasSynced(); }));
  EXPECT_THAT(*index.ReadyEndpoints(monitor),
              ElementsAre(ServiceEndpoint{"10.0.0.1", 8080, "orders-1"},
                          ServiceEndpoint{"10.0.0.2", 8080, "orders-2"}));
  EXPECT_EQ(index.slice_count(), 1u) << "the unlabelled slice is not listed";

  client.AddWatchScript(std::move(deletion));
  go.set_value();
  ASSERT_TRUE(Eventually([&] {
    return *index.ReadyEndpoints(monitor) ==
           std::vector<ServiceEndpoint>{{"10.0.0.3", 8080, "orders-3"}};
  })) << ::testing::PrintToString(*index.ReadyEndpoints(monitor));
  index.Stop();

  const std::vector<testing::RecordedCall> lists = client.Calls("list");
  ASSERT_FALSE(lists.empty());
  EXPECT_EQ(lists[0].path, "/apis/discovery.k8s.io/v1/namespaces/shop/endpointslices");
  EXPECT_EQ(lists[0].list_options.label_selector, "kubernetes.io/service-name");
  const std::vector<testing::RecordedCall> watches = client.Calls("watch");
  ASSERT_FALSE(watches.empty());
  EXPECT_EQ(watches[0].watch_options.label_selector, "kubernetes.io/service-name");
}

}  // namespace
}  // namespace pharos
