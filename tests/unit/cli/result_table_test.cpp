#include "cli/result_table.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace pharos {
namespace {

using ::testing::HasSubstr;

TEST(ResultTableTest, StatusColumnByKindOfResult) {
  CheckResult http;
  http.status_code = 503;
  EXPECT_EQ(ResultTable::Status(http), "503");
  EXPECT_EQ(ResultTable::Status(CheckResult{}), "-");

  CheckResult ping;
  ping.icmp = IcmpStats{3, 2, 10, 20, 30};
  EXPECT_EQ(ResultTable::Status(ping), "2/3 replies");

  CheckResult every;
  every.status_code = 200;
  every.addresses = {{"127.0.0.1", "", Outcome::kUp},
                     {"127.0.0.2", "", Outcome::kDown},
                     {"::1", "", Outcome::kDegraded}};
  EXPECT_EQ(ResultTable::Status(every), "2/3 addresses");
}

TEST(ResultTableTest, RowsShowTheStatusAndTheReason) {
  Monitor monitor;
  monitor.name = "ping";
  monitor.type = MonitorType::kIcmp;
  CheckResult result;
  result.monitor_namespace = "default";
  result.monitor_name = "ping";
  result.type = MonitorType::kIcmp;
  result.outcome = Outcome::kDown;
  result.icmp = IcmpStats{3, 0};
  result.error = "no reply to 3 echo requests within 5s (100% packet loss)";
  ResultTable table;
  table.Add(monitor, result);
  const std::string text = table.Render();
  EXPECT_THAT(text, HasSubstr("0/3 replies"));
  EXPECT_THAT(text, HasSubstr("100% packet loss"));
}

}  // namespace
}  // namespace pharos
