#include "operator/web/badge_svg.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "unit/operator/web/web_test_doubles.h"

namespace pharos {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using namespace ::pharos::testing;

TEST(BadgeSvgTest, StatusBadgeCarriesTheStateAsText) {
  const std::string svg =
      BadgeSvg::Status(StatusOf(WebMonitor("shop", "web"), MonitorState::kDown));
  EXPECT_THAT(svg, StartsWith("<svg xmlns=\"http://www.w3.org/2000/svg\""));
  EXPECT_THAT(svg, HasSubstr("aria-label=\"status: down\""));
  EXPECT_THAT(svg, HasSubstr("<title>status: down</title>"));
  EXPECT_THAT(svg, HasSubstr(">down</text>"));
  EXPECT_THAT(svg, HasSubstr(std::string(BadgeSvg::kRed)));
}

TEST(BadgeSvgTest, UptimeColoursByThreshold) {
  EXPECT_THAT(BadgeSvg::Uptime(99.95, "24h"), HasSubstr(">99.95%</text>"));
  EXPECT_THAT(BadgeSvg::Uptime(99.95, "24h"), HasSubstr(std::string(BadgeSvg::kGreen)));
  EXPECT_THAT(BadgeSvg::Uptime(99.5, "7d"), HasSubstr(std::string(BadgeSvg::kYellowGreen)));
  EXPECT_THAT(BadgeSvg::Uptime(90, "30d"), HasSubstr(std::string(BadgeSvg::kRed)));
  EXPECT_THAT(BadgeSvg::Uptime(std::nullopt, "30d"), HasSubstr(">no data</text>"));
  EXPECT_THAT(BadgeSvg::Uptime(99.999, "24h"), HasSubstr(">uptime 24h</text>"));
}

TEST(BadgeSvgTest, LatencyAgainstDegradedAfter) {
  MonitorStatus status = StatusOf(WebMonitor("shop", "web"), MonitorState::kUp);
  EXPECT_THAT(BadgeSvg::Latency(123'400, status), HasSubstr(">123 ms</text>"));
  EXPECT_THAT(BadgeSvg::Latency(1'200, status), HasSubstr(">1.2 ms</text>"));
  EXPECT_THAT(BadgeSvg::Latency(123'400, status), HasSubstr(std::string(BadgeSvg::kBlue)));
  Monitor slow = *status.monitor;
  slow.degraded_after = Millis(100);
  status.monitor = std::make_shared<const Monitor>(slow);
  EXPECT_THAT(BadgeSvg::Latency(123'400, status), HasSubstr(std::string(BadgeSvg::kYellow)));
  EXPECT_THAT(BadgeSvg::Latency(std::nullopt, status), HasSubstr(">no data</text>"));
}

TEST(BadgeSvgTest, WidthsFollowTheText) {
  EXPECT_EQ(BadgeSvg::TextWidth("status"), 57 + 43 + 67 + 43 + 70 + 57);
  EXPECT_GT(BadgeSvg::TextWidth("maintenance"), BadgeSvg::TextWidth("up"));
  EXPECT_EQ(BadgeSvg::TextWidth("µ"), 70);
  // Total width: label and value, each padded 5 px on both sides.
  EXPECT_THAT(BadgeSvg::Render("status", "up", "#4c1"), HasSubstr("width=\"68\" height=\"20\""));
  EXPECT_THAT(BadgeSvg::Render("a<b", "\"x\"", "#4c1"), HasSubstr(">a&lt;b</text>"));
}

}  // namespace
}  // namespace pharos
