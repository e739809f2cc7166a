#include "operator/api/json_api.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "common/prometheus_text.h"
#include "common/rfc3339.h"
#include "unit/operator/control/core_test_support.h"

namespace pharos {
namespace {

using ::pharos::testing::MakeMonitor;
using ::pharos::testing::MakeResult;
using ::pharos::testing::OpenCore;
using ::pharos::testing::TempDirectory;
using ::pharos::testing::TestCore;
using ::testing::HasSubstr;
using Json = nlohmann::json;

HttpRequest Get(const std::string& path, std::map<std::string, std::string> query = {},
                std::map<std::string, std::string> params = {}) {
  HttpRequest request;
  request.method = "GET";
  request.path = path;
  request.query = std::move(query);
  request.path_params = std::move(params);
  return request;
}

class JsonApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    core_ = OpenCore(clock_, (dir_.path() / "pharos.db").string());
    ASSERT_TRUE(core_);
    api_ = std::make_unique<JsonApi>(*core_, core_.store(), core_.registry(), clock_);
    ASSERT_TRUE(core_->UpsertMonitor(checkout_).ok());
    ASSERT_TRUE(core_->UpsertMonitor(web_).ok());
    for (int round = 1; round <= 3; ++round) {
      const auto at = ManualClock::DefaultStart() + Millis(10'000 * round);
      clock_.AdvanceTo(at + Millis(100));
      auto report = core_->IngestAndWait(
          {MakeResult(checkout_, "eu-west", at, round == 3 ? Outcome::kDown : Outcome::kUp),
           MakeResult(checkout_, "us-east", at, Outcome::kUp)});
      ASSERT_TRUE(report.ok());
    }
    core_->Tick();
  }

  HttpResponse Call(void (JsonApi::*handler)(const HttpRequest&, const JsonApi::Reply&),
                    const HttpRequest& request) {
    HttpResponse response;
    response.status = 0;
    ((*api_).*handler)(request, [&](HttpResponse out) { response = std::move(out); });
    return response;
  }

  HttpResponse Results(std::map<std::string, std::string> query) {
    return Call(&JsonApi::HandleResults,
                Get("/api/v1/monitors/shop/checkout/results", std::move(query),
                    {{"namespace", "shop"}, {"name", "checkout"}}));
  }

  TempDirectory dir_;
  ManualClock clock_;
  TestCore core_;
  std::unique_ptr<JsonApi> api_;
  const Monitor checkout_ = MakeMonitor("checkout", {"eu-west", "us-east"});
  const Monitor web_ = MakeMonitor("web", {"eu-west"});
};

TEST_F(JsonApiTest, ListsEveryMonitorWithItsStatus) {
  HttpResponse response = Call(&JsonApi::HandleMonitors, Get("/api/v1/monitors"));
  ASSERT_EQ(response.status, 200);
  Json body = Json::parse(response.body);
  ASSERT_EQ(body["monitors"].size(), 2u);
  const Json& checkout = body["monitors"][0];
  EXPECT_EQ(checkout["namespace"], "shop");
  EXPECT_EQ(checkout["name"], "checkout");
  EXPECT_EQ(checkout["uid"], checkout_.uid);
  EXPECT_EQ(checkout["type"], "http");
  EXPECT_EQ(checkout["target"], checkout_.Target());
  EXPECT_EQ(checkout["state"], "Down") << "regionQuorum 1: one failing region is enough";
  EXPECT_TRUE(checkout["lastCheckTime"].is_string());
  EXPECT_NEAR(checkout["uptime"]["last24h"].get<double>(), 100.0 * 5 / 6, 0.001);
  EXPECT_TRUE(checkout["latency"]["p50Ms"].is_number());
  EXPECT_TRUE(checkout["latency"]["p95Ms"].is_number());
  ASSERT_EQ(checkout["regions"].size(), 2u);
  EXPECT_EQ(checkout["regions"][0]["name"], "eu-west");
  EXPECT_EQ(checkout["regions"][0]["state"], "Down");
  EXPECT_EQ(checkout["regions"][0]["statusCode"], 503);
  EXPECT_TRUE(checkout["regions"][0]["latencyMs"].is_number());
  EXPECT_TRUE(checkout["regions"][0].contains("message"));
  const Json& web = body["monitors"][1];
  EXPECT_EQ(web["state"], "Pending");
  EXPECT_TRUE(web["lastCheckTime"].is_null());
  EXPECT_TRUE(web["uptime"]["last24h"].is_null());
  EXPECT_TRUE(web["incident"].is_null());
}

TEST_F(JsonApiTest, ShowsOneMonitorOr404) {
  HttpResponse found = Call(&JsonApi::HandleMonitor, Get("/api/v1/monitors/shop/web", {},
                                                         {{"namespace", "shop"}, {"name", "web"}}));
  ASSERT_EQ(found.status, 200);
  EXPECT_EQ(Json::parse(found.body)["name"], "web");
  HttpResponse missing =
      Call(&JsonApi::HandleMonitor,
           Get("/api/v1/monitors/shop/nope", {}, {{"namespace", "shop"}, {"name", "nope"}}));
  EXPECT_EQ(missing.status, 404);
  EXPECT_THAT(missing.body, HasSubstr("shop/nope"));
}

TEST_F(JsonApiTest, ResultsAreNewestFirstAndFiltered) {
  HttpResponse all = Results({});
  ASSERT_EQ(all.status, 200) << all.body;
  Json results = Json::parse(all.body)["results"];
  ASSERT_EQ(results.size(), 6u);
  EXPECT_GE(results[0]["scheduledAt"].get<std::string>(),
            results[5]["scheduledAt"].get<std::string>());

  Json limited = Json::parse(Results({{"limit", "2"}, {"region", "eu-west"}}).body)["results"];
  ASSERT_EQ(limited.size(), 2u);
  EXPECT_EQ(limited[0]["region"], "eu-west");
  EXPECT_EQ(limited[0]["outcome"], "down");

  const std::string since = FormatRfc3339(ManualClock::DefaultStart() + Millis(30'000));
  Json recent = Json::parse(Results({{"since", since}}).body)["results"];
  EXPECT_EQ(recent.size(), 2u);

  // Beyond what the clock holds: nothing after the far future, everything after the far past.
  HttpResponse future = Results({{"since", "9999-12-31T23:59:59.999Z"}});
  ASSERT_EQ(future.status, 200) << future.body;
  EXPECT_EQ(Json::parse(future.body)["results"], Json::array());
  HttpResponse past = Results({{"since", "0001-01-01T00:00:00Z"}});
  ASSERT_EQ(past.status, 200) << past.body;
  EXPECT_EQ(Json::parse(past.body)["results"].size(), 6u);
}

TEST_F(JsonApiTest, BadParametersAre400NamingTheParameter) {
  for (const auto& [name, value] : std::map<std::string, std::string>{
           {"since", "yesterday"}, {"limit", "0"}, {"region", "EU West"}}) {
    HttpResponse response = Results({{name, value}});
    EXPECT_EQ(response.status, 400) << name;
    EXPECT_THAT(response.body, HasSubstr(name)) << name;
  }
  EXPECT_EQ(Results({{"limit", "1001"}}).status, 400);
  EXPECT_EQ(Results({{"limit", "10x"}}).status, 400);
  EXPECT_EQ(Call(&JsonApi::HandleIncidents, Get("/api/v1/incidents", {{"open", "maybe"}})).status,
            400);
}

TEST_F(JsonApiTest, ListsOpenIncidents) {
  HttpResponse response =
      Call(&JsonApi::HandleIncidents, Get("/api/v1/incidents", {{"open", "true"}}));
  ASSERT_EQ(response.status, 200);
  Json incidents = Json::parse(response.body)["incidents"];
  ASSERT_EQ(incidents.size(), 1u);
  EXPECT_EQ(incidents[0]["namespace"], "shop");
  EXPECT_EQ(incidents[0]["name"], "checkout");
  EXPECT_EQ(incidents[0]["open"], true);
  EXPECT_TRUE(incidents[0]["resolvedAt"].is_null());
  EXPECT_EQ(incidents[0]["failingRegions"], Json::array({"eu-west"}));

  HttpResponse one = Call(
      &JsonApi::HandleMonitor,
      Get("/api/v1/monitors/shop/checkout", {}, {{"namespace", "shop"}, {"name", "checkout"}}));
  EXPECT_EQ(Json::parse(one.body)["incident"]["id"], incidents[0]["id"]);
}

// The incidents an edition keeps elsewhere (the operator's Incident resources), with the query
// it was asked.
class RecordedIncidents final : public IncidentReader {
 public:
  Result<std::vector<IncidentRecord>> ListIncidents(const IncidentQuery& query) override {
    queries.push_back(query);
    if (failure) return Error{*failure};
    return records;
  }
  Result<std::optional<IncidentRecord>> GetIncident(const std::string& /*id*/) override {
    return std::optional<IncidentRecord>{};
  }

  std::vector<IncidentRecord> records;
  std::vector<IncidentQuery> queries;
  std::optional<std::string> failure;
};

TEST_F(JsonApiTest, ListsTheEditionsIncidentsWhenItKeepsThemElsewhere) {
  Incident other;
  other.id = "inc-from-the-old-leader";
  other.monitor_uid = "uid-web";
  other.monitor_key = "shop/web";
  other.opened_at = ManualClock::DefaultStart();
  other.failing_regions = {"eu-west"};
  other.first_error = "status code is 503";
  RecordedIncidents kept;
  kept.records.push_back(IncidentRecord::FromIncident(other));
  api_->UseIncidentReader(kept);

  HttpResponse response =
      Call(&JsonApi::HandleIncidents, Get("/api/v1/incidents", {{"open", "true"}, {"limit", "7"}}));
  ASSERT_EQ(response.status, 200);
  Json incidents = Json::parse(response.body)["incidents"];
  // Not the history's own incident of checkout: the edition's list.
  ASSERT_EQ(incidents.size(), 1u);
  EXPECT_EQ(incidents[0]["id"], "inc-from-the-old-leader");
  EXPECT_EQ(incidents[0]["namespace"], "shop");
  EXPECT_EQ(incidents[0]["name"], "web");
  EXPECT_EQ(incidents[0]["firstError"], "status code is 503");
  ASSERT_EQ(kept.queries.size(), 1u);
  EXPECT_FALSE(kept.queries[0].include_resolved);
  EXPECT_EQ(kept.queries[0].limit, 7);

  kept.failure = "the informer is not synced";
  response = Call(&JsonApi::HandleIncidents, Get("/api/v1/incidents"));
  EXPECT_EQ(response.status, 500);
  EXPECT_THAT(response.body, HasSubstr("the informer is not synced"));
}

TEST_F(JsonApiTest, HealthReadinessAndMetrics) {
  EXPECT_EQ(Call(&JsonApi::HandleHealth, Get("/healthz")).status, 200);
  HttpResponse not_ready = Call(&JsonApi::HandleReady, Get("/readyz"));
  EXPECT_EQ(not_ready.status, 503);
  EXPECT_THAT(not_ready.body, HasSubstr("not started"));
  core_->Start();
  EXPECT_THAT(Call(&JsonApi::HandleReady, Get("/readyz")).body, HasSubstr("monitors not loaded"));
  core_->MarkMonitorsLoaded();
  EXPECT_EQ(Call(&JsonApi::HandleReady, Get("/readyz")).status, 200);
  HttpResponse metrics = Call(&JsonApi::HandleMetrics, Get("/metrics"));
  EXPECT_EQ(metrics.status, 200);
  EXPECT_EQ(metrics.content_type, kPrometheusTextContentType);
  // Streamed: the page is produced piece by piece while it is sent.
  ASSERT_TRUE(metrics.stream);
  struct Collected : HttpBodyWriter {
    bool Write(std::string_view piece) override {
      text += piece;
      return true;
    }
    std::string text;
  } body;
  metrics.stream(body);
  EXPECT_THAT(body.text, HasSubstr("pharos_monitor_state{"));
  core_->Stop();
  EXPECT_EQ(Call(&JsonApi::HandleReady, Get("/readyz")).status, 503);
}

}  // namespace
}  // namespace pharos
