#include "operator/web/svg_chart.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/manual_clock.h"

namespace pharos {
namespace {

using std::chrono::hours;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

const TimePoint kFrom = ManualClock::DefaultStart();

int Count(const std::string& text, const std::string& what) {
  int count = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++count;
  return count;
}

TEST(SvgChartTest, RoundTicks) {
  EXPECT_THAT(SvgChart::Ticks(37), ElementsAre(0, 10, 20, 30, 40));
  EXPECT_THAT(SvgChart::Ticks(0.8), ElementsAre(0, 0.2, 0.4, 0.6000000000000001, 0.8));
  EXPECT_THAT(SvgChart::Ticks(1200), ElementsAre(0, 500, 1000, 1500));
  EXPECT_THAT(SvgChart::Ticks(0), ElementsAre(0, 0.2, 0.4, 0.6000000000000001, 0.8, 1));
}

TEST(SvgChartTest, LinesBreakWhereDataIsMissing) {
  ChartSpec spec{"c", "Median by region", "ms", kFrom, kFrom + hours(5), false, {}};
  spec.series.push_back({"eu-west",
                         {{kFrom, 10},
                          {kFrom + hours(1), 12},
                          {kFrom + hours(2), std::nullopt},
                          {kFrom + hours(3), 11},
                          {kFrom + hours(4), 14}}});
  spec.series.push_back({"us-east", {{kFrom, std::nullopt}, {kFrom + hours(1), 30}}});
  const std::string svg = SvgChart::Render(spec);
  EXPECT_EQ(Count(svg, "<polyline class=\"series c0\""), 2);
  EXPECT_EQ(Count(svg, "<circle class=\"c1\""), 1);  // a lone point shows as a dot
  EXPECT_THAT(svg, HasSubstr("role=\"img\" aria-labelledby=\"c-t c-d\""));
  EXPECT_THAT(svg, HasSubstr("<desc id=\"c-d\">eu-west: median 12 ms, from 10 ms to 14 ms. "
                             "us-east: median 30 ms, from 30 ms to 30 ms. </desc>"));
  EXPECT_THAT(svg,
              HasSubstr("<li><span class=\"key c1\" aria-hidden=\"true\"></span>us-east</li>"));
  EXPECT_THAT(svg, HasSubstr(">30 ms</text>"));  // the top tick
  EXPECT_THAT(svg, HasSubstr(">01:00</text>"));  // UTC hour ticks
}

TEST(SvgChartTest, StackedAreasAddUp) {
  ChartSpec spec{"p", "Phases", "ms", kFrom, kFrom + hours(2), true, {}};
  spec.series.push_back({"DNS", {{kFrom, 1}, {kFrom + hours(1), 1}}});
  spec.series.push_back({"Connect", {{kFrom, 2}, {kFrom + hours(1), 3}}});
  const std::string svg = SvgChart::Render(spec);
  EXPECT_EQ(Count(svg, "<polygon class=\"area"), 2);
  EXPECT_THAT(svg, HasSubstr(">4 ms</text>"));  // 1 + 3 at the top
  EXPECT_THAT(svg, Not(HasSubstr("No data")));
}

TEST(SvgChartTest, SaysWhenThereIsNoData) {
  ChartSpec spec{"n",
                 "Nothing",
                 "ms",
                 kFrom,
                 kFrom + hours(24 * 7),
                 false,
                 {{"local", {{kFrom, std::nullopt}}}}};
  const std::string svg = SvgChart::Render(spec);
  EXPECT_THAT(svg, HasSubstr("No data in this period"));
  EXPECT_THAT(svg, HasSubstr("local: no data."));
  EXPECT_THAT(svg, HasSubstr(">2 Jan</text>"));  // day ticks over a week
}

}  // namespace
}  // namespace pharos
