#include "operator/controller/status_state_seed.h"

#include <gtest/gtest.h>

#include "common/rfc3339.h"

namespace pharos {
namespace {

using Json = nlohmann::json;

Monitor MakeMonitor(int failure_threshold = 3, int success_threshold = 2) {
  Monitor monitor;
  monitor.namespace_name = "shop";
  monitor.name = "api";
  monitor.uid = "uid-api";
  monitor.alerting.failure_threshold = failure_threshold;
  monitor.alerting.success_threshold = success_threshold;
  return monitor;
}

TimePoint At(const char* text) { return ParseRfc3339(text).value(); }

// A Monitor object as a previous leader left it: Down in eu-west, Up in us-east, incident open.
Json DownObject() {
  return {{"metadata", {{"name", "api"}, {"namespace", "shop"}, {"uid", "uid-api"}}},
          {"status",
           {{"observedGeneration", 1},
            {"state", "Down"},
            {"message", "HTTP 503"},
            {"lastCheckTime", "2026-11-26T10:00:20Z"},
            {"lastTransitionTime", "2026-11-26T09:59:00Z"},
            {"regions",
             {{{"name", "us-east"},
               {"state", "Up"},
               {"lastCheckTime", "2026-11-26T10:00:19Z"},
               {"latencyMs", 12},
               {"statusCode", 200}},
              {{"name", "eu-west"},
               {"state", "Down"},
               {"lastCheckTime", "2026-11-26T10:00:21Z"},
               {"latencyMs", 40},
               {"statusCode", 503},
               {"message", "HTTP 503"}}}},
            {"incident", {{"id", "uid-api-1795"}, {"since", "2026-11-26T09:59:00Z"}}}}}};
}

TEST(StatusStateSeedTest, ResumesStateRegionsIncidentAndThresholdsFromADownStatus) {
  const std::optional<StateSeed> seed = StatusStateSeed::FromObject(DownObject(), MakeMonitor());
  ASSERT_TRUE(seed.has_value());
  const MonitorStateSnapshot& state = seed->state;
  EXPECT_EQ(state.monitor_uid, "uid-api");
  EXPECT_EQ(state.monitor_key, "shop/api");
  EXPECT_EQ(state.state, MonitorState::kDown);
  EXPECT_EQ(state.since, At("2026-11-26T09:59:00Z"));
  EXPECT_EQ(state.reason, "HTTP 503");
  EXPECT_EQ(state.streak_first_error, "HTTP 503");
  EXPECT_EQ(state.consecutive_failures, 3) << "Down as if failureThreshold bad rounds were seen";
  EXPECT_EQ(state.consecutive_successes, 0) << "successThreshold good rounds bring it back";
  EXPECT_EQ(state.open_incident_id, "uid-api-1795");
  EXPECT_EQ(seed->incident_since, At("2026-11-26T09:59:00Z"));
  EXPECT_FALSE(state.last_round_at.has_value());
  EXPECT_TRUE(state.open_rounds.empty());
  // The newest check anywhere in the status (a region's, here later than lastCheckTime).
  EXPECT_EQ(seed->evidence_at, At("2026-11-26T10:00:21Z"));
  EXPECT_EQ(state.updated_at, seed->evidence_at);

  ASSERT_EQ(state.regions.size(), 2u);
  EXPECT_EQ(state.regions[0].region, "eu-west") << "sorted by name";
  EXPECT_EQ(state.regions[0].state, MonitorState::kDown);
  EXPECT_EQ(state.regions[0].status_code, 503);
  EXPECT_EQ(state.regions[0].latency_us, 40'000);
  EXPECT_EQ(state.regions[0].message, "HTTP 503");
  EXPECT_EQ(state.regions[0].last_check_at, At("2026-11-26T10:00:21Z"));
  EXPECT_EQ(state.regions[1].region, "us-east");
  EXPECT_EQ(state.regions[1].state, MonitorState::kUp);
  EXPECT_EQ(StateSeed::EvidenceOf(state), At("2026-11-26T10:00:21Z"));
}

TEST(StatusStateSeedTest, AnUpStatusCountsSuccessesAndHasNoIncident) {
  Json object = DownObject();
  object["status"]["state"] = "Up";
  object["status"]["message"] = "";
  object["status"].erase("incident");
  const std::optional<StateSeed> seed = StatusStateSeed::FromObject(object, MakeMonitor());
  ASSERT_TRUE(seed.has_value());
  EXPECT_EQ(seed->state.state, MonitorState::kUp);
  EXPECT_EQ(seed->state.consecutive_successes, 2);
  EXPECT_EQ(seed->state.consecutive_failures, 0);
  EXPECT_TRUE(seed->state.open_incident_id.empty());
  EXPECT_FALSE(seed->incident_since.has_value());
}

TEST(StatusStateSeedTest, NothingToResumeFromPendingInvalidForeignOrUncheckedStatuses) {
  const Monitor monitor = MakeMonitor();
  for (const char* state : {"Pending", "Invalid", "Paused", "Maintenance", "Sideways", ""}) {
    Json object = DownObject();
    object["status"]["state"] = state;
    EXPECT_FALSE(StatusStateSeed::FromObject(object, monitor).has_value()) << state;
  }
  Json other_uid = DownObject();
  other_uid["metadata"]["uid"] = "uid-of-a-namesake";
  EXPECT_FALSE(StatusStateSeed::FromObject(other_uid, monitor).has_value());

  Json no_status = DownObject();
  no_status.erase("status");
  EXPECT_FALSE(StatusStateSeed::FromObject(no_status, monitor).has_value());

  Json never_checked = DownObject();
  never_checked["status"].erase("lastCheckTime");
  never_checked["status"]["regions"] = Json::array();
  EXPECT_FALSE(StatusStateSeed::FromObject(never_checked, monitor).has_value());

  Json garbage = DownObject();
  garbage["status"]["regions"] = {{{"name", 7}}, "text", {{"name", "x"}, {"state", "Bogus"}}};
  garbage["status"]["incident"] = "not an object";
  const std::optional<StateSeed> seed = StatusStateSeed::FromObject(garbage, monitor);
  ASSERT_TRUE(seed.has_value()) << "a malformed part is skipped, the rest is used";
  EXPECT_TRUE(seed->state.regions.empty());
  EXPECT_TRUE(seed->state.open_incident_id.empty());
  EXPECT_EQ(seed->evidence_at, At("2026-11-26T10:00:20Z"));
}

}  // namespace
}  // namespace pharos
