#include "operator/control/result_admission.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>

#include "common/manual_clock.h"
#include "unit/operator/control/core_test_support.h"

namespace pharos {
namespace {

using ::pharos::testing::MakeMonitor;
using ::pharos::testing::MakeResult;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class ResultAdmissionTest : public ::testing::Test {
 protected:
  ResultAdmissionTest() : dispatcher_(clock_, {}), admission_(specs_, dispatcher_) {
    specs_.Set(std::make_shared<const Monitor>(api_));
  }

  ManualClock clock_;
  MonitorSpecIndex specs_;
  WorkDispatcher dispatcher_;
  ResultAdmission admission_;
  Monitor api_ = MakeMonitor("api", {"eu-west"});
};

TEST_F(ResultAdmissionTest, AdmitsResultsOfKnownMonitorsInTheirRegions) {
  CheckResult bare = MakeResult(api_, "eu-west", clock_.Now(), Outcome::kUp);
  bare.monitor_namespace.clear();
  bare.monitor_name.clear();
  bare.target.clear();
  Monitor other = MakeMonitor("web");
  ResultAdmission::Batch batch =
      admission_.Admit({bare, MakeResult(api_, "us-east", clock_.Now(), Outcome::kUp),
                        MakeResult(other, "eu-west", clock_.Now(), Outcome::kUp)});
  ASSERT_EQ(batch.report.outcomes.size(), 3u);
  ASSERT_EQ(batch.admitted.size(), 1u);
  EXPECT_THAT(batch.positions, ElementsAre(0u));
  EXPECT_EQ(batch.admitted[0].monitor_namespace, "shop") << "identity filled in";
  EXPECT_EQ(batch.admitted[0].monitor_name, "api");
  EXPECT_EQ(batch.admitted[0].target, api_.Target());
  EXPECT_EQ(batch.report.outcomes[1].kind, IngestOutcome::Kind::kRejected);
  EXPECT_THAT(batch.report.outcomes[1].reason, HasSubstr("region 'us-east' is not one of"));
  EXPECT_EQ(batch.report.outcomes[2].kind, IngestOutcome::Kind::kRejected);
  EXPECT_THAT(batch.report.outcomes[2].reason, HasSubstr("unknown monitor uid 'uid-web'"));
}

TEST_F(ResultAdmissionTest, AResultOfAnAckedItemIsADuplicate) {
  WorkItem item;
  item.id = "uid-api@eu-west@1";
  item.monitor_uid = api_.uid;
  item.monitor_key = api_.Key();
  item.region = "eu-west";
  item.frequency = api_.frequency;
  item.timeout = api_.timeout;
  item.scheduled_at = clock_.Now();
  item.deadline = clock_.Now() + api_.frequency;
  dispatcher_.Enqueue({item});
  ASSERT_EQ(dispatcher_.Lease("eu-west", "probe", 1).size(), 1u);
  ASSERT_EQ(dispatcher_.Complete(item.id), AckResult::kAcked);

  CheckResult result = MakeResult(api_, "eu-west", item.scheduled_at, Outcome::kUp);
  result.item_id = item.id;
  ResultAdmission::Batch batch = admission_.Admit({result});
  EXPECT_TRUE(batch.admitted.empty());
  EXPECT_EQ(batch.report.outcomes[0].kind, IngestOutcome::Kind::kDuplicate);
}

}  // namespace
}  // namespace pharos
