#include "common/compact_string_map.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pharos {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;

static_assert(sizeof(CompactStringMap) == sizeof(void*), "an empty map must cost one pointer");

TEST(CompactStringMapTest, StartsEmpty) {
  const CompactStringMap map;
  EXPECT_TRUE(map.empty());
  EXPECT_EQ(map.size(), 0u);
  EXPECT_EQ(map.begin(), map.end());
  EXPECT_EQ(map.find("team"), map.end());
  EXPECT_EQ(map.count("team"), 0u);
  EXPECT_THROW(map.at("team"), std::out_of_range);
  EXPECT_THAT(map, IsEmpty());
}

TEST(CompactStringMapTest, InsertsAndLooksUp) {
  CompactStringMap map;
  map["team"] = "payments";
  EXPECT_TRUE(map.emplace("tier", "1").second);
  EXPECT_FALSE(map.emplace("tier", "2").second);  // as std::map: the first value stays

  EXPECT_FALSE(map.empty());
  EXPECT_EQ(map.size(), 2u);
  EXPECT_EQ(map.at("team"), "payments");
  EXPECT_EQ(map.at(std::string_view("tier")), "1");
  EXPECT_EQ(map.count("team"), 1u);
  ASSERT_NE(map.find("tier"), map.end());
  EXPECT_EQ(map.find("tier")->second, "1");
  EXPECT_EQ(map.find("nope"), map.end());
  EXPECT_THROW(map.at("nope"), std::out_of_range);
}

TEST(CompactStringMapTest, InsertsARangeKeepingTheFirstOfDuplicateKeys) {
  const std::vector<std::pair<std::string, std::string>> pairs = {
      {"b", "1"}, {"a", "2"}, {"b", "3"}};
  CompactStringMap map;
  map.insert(pairs.begin(), pairs.end());
  EXPECT_THAT(map, ElementsAre(Pair("a", "2"), Pair("b", "1")));

  CompactStringMap untouched;
  untouched.insert(pairs.end(), pairs.end());
  EXPECT_TRUE(untouched.empty());
}

TEST(CompactStringMapTest, IteratesInKeyOrder) {
  const CompactStringMap map = {{"zone", "z"}, {"app", "a"}, {"mid", "m"}};
  std::vector<std::string> keys;
  for (const auto& [key, value] : map) {
    keys.push_back(key);
  }
  EXPECT_THAT(keys, ElementsAre("app", "mid", "zone"));
}

TEST(CompactStringMapTest, CopiesAreDeep) {
  CompactStringMap original = {{"team", "payments"}};
  CompactStringMap copy = original;
  copy["team"] = "search";
  copy["extra"] = "x";
  EXPECT_EQ(original.at("team"), "payments");
  EXPECT_EQ(original.size(), 1u);

  CompactStringMap assigned;
  assigned = original;
  original["team"] = "changed";
  EXPECT_EQ(assigned.at("team"), "payments");

  assigned = CompactStringMap();
  EXPECT_TRUE(assigned.empty());
  EXPECT_EQ(original.at("team"), "changed");
}

TEST(CompactStringMapTest, MovesLeaveTheSourceEmpty) {
  CompactStringMap original = {{"team", "payments"}};
  CompactStringMap moved = std::move(original);
  EXPECT_EQ(moved.at("team"), "payments");
  EXPECT_TRUE(original.empty());  // NOLINT(bugprone-use-after-move): documented moved-from state
}

TEST(CompactStringMapTest, ComparesByContent) {
  const CompactStringMap empty;
  const CompactStringMap one = {{"team", "payments"}};
  EXPECT_EQ(empty, CompactStringMap());
  EXPECT_EQ(one, (CompactStringMap{{"team", "payments"}}));
  EXPECT_NE(one, empty);
  EXPECT_NE(one, (CompactStringMap{{"team", "search"}}));
  EXPECT_NE(one, (CompactStringMap{{"team", "payments"}, {"tier", "1"}}));
}

}  // namespace
}  // namespace pharos
