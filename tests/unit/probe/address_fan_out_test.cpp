// Checks of every address (AddressFanOut through the CheckEngine): resolve: all over a name the
// fake DNS server gives three loopback addresses (127.0.0.1, 127.0.0.2, ::1) with a server on
// 127.0.0.1 only, and a Service's endpoints handed over by the operator, under
// spec.alerting.addressQuorum.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <future>

#include "probe/check_engine.h"
#include "unit/probe/fake_dns_server.h"
#include "unit/probe/loopback_server.h"

namespace pharos {
namespace {

using std::chrono::milliseconds;
using ::testing::ElementsAre;
using testing::FakeDnsServer;
using ::testing::HasSubstr;
using testing::LoopbackServer;

std::vector<std::string> Labels(const CheckResult& result) {
  std::vector<std::string> labels;
  for (const AddressResult& address : result.addresses) {
    labels.push_back(address.Label() + "=" + ToString(address.outcome));
  }
  std::sort(labels.begin(), labels.end());
  return labels;
}

class AddressFanOutTest : public ::testing::Test {
 protected:
  CheckEngine::Options Options() const {
    CheckEngine::Options options;
    options.resolver = "127.0.0.1:" + std::to_string(dns_.port());
    return options;
  }
  CheckResult Run(const Monitor& monitor,
                  std::optional<std::vector<ServiceEndpoint>> endpoints = std::nullopt) const {
    CheckEngine engine(Options());
    std::promise<CheckResult> done;
    engine.Submit(
        std::make_shared<const Monitor>(monitor),
        [&](CheckResult result) { done.set_value(std::move(result)); }, std::move(endpoints));
    return done.get_future().get();
  }
  Monitor TcpAll(int port) const {
    Monitor monitor;
    monitor.name = "every";
    monitor.type = MonitorType::kTcp;
    monitor.tcp.emplace();
    monitor.tcp->host = "loopback.test";
    monitor.tcp->port = port;
    monitor.tcp->resolve = ResolveMode::kAll;
    monitor.timeout = milliseconds(3000);
    return monitor;
  }

  FakeDnsServer dns_;
};

TEST_F(AddressFanOutTest, ResolveAllChecksEveryAddressAndNamesTheFailingOnes) {
  LoopbackServer server({.mode = LoopbackServer::Mode::kSilent});
  const CheckResult result = Run(TcpAll(server.port()));
  EXPECT_EQ(result.outcome, Outcome::kDown);
  EXPECT_THAT(Labels(result), ElementsAre("127.0.0.1=up", "127.0.0.2=down", "::1=down"));
  EXPECT_THAT(result.error, HasSubstr("127.0.0.2"));
  EXPECT_THAT(result.error, HasSubstr("(2 of 3 addresses failing)"));
  EXPECT_GT(result.timings.dns_us, 0);
}

TEST_F(AddressFanOutTest, QuorumDecidesHowManyFailingAddressesFailTheCheck) {
  LoopbackServer server({.mode = LoopbackServer::Mode::kSilent});
  Monitor monitor = TcpAll(server.port());
  monitor.alerting.address_quorum = 3;
  CheckResult result = Run(monitor);
  EXPECT_EQ(result.outcome, Outcome::kUp) << result.error;
  EXPECT_EQ(result.error, "");
  EXPECT_EQ(result.addresses.size(), 3u);
  monitor.alerting.address_quorum = std::nullopt;  // majority: 2 of 3
  result = Run(monitor);
  EXPECT_EQ(result.outcome, Outcome::kDown);
}

TEST_F(AddressFanOutTest, UnknownNameIsOneDownResultWithoutAddresses) {
  Monitor monitor = TcpAll(80);
  monitor.tcp->host = "nx.test";
  const CheckResult result = Run(monitor);
  EXPECT_EQ(result.outcome, Outcome::kDown);
  EXPECT_THAT(result.error, HasSubstr("nx.test"));
  EXPECT_TRUE(result.addresses.empty());
}

TEST_F(AddressFanOutTest, HttpResolveAllKeepsTheUrlsHostName) {
  LoopbackServer server({.response = LoopbackServer::HttpResponse(200, "ok")});
  Monitor monitor;
  monitor.name = "web";
  monitor.type = MonitorType::kHttp;
  monitor.http.emplace();
  monitor.http->url = "http://loopback.test:" + std::to_string(server.port()) + "/health";
  monitor.http->resolve = ResolveMode::kAll;
  monitor.alerting.address_quorum = 3;
  const CheckResult result = Run(monitor);
  EXPECT_EQ(result.outcome, Outcome::kUp) << result.error;
  EXPECT_THAT(Labels(result), ElementsAre("127.0.0.1=up", "127.0.0.2=down", "::1=down"));
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_THAT(server.requests()[0],
              HasSubstr("Host: loopback.test:" + std::to_string(server.port())));
}

TEST_F(AddressFanOutTest, ServiceEndpointsAreEachCheckedWithTheServicesName) {
  LoopbackServer healthy({.response = LoopbackServer::HttpResponse(200, "ok")});
  LoopbackServer sick({.response = LoopbackServer::HttpResponse(503, "no")});
  Monitor monitor;
  monitor.name = "orders";
  monitor.namespace_name = "shop";
  monitor.type = MonitorType::kHttp;
  monitor.http.emplace();
  monitor.service.emplace();
  monitor.service->name = "orders";
  monitor.service->path = "/ready";
  const std::vector<ServiceEndpoint> endpoints = {{"127.0.0.1", healthy.port(), "orders-a"},
                                                  {"127.0.0.1", sick.port(), "orders-b"}};
  const CheckResult result = Run(monitor, endpoints);
  EXPECT_EQ(result.outcome, Outcome::kDown);
  ASSERT_EQ(result.addresses.size(), 2u);
  // A failed assertion (not a transport error): its message names the failing endpoint.
  EXPECT_EQ(result.error, "");
  ASSERT_TRUE(result.failed_assertion.has_value());
  EXPECT_THAT(result.failed_assertion->message, HasSubstr("orders-b"));
  EXPECT_THAT(result.failed_assertion->message, HasSubstr("503"));
  ASSERT_EQ(healthy.requests().size(), 1u);
  EXPECT_THAT(healthy.requests()[0], HasSubstr("GET /ready HTTP/1.1"));
  EXPECT_THAT(healthy.requests()[0],
              HasSubstr("Host: orders.shop.svc:" + std::to_string(healthy.port())));
}

TEST_F(AddressFanOutTest, ServiceWithoutReadyEndpointsIsDown) {
  Monitor monitor;
  monitor.name = "orders";
  monitor.type = MonitorType::kTcp;
  monitor.tcp.emplace();
  monitor.service.emplace();
  monitor.service->name = "orders";
  monitor.service->port = 80;
  const CheckResult result = Run(monitor, std::vector<ServiceEndpoint>{});
  EXPECT_EQ(result.outcome, Outcome::kDown);
  EXPECT_THAT(result.error, HasSubstr("no ready endpoints"));
}

}  // namespace
}  // namespace pharos
