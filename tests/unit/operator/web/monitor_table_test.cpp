#include "operator/web/monitor_table.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "unit/operator/web/web_test_doubles.h"

namespace pharos {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using namespace ::pharos::testing;

std::vector<MonitorStatus> Statuses() {
  std::vector<MonitorStatus> out;
  auto add = [&](const char* ns, const char* name, MonitorState state, std::optional<double> uptime,
                 std::optional<int64_t> p50) {
    MonitorStatus status = StatusOf(WebMonitor(ns, name), state);
    status.uptime_24h = uptime;
    status.latency_p50_us = p50;
    out.push_back(status);
  };
  add("shop", "web", MonitorState::kUp, 100.0, 20'000);
  add("shop", "checkout", MonitorState::kDown, 50.0, std::nullopt);
  add("shop", "search", MonitorState::kDegraded, 99.0, 400'000);
  add("billing", "payments", MonitorState::kUp, 99.9, 30'000);
  add("billing", "cron", MonitorState::kPaused, std::nullopt, std::nullopt);
  return out;
}

std::vector<std::string> Names(const MonitorTable::Page& page) {
  std::vector<std::string> names;
  for (const MonitorStatus& status : page.rows) names.push_back(status.monitor->name);
  return names;
}

MonitorTable::Query Parse(const std::map<std::string, std::string>& parameters) {
  Result<MonitorTable::Query> query = MonitorTable::ParseQuery(parameters);
  EXPECT_TRUE(query.ok()) << query.error();
  return query.ok() ? *query : MonitorTable::Query{};
}

TEST(MonitorTableTest, WorstStateFirstByDefault) {
  const MonitorTable::Page page = MonitorTable::Apply(Statuses(), Parse({}));
  EXPECT_THAT(Names(page), ElementsAre("checkout", "search", "cron", "payments", "web"));
  EXPECT_EQ(page.total, 5u);
  EXPECT_EQ(page.matching, 5u);
  EXPECT_EQ(page.state_counts.at(MonitorState::kUp), 2u);
  EXPECT_THAT(page.namespaces, ElementsAre("billing", "shop"));
}

TEST(MonitorTableTest, SortsByAnyColumnWithMissingFiguresLast) {
  EXPECT_THAT(Names(MonitorTable::Apply(Statuses(), Parse({{"sort", "name"}}))),
              ElementsAre("checkout", "cron", "payments", "search", "web"));
  EXPECT_THAT(Names(MonitorTable::Apply(Statuses(), Parse({{"sort", "uptime24h"}}))),
              ElementsAre("checkout", "search", "payments", "web", "cron"));
  EXPECT_THAT(
      Names(MonitorTable::Apply(Statuses(), Parse({{"sort", "uptime24h"}, {"dir", "desc"}}))),
      ElementsAre("web", "payments", "search", "checkout", "cron"));
  EXPECT_THAT(Names(MonitorTable::Apply(Statuses(), Parse({{"sort", "p50"}, {"dir", "desc"}}))),
              ElementsAre("search", "payments", "web", "cron", "checkout"));
}

TEST(MonitorTableTest, FiltersAndPages) {
  EXPECT_THAT(Names(MonitorTable::Apply(Statuses(), Parse({{"state", "Up"}}))),
              ElementsAre("payments", "web"));
  EXPECT_THAT(Names(MonitorTable::Apply(Statuses(), Parse({{"namespace", "billing"}}))),
              ElementsAre("cron", "payments"));
  // Text matches namespace/name or the target, in any case.
  EXPECT_THAT(Names(MonitorTable::Apply(Statuses(), Parse({{"q", "SHOP/SE"}}))),
              ElementsAre("search"));
  EXPECT_THAT(Names(MonitorTable::Apply(Statuses(), Parse({{"q", "payments.example"}}))),
              ElementsAre("payments"));
  const MonitorTable::Page second =
      MonitorTable::Apply(Statuses(), Parse({{"sort", "name"}, {"per_page", "2"}, {"page", "2"}}));
  EXPECT_THAT(Names(second), ElementsAre("payments", "search"));
  EXPECT_EQ(second.pages, 3u);
  // A page past the end shows the last one.
  const MonitorTable::Page last =
      MonitorTable::Apply(Statuses(), Parse({{"sort", "name"}, {"per_page", "2"}, {"page", "9"}}));
  EXPECT_EQ(last.page, 3u);
  EXPECT_THAT(Names(last), ElementsAre("web"));
  const MonitorTable::Page none = MonitorTable::Apply(Statuses(), Parse({{"q", "nothing"}}));
  EXPECT_EQ(none.matching, 0u);
  EXPECT_TRUE(none.rows.empty());
}

TEST(MonitorTableTest, BadParametersAreNamed) {
  EXPECT_THAT(MonitorTable::ParseQuery({{"state", "Sleeping"}}).error(), HasSubstr("state:"));
  EXPECT_THAT(MonitorTable::ParseQuery({{"sort", "colour"}}).error(),
              HasSubstr("sort: unknown column"));
  EXPECT_THAT(MonitorTable::ParseQuery({{"dir", "up"}}).error(), HasSubstr("dir:"));
  EXPECT_THAT(MonitorTable::ParseQuery({{"page", "0"}}).error(), HasSubstr("page:"));
  EXPECT_THAT(MonitorTable::ParseQuery({{"per_page", "100000"}}).error(), HasSubstr("per_page:"));
  EXPECT_THAT(MonitorTable::ParseQuery({{"type", "smoke-signal"}}).error(), HasSubstr("type:"));
}

TEST(MonitorTableTest, QueryStringsKeepTheFiltersForLinks) {
  const MonitorTable::Query query = Parse({{"q", "a b&c"}, {"state", "Down"}, {"page", "3"}});
  EXPECT_EQ(MonitorTable::QueryString(query), "?page=3&q=a%20b%26c&state=Down");
  EXPECT_EQ(MonitorTable::QueryString(query, {{"page", ""}, {"sort", "name"}}),
            "?q=a%20b%26c&sort=name&state=Down");
  EXPECT_EQ(MonitorTable::QueryString(MonitorTable::Query{}), "");
}

TEST(MonitorTableTest, TenThousandMonitors) {
  std::vector<MonitorStatus> many;
  for (int i = 0; i < 10'000; ++i) {
    MonitorStatus status =
        StatusOf(WebMonitor("ns" + std::to_string(i % 10), "m" + std::to_string(i)),
                 i % 97 == 0 ? MonitorState::kDown : MonitorState::kUp);
    status.uptime_24h = 100.0 - (i % 13);
    many.push_back(status);
  }
  const MonitorTable::Page page =
      MonitorTable::Apply(many, Parse({{"sort", "uptime24h"}, {"page", "2"}, {"per_page", "100"}}));
  ASSERT_EQ(page.rows.size(), 100u);
  EXPECT_EQ(page.pages, 100u);
  for (size_t i = 1; i < page.rows.size(); ++i) {
    EXPECT_LE(*page.rows[i - 1].uptime_24h, *page.rows[i].uptime_24h);
  }
  EXPECT_EQ(page.state_counts.at(MonitorState::kDown), 104u);
}

}  // namespace
}  // namespace pharos
