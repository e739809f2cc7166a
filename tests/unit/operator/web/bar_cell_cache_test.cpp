#include "operator/web/bar_cell_cache.h"

#include <gtest/gtest.h>

#include "unit/operator/web/web_test_doubles.h"

namespace pharos {
namespace {

using namespace ::pharos::testing;

std::vector<DayView> Days(int count) {
  std::vector<DayView> days(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) {
    DayView& day = days[static_cast<size_t>(i)];
    day.day = kNow - std::chrono::days(count - i);
    day.level = DayLevel::kUp;
    day.uptime = 100.0;
    day.facts.passed = 24;
  }
  return days;
}

// Renders one letter per day (u, d) and counts its calls.
struct CountingRenderer {
  int calls = 0;
  BarCellCache::Renderer renderer() {
    return [this](std::string& out, std::span<const DayView> days) {
      ++calls;
      for (const DayView& day : days) out += day.level == DayLevel::kDown ? 'd' : 'u';
    };
  }
};

TEST(BarCellCacheTest, TheSameDaysAreRenderedOnce) {
  BarCellCache cache;
  CountingRenderer render;
  const std::vector<DayView> days = Days(89);
  std::string first = "<bar>";
  cache.Append(first, "shop/page\nshop/web", days, render.renderer());
  std::string second = "<bar>";
  cache.Append(second, "shop/page\nshop/web", days, render.renderer());
  EXPECT_EQ(first, "<bar>" + std::string(89, 'u'));
  EXPECT_EQ(second, first);
  EXPECT_EQ(render.calls, 1);
  EXPECT_EQ(cache.hits(), 1u);
}

TEST(BarCellCacheTest, ALateResultOrANewIncidentOnAPastDayRendersAgain) {
  BarCellCache cache;
  CountingRenderer render;
  std::vector<DayView> days = Days(89);
  std::string out;
  cache.Append(out, "k", days, render.renderer());
  days[40].facts.failed = 1;  // a late failed check: the level stays, the tooltip changes
  out.clear();
  cache.Append(out, "k", days, render.renderer());
  EXPECT_EQ(render.calls, 2);
  days[41].facts.incidents = 1;
  days[41].level = DayLevel::kDown;
  out.clear();
  cache.Append(out, "k", days, render.renderer());
  EXPECT_EQ(render.calls, 3);
  EXPECT_EQ(out[41], 'd');
}

TEST(BarCellCacheTest, TheNextDayRendersAgain) {
  BarCellCache cache;
  CountingRenderer render;
  std::vector<DayView> days = Days(89);
  std::string out;
  cache.Append(out, "k", days, render.renderer());
  for (DayView& day : days) day.day += std::chrono::days(1);  // midnight UTC: the window moved
  cache.Append(out, "k", days, render.renderer());
  EXPECT_EQ(render.calls, 2);
}

TEST(BarCellCacheTest, BarsAreKeptApartByKey) {
  BarCellCache cache;
  CountingRenderer render;
  std::vector<DayView> down = Days(3);
  down[0].level = DayLevel::kDown;
  std::string a;
  std::string b;
  cache.Append(a, "a", Days(3), render.renderer());
  cache.Append(b, "b", down, render.renderer());
  EXPECT_EQ(a, "uuu");
  EXPECT_EQ(b, "duu");
}

TEST(BarCellCacheTest, KeepsAtMostMaxEntries) {
  BarCellCache cache(10);
  CountingRenderer render;
  std::string out;
  for (int i = 0; i < 30; ++i) cache.Append(out, std::to_string(i), Days(2), render.renderer());
  EXPECT_LE(cache.size(), 11u);
}

}  // namespace
}  // namespace pharos
