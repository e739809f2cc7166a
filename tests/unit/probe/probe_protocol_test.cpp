#include "probe/probe_protocol.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

namespace pharos {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ProbeProtocolTest, RequestBodies) {
  const ProbeIdentity probe{"p\"1", "eu-west", "1.2.3"};
  EXPECT_EQ(json::parse(RegisterRequestBody(probe, 5)),
            (json{{"name", "p\"1"}, {"region", "eu-west"}, {"version", "1.2.3"}, {"capacity", 5}}));
  EXPECT_EQ(json::parse(LeaseRequestBody(probe, 7, 20)), (json{{"name", "p\"1"},
                                                               {"region", "eu-west"},
                                                               {"max", 7},
                                                               {"waitSeconds", 20},
                                                               {"omitSpecs", true}}));
  EXPECT_EQ(json::parse(MonitorSpecsRequestBody(probe, {"u1", "u2"})),
            (json{{"name", "p\"1"}, {"region", "eu-west"}, {"uids", {"u1", "u2"}}}));
  EXPECT_EQ(json::parse(ResultsRequestBody(probe, {R"({"itemId":"a"})", R"({"itemId":"b"})"})),
            (json{{"name", "p\"1"},
                  {"region", "eu-west"},
                  {"results", {{{"itemId", "a"}}, {{"itemId", "b"}}}}}));
  EXPECT_EQ(json::parse(ResultsRequestBody(probe, {}))["results"], json::array());
}

TEST(ProbeProtocolTest, RegisterReplyDefaultsAndChecks) {
  auto defaults = ParseRegisterReply(json::object());
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->lease_wait_max_seconds, 30);
  EXPECT_EQ(defaults->result_batch_max, 500u);
  auto bad = ParseRegisterReply({{"resultBatchMax", 0}});
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error(), HasSubstr("resultBatchMax"));
  EXPECT_FALSE(ParseRegisterReply(json::array()).ok());
}

TEST(ProbeProtocolTest, LeaseReplyKeepsGoodItemsAndNamesBadOnes) {
  const json reply = {{"items",
                       {{{"id", "a"},
                         {"monitorUid", "u"},
                         {"generation", 2},
                         {"region", "eu-west"},
                         {"scheduledAt", "2026-11-25T23:17:54.123Z"},
                         {"deadline", "2026-11-25T23:18:54.123Z"},
                         {"attempt", 2},
                         {"leaseExpiresAt", "2026-11-25T23:18:10.000Z"}},
                        {{"id", "b"}, {"monitorUid", "u"}, {"scheduledAt", "yesterday"}},
                        {{"monitorUid", "u"}}}},
                      {"monitors", {{"u", {{"kind", "Monitor"}}}}}};
  auto parsed = ParseLeaseReply(reply);
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  ASSERT_EQ(parsed->items.size(), 1u);
  EXPECT_EQ(parsed->items[0].id, "a");
  EXPECT_EQ(parsed->items[0].generation, 2);
  EXPECT_EQ(parsed->items[0].attempt, 2);
  EXPECT_TRUE(parsed->items[0].deadline.has_value());
  EXPECT_TRUE(parsed->items[0].lease_expires_at.has_value());
  ASSERT_EQ(parsed->unreadable_items.size(), 2u);
  EXPECT_THAT(parsed->unreadable_items[0], HasSubstr("items[1].scheduledAt"));
  EXPECT_THAT(parsed->unreadable_items[1], HasSubstr("items[2].id"));
  EXPECT_EQ(parsed->monitors["u"]["kind"], "Monitor");
  EXPECT_FALSE(ParseLeaseReply({{"items", "none"}}).ok());
  EXPECT_TRUE(ParseLeaseReply(json::object())->items.empty());
}

TEST(ProbeProtocolTest, LeaseItemsCarryTheirSpecVersion) {
  const auto item = [](const json& version) {
    json entry = {{"id", "a"},
                  {"monitorUid", "u"},
                  {"scheduledAt", "2026-11-25T23:17:54.123Z"},
                  {"specVersion", version}};
    return json{{"items", json::array({entry})}};
  };
  auto parsed = ParseLeaseReply(item("00ff00ff00ff00ff"));
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  ASSERT_EQ(parsed->items.size(), 1u);
  EXPECT_EQ(parsed->items[0].spec_version, "00ff00ff00ff00ff");
  for (const json& bad : {json(7), json(""), json(std::string(65, 'a'))}) {
    auto refused = ParseLeaseReply(item(bad));
    ASSERT_TRUE(refused.ok());
    EXPECT_TRUE(refused->items.empty()) << bad.dump();
    ASSERT_EQ(refused->unreadable_items.size(), 1u);
    EXPECT_THAT(refused->unreadable_items[0], HasSubstr("items[0].specVersion"));
  }
}

TEST(ProbeProtocolTest, MonitorSpecsReplyNeedsAVersionPerMonitor) {
  auto parsed = ParseMonitorSpecsReply(
      {{"monitors", {{"u", {{"kind", "Monitor"}}}}}, {"specVersions", {{"u", "v1"}}}});
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  EXPECT_EQ(parsed->monitors["u"]["kind"], "Monitor");
  EXPECT_EQ(parsed->versions.at("u"), "v1");
  EXPECT_TRUE(
      ParseMonitorSpecsReply({{"monitors", json::object()}, {"specVersions", json::object()}})
          ->monitors.empty());

  auto unversioned = ParseMonitorSpecsReply(
      {{"monitors", {{"u", {{"kind", "Monitor"}}}}}, {"specVersions", json::object()}});
  ASSERT_FALSE(unversioned.ok());
  EXPECT_THAT(unversioned.error(), HasSubstr("no version for monitor u"));
  EXPECT_FALSE(ParseMonitorSpecsReply({{"monitors", {{"u", {}}}}}).ok());
  EXPECT_FALSE(ParseMonitorSpecsReply({{"monitors", "u"}}).ok());
  EXPECT_FALSE(ParseMonitorSpecsReply(json::array()).ok());
}

TEST(ProbeProtocolTest, LeaseReplyCarriesTheClusterTargetPolicy) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(0x0a000001);  // 10.0.0.1, only compared
  const auto* as_sockaddr = reinterpret_cast<const sockaddr*>(&address);

  auto none = ParseLeaseReply(json::object());
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->cluster_policy.deny().empty());
  EXPECT_EQ(none->cluster_policy.Check(as_sockaddr), std::nullopt);

  auto parsed =
      ParseLeaseReply({{"items", json::array()},
                       {"targetPolicy", {{"deny", {"10.0.0.0/8"}}, {"allow", json::array()}}}});
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  EXPECT_EQ(parsed->cluster_policy.Check(as_sockaddr),
            "target address 10.0.0.1 is blocked by the probe's policy");

  for (const json& bad : {json("deny all"), json{{"deny", "10.0.0.0/8"}},
                          json{{"deny", {"10.0.0.0/99"}}}, json{{"allow", {7}}}}) {
    auto refused = ParseLeaseReply({{"targetPolicy", bad}});
    ASSERT_FALSE(refused.ok()) << bad.dump();
    EXPECT_THAT(refused.error(), HasSubstr("lease reply: targetPolicy")) << refused.error();
  }
}

TEST(ProbeProtocolTest, LeaseItemsCarryTheServicesEndpoints) {
  const json base = {{"monitorUid", "u"}, {"scheduledAt", "2026-11-25T23:17:54.123Z"}};
  json with = base;
  with["id"] = "with";
  with["endpoints"] = {{{"address", "10.1.2.3"}, {"port", 8080}, {"name", "orders-a"}},
                       {{"address", "fd00::7"}, {"port", 8080}},
                       {{"address", "10.1.2.4"}}};
  json without = base;
  without["id"] = "without";
  json none = base;
  none["id"] = "none";
  none["endpoints"] = json::array();
  json bad_port = base;
  bad_port["id"] = "bad-port";
  bad_port["endpoints"] = {{{"address", "10.1.2.3"}, {"port", 70000}}};
  json no_address = base;
  no_address["id"] = "no-address";
  no_address["endpoints"] = {{{"port", 80}}};
  auto parsed = ParseLeaseReply(
      {{"items", {with, without, none, bad_port, no_address}}, {"monitors", json::object()}});
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  ASSERT_EQ(parsed->items.size(), 3u);
  ASSERT_TRUE(parsed->items[0].endpoints.has_value());
  EXPECT_THAT(
      *parsed->items[0].endpoints,
      ElementsAre(ServiceEndpoint{"10.1.2.3", 8080, "orders-a"},
                  ServiceEndpoint{"fd00::7", 8080, ""}, ServiceEndpoint{"10.1.2.4", 0, ""}));
  EXPECT_FALSE(parsed->items[1].endpoints.has_value());
  ASSERT_TRUE(parsed->items[2].endpoints.has_value());
  EXPECT_TRUE(parsed->items[2].endpoints->empty());
  ASSERT_EQ(parsed->unreadable_items.size(), 2u);
  EXPECT_THAT(parsed->unreadable_items[0], HasSubstr("items[3].endpoints[0].port"));
  EXPECT_THAT(parsed->unreadable_items[1], HasSubstr("items[4].endpoints[0].address"));
}

TEST(ProbeProtocolTest, ResultsReply) {
  auto parsed = ParseResultsReply({{"accepted", {"a", "b"}},
                                   {"duplicates", {"c"}},
                                   {"rejected", {{{"id", "d"}, {"reason", "unknown monitor"}}}}});
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  EXPECT_THAT(parsed->accepted, ElementsAre("a", "b"));
  EXPECT_THAT(parsed->duplicates, ElementsAre("c"));
  ASSERT_EQ(parsed->rejected.size(), 1u);
  EXPECT_EQ(parsed->rejected[0].reason, "unknown monitor");
  auto bad = ParseResultsReply({{"accepted", {1}}});
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error(), HasSubstr("accepted[0]"));
}

TEST(ProbeProtocolTest, ScreenshotBodiesAndLeaseReply) {
  const ProbeIdentity probe{"probe-eu-1", "eu-west", "1.2.3"};
  EXPECT_EQ(json::parse(ScreenshotLeaseRequestBody(probe, 1)),
            (json{{"name", "probe-eu-1"}, {"region", "eu-west"}, {"max", 1}}));
  EXPECT_EQ(
      json::parse(ScreenshotFailedRequestBody(probe, "0a1b", "timed out")),
      (json{
          {"name", "probe-eu-1"}, {"region", "eu-west"}, {"id", "0a1b"}, {"error", "timed out"}}));
  // A long error is cut to 1000 bytes on a character boundary; invalid UTF-8 is replaced.
  const std::string long_error = std::string(999, 'x') + "\xc3\xa9" + "tail\xff";
  const json cut = json::parse(ScreenshotFailedRequestBody(probe, "0a1b", long_error));
  EXPECT_EQ(cut["error"], std::string(999, 'x'));
  EXPECT_EQ(ScreenshotUploadQuery(probe, "0a1b"), "?name=probe-eu-1&region=eu-west&id=0a1b");

  auto none = ParseScreenshotLeaseReply(json::object());
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  auto one = ParseScreenshotLeaseReply(json::parse(
      R"({"requests": [{"id": "0a1b", "url": "https://shop.example/", "monitor": "shop/front",
                        "incident": "inc-1", "moment": "down", "leaseExpiresAt": "x",
                        "later": true}]})"));
  ASSERT_TRUE(one.ok()) << one.error();
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0].id, "0a1b");
  EXPECT_EQ((*one)[0].url, "https://shop.example/");
  EXPECT_EQ((*one)[0].monitor, "shop/front");
  EXPECT_EQ((*one)[0].incident, "inc-1");
  EXPECT_EQ((*one)[0].moment, "down");

  EXPECT_THAT(ParseScreenshotLeaseReply(json{{"requests", 3}}).error(),
              HasSubstr("requests: expected an array"));
  // The id goes into the upload's query unescaped: only hex digits.
  EXPECT_THAT(
      ParseScreenshotLeaseReply(json{{"requests", {{{"id", "a&region=us"}, {"url", "http://x/"}}}}})
          .error(),
      HasSubstr("requests[0].id: expected 1-64 lower-case hex digits"));
  EXPECT_THAT(
      ParseScreenshotLeaseReply(json{{"requests", {{{"id", "0a"}, {"url", "file:///etc/passwd"}}}}})
          .error(),
      HasSubstr("requests[0].url: expected an http:// or https:// URL"));
  EXPECT_THAT(ParseScreenshotLeaseReply(json{{"requests", {{{"id", 7}}}}}).error(),
              HasSubstr("requests[0].id: expected a string"));
}

}  // namespace
}  // namespace pharos
