#include "operator/api/probe_api.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdint>
#include <fstream>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>

#include "common/check_result_json.h"
#include "common/http_server.h"
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

// Captures the one reply of a handler, which may come later from another thread.
class ReplyCatcher {
 public:
  ProbeApi::Reply Reply() {
    return [this](HttpResponse response) {
      std::lock_guard lock(mu_);
      ++replies_;
      response_ = std::move(response);
      cv_.notify_all();
    };
  }
  bool replied() {
    std::lock_guard lock(mu_);
    return response_.has_value();
  }
  // Waits (real time) for the reply of a commit on the writer thread.
  HttpResponse Wait() {
    std::unique_lock lock(mu_);
    EXPECT_TRUE(cv_.wait_for(lock, std::chrono::seconds(10), [&] { return response_.has_value(); }))
        << "no reply";
    return response_.value_or(HttpResponse{});
  }
  int replies() {
    std::lock_guard lock(mu_);
    return replies_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<HttpResponse> response_;
  int replies_ = 0;
};

HttpRequest Post(const std::string& path, const Json& body, const std::string& token) {
  HttpRequest request;
  request.method = "POST";
  request.path = path;
  request.body = body.is_string() ? body.get<std::string>() : body.dump();
  if (!token.empty()) {
    request.headers["Authorization"] = "Bearer " + token;
  }
  request.remote_address = "127.0.0.1";
  return request;
}

Json Body(const HttpResponse& response) {
  return Json::parse(response.body, nullptr, /*allow_exceptions=*/false);
}

class ProbeApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    core_ = OpenCore(clock_, (dir_.path() / "pharos.db").string());
    ASSERT_TRUE(core_);
    const std::string token_file = (dir_.path() / "tokens").string();
    std::ofstream(token_file) << "# probe tokens\n\nany-region-token\neu-west=eu-token\n";
    auto tokens = ProbeTokens::Load(token_file);
    ASSERT_TRUE(tokens.ok()) << (tokens.ok() ? "" : tokens.error());
    tokens_ = std::move(tokens).value();
    api_ = std::make_unique<ProbeApi>(*core_, *core_, *core_, clock_, tokens_.get(), bad_tokens_,
                                      ProbeApi::Options{});
    ASSERT_TRUE(core_->UpsertMonitor(api_monitor_).ok());
  }

  void TearDown() override {
    if (api_) {
      api_->Shutdown();
    }
  }

  HttpResponse Call(void (ProbeApi::*handler)(const HttpRequest&, const ProbeApi::Reply&),
                    const HttpRequest& request) {
    ReplyCatcher catcher;
    ((*api_).*handler)(request, catcher.Reply());
    return catcher.Wait();
  }

  Json ResultJson(Outcome outcome, Clock::TimePoint scheduled_at) {
    return CheckResultToJson(MakeResult(api_monitor_, "eu-west", scheduled_at, outcome));
  }

  TempDirectory dir_;
  ManualClock clock_;
  TestCore core_;
  std::unique_ptr<ProbeTokens> tokens_;
  MetricsRegistry registry_{MetricsRegistry::Options{}};
  BadTokenGuard bad_tokens_{clock_, registry_};
  std::unique_ptr<ProbeApi> api_;
  const Monitor api_monitor_ = MakeMonitor("api", {"eu-west"});
  const Json identity_ = {{"name", "probe-eu-1"}, {"region", "eu-west"}};
};

TEST_F(ProbeApiTest, RegistersAProbeAndCountsItConnected) {
  Json body = identity_;
  body["version"] = "0.1.0";
  body["capacity"] = 64;
  HttpResponse response =
      Call(&ProbeApi::HandleRegister, Post("/api/v1/probes/register", body, "eu-token"));
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(Body(response)["leaseWaitMaxSeconds"], 30);
  EXPECT_EQ(Body(response)["resultBatchMax"], 500);
  EXPECT_EQ(core_->dispatcher_for_testing().ConnectedProbes("eu-west").size(), 1u);
}

TEST_F(ProbeApiTest, RefusesMissingAndUnknownTokensWith401) {
  HttpResponse missing =
      Call(&ProbeApi::HandleRegister, Post("/api/v1/probes/register", identity_, ""));
  EXPECT_EQ(missing.status, 401);
  HttpResponse unknown =
      Call(&ProbeApi::HandleLease, Post("/api/v1/work/lease", identity_, "not-a-token"));
  EXPECT_EQ(unknown.status, 401);
  // Even a malformed body gets 401 first: nothing is revealed without a token.
  HttpResponse malformed =
      Call(&ProbeApi::HandleResults, Post("/api/v1/work/results", Json("{oops"), "wrong"));
  EXPECT_EQ(malformed.status, 401);
  EXPECT_TRUE(core_->dispatcher_for_testing().ConnectedProbes("eu-west").empty());
}

TEST_F(ProbeApiTest, AnAddressThatKeepsSendingWrongTokensGets429BeforeAnyTokenIsLookedAt) {
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(Call(&ProbeApi::HandleLease, Post("/api/v1/work/lease", identity_, "guess")).status,
              401)
        << i;
  }
  HttpResponse held =
      Call(&ProbeApi::HandleLease, Post("/api/v1/work/lease", identity_, "eu-token"));
  EXPECT_EQ(held.status, 429) << held.body;
  const auto retry = std::find_if(held.headers.begin(), held.headers.end(),
                                  [](const auto& header) { return header.first == "Retry-After"; });
  ASSERT_NE(retry, held.headers.end());
  EXPECT_EQ(retry->second, "6");
  // Another address is not held back, and the guesser may try again after the wait.
  HttpRequest elsewhere = Post("/api/v1/probes/register", identity_, "eu-token");
  elsewhere.remote_address = "127.0.0.2";
  EXPECT_EQ(Call(&ProbeApi::HandleRegister, elsewhere).status, 200);
  clock_.Advance(std::chrono::seconds(6));
  EXPECT_EQ(Call(&ProbeApi::HandleRegister, Post("/api/v1/probes/register", identity_, "eu-token"))
                .status,
            200);
  EXPECT_NE(registry_.Expose().find("pharos_auth_failures_total{api=\"probe\"} 10"),
            std::string::npos);
}

TEST_F(ProbeApiTest, RefusesARegionBoundTokenUsedForAnotherRegionWith403) {
  Json other = {{"name", "probe-us-1"}, {"region", "us-east"}};
  HttpResponse response =
      Call(&ProbeApi::HandleRegister, Post("/api/v1/probes/register", other, "eu-token"));
  EXPECT_EQ(response.status, 403);
  EXPECT_THAT(response.body, HasSubstr("us-east"));
  HttpResponse any =
      Call(&ProbeApi::HandleRegister, Post("/api/v1/probes/register", other, "any-region-token"));
  EXPECT_EQ(any.status, 200);
}

TEST_F(ProbeApiTest, WithoutATokenFileEveryProbeGets401) {
  ProbeApi closed(*core_, *core_, *core_, clock_, nullptr, bad_tokens_, {});
  ReplyCatcher catcher;
  closed.HandleRegister(Post("/api/v1/probes/register", identity_, "any-region-token"),
                        catcher.Reply());
  EXPECT_EQ(catcher.Wait().status, 401);
}

TEST_F(ProbeApiTest, SchemaErrorsAre400NamingTheField) {
  HttpResponse not_json =
      Call(&ProbeApi::HandleLease, Post("/api/v1/work/lease", Json("{oops"), "eu-token"));
  EXPECT_EQ(not_json.status, 400);
  EXPECT_THAT(not_json.body, HasSubstr("not valid JSON"));

  Json bad_max = identity_;
  bad_max["max"] = "ten";
  HttpResponse max = Call(&ProbeApi::HandleLease, Post("/api/v1/work/lease", bad_max, "eu-token"));
  EXPECT_EQ(max.status, 400);
  EXPECT_THAT(Body(max)["error"].get<std::string>(), HasSubstr("max"));

  Json no_region = {{"name", "probe-eu-1"}, {"region", 7}};
  HttpResponse region =
      Call(&ProbeApi::HandleRegister, Post("/api/v1/probes/register", no_region, "eu-token"));
  EXPECT_EQ(region.status, 400);
  EXPECT_THAT(Body(region)["error"].get<std::string>(), HasSubstr("region"));

  Json results = identity_;
  Json result = ResultJson(Outcome::kUp, clock_.Now());
  result["outcome"] = "sideways";
  results["results"] = Json::array({ResultJson(Outcome::kUp, clock_.Now()), result});
  HttpResponse bad_result =
      Call(&ProbeApi::HandleResults, Post("/api/v1/work/results", results, "eu-token"));
  EXPECT_EQ(bad_result.status, 400);
  EXPECT_THAT(Body(bad_result)["error"].get<std::string>(), HasSubstr("results[1]"));

  Json not_array = identity_;
  not_array["results"] = Json::object();
  HttpResponse array =
      Call(&ProbeApi::HandleResults, Post("/api/v1/work/results", not_array, "eu-token"));
  EXPECT_EQ(array.status, 400);
  EXPECT_THAT(Body(array)["error"].get<std::string>(), HasSubstr("results: expected an array"));
}

TEST_F(ProbeApiTest, MoreResultsThanTheBatchLimitIs413) {
  Json body = identity_;
  body["results"] = Json::array();
  for (int i = 0; i < 501; ++i) {
    body["results"].push_back(ResultJson(Outcome::kUp, clock_.Now() + Millis(10'000 * i)));
  }
  HttpResponse response =
      Call(&ProbeApi::HandleResults, Post("/api/v1/work/results", body, "eu-token"));
  EXPECT_EQ(response.status, 413);
}

TEST_F(ProbeApiTest, LeaseLongPollAnswersWhenWorkBecomesDue) {
  Json body = identity_;
  body["waitSeconds"] = 30;
  ReplyCatcher catcher;
  api_->HandleLease(Post("/api/v1/work/lease", body, "eu-token"), catcher.Reply());
  EXPECT_FALSE(catcher.replied()) << "nothing is due yet: the request is parked";
  EXPECT_EQ(api_->parked_leases(), 1u);

  const auto due = core_->scheduler_for_testing().Find(api_monitor_.uid)->next_due;
  ASSERT_LT(*due - clock_.Now(), std::chrono::seconds(30));
  clock_.AdvanceTo(*due);
  core_->Tick();
  EXPECT_FALSE(catcher.replied()) << "one item due: the lease waits briefly for more";
  clock_.Advance(Millis(20));  // the dispatcher's lease_batch_wait
  core_->Tick();

  HttpResponse response = catcher.Wait();
  ASSERT_EQ(response.status, 200) << response.body;
  Json reply = Body(response);
  ASSERT_EQ(reply["items"].size(), 1u);
  const Json& item = reply["items"][0];
  EXPECT_EQ(item["monitorUid"], api_monitor_.uid);
  EXPECT_EQ(item["region"], "eu-west");
  EXPECT_EQ(item["attempt"], 1);
  EXPECT_TRUE(item["leaseExpiresAt"].is_string());
  EXPECT_EQ(reply["monitors"][api_monitor_.uid]["spec"]["http"]["url"], api_monitor_.http->url);
  EXPECT_EQ(api_->parked_leases(), 0u);
}

TEST_F(ProbeApiTest, LeaseWithOmitSpecsCarriesVersionsAndTheMonitorsEndpointServesTheSpecs) {
  Json body = identity_;
  body["waitSeconds"] = 30;
  body["omitSpecs"] = true;
  ReplyCatcher catcher;
  api_->HandleLease(Post("/api/v1/work/lease", body, "eu-token"), catcher.Reply());
  clock_.AdvanceTo(*core_->scheduler_for_testing().Find(api_monitor_.uid)->next_due);
  core_->Tick();
  clock_.Advance(Millis(20));
  core_->Tick();
  HttpResponse leased = catcher.Wait();
  ASSERT_EQ(leased.status, 200) << leased.body;
  const Json lease = Body(leased);
  ASSERT_EQ(lease["items"].size(), 1u);
  EXPECT_TRUE(lease["monitors"].empty()) << "the spec is left out";
  const std::string version = lease["items"][0]["specVersion"].get<std::string>();
  EXPECT_EQ(version.size(), 16u);
  EXPECT_EQ(version.find_first_not_of("0123456789abcdef"), std::string::npos) << version;

  Json ask = identity_;
  ask["uids"] = {api_monitor_.uid, "no-such-uid", api_monitor_.uid};
  HttpResponse specs =
      Call(&ProbeApi::HandleMonitorSpecs, Post("/api/v1/work/monitors", ask, "eu-token"));
  ASSERT_EQ(specs.status, 200) << specs.body;
  const Json fetched = Body(specs);
  ASSERT_EQ(fetched["monitors"].size(), 1u) << "unknown uids are left out, repeats answered once";
  EXPECT_EQ(fetched["monitors"][api_monitor_.uid]["spec"]["http"]["url"], api_monitor_.http->url);
  EXPECT_EQ(fetched["specVersions"][api_monitor_.uid], version);

  // A changed spec has another version; the same spec keeps its version.
  Monitor changed = api_monitor_;
  changed.http->url = "http://changed.example/";
  changed.generation = api_monitor_.generation + 1;
  ASSERT_TRUE(core_->UpsertMonitor(changed).ok());
  const Json after =
      Body(Call(&ProbeApi::HandleMonitorSpecs, Post("/api/v1/work/monitors", ask, "eu-token")));
  EXPECT_EQ(after["monitors"][api_monitor_.uid]["spec"]["http"]["url"], "http://changed.example/");
  EXPECT_NE(after["specVersions"][api_monitor_.uid], version);
  ASSERT_TRUE(core_->UpsertMonitor(api_monitor_).ok());
  EXPECT_EQ(
      Body(Call(&ProbeApi::HandleMonitorSpecs,
                Post("/api/v1/work/monitors", ask, "eu-token")))["specVersions"][api_monitor_.uid],
      version);
}

TEST_F(ProbeApiTest, MonitorsEndpointServesOnlyMonitorsCheckedFromTheCallersRegion) {
  const Monitor us_only = MakeMonitor("us-only", {"us-east"});
  ASSERT_TRUE(core_->UpsertMonitor(us_only).ok());
  Json ask = identity_;
  ask["uids"] = {us_only.uid, api_monitor_.uid};
  const Json eu =
      Body(Call(&ProbeApi::HandleMonitorSpecs, Post("/api/v1/work/monitors", ask, "eu-token")));
  EXPECT_FALSE(eu["monitors"].contains(us_only.uid)) << eu.dump();
  EXPECT_TRUE(eu["monitors"].contains(api_monitor_.uid)) << eu.dump();
  ask["name"] = "probe-us-1";
  ask["region"] = "us-east";
  const Json us = Body(
      Call(&ProbeApi::HandleMonitorSpecs, Post("/api/v1/work/monitors", ask, "any-region-token")));
  EXPECT_TRUE(us["monitors"].contains(us_only.uid)) << us.dump();
  EXPECT_FALSE(us["monitors"].contains(api_monitor_.uid)) << us.dump();
}

TEST_F(ProbeApiTest, MalformedSpecRequestsAreRefusedNamingTheField) {
  HttpResponse missing =
      Call(&ProbeApi::HandleMonitorSpecs, Post("/api/v1/work/monitors", identity_, "eu-token"));
  EXPECT_EQ(missing.status, 400);
  EXPECT_THAT(Body(missing)["error"].get<std::string>(), HasSubstr("uids: expected an array"));

  Json not_string = identity_;
  not_string["uids"] = {"uid-a", 7};
  HttpResponse number =
      Call(&ProbeApi::HandleMonitorSpecs, Post("/api/v1/work/monitors", not_string, "eu-token"));
  EXPECT_EQ(number.status, 400);
  EXPECT_THAT(Body(number)["error"].get<std::string>(), HasSubstr("uids[1]: expected a string"));

  Json too_many = identity_;
  too_many["uids"] = Json::array();
  for (int i = 0; i < 1001; ++i) too_many["uids"].push_back("uid-" + std::to_string(i));
  HttpResponse large =
      Call(&ProbeApi::HandleMonitorSpecs, Post("/api/v1/work/monitors", too_many, "eu-token"));
  EXPECT_EQ(large.status, 413);
  EXPECT_THAT(Body(large)["error"].get<std::string>(),
              HasSubstr("1001 in one request; at most 1000"));

  Json bad_omit = identity_;
  bad_omit["omitSpecs"] = "yes";
  HttpResponse omit =
      Call(&ProbeApi::HandleLease, Post("/api/v1/work/lease", bad_omit, "eu-token"));
  EXPECT_EQ(omit.status, 400);
  EXPECT_THAT(Body(omit)["error"].get<std::string>(), HasSubstr("omitSpecs"));
}

TEST_F(ProbeApiTest, LeaseLongPollAnswersEmptyAfterWaitSeconds) {
  Json body = identity_;
  body["waitSeconds"] = 0.5;
  core_->RemoveMonitor(api_monitor_.uid);
  ReplyCatcher catcher;
  api_->HandleLease(Post("/api/v1/work/lease", body, "eu-token"), catcher.Reply());
  EXPECT_FALSE(catcher.replied());
  clock_.Advance(Millis(600));
  core_->Tick();
  HttpResponse response = catcher.Wait();
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(Body(response)["items"], Json::array());
}

TEST_F(ProbeApiTest, LeaseReplyCarriesTheClusterTargetPolicyOnlyWhenSet) {
  Json body = identity_;
  body["waitSeconds"] = 0;
  core_->RemoveMonitor(api_monitor_.uid);
  HttpResponse plain = Call(&ProbeApi::HandleLease, Post("/api/v1/work/lease", body, "eu-token"));
  ASSERT_EQ(plain.status, 200) << plain.body;
  EXPECT_FALSE(Body(plain).contains("targetPolicy"));

  api_->Shutdown();
  ProbeApi::Options options;
  options.target_deny = {"10.0.0.0/8"};
  options.target_allow = {"169.254.10.0/24"};
  api_ = std::make_unique<ProbeApi>(*core_, *core_, *core_, clock_, tokens_.get(), bad_tokens_,
                                    options);
  HttpResponse with = Call(&ProbeApi::HandleLease, Post("/api/v1/work/lease", body, "eu-token"));
  ASSERT_EQ(with.status, 200) << with.body;
  EXPECT_EQ(Body(with)["targetPolicy"],
            (Json{{"deny", {"10.0.0.0/8"}}, {"allow", {"169.254.10.0/24"}}}));
  // The screenshot browser obeys the same policy: its lease replies carry it too.
  HttpResponse shots = Call(&ProbeApi::HandleScreenshotLease,
                            Post("/api/v1/work/screenshots/lease", identity_, "eu-token"));
  ASSERT_EQ(shots.status, 200) << shots.body;
  EXPECT_EQ(Body(shots)["targetPolicy"],
            (Json{{"deny", {"10.0.0.0/8"}}, {"allow", {"169.254.10.0/24"}}}));
}

// A ServiceEndpointSource that answers what the test sets, and counts the questions.
class FixedEndpoints : public ServiceEndpointSource {
 public:
  std::optional<std::vector<ServiceEndpoint>> ReadyEndpoints(
      const Monitor& monitor) const override {
    asked.push_back(monitor.Key());
    return endpoints;
  }
  std::optional<std::vector<ServiceEndpoint>> endpoints;
  mutable std::vector<std::string> asked;
};

TEST_F(ProbeApiTest, ItemsOfServiceMonitorsCarryTheReadyEndpointsOfTheMoment) {
  FixedEndpoints source;
  api_->Shutdown();
  ProbeApi::Options options;
  options.endpoints = &source;
  api_ = std::make_unique<ProbeApi>(*core_, *core_, *core_, clock_, tokens_.get(), bad_tokens_,
                                    options);
  Monitor backends = MakeMonitor("backends", {"eu-west"});
  backends.http->url.clear();
  backends.service.emplace(ServiceTarget{"orders", 0, "http", "/healthz", "http"});
  ASSERT_TRUE(core_->UpsertMonitor(backends).ok());

  Json body = identity_;
  body["waitSeconds"] = 30;
  body["max"] = 10;
  const auto lease_all = [&] {
    // The lease parks; both monitors' next rounds become due in one scheduler tick.
    ReplyCatcher catcher;
    api_->HandleLease(Post("/api/v1/work/lease", body, "eu-token"), catcher.Reply());
    for (const std::string& uid : {api_monitor_.uid, backends.uid}) {
      const auto due = core_->scheduler_for_testing().Find(uid)->next_due;
      if (*due > clock_.Now()) clock_.AdvanceTo(*due);
    }
    core_->Tick();
    clock_.Advance(Millis(20));  // two of the ten items the lease asked for: a brief wait
    core_->Tick();
    HttpResponse response = catcher.Wait();
    EXPECT_EQ(response.status, 200) << response.body;
    const Json reply = Body(response);
    std::map<std::string, Json> by_uid;
    for (const Json& item : reply["items"]) by_uid[item["monitorUid"].get<std::string>()] = item;
    return by_uid;
  };

  source.endpoints =
      std::vector<ServiceEndpoint>{{"10.0.0.1", 8080, "orders-1"}, {"10.0.0.2", 8080, ""}};
  std::map<std::string, Json> items = lease_all();
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[backends.uid]["endpoints"],
            (Json{{{"address", "10.0.0.1"}, {"port", 8080}, {"name", "orders-1"}},
                  {{"address", "10.0.0.2"}, {"port", 8080}}}));
  EXPECT_FALSE(items[api_monitor_.uid].contains("endpoints")) << "a URL monitor carries none";
  EXPECT_EQ(source.asked, std::vector<std::string>{backends.Key()});

  // The next lease has the endpoints of its own moment: none ready, or not known at all.
  source.endpoints = std::vector<ServiceEndpoint>{};
  items = lease_all();
  ASSERT_TRUE(items.contains(backends.uid));
  EXPECT_EQ(items[backends.uid]["endpoints"], Json::array());
  source.endpoints = std::nullopt;
  items = lease_all();
  ASSERT_TRUE(items.contains(backends.uid));
  EXPECT_FALSE(items[backends.uid].contains("endpoints"));
}

TEST_F(ProbeApiTest, ShutdownAnswersParkedLeasesAndRefusesNewOnes) {
  ReplyCatcher parked;
  api_->HandleLease(Post("/api/v1/work/lease", identity_, "eu-token"), parked.Reply());
  api_->Shutdown();
  EXPECT_EQ(parked.Wait().status, 200);
  EXPECT_EQ(parked.replies(), 1);
  HttpResponse late =
      Call(&ProbeApi::HandleLease, Post("/api/v1/work/lease", identity_, "eu-token"));
  EXPECT_EQ(late.status, 503);
}

TEST_F(ProbeApiTest, ResultsAreAckedAfterTheCommitAndDuplicatesNamed) {
  const auto due = core_->scheduler_for_testing().Find(api_monitor_.uid)->next_due;
  clock_.AdvanceTo(*due);
  core_->Tick();
  auto items = core_->dispatcher_for_testing().Lease("eu-west", "probe-eu-1", 10);
  ASSERT_EQ(items.size(), 1u);
  Json body = identity_;
  body["results"] = Json::array({ResultJson(Outcome::kUp, items[0].scheduled_at)});

  HttpResponse first =
      Call(&ProbeApi::HandleResults, Post("/api/v1/work/results", body, "eu-token"));
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(Body(first)["accepted"], Json::array({items[0].id}));
  // The answer came after the commit: the result is in the store already.
  ResultQuery query;
  query.monitor_uid = api_monitor_.uid;
  auto stored = core_.store().Results(query);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->size(), 1u);
  EXPECT_FALSE(core_->dispatcher_for_testing().Find(items[0].id).has_value());

  HttpResponse again =
      Call(&ProbeApi::HandleResults, Post("/api/v1/work/results", body, "eu-token"));
  ASSERT_EQ(again.status, 200);
  EXPECT_EQ(Body(again)["accepted"], Json::array());
  EXPECT_EQ(Body(again)["duplicates"], Json::array({items[0].id}));
}

TEST_F(ProbeApiTest, StoresResultsOfItemsNoLongerLeasedAndRejectsUnknownMonitors) {
  Json body = identity_;
  Json unknown = CheckResultToJson(
      MakeResult(MakeMonitor("ghost", {"eu-west"}), "eu-west", clock_.Now(), Outcome::kUp));
  // Never leased in this process (e.g. leased before an operator restart).
  Json orphan = ResultJson(Outcome::kDown, clock_.Now() - std::chrono::minutes(5));
  Json foreign = CheckResultToJson(MakeResult(api_monitor_, "us-east", clock_.Now(), Outcome::kUp));
  body["results"] = Json::array({unknown, orphan, foreign});

  HttpResponse response =
      Call(&ProbeApi::HandleResults, Post("/api/v1/work/results", body, "any-region-token"));
  ASSERT_EQ(response.status, 200) << response.body;
  Json reply = Body(response);
  EXPECT_EQ(reply["accepted"], Json::array({orphan["itemId"]}));
  ASSERT_EQ(reply["rejected"].size(), 2u);
  std::string reasons = reply["rejected"].dump();
  EXPECT_THAT(reasons, HasSubstr("unknown monitor uid 'uid-ghost'"));
  EXPECT_THAT(reasons, HasSubstr("sent by a probe of region 'eu-west'"));
}

TEST_F(ProbeApiTest, ResultsNoProbeCouldHaveMeasuredAre400NamingTheField) {
  const auto refused = [&](const std::function<void(Json&)>& spoil) {
    Json body = identity_;
    Json bad = ResultJson(Outcome::kUp, clock_.Now());
    spoil(bad);
    body["results"] = Json::array({ResultJson(Outcome::kUp, clock_.Now()), bad});
    HttpResponse response =
        Call(&ProbeApi::HandleResults, Post("/api/v1/work/results", body, "eu-token"));
    EXPECT_EQ(response.status, 400) << bad.dump().substr(0, 300);
    return Body(response)["error"].get<std::string>();
  };
  EXPECT_THAT(refused([](Json& r) { r["scheduledAt"] = "9999-12-31T23:59:59.999Z"; }),
              HasSubstr("results[1]: scheduledAt: \"9999-12-31T23:59:59.999Z\": out of the range"));
  EXPECT_THAT(refused([](Json& r) { r["scheduledAt"] = "1816-03-30T00:00:00Z"; }),
              HasSubstr("results[1].scheduledAt"));
  EXPECT_THAT(refused([](Json& r) { r["startedAt"] = "0001-01-01T00:00:00Z"; }),
              HasSubstr("results[1]"));
  EXPECT_THAT(refused([](Json& r) { r["timings"]["totalUs"] = INT64_MAX; }),
              HasSubstr("results[1].timings.totalUs"));
  EXPECT_THAT(refused([](Json& r) { r["timings"]["dnsUs"] = -1; }),
              HasSubstr("results[1].timings.dnsUs"));
  EXPECT_THAT(refused([](Json& r) { r["statusCode"] = -200; }), HasSubstr("results[1].statusCode"));
  EXPECT_THAT(refused([](Json& r) { r["attempts"] = -1; }), HasSubstr("results[1].attempts"));
  EXPECT_THAT(refused([](Json& r) { r["generation"] = -3; }), HasSubstr("results[1].generation"));
  EXPECT_THAT(refused([](Json& r) { r["probe"] = "bad probe/name"; }),
              HasSubstr("results[1].probe"));
  EXPECT_THAT(refused([](Json& r) { r["namespace"] = "elsewhere"; }),
              HasSubstr("results[1].namespace"));
  EXPECT_THAT(refused([](Json& r) { r["name"] = "someone-else"; }), HasSubstr("results[1].name"));
  EXPECT_THAT(refused([](Json& r) { r["type"] = "tcp"; }), HasSubstr("results[1].type"));
  EXPECT_THAT(
      refused([](Json& r) { r["dnsRecords"] = Json(std::vector<std::string>(100'000, "a")); }),
      HasSubstr("results[1].dnsRecords"));
  EXPECT_THAT(refused([](Json& r) { r["error"] = std::string(3'000'000, 'x'); }),
              HasSubstr("results[1].error"));
  EXPECT_THAT(refused([](Json& r) { r["error"] = std::string("a\0b", 3); }),
              HasSubstr("results[1].error: contains a NUL"));
}

TEST_F(ProbeApiTest, NumbersOutOfRangeAre400NotAnException) {
  for (
      const char* text :
      {R"({"name": "probe-eu-1", "region": "eu-west", "capacity": 1e999})",
       R"({"name": "probe-eu-1", "region": "eu-west", "max": 1, "waitSeconds": 1e999})",
       R"({"name": "probe-eu-1", "region": "eu-west", "results": [{"timings": {"totalUs": -1e999}}]})"}) {
    for (auto handler : {&ProbeApi::HandleRegister, &ProbeApi::HandleResults}) {
      HttpResponse response =
          Call(handler, Post("/api/v1/probes/register", Json(text), "eu-token"));
      EXPECT_EQ(response.status, 400) << text;
      EXPECT_THAT(Body(response)["error"].get<std::string>(), HasSubstr("not valid JSON"));
    }
    ReplyCatcher catcher;
    api_->HandleLease(Post("/api/v1/work/lease", Json(text), "eu-token"), catcher.Reply());
    EXPECT_EQ(catcher.Wait().status, 400) << text;
  }
}

TEST_F(ProbeApiTest, ResultsWithoutItemIdAre400) {
  Json body = identity_;
  Json result = ResultJson(Outcome::kUp, clock_.Now());
  result.erase("itemId");
  body["results"] = Json::array({result});
  HttpResponse response =
      Call(&ProbeApi::HandleResults, Post("/api/v1/work/results", body, "eu-token"));
  EXPECT_EQ(response.status, 400);
  EXPECT_THAT(response.body, HasSubstr("itemId"));
}

// Through a real server on 127.0.0.1: routes, bearer header parsing and the 4 MiB limit.
size_t AppendTo(char* data, size_t size, size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

long PostOverHttp(const std::string& url, const std::string& body, const std::string& token,
                  std::string* answer) {
  CURL* curl = curl_easy_init();
  curl_slist* headers = curl_slist_append(nullptr, "Expect:");
  headers = curl_slist_append(headers, "Content-Type: application/json");
  if (!token.empty()) {
    headers = curl_slist_append(headers, ("Authorization: Bearer " + token).c_str());
  }
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, AppendTo);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, answer);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
  long status = 0;
  if (curl_easy_perform(curl) == CURLE_OK) {
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  }
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return status;
}

TEST_F(ProbeApiTest, ServesTheProtocolOverHttp) {
  HttpServer server;
  ASSERT_TRUE(api_->Register(server).ok());
  ASSERT_TRUE(server.Start("127.0.0.1:0").ok());
  std::string answer;
  EXPECT_EQ(PostOverHttp(server.base_url() + "/api/v1/probes/register", identity_.dump(),
                         "eu-token", &answer),
            200)
      << answer;
  answer.clear();
  EXPECT_EQ(
      PostOverHttp(server.base_url() + "/api/v1/probes/register", identity_.dump(), "", &answer),
      401);
  answer.clear();
  std::string huge = identity_.dump();
  huge.insert(1, "\"padding\":\"" + std::string(size_t{5} * 1024 * 1024, 'x') + "\",");
  EXPECT_EQ(PostOverHttp(server.base_url() + "/api/v1/work/results", huge, "eu-token", &answer),
            413);
  server.Stop();
}

// A probe that disconnects while its lease is parked is noticed at once: its wait is cancelled
// (before its waitSeconds, which the manual clock never reaches), and work that becomes due is
// not leased to it but stays queued for a probe that is there.
TEST_F(ProbeApiTest, ALeaseWhoseProbeDisconnectsIsCancelledAtOnce) {
  HttpServer server;
  ASSERT_TRUE(api_->Register(server).ok());
  ASSERT_TRUE(server.Start("127.0.0.1:0").ok());
  Json body = identity_;
  body["waitSeconds"] = 30;
  const std::string payload = body.dump();
  const std::string request =
      "POST /api/v1/work/lease HTTP/1.1\r\nHost: x\r\n"
      "Authorization: Bearer eu-token\r\nContent-Type: application/json\r\n"
      "Content-Length: " +
      std::to_string(payload.size()) + "\r\n\r\n" + payload;
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(server.port()));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(write(fd, request.data(), request.size()), static_cast<ssize_t>(request.size()));
  const auto parked = [&] { return api_->parked_leases() == 1; };
  const auto unparked = [&] { return api_->parked_leases() == 0; };
  const auto wait_for = [](const auto& condition) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!condition() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return condition();
  };
  ASSERT_TRUE(wait_for(parked));
  close(fd);
  EXPECT_TRUE(wait_for(unparked)) << "the lease waits for a probe that is gone";

  const auto due = core_->scheduler_for_testing().Find(api_monitor_.uid)->next_due;
  clock_.AdvanceTo(*due);
  core_->Tick();
  const auto items = core_->dispatcher_for_testing().Lease("eu-west", "probe-eu-2", 10);
  ASSERT_EQ(items.size(), 1u) << "the due item went to the gone probe";
  server.Stop();
}

// A ScreenshotBroker that hands out what the test queued and records the answers.
class FakeBroker final : public ScreenshotBroker {
 public:
  std::vector<ScreenshotRequest> Lease(const std::string& region, const std::string& probe,
                                       size_t max, Clock::TimePoint now) override {
    leases.push_back(region + "/" + probe + "/" + std::to_string(max));
    std::vector<ScreenshotRequest> out;
    for (ScreenshotRequest request : waiting) {
      if (out.size() < max && request.region == region) {
        request.lease_expires_at = now + std::chrono::seconds(45);
        out.push_back(request);
      }
    }
    return out;
  }
  Result<std::string> Complete(const std::string& region, const std::string& probe,
                               const std::string& id, const Result<std::string>& capture,
                               Clock::TimePoint) override {
    answers.push_back(region + "/" + probe + "/" + id + "/" +
                      (capture.ok() ? "png:" + *capture : "error:" + capture.error()));
    if (id == "unknown") return Error{"no such request", ErrorKind::kInvalidArgument};
    if (id == "store-down") return Error{"disk full", ErrorKind::kFailed};
    return capture.ok() ? std::string("/api/v1/screenshots/abc.png") : std::string();
  }
  std::vector<ScreenshotRequest> waiting;
  std::vector<std::string> leases;
  std::vector<std::string> answers;
};

HttpRequest Upload(const std::string& query_name, const std::string& region, const std::string& id,
                   std::string png, const std::string& token) {
  HttpRequest request = Post("/api/v1/work/screenshots/upload", Json(std::move(png)), token);
  request.query = {{"name", query_name}, {"region", region}, {"id", id}};
  return request;
}

TEST_F(ProbeApiTest, ScreenshotRequestsAreLeasedToTheRegionsProbes) {
  Json body = identity_;
  HttpResponse none = Call(&ProbeApi::HandleScreenshotLease,
                           Post("/api/v1/work/screenshots/lease", body, "eu-token"));
  ASSERT_EQ(none.status, 200) << none.body;
  EXPECT_EQ(Body(none), Json({{"requests", Json::array()}})) << "no broker: nothing asked";

  FakeBroker broker;
  broker.waiting.push_back(ScreenshotRequest{
      "0123abcd", "http://shop.example/", "shop/front", "inc-1", "down", "eu-west", {}});
  broker.waiting.push_back(ScreenshotRequest{
      "0123abce", "http://shop.example/", "shop/front", "inc-2", "down", "eu-west", {}});
  api_->UseScreenshots(&broker);
  body["max"] = 100;
  HttpResponse leased = Call(&ProbeApi::HandleScreenshotLease,
                             Post("/api/v1/work/screenshots/lease", body, "eu-token"));
  ASSERT_EQ(leased.status, 200) << leased.body;
  EXPECT_EQ(broker.leases, std::vector<std::string>{"eu-west/probe-eu-1/4"}) << "max is capped";
  const Json requests = Body(leased)["requests"];
  ASSERT_EQ(requests.size(), 2u) << leased.body;
  EXPECT_EQ(requests[0]["id"], "0123abcd");
  EXPECT_EQ(requests[0]["url"], "http://shop.example/");
  EXPECT_EQ(requests[0]["monitor"], "shop/front");
  EXPECT_EQ(requests[0]["incident"], "inc-1");
  EXPECT_EQ(requests[0]["moment"], "down");
  EXPECT_TRUE(requests[0]["leaseExpiresAt"].is_string());

  body["max"] = 0;
  EXPECT_EQ(Call(&ProbeApi::HandleScreenshotLease,
                 Post("/api/v1/work/screenshots/lease", body, "eu-token"))
                .status,
            400);
  // Authenticated like every probe route: a wrong token, or another region's token.
  EXPECT_EQ(Call(&ProbeApi::HandleScreenshotLease,
                 Post("/api/v1/work/screenshots/lease", identity_, "wrong"))
                .status,
            401);
  Json us = {{"name", "probe-us-1"}, {"region", "us-east"}};
  EXPECT_EQ(
      Call(&ProbeApi::HandleScreenshotLease, Post("/api/v1/work/screenshots/lease", us, "eu-token"))
          .status,
      403);
  EXPECT_EQ(broker.leases.size(), 1u);
}

TEST_F(ProbeApiTest, ScreenshotUploadsAreAuthenticatedBoundedAndPassedOn) {
  FakeBroker broker;
  api_->UseScreenshots(&broker);
  const std::string png = "\x89PNG...";
  HttpResponse stored = Call(&ProbeApi::HandleScreenshotUpload,
                             Upload("probe-eu-1", "eu-west", "0123abcd", png, "eu-token"));
  ASSERT_EQ(stored.status, 200) << stored.body;
  EXPECT_EQ(Body(stored)["url"], "/api/v1/screenshots/abc.png");
  EXPECT_EQ(broker.answers, std::vector<std::string>{"eu-west/probe-eu-1/0123abcd/png:" + png});

  EXPECT_EQ(Call(&ProbeApi::HandleScreenshotUpload,
                 Upload("probe-eu-1", "eu-west", "0123abcd", png, "wrong"))
                .status,
            401);
  EXPECT_EQ(Call(&ProbeApi::HandleScreenshotUpload,
                 Upload("probe-us-1", "us-east", "0123abcd", png, "eu-token"))
                .status,
            403);
  HttpResponse no_region = Call(&ProbeApi::HandleScreenshotUpload,
                                Upload("probe-eu-1", "", "0123abcd", png, "eu-token"));
  EXPECT_EQ(no_region.status, 400);
  EXPECT_THAT(no_region.body, HasSubstr("region"));
  EXPECT_EQ(
      Call(&ProbeApi::HandleScreenshotUpload, Upload("probe-eu-1", "eu-west", "", png, "eu-token"))
          .status,
      400);
  HttpResponse too_big = Call(&ProbeApi::HandleScreenshotUpload,
                              Upload("probe-eu-1", "eu-west", "0123abcd",
                                     std::string(size_t{4} * 1024 * 1024 + 1, 'x'), "eu-token"));
  EXPECT_EQ(too_big.status, 413) << too_big.body;
  // The broker's refusals: a request not leased to this probe (400), a store failure (503).
  EXPECT_EQ(Call(&ProbeApi::HandleScreenshotUpload,
                 Upload("probe-eu-1", "eu-west", "unknown", png, "eu-token"))
                .status,
            400);
  HttpResponse later = Call(&ProbeApi::HandleScreenshotUpload,
                            Upload("probe-eu-1", "eu-west", "store-down", png, "eu-token"));
  EXPECT_EQ(later.status, 503);
  EXPECT_EQ(broker.answers.size(), 3u);
}

TEST_F(ProbeApiTest, AFailedCaptureIsPassedOnWithItsReason) {
  FakeBroker broker;
  api_->UseScreenshots(&broker);
  Json body = identity_;
  body["id"] = "0123abcd";
  body["error"] = "screenshot of http://shop.example/ timed out after 30 s";
  HttpResponse done = Call(&ProbeApi::HandleScreenshotFailed,
                           Post("/api/v1/work/screenshots/failed", body, "eu-token"));
  ASSERT_EQ(done.status, 200) << done.body;
  EXPECT_EQ(broker.answers,
            std::vector<std::string>{"eu-west/probe-eu-1/0123abcd/error:screenshot of "
                                     "http://shop.example/ timed out after 30 s"});
  body["error"] = std::string(2000, 'x');
  EXPECT_EQ(Call(&ProbeApi::HandleScreenshotFailed,
                 Post("/api/v1/work/screenshots/failed", body, "eu-token"))
                .status,
            400);
  body.erase("error");
  EXPECT_EQ(Call(&ProbeApi::HandleScreenshotFailed,
                 Post("/api/v1/work/screenshots/failed", body, "eu-token"))
                .status,
            400);
  EXPECT_EQ(broker.answers.size(), 1u);
}

}  // namespace
}  // namespace pharos
