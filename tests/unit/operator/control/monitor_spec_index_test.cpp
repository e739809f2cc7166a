#include "operator/control/monitor_spec_index.h"

#include <gtest/gtest.h>

#include <memory>
#include <optional>

#include "common/monitor_loader.h"
#include "unit/operator/control/core_test_support.h"

namespace pharos {
namespace {

using ::pharos::testing::MakeMonitor;

TEST(MonitorSpecIndexTest, FindsBySpecUidAndByName) {
  MonitorSpecIndex index;
  auto api = std::make_shared<const Monitor>(MakeMonitor("api"));
  index.Set(api);
  EXPECT_EQ(index.Find("uid-api"), api);
  EXPECT_EQ(index.FindUid("shop", "api"), "uid-api");
  EXPECT_EQ(index.Find("uid-web"), nullptr);
  EXPECT_FALSE(index.FindUid("shop", "web").has_value());
}

TEST(MonitorSpecIndexTest, AVersionIsTheDigestOfTheSpecsJsonAndChangesWithIt) {
  MonitorSpecIndex index;
  EXPECT_FALSE(index.FindVersion("uid-api").has_value());
  const Monitor api = MakeMonitor("api");
  index.Set(std::make_shared<const Monitor>(api));
  const std::optional<uint64_t> first = index.FindVersion("uid-api");
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(*first, MonitorSpecIndex::SpecVersion(MonitorToJson(api).dump()));
  EXPECT_EQ(index.FindVersion("uid-api"), first) << "asked again: the same version";

  Monitor changed = api;
  changed.http->url = "http://127.0.0.1:9/changed";
  index.Set(std::make_shared<const Monitor>(changed));
  EXPECT_NE(index.FindVersion("uid-api"), first);
  index.Set(std::make_shared<const Monitor>(api));
  EXPECT_EQ(index.FindVersion("uid-api"), first) << "the same spec again: the same version";
  index.Erase("uid-api");
  EXPECT_FALSE(index.FindVersion("uid-api").has_value());
}

TEST(MonitorSpecIndexTest, ARenamedMonitorIsFoundUnderItsNewNameOnly) {
  MonitorSpecIndex index;
  index.Set(std::make_shared<const Monitor>(MakeMonitor("api")));
  Monitor renamed = MakeMonitor("api");
  renamed.name = "checkout";
  index.Set(std::make_shared<const Monitor>(renamed));
  EXPECT_FALSE(index.FindUid("shop", "api").has_value());
  EXPECT_EQ(index.FindUid("shop", "checkout"), "uid-api");
  EXPECT_EQ(index.Find("uid-api")->name, "checkout");
}

TEST(MonitorSpecIndexTest, ErasingAMonitorLeavesAnotherOfTheSameNameInPlace) {
  MonitorSpecIndex index;
  index.Set(std::make_shared<const Monitor>(MakeMonitor("api")));
  // Deleted and created again under the same name: the new uid arrives before the old one goes.
  Monitor again = MakeMonitor("api");
  again.uid = "uid-api-2";
  index.Set(std::make_shared<const Monitor>(again));
  index.Erase("uid-api");
  EXPECT_EQ(index.Find("uid-api"), nullptr);
  EXPECT_EQ(index.FindUid("shop", "api"), "uid-api-2");
}

}  // namespace
}  // namespace pharos
